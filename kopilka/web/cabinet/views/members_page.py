"""A member's page in the cabinet (#16): profile, cards, balance, lots with their expiry, the
points history with its causes in words, purchases; and the actions the role allows, each a
plain form calling the service the API calls:

    adjust points   processing.manual.adjust_points   `adjust` (a grant uses the allowance)
    change tier     processing.manual.assign_tier     `assign_tier`
    replace a card  members.services.replace_card     `read_members` (serve_members)
    edit tags       members.services.set_tags         `tag_members`
    block, unblock  members.services.set_blocked      `erase_members`
    erase           members.services.erase_member     `erase_members`

An invalid form re-renders the page with its errors (422); a refusal of the service lands on
its field.
"""

import uuid

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from kopilka.core.errors import Conflict, DomainError
from kopilka.ledger import services as ledger
from kopilka.ledger.models import Lot
from kopilka.members import services as members
from kopilka.members.models import Card, Member
from kopilka.processing import manual, queries
from kopilka.processing import wallet as wallet_reads
from kopilka.processing.models import Allowance
from kopilka.tenancy import access
from kopilka.web.cabinet.session import cabinet_view
from kopilka.web.cabinet.views.members import (
    PERMISSION,
    AmountField,
    alias_shown,
    phone_shown,
    program_of,
)
from kopilka.web.forms import Form
from kopilka.web.htmx import render_page
from kopilka.web.templatetags.kopilka import points as points_text

HISTORY = 20
PURCHASES = 20


