"""The card by SMS (MSG-2): the cashier sends a member the wallet's single-use sign-in link
(`/m/<token>`, signin.issue_link) as the `card_link` message. It goes whatever the messages
consent, since the member asked for it at the counter, and at most CARD_LINK_LIMIT times per
member in a sliding window (an SMS costs the merchant money; a cashier's double tap or a
prankster must not run up the bill). The route lives with the cashier's (`cashier:card-link`)."""

from datetime import timedelta

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from kopilka.codes.services import RateLimited
from kopilka.core import audit, clock
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, DomainError
from kopilka.members.models import Member
from kopilka.messaging import services as messaging
from kopilka.messaging.models import Event, Message
from kopilka.web.cashier.counter import counter_view
from kopilka.web.cashier.views.members import member_or_404
from kopilka.web.wallet import signin

CARD_LINK_LIMIT = (3, timedelta(hours=1))  # messages per member per window


def send_card_link(member: Member, *, actor: Actor) -> Message:
    """Queue the `card_link` SMS with a fresh sign-in link to `member`. Call in the member's
    merchant scope; 429 beyond the limit, 409 for a member who cannot get it."""
    if member.status != Member.Status.ACTIVE or not member.person.phone:
        raise Conflict(_("This member's card is blocked or has left the program."),
                       field="member")
    most, window = CARD_LINK_LIMIT
    now = clock.now()
    with transaction.atomic():
        sent = list(Message.objects.filter(
            merchant=member.merchant, member=member, event=Event.CARD_LINK,
            created_at__gt=now - window).order_by("created_at").values_list("created_at",
                                                                             flat=True))
        if len(sent) >= most:
            wait = max(1, int((sent[0] + window - now).total_seconds()))
            minutes = (wait + 59) // 60
            raise RateLimited(ngettext(
                "The card link was sent several times already: try again in %(minutes)s minute.",
                "The card link was sent several times already: try again in %(minutes)s minutes.",
                minutes) % {"minutes": minutes}, retry_after=wait)
        message = messaging.queue(member.merchant, event=Event.CARD_LINK, member=member,
                                  context={"link": signin.wallet_link(member)})
        if message is None:
            raise Conflict(_("This shop has switched off the card link message."),
                           field="member")
        audit.record("wallet.card_link.sent", actor=actor, merchant=member.merchant, obj=member)
    return message


@require_POST
@counter_view("serve_members")
def send_from_counter(request, member_id: int):
    counter = request.counter
    member = member_or_404(counter.merchant, member_id)
    try:
        send_card_link(member, actor=counter.principal.actor)
    except DomainError as error:
        messages.error(request, str(error.detail))
    else:
        messages.success(request, _("The card link is on its way by SMS."))
    return redirect("cashier:member", member.pk)


urlpatterns = [
    path("members/<int:member_id>/card-link/", send_from_counter, name="card-link"),
]
