from django.db import models
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


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


class ProgramVersion(models.Model):
    """One saved state of a program: every save (the cabinet's editor, the management API, a
    template, a roll back) stores the whole configuration with who saved it and when
    (`kopilka.programs.versions`)."""

    merchant = models.ForeignKey(
        "tenancy.Merchant", on_delete=models.PROTECT, related_name="program_versions"
    )
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    config = models.JSONField(_("configuration"))
    created_at = models.DateTimeField(_("saved"))
    actor_kind = models.CharField(max_length=20)
    actor_label = models.CharField(_("saved by"), max_length=200)
    #: The version this one restored, when it is a roll back.
    restored_from = models.PositiveIntegerField(null=True, blank=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("program version")
        verbose_name_plural = _("program versions")
        constraints = [
            models.UniqueConstraint(fields=["program", "number"], name="program_version_unique"),
        ]

    def __str__(self):
        return f"{self.program} #{self.number}"
