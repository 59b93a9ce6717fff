"""The events a merchant can subscribe an endpoint to.

`points.expiring` and `points.expired` are announced by the scheduled jobs of the automation
app (a later issue): they are in the catalogue already so endpoints can subscribe now, and the
jobs will call `webhooks.services.emit` like every other service.
"""

from django.utils.translation import gettext_lazy as _

CATALOGUE = {
    "purchase.committed": _("A purchase was recorded (points spent and accrued)."),
    "purchase.refunded": _("A purchase was refunded in full or in part."),
    "member.registered": _("A member joined the program."),
    "member.tier_changed": _("A member moved to another tier."),
    "points.adjusted": _("Staff granted or deducted points by hand."),
    "points.transferred": _("A member sent points to another member."),
    "points.expiring": _("A member's points will expire soon."),
    "points.expired": _("A member's points expired."),
}

# Sent only by POST /manage/webhooks/{id}/test, whatever the endpoint subscribes to.
PING = "ping"
