from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


class AuditEntry(models.Model):
    """Who did what, to which object, when and from where. Append-only."""

    merchant = models.ForeignKey(
        "tenancy.Merchant", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_kind = models.CharField(_("actor kind"), max_length=16)
    actor_label = models.CharField(_("actor"), max_length=200)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(_("action"), max_length=100)
    object_type = models.CharField(_("object type"), max_length=60, blank=True)
    object_id = models.CharField(_("object id"), max_length=60, blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    created_at = models.DateTimeField(_("time"), db_index=True)

    objects = ScopedManager(merchant="merchant")

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["merchant", "created_at"], name="audit_merchant_time"),
            # The cabinet's audit filters (web/cabinet/views/settings_audit.py): one person, an
            # action prefix (LIKE 'prefix%': the pattern operator class on PostgreSQL, whose
            # collation would otherwise keep a plain index from serving it), one object. Without
            # them a filter that matches nothing read the merchant's whole log.
            models.Index(fields=["merchant", "actor_user", "created_at"],
                         name="audit_merchant_actor"),
            models.Index(fields=["merchant", "action", "created_at"], name="audit_merchant_action",
                         opclasses=["int8_ops", "varchar_pattern_ops", "timestamptz_ops"]),
            models.Index(fields=["merchant", "object_type", "object_id"],
                         name="audit_merchant_object"),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"
