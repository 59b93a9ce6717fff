"""The counter's first screen and the member: find by phone, card or QR; register; the card.

One search field takes whatever the cashier types or a scanner sends: a phone in any format, a
card number (plastic, or the phone card), or the token of the member page's QR. Every look-up
asks the server (members are never preloaded). The member card is a partial of the counter
page, so a search swaps it in under the field and /cashier/members/<id>/ is the same page.
"""

import re
from datetime import timedelta

import phonenumbers
from django import forms
from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django.views.decorators.csp import csp_override
from django.views.decorators.http import require_http_methods, require_safe

from kopilka.codes import services as codes
from kopilka.codes.models import Purpose
from kopilka.core.errors import DomainError, NotFound
from kopilka.core.phones import mask_phone, normalize_phone
from kopilka.members import aliases
from kopilka.members import services as members
from kopilka.members.models import Card, Member
from kopilka.processing import enrol, queries
from kopilka.processing import hints as hint_words
from kopilka.programs import services as programs
from kopilka.rewards import services as reward_orders
from kopilka.tenancy.logins import client_ip
from kopilka.web.cashier.counter import counter_view
from kopilka.web.cashier.views import rewards as rewards_views
from kopilka.web.forms import Form
from kopilka.web.htmx import render_page, wants_fragment

# The counter page compiles the ZXing WebAssembly for the camera scanner (docs/web.md).
SCANNER_CSP = {**settings.SECURE_CSP,
               "script-src": [*settings.SECURE_CSP.get("script-src", ["'self'"]),
                              "'wasm-unsafe-eval'"]}
# Scanners end a code with Enter, Tab or a group separator and may start it with STX; none of
# them belongs to what was scanned.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
PHONE_CHARACTERS = re.compile(r"\+?[\d\s().-]+")
QR_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,32}")
CARD_SEPARATORS = re.compile(r"[\s-]")
MAX_QUERY = 64
# The version of the consent wording on the registration screen (the labels of the consent
# boxes below): recorded with each consent, so a changed wording gets a new version.
CONSENT_TEXT_VERSION = "counter-2026-12"
RECENT_PURCHASES = 5


def clean_query(text: str) -> str:
    return CONTROL_CHARACTERS.sub("", text or "").strip()[:MAX_QUERY]


def member_or_404(merchant, member_id: int) -> Member:
    try:
        return members.get_member(merchant, member_id)
    except NotFound:
        raise Http404 from None


# --- the card -----------------------------------------------------------------------------------


def card_context(request, member: Member) -> dict:
    """What the member card shows; the template formats its figures ({% points %}, {% money %})."""
    counter = request.counter
    merchant = counter.merchant
    card = queries.member_card(merchant, member)
    zone = timezone.get_current_timezone()  # the merchant's: counter_view activated it
    program = programs.load(merchant)
    phone = str(member.person.phone) if member.person.phone else ""
    if member.phone_hidden:  # joined showing the alias only (MEM-4): never the number
        phone = f"@{member.person.alias}" if member.person.alias else ""
    pending, expiring, next_tier, other_hints = [], [], None, []
    for hint in card.hints:
        params = hint.params
        if hint.code == "pending_activation":
            pending.append({"points": params["points"], "at": params["available_at"]})
        elif hint.code == "points_expiring_soon":
            # expires_at is a local midnight: the points are usable through the day before.
            last_day = (params["expires_at"].astimezone(zone) - timedelta(microseconds=1)).date()
            expiring.append({"points": params["points"], "last_day": last_day})
        elif hint.code == "amount_to_next_tier":
            next_tier = {"name": params["tier_name"], "amount": params["amount"]}
        else:
            other_hints.append(hint_words.word(hint, zone))
    tier = program.tiers.get(card.tier)
    purchases = list(queries.purchases(merchant, member_id=member.pk)
                     .order_by("-occurred_at", "-pk")[:RECENT_PURCHASES])
    return {
        "member": member,
        "name": " ".join(filter(None, [member.first_name, member.last_name])),
        "phone": phone if counter.principal.sees_full_phones or member.phone_hidden
        else mask_phone(phone),
        "available": card.available,
        "pending": card.pending,
        "pending_dates": pending,
        "expiring": expiring,
        "tier": tier.name if tier else card.tier,
        "next_tier": next_tier,
        "hints": other_hints,
        "purchases": purchases,
        "program": program.config,
        "plastic_cards": [c for c in member.cards.all()
                          if c.status == Card.Status.ACTIVE and c.kind != Card.Kind.PHONE],
        "currency": merchant.currency,
        "active": member.status == Member.Status.ACTIVE,
    }


