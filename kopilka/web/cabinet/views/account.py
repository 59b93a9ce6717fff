"""Signing up a business, signing in and out, choosing the merchant to work for.

Plain forms, not htmx: each step ends on a new page, and a password refused by the throttle
(django-axes: `authenticate` gets the request) is answered by axes' own page (429).
"""

from zoneinfo import available_timezones

import phonenumbers
from babel import Locale
from django import forms
from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.core.cache import cache
from django.http import HttpRequest
from django.shortcuts import redirect
from django.urls import path
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.utils.translation.trans_real import parse_accept_lang_header
from django.views.decorators.http import require_http_methods, require_POST

from kopilka.core import clock
from kopilka.core.actor import Actor
from kopilka.core.errors import DomainError
from kopilka.tenancy import services as tenancy
from kopilka.tenancy.logins import client_ip
from kopilka.web.cabinet import session
from kopilka.web.forms import Form
from kopilka.web.htmx import render_page

# Currencies offered at sign-up (the markets Kopilka is made for, and the common ones).
CURRENCIES = ("RUB", "UAH", "KZT", "BYN", "USD", "EUR", "GBP", "PLN")
# What a browser's language and region suggest: currency, time zone, country, language.
REGIONS = {
    "RU": ("RUB", "Europe/Moscow", "ru"),
    "UA": ("UAH", "Europe/Kyiv", "uk"),
    "KZ": ("KZT", "Asia/Almaty", "ru"),
    "BY": ("BYN", "Europe/Minsk", "ru"),
    "US": ("USD", "America/New_York", "en"),
    "GB": ("GBP", "Europe/London", "en"),
}
COUNTRY_OF_LANGUAGE = {"ru": "RU", "uk": "UA", "kk": "KZ", "be": "BY", "en": "US"}
# Businesses one address may sign up per hour: a person makes one, a script would make many.
# Counted in Django's cache (per process with LocMem; shared with Redis), as the API's limits.
SIGNUPS_PER_ADDRESS = (5, 3600)


def defaults_for(accept_language: str) -> dict:
    """Sign-up defaults from the browser's Accept-Language: its first language we know, with
    the region it names when we know that region (en-GB: pounds and London). Plain English
    gets the United States (dollars, New York); a browser we can't read gets Russia."""
    for tag, _quality in parse_accept_lang_header(accept_language or ""):
        language, _sep, region = tag.lower().partition("-")
        country = region.upper() if region.upper() in REGIONS else COUNTRY_OF_LANGUAGE.get(
            language)
        if country is None:
            continue
        currency, zone, merchant_language = REGIONS[country]
        if language in dict(settings.LANGUAGES):
            merchant_language = language
        return {"currency": currency, "timezone": zone, "country": country,
                "language": merchant_language}
    currency, zone, language = REGIONS["RU"]
    return {"currency": currency, "timezone": zone, "country": "RU", "language": language}


def _countries() -> list[tuple[str, str]]:
    names = Locale.parse(translation.get_language() or "en", sep="-").territories
    codes = sorted(code for code in phonenumbers.SUPPORTED_REGIONS if code != "001")
    return sorted(((code, names.get(code, code)) for code in codes), key=lambda c: c[1])