class AdjustForm(Form):
    direction = forms.ChoiceField(label=gettext_lazy("Change"), choices=[
        ("grant", gettext_lazy("Grant")), ("deduct", gettext_lazy("Deduct"))],
        widget=forms.RadioSelect, initial="grant")
    points = AmountField(label=gettext_lazy("Points"))
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=300,
                             help_text=gettext_lazy("The member sees it in the history."))
    key = forms.CharField(widget=forms.HiddenInput, max_length=100)

    def __init__(self, *args, precision: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["points"] = AmountField(label=_("Points"), precision=precision)
        self.fields["points"].required = True
        if not self.is_bound:
            self.initial["key"] = uuid.uuid4().hex

    def clean_points(self):
        value = self.cleaned_data["points"]
        if value is not None and value <= 0:
            raise forms.ValidationError(_("Enter a number greater than 0."))
        return value


class TierForm(Form):
    tier = forms.ChoiceField(label=gettext_lazy("Tier"), required=False)

    def __init__(self, *args, program, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tier"].choices = [("", _("By total spend (automatic)")),
                                       *((t.code, t.name) for t in program.tiers.values())]


class CardForm(Form):
    card = forms.ChoiceField(label=gettext_lazy("Card"))
    number = forms.CharField(label=gettext_lazy("New card number"), max_length=40)
    lost = forms.BooleanField(label=gettext_lazy("The old card was lost"), required=False)

    def __init__(self, *args, cards, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["card"].choices = [(str(card.pk), card.number) for card in cards]


class TagsForm(Form):
    tags = forms.CharField(label=gettext_lazy("Tags"), max_length=900, required=False,
                           help_text=gettext_lazy("Separated by commas."))


def _member(request, member_id: int) -> Member:
    if not 0 < member_id < 2**63:
        raise Http404
    member = Member.objects.select_related("person").filter(
        merchant=request.cabinet.merchant, pk=member_id).first()
    if member is None:
        raise Http404
    member.merchant = request.cabinet.merchant
    return member


def _page(request, member: Member, status: int = 200, **forms_given):
    cabinet = request.cabinet
    merchant = cabinet.merchant
    principal = cabinet.principal
    program = program_of(merchant)
    card = queries.member_card(merchant, member) if program is not None else None
    cards = list(Card.objects.filter(merchant=merchant, member=member).order_by("-issued_at"))
    # A phone card's number is the phone: shown as the phone is (masked, or not at all).
    phone = phone_shown(member, principal)
    shown = [{"card": c, "number": (phone or "—") if c.kind == Card.Kind.PHONE else c.number}
             for c in cards]
    active_cards = [c for c in cards if c.status == Card.Status.ACTIVE
                    and c.kind != Card.Kind.PHONE]
    lots, history, next_before = [], [], None
    if card is not None:
        lots = list(Lot.objects.filter(merchant=merchant, account=card.account, remaining__gt=0)
                    .order_by("expires_at", "pk")[:50])
        before = request.GET.get("before", "")
        before = int(before) if before.isdigit() and int(before) < 2**63 else None
        history, next_before = wallet_reads.history(member, before=before, limit=HISTORY)
    purchases = list(queries.purchases(merchant, member_id=member.pk)
                     .select_related("store").order_by("-occurred_at", "-pk")[:PURCHASES])
    tier = program.tiers.get(card.tier) if card is not None else None
    may = {name: principal.may(name) for name in
           ("adjust", "assign_tier", "serve_members", "tag_members", "erase_members")}
    erased = member.status == Member.Status.ERASED
    precision = program.config.points_precision if program is not None else 2
    context = {
        "member": member, "phone": phone, "alias": alias_shown(member),
        "card": card, "tier": tier.name if tier else "", "manual_tier": bool(
            card and card.account.tier_manual),
        "program": program and program.config, "currency": merchant.currency,
        "cards": shown, "lots": lots, "history": history, "next_before": next_before,
        "purchases": purchases, "may": may, "erased": erased,
        "adjust_form": forms_given.get("adjust_form") or AdjustForm(precision=precision),
        "tier_form": forms_given.get("tier_form") or (
            TierForm(program=program, initial={
                "tier": card.account.tier_code if card.account.tier_manual else ""})
            if program is not None and card is not None else None),
        "card_form": forms_given.get("card_form") or (
            CardForm(cards=active_cards) if active_cards else None),
        "tags_form": forms_given.get("tags_form") or TagsForm(
            initial={"tags": ", ".join(member.tags)}),
    }
    return render_page(request, "cabinet/members/member.html", context, status=status)


def _refuse(form: forms.Form, error: DomainError, fields: dict[str, str] | None = None) -> None:
    field = (fields or {}).get(error.field, error.field)
    form.add_error(field if field in form.fields else None, error.detail)


@require_http_methods(["GET", "HEAD"])
@cabinet_view(PERMISSION)
def member_page(request, member_id: int):
    return _page(request, _member(request, member_id))


@require_http_methods(["POST"])
@cabinet_view("adjust")
def member_adjust(request, member_id: int):
    member = _member(request, member_id)
    cabinet = request.cabinet
    program = program_of(cabinet.merchant)
    if program is None:
        raise Http404
    form = AdjustForm(request.POST, precision=program.config.points_precision)
    if form.is_valid():
        points = form.fields["points"].minor(form.cleaned_data["points"])
        if form.cleaned_data["direction"] == "deduct":
            points = -points
        try:
            manual.adjust_points(cabinet.merchant, member, points=points, by=cabinet.staff,
                                 reason=form.cleaned_data["reason"],
                                 key=form.cleaned_data["key"], actor=cabinet.principal.actor)
        except DomainError as error:
            _refuse(form, _worded(cabinet, member, program, error))
        else:
            messages.success(request, _("Points granted.") if points > 0
                             else _("Points deducted."))
            return redirect("cabinet:member", member.pk)
    return _page(request, member, status=422, adjust_form=form)


def _worded(cabinet, member: Member, program, error: DomainError) -> DomainError:
    """The allowance and the balance in the program's points, not in minor units (as the
    counter says them: web/cashier/views/sales.py)."""
    if not isinstance(error, Conflict) or error.field != "points":
        return error
    if isinstance(error, ledger.InsufficientPoints):
        available = queries.member_card(cabinet.merchant, member).available
        return Conflict(_("Only %(points)s can be deducted.") % {
            "points": points_text(max(available, 0), program.config)}, field="points")
    if access.role_may(cabinet.staff.role, "grant_unlimited"):
        return error
    allowance = Allowance.objects.filter(merchant=cabinet.merchant, staff=cabinet.staff).first()
    return Conflict(_("Your allowance has %(points)s left. Ask a manager for more.") % {
        "points": points_text(allowance.remaining if allowance else 0, program.config)},
        field="points")


@require_http_methods(["POST"])
@cabinet_view("assign_tier")
def member_tier(request, member_id: int):
    member = _member(request, member_id)
    cabinet = request.cabinet
    program = program_of(cabinet.merchant)
    if program is None:
        raise Http404
    form = TierForm(request.POST, program=program)
    if form.is_valid():
        try:
            manual.assign_tier(cabinet.merchant, member, tier_code=form.cleaned_data["tier"]
                               or None, actor=cabinet.principal.actor)
        except DomainError as error:
            _refuse(form, error)
        else:
            messages.success(request, _("Tier changed."))
            return redirect("cabinet:member", member.pk)
    return _page(request, member, status=422, tier_form=form)


@require_http_methods(["POST"])
@cabinet_view(PERMISSION)  # serve_members, in the cabinet: the managers' place
def member_card_replace(request, member_id: int):
    member = _member(request, member_id)
    cabinet = request.cabinet
    cards = list(Card.objects.filter(merchant=cabinet.merchant, member=member,
                                     status=Card.Status.ACTIVE)
                 .exclude(kind=Card.Kind.PHONE))
    form = CardForm(request.POST, cards=cards)
    if form.is_valid():
        card = next(c for c in cards if str(c.pk) == form.cleaned_data["card"])
        try:
            new = members.replace_card(card, new_number=form.cleaned_data["number"],
                                       lost=form.cleaned_data["lost"],
                                       actor=cabinet.principal.actor)
        except DomainError as error:
            _refuse(form, error)
        else:
            messages.success(request, _("Card %(old)s replaced by %(new)s.")
                             % {"old": card.number, "new": new.number})
            return redirect("cabinet:member", member.pk)
    return _page(request, member, status=422, card_form=form)


@require_http_methods(["POST"])
@cabinet_view("tag_members")
def member_tags(request, member_id: int):
    member = _member(request, member_id)
    form = TagsForm(request.POST)
    if form.is_valid():
        tags = form.cleaned_data["tags"].split(",")
        try:
            members.set_tags(member, tags, actor=request.cabinet.principal.actor)
        except DomainError as error:
            _refuse(form, error)
        else:
            messages.success(request, _("Tags saved."))
            return redirect("cabinet:member", member.pk)
    return _page(request, member, status=422, tags_form=form)


@require_http_methods(["POST"])
@cabinet_view("erase_members")
def member_block(request, member_id: int):
    member = _member(request, member_id)
    blocked = request.POST.get("blocked") == "1"
    try:
        members.set_blocked(member, blocked, actor=request.cabinet.principal.actor)
    except DomainError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, _("Member blocked.") if blocked else _("Member unblocked."))
    return redirect("cabinet:member", member.pk)


@require_http_methods(["POST"])
@cabinet_view("erase_members")
def member_erase(request, member_id: int):
    member = _member(request, member_id)
    members.erase_member(member, actor=request.cabinet.principal.actor)
    messages.success(request, _("The member's personal data is erased; purchases and points "
                                "history stay."))
    return redirect("cabinet:member", member.pk)


urlpatterns = [
    path("members/<int:member_id>/", member_page, name="member"),
    path("members/<int:member_id>/adjust/", member_adjust, name="member-adjust"),
    path("members/<int:member_id>/tier/", member_tier, name="member-tier"),
    path("members/<int:member_id>/card/", member_card_replace, name="member-card"),
    path("members/<int:member_id>/tags/", member_tags, name="member-tags"),
    path("members/<int:member_id>/block/", member_block, name="member-block"),
    path("members/<int:member_id>/erase/", member_erase, name="member-erase"),
]