def _phone_example(country: str) -> str:
    """A phone number of the merchant's country as people write it, for the placeholder."""
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:
        return ""
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _page(request, context: dict, *, status: int = 200, fragment: str = "result"):
    """The counter page (search + result); an htmx request gets the result alone."""
    merchant = request.counter.merchant
    return render_page(request, "cashier/home.html",
                       {"counter": request.counter,
                        "phone_example": _phone_example(merchant.country), **context},
                       fragment=fragment, status=status)


def _card_page(request, found: Member, **context):
    """The counter page with the member's card; what stops showing it (the merchant has no
    program yet) is a message, 409."""
    try:
        card = card_context(request, found)
    except DomainError as error:
        return _page(request, {"problem": error.detail}, status=409)
    return _page(request, {"card": card, **context})


@csp_override(SCANNER_CSP)
@require_safe
@counter_view("serve_members")
def home(request):
    return _page(request, {}, fragment="content")


@csp_override(SCANNER_CSP)
@require_safe
@counter_view("serve_members")
def member(request, member_id: int):
    found = member_or_404(request.counter.merchant, member_id)
    return _card_page(request, found)


# --- the search ---------------------------------------------------------------------------------


def _readable(e164: str) -> str:
    """+79160001122 as people write it: +7 916 000-11-22."""
    if not e164:
        return ""
    return phonenumbers.format_number(phonenumbers.parse(e164),
                                      phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _looks_like_phone(text: str) -> bool:
    return bool(PHONE_CHARACTERS.fullmatch(text)) and sum(c.isdigit() for c in text) >= 5


def search(merchant, text: str) -> tuple[Member | None, str]:
    """The member `text` names, else None and the phone to offer registering ("" if `text`
    is no phone). A card number is tried first: it is exact, and a plastic card's digits can
    look like a national phone number."""
    number = CARD_SEPARATORS.sub("", text)
    if number.isalnum():
        try:
            return members.find_member(merchant, card=number), ""
        except NotFound:
            pass
    if _looks_like_phone(text):
        try:
            e164 = normalize_phone(text, merchant.country)
        except DomainError:
            return None, ""
        try:
            return members.find_member(merchant, phone=e164), ""
        except NotFound:
            return None, e164
    if QR_TOKEN.fullmatch(text):
        try:
            return members.find_member(merchant, qr=text), ""
        except NotFound:
            pass
    return None, ""


@csp_override(SCANNER_CSP)
@require_safe
@counter_view("serve_members")
def find(request):
    """GET ?q=: the member card, or what to do when nobody was found."""
    query = clean_query(request.GET.get("q", ""))
    if not query:
        return _page(request, {})
    merchant = request.counter.merchant
    if reward_orders.looks_like_code(query):  # a reward order's QR (#18): open the order
        return rewards_views.go_to_order(request, query)
    found, phone = search(merchant, query)
    context = {}
    if found is None and not phone and aliases.ALIAS.fullmatch(query.removeprefix("@")):
        try:  # an alias (MEM-4): the member here, or a wallet that may join (join_url)
            by_alias = aliases.find_by_alias(merchant, query,
                                             client=f"terminal:{request.counter.terminal.pk}")
        except DomainError as error:
            return _page(request, {"problem": error.detail}, status=error.status)
        found = by_alias.member
        if by_alias.has_wallet and found is None:
            context = {"join_alias": query.removeprefix("@"),
                       "join_url": reverse("wallet:poster", args=[merchant.slug])}
    if found is None:
        context.update({"query": query, "not_found": True, "register_phone": phone,
                        "register_phone_shown": _readable(phone)})
        number = CARD_SEPARATORS.sub("", query)
        if not phone and number.isalnum() and not QR_TOKEN.fullmatch(query):
            context["register_card"] = number  # a new plastic card: register it with it
        return _page(request, context)
    response = _card_page(request, found)
    # The address names the member: a reload shows them again.
    if wants_fragment(request) and response.status_code == 200:
        response["HX-Push-Url"] = reverse("cashier:member", args=[found.pk])
    return response


# --- registration -------------------------------------------------------------------------------


class RegistrationForm(Form):
    phone = forms.CharField(label=gettext_lazy("Phone"), max_length=32,
                            widget=forms.TextInput(attrs={
                                "type": "tel", "autocomplete": "off", "inputmode": "tel"}))
    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=100,
                                 required=False,
                                 widget=forms.TextInput(attrs={"autocomplete": "off"}))
    birth_date = forms.DateField(label=gettext_lazy("Birth date"), required=False,
                                 widget=forms.DateInput(attrs={"type": "date"},
                                                        format="%Y-%m-%d"))
    card_number = forms.CharField(
        label=gettext_lazy("Plastic card number"), max_length=40, required=False,
        help_text=gettext_lazy("Scan or type it. Leave empty: the phone number is the card."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "data-scan-field": True}))
    referrer = forms.CharField(
        label=gettext_lazy("Recommended by"), max_length=40, required=False,
        help_text=gettext_lazy("The friend's referral code, phone or card number, if any."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}))
    code = forms.CharField(
        label=gettext_lazy("Code from the SMS"), max_length=16, required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))
    personal_data = forms.BooleanField(
        label=gettext_lazy("The customer agrees to the processing of their personal data "
                           "for the loyalty program"),
        error_messages={"required": gettext_lazy("Ask the customer for this consent: without "
                                                 "it they cannot join.")})
    messages = forms.BooleanField(
        label=gettext_lazy("The customer agrees to receive messages about offers and points"),
        required=False)

    def clean_phone(self):
        return clean_query(self.cleaned_data["phone"])

    def clean_card_number(self):
        return CARD_SEPARATORS.sub("", clean_query(self.cleaned_data["card_number"]))

    def clean_code(self):
        return clean_query(self.cleaned_data["code"])


