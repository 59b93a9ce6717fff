from django.db import models
from django.utils.translation import gettext_lazy as _


class Program(models.Model):
    """A merchant's loyalty program. The whole configuration is one validated JSON document
    (`kopilka.programs.config.ProgramConfig`); `version` grows on every change.
    can cache the compiled form safely."""

    merchant = models.OneToOneField(
        "tenancy.Merchant", on_delete=models.PROTECT, related_name="program"
    )
    config = models.JSONField(_("configuration"))
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(_("updated"))

    class Meta:
        verbose_name = _("loyalty program")
        verbose_name_plural = _("loyalty programs")

    def __str__(self):
        return f"{self.merchant} v{self.version}"
