"""The member's referral code, link and QR; invitations to invite-only programs (#18).

`/my/shops/<id>/invite/`: the member's personal code, the join link that carries it and its
QR (a friend scans it from the member's phone), what the friend and the member get, and a form
that sends a friend the link by SMS. The join page (`/my/join/<slug>/?ref=CODE`) passes the
code to the registration, which records the referral (referrals/subscribers.py).
"""

from decimal import Decimal
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.db.models import Sum
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods
from django_scopes import scope

from kopilka.core.errors import DomainError
from kopilka.core.phones import mask_phone
from kopilka.processing import wallet as cards
from kopilka.programs import services as programs
from kopilka.programs.config import ReferralProgram
from kopilka.referrals import services as referrals
from kopilka.referrals.models import Referral, Reward
from kopilka.web.forms import Form
from kopilka.web.htmx import render_page
from kopilka.web.templatetags.kopilka import points
from kopilka.web.wallet.person import as_member, own_member, tabs, wallet_view


class InviteForm(Form):
    phone = forms.CharField(
        label=gettext_lazy("Friend's phone number"), max_length=30,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off", "inputmode": "tel"}))


def join_link(request, merchant, code: str) -> str:
    """The merchant's join page with the member's code: what the link, the QR and the SMS
    carry."""
    url = reverse("wallet:join", args=[merchant.slug]) + "?" + urlencode({"ref": code})
    return request.build_absolute_uri(url)


def _percent(value: Decimal) -> str:
    return number_format(value.normalize() if value % 1 else int(value))


def terms(config: ReferralProgram, program) -> dict[str, str]:
    """What the friend gets and what the member gets, in words."""
    friend = ""
    if config.newcomer_gift is not None:
        friend = _("Your friend gets %(points)s for joining.") % {
            "points": points(config.newcomer_gift.points, program)}
    first = config.levels[0]
    if config.basis == "fixed":
        amount = points(first.points, program)
    elif config.basis == "points":
        amount = _("%(percent)s%% of the points they earn") % {"percent": _percent(first.percent)}
    else:
        amount = _("%(percent)s%% of what they pay") % {"percent": _percent(first.percent)}
    if config.period == "first_purchase":
        you = _("You get %(amount)s for your friend's first purchase.") % {"amount": amount}
    else:
        you = _("You get %(amount)s for every purchase of your friend in their first "
                "%(days)s days.") % {"amount": amount, "days": config.days}
    deeper = ""
    if len(config.levels) > 1:
        deeper = _("And a share of the purchases of the friends they bring, %(levels)s levels "
                   "deep.") % {"levels": len(config.levels)}
    return {"friend": friend, "you": you, "deeper": deeper}


def _page(request, member, summary, config, form, *, status=200):
    code = referrals.code_for(member)
    program = summary.program
    allowed = referrals.may_invite(member, config)
    earned = referrals.earned_points(member)
    rewards = Reward.objects.filter(member=member, level__gte=1).aggregate(
        points=Sum("points"), reversed=Sum("reversed"))
    context = {
        "member": member, "summary": summary, "form": form, "code": code,
        "link": join_link(request, member.merchant, code), "terms": terms(config, program),
        "allowed": allowed, "config": config,
        "still_needed": max(config.invite_after_points - earned, 0),
        "friends": Referral.objects.filter(referrer=member).count(),
        "earned_for_friends": (rewards["points"] or 0) - (rewards["reversed"] or 0),
        "tabs": tabs(request, "shops", member),
    }
    return render_page(request, "wallet/invite.html", context, status=status)


@require_http_methods(["GET", "POST"])
@wallet_view
def invite(request, member_id: int):
    member = own_member(request, member_id)
    with as_member(request, member) as actor:
        config = referrals.referral_program(member.merchant)
        if config is None:
            raise Http404
        summary = cards.summary(member)
        if request.method == "GET":
            return _page(request, member, summary, config, InviteForm())
        form = InviteForm(request.POST)
        if not form.is_valid():
            return _page(request, member, summary, config, form, status=422)
        code = referrals.code_for(member)
        try:
            invitation = referrals.invite(member, phone=form.cleaned_data["phone"],
                                          link=join_link(request, member.merchant, code),
                                          actor=actor)
        except DomainError as error:
            form.add_error("phone" if error.field == "phone" else None, str(error.detail))
            return _page(request, member, summary, config, form,
                         status=429 if error.status == 429 else 422)
        messages.success(request, _("Invitation sent to %(phone)s.")
                         % {"phone": mask_phone(invitation.phone)})
        return redirect("wallet:invite", member.pk)


def require_invitation(merchant, ref: str) -> None:
    """The join page's check before it sends a code: an invite-only program needs `ref` to
    name a member who may invite (asked of every phone alike: the answer tells nobody who is
    a member already)."""
    with scope(merchant=merchant):
        config = referrals.referral_program(merchant)
        if config is not None and config.invite_only:
            referrer = referrals.resolve(merchant, ref) if ref else None
            referrals.refuse_uninvited(merchant, referrer, config)


def invited_by(merchant, ref: str) -> dict:
    """For the join page: whether `ref` names a member, and the newcomer's gift."""
    ref = (ref or "").strip()[:40]
    with scope(merchant=merchant):
        config = referrals.referral_program(merchant)
        referrer = referrals.resolve(merchant, ref) if ref else None
        if referrer is None:
            invite_only = config is not None and config.invite_only
            return {"ref": ref, "invite_only": invite_only} if ref else {
                "invite_only": invite_only}
        gift = ""
        if config is not None and config.newcomer_gift is not None:
            gift = points(config.newcomer_gift.points, programs.load(merchant).config)
    return {"ref": ref, "ref_name": referrer.first_name, "ref_gift": gift}


urlpatterns = [
    path("shops/<int:member_id>/invite/", invite, name="invite"),
]