def _add_error(form: Form, error: DomainError, aliases: dict | None = None) -> None:
    """The service's error on the form field it names (`aliases`: service field -> form
    field), else above the form."""
    field = (aliases or {}).get(error.field, error.field)
    form.add_error(field if field in form.fields else None, error.detail)


def _as_typed(data) -> RegistrationForm:
    """The form with what was typed and no errors shown: a code was asked for, the
    registration was not (yet)."""
    form = RegistrationForm(initial=data.dict())
    form.full_clean()
    form.cleaned_data = {}
    return form


def _send_code(request):
    counter = request.counter
    phone = clean_query(request.POST.get("phone", ""))
    form = _as_typed(request.POST)
    try:
        issued = codes.request_code(
            counter.merchant, purpose=Purpose.REGISTRATION, actor=counter.principal.actor,
            phone=phone, terminal=counter.terminal, ip=client_ip(request))
    except DomainError as error:
        _add_error(form, error)
        return _page(request, {"register_form": form}, status=422)
    sent = {"phone": mask_phone(str(issued.code.phone)), "resend_after": issued.resend_after}
    form.fields["code"].widget.attrs["autofocus"] = True  # the customer reads it out next
    return _page(request, {"register_form": form, "code_sent": sent})


def _enrol(request, data: dict) -> Member:
    counter = request.counter
    merchant = counter.merchant
    code = data["code"] or None
    if code is not None:
        # Checked before the registration's transaction: a wrong code's used-up attempt must
        # outlive the rollback (codes.check writes it in a block of its own).
        codes.check(merchant, phone=normalize_phone(data["phone"], merchant.country),
                    purpose=Purpose.REGISTRATION, code=code)
    consents = [members.ConsentGiven("personal_data", CONSENT_TEXT_VERSION)]
    if data["messages"]:
        consents.append(members.ConsentGiven("messages", CONSENT_TEXT_VERSION))
    profile = {key: data[key] for key in ("first_name", "birth_date") if data[key]}
    if data.get("referrer"):
        profile["referrer_code"] = data["referrer"]
    with transaction.atomic():  # a card number already in use registers nobody
        member = enrol.enrol(
            merchant, phone=data["phone"], actor=counter.principal.actor,
            channel=Member.Channel.CASHIER, staff=counter.staff, consents=consents, code=code,
            **profile)
        if data["card_number"]:
            members.issue_card(member, number=data["card_number"],
                               actor=counter.principal.actor)
    return member


