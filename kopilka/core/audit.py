"""The audit helper every service calls inside its transaction.

Writing the audit row in the same transaction as the change means the log can never claim
an action that was rolled back, nor miss one that happened.
"""

from django.db import models

from kopilka.core import clock
from kopilka.core.actor import Actor
from kopilka.core.models import AuditEntry


def record(
    action: str,
    *,
    actor: Actor,
    merchant=None,
    obj: models.Model | None = None,
    data: dict | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        merchant=merchant,
        actor_kind=actor.kind,
        actor_label=actor.label[:200],
        actor_user_id=actor.user_id,
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        data=data or {},
        ip=actor.ip,
        created_at=clock.now(),
    )
