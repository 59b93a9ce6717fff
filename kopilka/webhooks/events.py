"""The events a merchant can subscribe an endpoint to: the public names of the domain events
(kopilka/core/events.py) that webhooks/subscribers.py announces.

`points.expiring` is published by the daily expiry reminders (automation/jobs.py). There is no
`points.expired`: points expire both in the daily sweep and inside any operation that opens the
account, so no single place sees every expiry; it was offered and never sent, and left the
catalogue (migration 0002 removes it from endpoints that listed it).
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
    "review.created": _("A member rated a purchase (score 1-5 and comment)."),
    "review.answered": _("Staff answered a member's review."),
}

# Sent only by POST /manage/webhooks/{id}/test, whatever the endpoint subscribes to.
PING = "ping"