def _show_member(request, found: Member, **context):
    """The member's card after a change: in place of the form (htmx), else their page."""
    url = reverse("cashier:member", args=[found.pk])
    if not wants_fragment(request):
        return redirect(url)
    response = _card_page(request, found, **context)
    if response.status_code == 200:
        response["HX-Push-Url"] = url
    return response


@csp_override(SCANNER_CSP)
@require_http_methods(["GET", "POST"])
@counter_view("serve_members")
def register(request):
    """GET ?phone= or ?card=: the form, prefilled from the search. POST with action=send_code
    sends the registration code; POST otherwise registers and shows the new member's card
    with the welcome bonus on it."""
    if request.method == "GET":
        phone = clean_query(request.GET.get("phone", ""))
        card = CARD_SEPARATORS.sub("", clean_query(request.GET.get("card", "")))
        form = RegistrationForm(initial={"phone": phone, "card_number": card})
        if not phone:  # else the "Send code" button has the focus: the next step
            form.fields["phone"].widget.attrs["autofocus"] = True
        return _page(request, {"register_form": form})
    if request.POST.get("action") == "send_code":
        return _send_code(request)
    form = RegistrationForm(data=request.POST)
    if not form.is_valid():
        return _page(request, {"register_form": form}, status=422)
    try:
        created = _enrol(request, form.cleaned_data)
    except DomainError as error:
        _add_error(form, error, {"number": "card_number", "referrer_code": "referrer"})
        return _page(request, {"register_form": form}, status=422)
    return _show_member(request, created, registered=True)


# --- a lost card --------------------------------------------------------------------------------


class ReplaceCardForm(Form):
    old_card = forms.ChoiceField(label=gettext_lazy("The lost card"), required=False)
    new_number = forms.CharField(
        label=gettext_lazy("New card number"), max_length=40,
        help_text=gettext_lazy("Scan the new card or type its number."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autofocus": True,
                                      "data-scan-field": True}))

    def __init__(self, *args, cards: list[Card], **kwargs):
        super().__init__(*args, **kwargs)
        self.cards = {card.number: card for card in cards}
        if cards:
            self.fields["old_card"].choices = [(c.number, c.number) for c in cards]
            self.fields["old_card"].required = True
        else:
            del self.fields["old_card"]

    def clean_new_number(self):
        return CARD_SEPARATORS.sub("", clean_query(self.cleaned_data["new_number"]))


@csp_override(SCANNER_CSP)
@require_http_methods(["GET", "POST"])
@counter_view("serve_members")
def replace_card(request, member_id: int):
    """A plastic card was lost: the new one replaces it (marked lost), the member and the
    balance stay. A member whose only card is the phone gets the new card issued."""
    counter = request.counter
    found = member_or_404(counter.merchant, member_id)
    cards = [c for c in found.cards.all()
             if c.status == Card.Status.ACTIVE and c.kind != Card.Kind.PHONE]
    form = ReplaceCardForm(request.POST or None, cards=cards)
    context = {"replace_form": form, "member": found}
    if request.method == "GET":
        return _page(request, context)
    if not form.is_valid():
        return _page(request, context, status=422)
    number = form.cleaned_data["new_number"]
    try:
        if cards:
            members.replace_card(form.cards[form.cleaned_data["old_card"]], new_number=number,
                                 actor=counter.principal.actor, lost=True)
        else:
            members.issue_card(found, number=number, actor=counter.principal.actor)
    except DomainError as error:
        _add_error(form, error, {"number": "new_number", "card": "old_card"})
        return _page(request, context, status=422)
    return _show_member(request, found, card_replaced=number)


urlpatterns = [
    path("", home, name="home"),
    path("find/", find, name="find"),
    path("members/<int:member_id>/", member, name="member"),
    path("register/", register, name="register"),
    path("members/<int:member_id>/card/", replace_card, name="replace-card"),
]
