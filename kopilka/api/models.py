"""What the API keeps for itself: the stored answers of idempotent writes.

Not tenant-owned: a record is written before authentication has named a merchant, and it
belongs to a credential (its `scope` is a hash of what the client authenticated with — see
`kopilka.api.idempotency`), which is narrower than a merchant. Nothing outside that module
reads these rows.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class IdempotencyRecord(models.Model):
    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")

    scope = models.CharField(max_length=64, help_text="SHA-256 (hex) of the client's credential")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(
        max_length=64, help_text="SHA-256 (hex) of the method, path, query and body"
    )
    state = models.CharField(max_length=12, choices=State.choices, default=State.IN_PROGRESS)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.BinaryField(default=b"")
    content_type = models.CharField(max_length=100, blank=True)
    language = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="api_idempotency_scope_key"),
        ]
        indexes = [models.Index(fields=["created_at"], name="api_idempotency_created")]

    def __str__(self):
        return f"{self.key} ({self.state})"
