"""Joining a shop by its link or the QR poster at its counter (MEM-5): `/my/join/<slug>/`.

Not signed in: the phone and the consents, then the code from the SMS. A phone that is not
the shop's member yet gets a registration code and is registered with it (channel "self": the
welcome bonus and the program's self-registration gift); a phone that is already a member gets
a wallet code and is simply signed in to the card. Both answer alike, so the form does not tell
who is a member. Signed in: the wallet knows the phone, the consents are one tap, and a person
with an alias may show the shop only the alias.

The poster (`/my/join/<slug>/poster/`) is public: it holds nothing but the shop's name and the
link that is printed on it anyway.
"""

from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe
from django_scopes import scope

from kopilka.codes import services as codes
from kopilka.codes.models import Purpose
from kopilka.core.actor import Actor
from kopilka.core.errors import DomainError
from kopilka.core.phones import mask_phone, normalize_phone
from kopilka.members import services as members
from kopilka.members import wallet
from kopilka.members.models import Member, Person
from kopilka.processing import wallet as cards
from kopilka.tenancy.logins import client_ip
from kopilka.tenancy.models import Merchant
from kopilka.web.htmx import render_page
from kopilka.web.templatetags.kopilka import points
from kopilka.web.wallet import invite, signin
from kopilka.web.wallet.forms import JoinForm

# The version of the consent wording on the join form (its two boxes' labels).
JOIN_CONSENT_VERSION = "wallet-join-2026-12"


def shop_or_404(slug: str) -> Merchant:
    merchant = Merchant.objects.filter(slug=slug, status=Merchant.Status.ACTIVE).first()
    if merchant is None:
        raise Http404
    return merchant


def _consents(data: dict) -> list:
    given = [members.ConsentGiven("personal_data", JOIN_CONSENT_VERSION)]
    if data["messages"]:
        given.append(members.ConsentGiven("messages", JOIN_CONSENT_VERSION))
    return given


def _profile(data: dict) -> dict:
    return {key: data[key] for key in ("first_name", "birth_date") if data.get(key)}


def _ref(request) -> str:
    """The referrer's code the join link carries (`?ref=`), kept through the form's steps."""
    return (request.POST.get("ref") or request.GET.get("ref") or "").strip()[:40]


def _page(request, merchant, form, *, masked: str = "", status: int = 200):
    return render_page(request, "wallet/join.html", {
        "merchant": merchant, "form": form, "masked": masked,
        "person": getattr(request, "person", None),
        **invite.invited_by(merchant, _ref(request)),
    }, status=status)


def _error(form, error: DomainError) -> int:
    aliases = {"phone": "phone", "code": "code", "hide_phone": "hide_phone"}
    field = aliases.get(error.field)
    form.add_error(field if field in form.fields else None, str(error.detail))
    return error.status if error.status in (409, 429) else 422


def _welcome(request, member: Member) -> None:
    with scope(merchant=member.merchant):
        summary = cards.summary(member)
    if summary.available:
        messages.success(request, _("Welcome to %(shop)s! %(points)s are already yours.")
                         % {"shop": member.merchant.name,
                            "points": points(summary.available, summary.program)})
    else:
        messages.success(request, _("Welcome to %(shop)s!") % {"shop": member.merchant.name})


def _to_card(request, member: Member, person: Person):
    response = redirect("wallet:card", member.pk)
    signin.remember(response, person)
    return response


@require_http_methods(["GET", "POST"])
def join(request, slug: str):
    merchant = shop_or_404(slug)
    person = signin.person_of(request)
    if person is not None:
        request.person = person
        return _join_signed_in(request, merchant, person)
    code_sent = request.POST.get("action") == "join"
    form = JoinForm(request.POST if request.method == "POST" else None, signed_in=False,
                    code_sent=code_sent)
    if request.method == "GET":
        return _page(request, merchant, form)
    if not form.is_valid():
        return _page(request, merchant, form, status=422)
    data = form.cleaned_data
    ip = client_ip(request)
    phone = ""
    try:
        phone = normalize_phone(data["phone"], merchant.country)
        with scope(merchant=merchant):
            known = Member.objects.filter(merchant=merchant, person__phone=phone).exists()
            if not code_sent:
                invite.require_invitation(merchant, _ref(request))
                codes.request_code(merchant, purpose=Purpose.WALLET if known
                                   else Purpose.REGISTRATION, phone=phone, ip=ip,
                                   actor=Actor(kind="member", label="wallet-join", ip=ip))
                form = JoinForm(initial={**request.POST.dict(), "phone": phone},
                                signed_in=False, code_sent=True)
                return _page(request, merchant, form, masked=mask_phone(phone))
            if known:  # already a member: the code signs them in to the card they have
                person = signin.sign_in_with_code(phone, data["code"])
                member = Member.objects.get(merchant=merchant, person=person)
                if member.status not in wallet.SHOWN:  # left: the wallet shows no card
                    messages.info(request, _("You have left the program of %(shop)s.")
                                  % {"shop": merchant.name})
                    response = redirect("wallet:home")
                    signin.remember(response, person)
                    return response
                messages.info(request, _("You already have a card at %(shop)s.")
                              % {"shop": merchant.name})
                return _to_card(request, member, person)
            member = cards.join(merchant, phone=phone, code=data["code"],
                                consents=_consents(data), referrer_code=_ref(request),
                                actor=Actor(kind="member", label="wallet-join", ip=ip),
                                **_profile(data))
    except DomainError as error:
        status = _error(form, error)
        masked = mask_phone(phone) if code_sent and phone else ""
        return _page(request, merchant, form, masked=masked, status=status)
    _welcome(request, member)
    return _to_card(request, member, member.person)


def _join_signed_in(request, merchant: Merchant, person: Person):
    mine = [m for m in wallet.memberships(person) if m.merchant_id == merchant.pk]
    if mine:
        messages.info(request, _("You already have a card at %(shop)s.") % {"shop": merchant.name})
        return redirect("wallet:card", mine[0].pk)
    alias = person.alias or ""
    form = JoinForm(request.POST if request.method == "POST" else None, signed_in=True,
                    alias=alias)
    if request.method == "GET":
        return _page(request, merchant, form)
    if not form.is_valid():
        return _page(request, merchant, form, status=422)
    data = form.cleaned_data
    try:
        with scope(merchant=merchant), transaction.atomic():
            member = cards.join(merchant, phone=str(person.phone), consents=_consents(data),
                                referrer_code=_ref(request),
                                hide_phone=data.get("hide_phone", False), alias=alias,
                                actor=signin.actor_for(person, client_ip(request)),
                                **_profile(data))
    except DomainError as error:
        return _page(request, merchant, form, status=_error(form, error))
    _welcome(request, member)
    return redirect("wallet:card", member.pk)


@require_safe
def poster(request, slug: str):
    """A page to print and put at the counter: the shop's name and the QR of its join link."""
    merchant = shop_or_404(slug)
    url = request.build_absolute_uri(reverse("wallet:join", args=[merchant.slug]))
    return render(request, "wallet/poster.html", {
        "merchant": merchant, "url": url})
