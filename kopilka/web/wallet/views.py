"""The wallet's pages. Thin: parse, call the members / codes / processing services, render."""

import secrets

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from kopilka.codes import services as codes
from kopilka.codes.models import Purpose
from kopilka.codes.services import RateLimited
from kopilka.core.errors import DomainError
from kopilka.core.phones import mask_phone, normalize_phone
from kopilka.members import services as members
from kopilka.members import wallet
from kopilka.members.models import Consent, Member
from kopilka.processing import wallet as cards
from kopilka.tenancy.logins import client_ip
from kopilka.web.htmx import render_page
from kopilka.web.templatetags.kopilka import points
from kopilka.web.wallet import activate, alias, join, pwa, signin
from kopilka.web.wallet.forms import CodeForm, ConfirmCodeForm, PhoneForm, SendForm
from kopilka.web.wallet.person import as_member, own_member, pick, shown, wallet_view
from kopilka.web.wallet.person import tabs as _tabs

# The version of the one-line text the settings page shows next to the messages switch.
MESSAGES_CONSENT_VERSION = "wallet-messages-1"
LARGEST_SEQ = 2**63 - 1


def _error(form, error: DomainError) -> int:
    """Put a service's refusal on the form; the status to answer with."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, str(error.detail))
    return 429 if isinstance(error, RateLimited) else 422


# --- signing in ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def sign_in(request):
    if signin.person_of(request) is not None and request.method == "GET":
        return redirect("wallet:home")
    form = PhoneForm(request.POST if request.method == "POST" else None)
    if request.method == "GET" or not form.is_valid():
        return render_page(request, "wallet/signin.html", {"form": form},
                           status=200 if request.method == "GET" else 422)
    try:
        phone = normalize_phone(form.cleaned_data["phone"], settings.PHONENUMBER_DEFAULT_REGION)
        signin.send_code(phone, ip=client_ip(request))
    except DomainError as error:
        return render_page(request, "wallet/signin.html", {"form": form},
                           status=_error(form, error))
    return render_page(request, "wallet/signin_code.html", {
        "form": CodeForm(initial={"phone": phone}), "masked": mask_phone(phone)})


@require_POST
def sign_in_code(request):
    form = CodeForm(request.POST)
    masked = ""
    if form.is_valid():
        try:
            phone = normalize_phone(form.cleaned_data["phone"],
                                    settings.PHONENUMBER_DEFAULT_REGION)
            masked = mask_phone(phone)
            person = signin.sign_in_with_code(phone, form.cleaned_data["code"])
        except DomainError as error:
            status = _error(form, error)
        else:
            response = redirect(activate.after_sign_in(request))  # a code's link waiting
            signin.remember(response, person)
            return response
    else:
        status = 422
    return render_page(request, "wallet/signin_code.html", {"form": form, "masked": masked},
                       status=status)


@require_http_methods(["GET", "POST"])
def link(request, token: str):
    """GET shows a button, POST signs in: SMS apps fetch links for previews, and a GET that
    used the link up would leave the person with a dead one."""
    if request.method == "GET":
        return render(request, "wallet/link.html", {"token": token})
    person = signin.use_link(token)
    if person is None:
        return render(request, "wallet/link_gone.html", status=410)
    response = redirect("wallet:home")
    signin.remember(response, person)
    return response


@require_POST
def sign_out(request):
    response = redirect("wallet:signin")
    signin.forget(response)
    return response


@require_POST
@wallet_view
def sign_out_everywhere(request):
    signin.sign_out_everywhere(request.person)
    response = redirect("wallet:signin")
    signin.forget(response)
    return response


# --- the card and the shops ------------------------------------------------------------------


@require_safe
@wallet_view
def home(request):
    memberships = wallet.memberships(request.person)
    if not memberships:
        return render_page(request, "wallet/none.html", {"tabs": _tabs(request, "card")})
    return redirect("wallet:card", memberships[0].pk)


@require_safe
@wallet_view
def card(request, member_id: int):
    memberships = shown(request)
    member = pick(memberships, member_id)
    [summary] = cards.summaries([member])
    return render_page(request, "wallet/card.html", {
        "summary": summary, "member": member, "tabs": _tabs(request, "card", member),
        "memberships": memberships,
    })


@require_safe
@wallet_view
def shops(request):
    summaries = cards.summaries(shown(request))  # a constant number of statements for all
    return render_page(request, "wallet/shops.html", {
        "summaries": summaries, "tabs": _tabs(request, "shops",
                                              summaries[0].member if summaries else None),
    })


def _before(request) -> int | None:
    raw = request.GET.get("before", "")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) <= LARGEST_SEQ else None


@require_safe
@wallet_view
def shop(request, member_id: int):
    member = pick(shown(request), member_id)
    [summary] = cards.summaries([member])
    with as_member(request, member):
        lines, next_before = cards.history(member, before=_before(request))
        stores = cards.stores(member)
    return render_page(request, "wallet/shop.html", {
        "summary": summary, "member": member, "lines": lines, "next_before": next_before,
        "stores": stores, "tabs": _tabs(request, "shops", member),
    })


# --- settings: messages, leaving, erasing ----------------------------------------------------


def _settings_page(request, member: Member, *, code_form=None, status: int = 200):
    with as_member(request, member):
        messages_on = members.has_consent(member, Consent.Kind.MESSAGES)
    return render_page(request, "wallet/settings.html", {
        "member": member, "messages_on": messages_on, "code_form": code_form,
        "tabs": _tabs(request, "shops", member),
        "masked": mask_phone(str(request.person.phone)),
    }, status=status)


@require_http_methods(["GET", "POST"])
@wallet_view
def shop_settings(request, member_id: int):
    member = own_member(request, member_id)
    if request.method == "GET":
        return _settings_page(request, member)
    action = request.POST.get("action", "")
    here = reverse("wallet:settings", args=[member.pk])
    try:
        with as_member(request, member) as actor:
            if action == "messages_on":
                members.grant_consent(
                    member, members.ConsentGiven(Consent.Kind.MESSAGES, MESSAGES_CONSENT_VERSION),
                    channel=Member.Channel.SELF, actor=actor)
                messages.success(request, _("Messages from this shop are on."))
            elif action == "messages_off":
                members.revoke_consent(member, Consent.Kind.MESSAGES, actor=actor)
                messages.success(request, _("Messages from this shop are off."))
            elif action == "leave":
                wallet.leave_program(member, actor=actor)
                messages.success(request, _("You have left the program of %(shop)s.")
                                 % {"shop": member.merchant.name})
                return redirect("wallet:home")
            else:
                return _settings_page(request, member, status=422)
    except DomainError as error:
        messages.error(request, str(error.detail))
    return redirect(here)


@require_POST
@wallet_view
def erase(request, member_id: int):
    """Erase my data at this shop: the first POST sends a code, the second (with it) erases."""
    member = own_member(request, member_id)
    if "code" not in request.POST:
        form = ConfirmCodeForm()
        try:
            signin.send_code(str(request.person.phone), ip=client_ip(request))
        except DomainError as error:
            return _settings_page(request, member, code_form=form, status=_error(form, error))
        return _settings_page(request, member, code_form=form)
    form = ConfirmCodeForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, member, code_form=form, status=422)
    try:
        signin.confirm_with_code(request.person, form.cleaned_data["code"])
    except DomainError as error:
        return _settings_page(request, member, code_form=form, status=_error(form, error))
    with as_member(request, member) as actor:
        members.erase_member(member, actor=actor)
    messages.success(request, _("Your personal data at %(shop)s is erased.")
                     % {"shop": member.merchant.name})
    return redirect("wallet:home")


# --- sending points to a friend --------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@wallet_view
def send(request, member_id: int):
    member = own_member(request, member_id)
    with as_member(request, member) as actor:
        summary = cards.summary(member)
        if not summary.can_send:
            raise Http404
        if request.method == "GET":
            form = SendForm(initial={"key": secrets.token_urlsafe(16)},
                            precision=summary.program.points_precision)
            return render_page(request, "wallet/send.html", {
                "form": form, "summary": summary, "member": member,
                "tabs": _tabs(request, "shops", member)})
        needs_code = cards.transfer_needs_code(member)
        asked = needs_code and "code" in request.POST  # the second step: the code was sent
        form = SendForm(request.POST, precision=summary.program.points_precision,
                        with_code=asked)
        status = 422
        if form.is_valid() and needs_code and not asked:
            # The program confirms transfers by code: send it, then ask for it on the form.
            try:
                codes.request_code(member.merchant, purpose=Purpose.SPENDING, member=member,
                                   actor=actor, ip=client_ip(request))
            except DomainError as error:
                status = _error(form, error)
            else:
                form = SendForm(request.POST, precision=summary.program.points_precision,
                                with_code=True)
                return render_page(request, "wallet/send.html", {
                    "form": form, "summary": summary, "member": member, "code_sent": True,
                    "masked": mask_phone(str(member.person.phone)),
                    "tabs": _tabs(request, "shops", member)})
        elif form.is_valid():
            try:
                friend = cards.send_points(member, phone=form.cleaned_data["phone"],
                                           points=form.cleaned_data["points"],
                                           key=f"wallet:{form.cleaned_data['key']}",
                                           actor=actor, code=form.cleaned_data.get("code"))
            except DomainError as error:
                status = _error(form, error)
            else:
                amount = points(form.cleaned_data["points"], summary.program)
                messages.success(request, _("%(points)s sent to %(phone)s.") % {
                    "points": amount, "phone": mask_phone(str(friend.person.phone))})
                return redirect("wallet:shop", member.pk)
        return render_page(request, "wallet/send.html", {
            "form": form, "summary": summary, "member": member,
            "tabs": _tabs(request, "shops", member)}, status=status)


urlpatterns = [
    path("", home, name="home"),
    path("signin/", sign_in, name="signin"),
    path("signin/code/", sign_in_code, name="signin-code"),
    path("signout/", sign_out, name="signout"),
    path("signout/everywhere/", sign_out_everywhere, name="signout-everywhere"),
    path("cards/<int:member_id>/", card, name="card"),
    path("shops/", shops, name="shops"),
    path("shops/<int:member_id>/", shop, name="shop"),
    path("shops/<int:member_id>/settings/", shop_settings, name="settings"),
    path("shops/<int:member_id>/erase/", erase, name="erase"),
    path("shops/<int:member_id>/send/", send, name="send"),
    path("join/<slug:slug>/", join.join, name="join"),
    path("join/<slug:slug>/poster/", join.poster, name="poster"),
    path("alias/", alias.alias, name="alias"),
    path("manifest.webmanifest", pwa.manifest, name="manifest"),
    path("sw.js", pwa.service_worker, name="service-worker"),
]