class SignUpForm(Form):
    name = forms.CharField(label=gettext_lazy("Name of your business"), max_length=200,
                           widget=forms.TextInput(attrs={"autocomplete": "organization"}))
    owner_email = forms.EmailField(label=gettext_lazy("Your e-mail"), max_length=254,
                                   widget=forms.EmailInput(attrs={"autocomplete": "username"}))
    owner_password = forms.CharField(
        label=gettext_lazy("Choose a password"), strip=False,
        help_text=gettext_lazy("At least 10 characters."),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    currency = forms.ChoiceField(label=gettext_lazy("Currency"))
    timezone = forms.ChoiceField(label=gettext_lazy("Time zone"))
    language = forms.ChoiceField(label=gettext_lazy("Language of your members' messages"),
                                 choices=settings.LANGUAGES)
    country = forms.ChoiceField(label=gettext_lazy("Country"),
                                help_text=gettext_lazy("Phone numbers without a country code "
                                                       "are read as this country's."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(code, code) for code in CURRENCIES]
        self.fields["timezone"].choices = [(zone, zone.replace("_", " "))
                                           for zone in sorted(available_timezones())
                                           if "/" in zone and not zone.startswith("Etc/")]
        self.fields["country"].choices = _countries()


class SignInForm(Form):
    email = forms.EmailField(label=gettext_lazy("E-mail"), max_length=254,
                             widget=forms.EmailInput(attrs={"autocomplete": "username",
                                                            "autofocus": True}))
    password = forms.CharField(label=gettext_lazy("Password"), strip=False,
                               widget=forms.PasswordInput(
                                   attrs={"autocomplete": "current-password"}))


def _refuse(form: forms.Form, error: DomainError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.detail)


def _signup_key(request: HttpRequest) -> str:
    seconds = SIGNUPS_PER_ADDRESS[1]
    window = int(clock.now().timestamp()) // seconds
    return f"kopilka:cabinet:signups:{client_ip(request)}:{window}"


def _signups_left(request: HttpRequest) -> bool:
    return (cache.get(_signup_key(request)) or 0) < SIGNUPS_PER_ADDRESS[0]


def _count_signup(request: HttpRequest) -> None:
    key = _signup_key(request)
    cache.add(key, 0, SIGNUPS_PER_ADDRESS[1])
    cache.incr(key)


def _next_url(request: HttpRequest, fallback: str = "/cabinet/") -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return wanted
    return fallback


@require_http_methods(["GET", "HEAD", "POST"])
def signup(request):
    status = 422
    if request.method == "POST":
        form = SignUpForm(request.POST)
        if form.is_valid() and not _signups_left(request):
            form.add_error(None, _("Too many businesses signed up from this address. Try again "
                                   "in an hour."))
            status = 429
        elif form.is_valid():
            data = form.cleaned_data
            try:
                created = tenancy.create_merchant(
                    data["name"], owner_email=data["owner_email"],
                    owner_password=data["owner_password"], currency=data["currency"],
                    timezone=data["timezone"], language=data["language"],
                    country=data["country"],
                    actor=Actor(kind="staff", label=data["owner_email"].strip().lower(),
                                ip=client_ip(request)))
            except DomainError as error:
                _refuse(form, error)
            else:
                _count_signup(request)
                login(request, created.owner.user,
                      backend="django.contrib.auth.backends.ModelBackend")
                session.choose(request, created.merchant)
                return redirect("cabinet:program")
    else:
        form = SignUpForm(initial=defaults_for(request.META.get("HTTP_ACCEPT_LANGUAGE", "")))
    return render_page(request, "cabinet/signup.html", {"form": form},
                       status=status if form.is_bound else 200)


@require_http_methods(["GET", "HEAD", "POST"])
def signin(request):
    form = SignInForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        user = authenticate(request, username=form.cleaned_data["email"].strip().lower(),
                            password=form.cleaned_data["password"])
        if user is None:
            form.add_error(None, _("Wrong e-mail or password."))
        elif not session.memberships(user):
            form.add_error(None, _("This account works for no business in Kopilka."))
        else:
            login(request, user)
            request.session.pop(session.MERCHANT_KEY, None)
            return redirect(_next_url(request))
    return render_page(request, "cabinet/signin.html",
                       {"form": form, "next": _next_url(request, "")},
                       status=422 if form.is_bound else 200)


@require_POST
def signout(request):
    logout(request)
    return redirect("cabinet:signin")


@require_http_methods(["GET", "HEAD", "POST"])
def choose(request):
    """A person on the staff of several businesses chooses which one to work for."""
    if not request.user.is_authenticated:
        return redirect("cabinet:signin")
    staff = session.memberships(request.user)
    if request.method == "POST":
        chosen = next((s for s in staff if s.merchant.slug == request.POST.get("merchant")),
                      None)
        if chosen is not None:
            session.choose(request, chosen.merchant)
            return redirect("cabinet:home")
    return render_page(request, "cabinet/choose.html", {"memberships": staff})


urlpatterns = [
    path("signup/", signup, name="signup"),
    path("signin/", signin, name="signin"),
    path("signout/", signout, name="signout"),
    path("choose/", choose, name="choose"),
]
