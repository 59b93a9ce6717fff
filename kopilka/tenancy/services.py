"""Tenancy operations: merchants, stores, staff, terminals and API tokens. People join a
merchant's staff by invitation (kopilka/tenancy/invitations.py).

Each function validates, writes inside one transaction and records an audit entry.
Secrets (passwords, keys) are returned once and stored only as hashes.
"""

import functools
import secrets
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import available_timezones

from anyascii import anyascii
from babel.numbers import list_currencies
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django_scopes import scope, scopes_disabled

from kopilka.core import audit, clock, keys
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, InvalidInput, NotFound
from kopilka.core.prepared import PreparedQuery
from kopilka.tenancy import access, limits
from kopilka.tenancy.models import ApiToken, Merchant, Staff, Store, Terminal, validate_country

# Where a currency tells the country, phone numbers default to that country's format.
COUNTRY_BY_CURRENCY = {"RUB": "RU", "UAH": "UA", "KZT": "KZ", "BYN": "BY", "USD": "US"}
LAST_USED_RESOLUTION = timedelta(minutes=1)  # don't write on every POS request


@dataclass(frozen=True)
class NewMerchant:
    merchant: Merchant
    owner: Staff
    owner_password: str | None  # None when the owner already had an account
    api_token: str


def _check_merchant_fields(currency: str, timezone: str, language: str, country: str) -> None:
    if currency not in list_currencies():
        raise InvalidInput(
            _("%(currency)r is not an ISO 4217 currency code.") % {"currency": currency},
            field="currency",
        )
    if timezone not in available_timezones():
        raise InvalidInput(
            _("%(timezone)r is not a known time zone.") % {"timezone": timezone},
            field="timezone",
        )
    if language not in dict(settings.LANGUAGES):
        codes = ", ".join(dict(settings.LANGUAGES))
        raise InvalidInput(
            _("language must be one of %(codes)s.") % {"codes": codes}, field="language"
        )
    try:
        validate_country(country)
    except ValidationError as error:
        raise InvalidInput(error.messages[0], field="country") from None


def make_slug(text: str) -> str:
    """A URL slug of `text` in ASCII: letters of any script are transliterated (AnyAscii:
    `Кафе У Володи` -> `kafe-u-volodi`, `Кав'ярня Їжачок` -> `kavyarnya-izhachok`, Kazakh
    `Қазақ Дәмі` -> `qazaq-dami`) rather than dropped, which left every Cyrillic name
    `merchant`, `merchant-2`, ..."""
    return slugify(anyascii(text))


def _unique_slug(name: str) -> str:
    base = make_slug(name)[:50].strip("-") or "merchant"
    slug, n = base, 2
    while Merchant.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def create_merchant(
    name: str,
    *,
    owner_email: str,
    actor: Actor,
    currency: str = "RUB",
    timezone: str = "Europe/Moscow",
    language: str = "ru",
    country: str | None = None,
    slug: str | None = None,
    owner_password: str | None = None,
) -> NewMerchant:
    """A merchant with its owner and the owner's API token. Without `owner_password` a new
    owner account gets a generated password (returned once; the CLI prints it) and an existing
    account is the owner. With it (the cabinet's sign-up: the owner chose it) the address must
    be new and the password must pass Django's validators."""
    name = name.strip()
    if not name:
        raise InvalidInput(_("The merchant needs a name."), field="name")
    currency = currency.upper()
    country = (country or COUNTRY_BY_CURRENCY.get(currency, settings.PHONENUMBER_DEFAULT_REGION))
    country = country.upper()
    _check_merchant_fields(currency, timezone, language, country)
    owner_email = check_email(owner_email, field="owner_email")
    if owner_password is not None:
        _check_new_owner(owner_email, owner_password)
    if slug is not None:
        slug = make_slug(slug)[:60].strip("-")
        if not slug:
            raise InvalidInput(_("The slug must contain letters or digits."), field="slug")
        if Merchant.objects.filter(slug=slug).exists():
            raise Conflict(
                _("A merchant with slug %(slug)r already exists.") % {"slug": slug},
                field="slug",
            )
    merchant = Merchant.objects.create(
        name=name,
        slug=slug or _unique_slug(name),
        currency=currency,
        timezone=timezone,
        language=language,
        country=country,
        created_at=clock.now(),
    )
    user, password = _user_for_email(owner_email, owner_password)
    if owner_password is not None:
        password = None  # the owner knows it: nothing to hand over
    with scope(merchant=merchant):
        owner = Staff.objects.create(
            merchant=merchant, user=user, role=Staff.Role.OWNER, created_at=clock.now()
        )
        token = create_api_token(owner, name="owner", actor=actor)
        audit.record(
            "tenancy.merchant.created",
            actor=actor,
            merchant=merchant,
            obj=merchant,
            data={"owner": owner_email, "currency": currency, "timezone": timezone},
        )
    return NewMerchant(merchant=merchant, owner=owner, owner_password=password, api_token=token)


def check_email(email: str, *, field: str) -> str:
    """The address trimmed and lower-cased (it is the user name); InvalidInput on `field`."""
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput(
            _("%(email)r is not an email address.") % {"email": email}, field=field
        ) from None
    return email


def _check_new_owner(email: str, password: str) -> None:
    # A sign-up never attaches a business to someone else's account: the address must be new.
    if get_user_model().objects.filter(username=email).exists():
        raise Conflict(_("An account with this e-mail already exists. Sign in instead."),
                       field="owner_email")
    try:
        validate_password(password, get_user_model()(username=email, email=email))
    except ValidationError as error:
        raise InvalidInput(" ".join(error.messages), field="owner_password") from None


def _user_for_email(email: str, password: str | None = None):
    User = get_user_model()
    user = User.objects.filter(username=email).first()
    if user is not None:
        return user, None
    password = password or secrets.token_urlsafe(12)
    user = User.objects.create_user(username=email, email=email, password=password)
    return user, password


def get_merchant(slug: str) -> Merchant:
    try:
        return Merchant.objects.get(slug=slug)
    except Merchant.DoesNotExist:
        raise NotFound(
            _("No merchant with slug %(slug)r.") % {"slug": slug}, field="merchant"
        ) from None


@transaction.atomic
def create_store(merchant: Merchant, name: str, *, actor: Actor, address: str = "") -> Store:
    name = name.strip()
    if not name:
        raise InvalidInput(_("The store needs a name."), field="name")
    with scope(merchant=merchant):
        if Store.objects.filter(merchant=merchant, name=name).exists():
            raise Conflict(
                _("A store named %(name)r already exists.") % {"name": name}, field="name"
            )
        store = Store.objects.create(
            merchant=merchant, name=name, address=address.strip(), created_at=clock.now()
        )
        limits.check(merchant, limits.STORES)  # the plan's max_stores (rolls the row back)
        audit.record("tenancy.store.created", actor=actor, merchant=merchant, obj=store)
    return store


@transaction.atomic
def create_terminal(
    merchant: Merchant,
    *,
    store_name: str,
    actor: Actor,
    name: str = "",
    create_store_if_missing: bool = True,
    kind: str = Terminal.Kind.API,
) -> tuple[Terminal, str]:
    with scope(merchant=merchant):
        store = Store.objects.filter(merchant=merchant, name=store_name.strip()).first()
        if store is None:
            if not create_store_if_missing:
                raise NotFound(
                    _("No store named %(name)r.") % {"name": store_name}, field="store"
                )
            store = create_store(merchant, store_name, actor=actor)
        key = keys.new_key("pos")
        terminal = Terminal.objects.create(
            merchant=merchant,
            store=store,
            name=name.strip() or f"{store.name} POS",
            kind=kind,
            key_prefix=key.prefix,
            key_hash=key.digest,
            created_at=clock.now(),
        )
        audit.record(
            "tenancy.terminal.created",
            actor=actor,
            merchant=merchant,
            obj=terminal,
            data={"store": store.name, "key_prefix": key.prefix, "kind": kind},
        )
    return terminal, key.plaintext


@transaction.atomic
def create_api_token(staff: Staff, *, name: str, actor: Actor) -> str:
    key = keys.new_key("mgt")
    with scope(merchant=staff.merchant):
        token = ApiToken.objects.create(
            merchant=staff.merchant,
            staff=staff,
            name=name,
            key_prefix=key.prefix,
            key_hash=key.digest,
            created_at=clock.now(),
        )
        audit.record(
            "tenancy.api_token.created",
            actor=actor,
            merchant=staff.merchant,
            obj=token,
            data={"key_prefix": key.prefix, "staff": staff.user.email},
        )
    return key.plaintext


@transaction.atomic
def revoke_terminal(terminal: Terminal, *, actor: Actor) -> None:
    if terminal.revoked_at is not None:  # revoking again changes nothing
        return
    terminal.revoked_at = clock.now()
    terminal.save(update_fields=["revoked_at"])
    audit.record("tenancy.terminal.revoked", actor=actor, merchant=terminal.merchant, obj=terminal)


def _authenticate(model, plaintext: str, kind: str, *related: str):
    """Find the live key by its prefix, then compare hashes in constant time.

    Runs before the request's merchant is known, so the lookup is deliberately unscoped;
    the caller enters the scope of the merchant the key belongs to. The parts of the merchant
    context that the apps above registered (access.provide: the program, the webhook
    subscription, the messaging settings) come in the same query: nearly every request needs
    them, and `access.MerchantContext.joined` then serves them without another.
    """
    prefix = keys.split_key(plaintext or "", kind)
    if prefix is None:
        return None
    row = _key_lookup(model, related).first(prefix)
    if row is None or row.revoked_at is not None or not keys.same_digest(plaintext, row.key_hash):
        return None
    if row.merchant.status != Merchant.Status.ACTIVE:
        return None
    now = clock.now()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        with scopes_disabled():
            model.objects.filter(pk=row.pk).update(last_used_at=now)
        row.last_used_at = now
    return row


@functools.cache
def _key_lookup(model, related: tuple[str, ...]) -> PreparedQuery:
    """The key's row with its merchant and the merchant context's registered parts, compiled
    once, on the first request (after every AppConfig.ready() has registered its parts; key
    prefixes are unique, so no ORDER BY is needed)."""
    return PreparedQuery(lambda prefix: model.objects.select_related(
        "merchant", *access.merchant_joins(), *related,
    ).filter(key_prefix=prefix)[:1], kinds=(str,))


def authenticate_terminal(plaintext: str) -> Terminal | None:
    return _authenticate(Terminal, plaintext, "pos", "store")


def authenticate_token(plaintext: str) -> ApiToken | None:
    token = _authenticate(ApiToken, plaintext, "mgt")
    if token is None:
        return None
    with scopes_disabled():
        staff = Staff.objects.select_related("user").get(pk=token.staff_id)
    if not staff.active or not staff.user.is_active:
        return None
    token.staff = staff
    return token


def staff_for_session(user, merchant_slug: str | None = None) -> Staff | None:
    """The membership a signed-in user acts through: their only active one at an active
    merchant, or the one at `merchant_slug` when they work for several. The merchant context's
    registered parts come joined, as with keys (access.MerchantContext.joined)."""
    if not user.is_authenticated:
        return None
    with scopes_disabled():  # before the merchant is known, as for keys
        memberships = Staff.objects.select_related(
            "merchant", "user", *access.merchant_joins()
        ).filter(user=user, active=True, merchant__status=Merchant.Status.ACTIVE)
        if merchant_slug:
            memberships = memberships.filter(merchant__slug=merchant_slug)
        found = list(memberships[:2])
    return found[0] if len(found) == 1 else None


# --- stores, staff and tokens from the management API ----------------------------------------


@transaction.atomic
def update_store(store: Store, *, actor: Actor, name: str | None = None,
                 address: str | None = None, active: bool | None = None) -> Store:
    """Rename, re-address, open or close a store; only what is given changes."""
    changes = {}
    if name is not None:
        name = name.strip()
        if not name:
            raise InvalidInput(_("The store needs a name."), field="name")
        taken = Store.objects.filter(merchant=store.merchant, name=name).exclude(pk=store.pk)
        if taken.exists():
            raise Conflict(
                _("A store named %(name)r already exists.") % {"name": name}, field="name"
            )
        changes["name"] = name
    if address is not None:
        changes["address"] = address.strip()
    if active is not None:
        changes["active"] = active
    changes = {field: value for field, value in changes.items()
               if getattr(store, field) != value}
    if changes:
        for field, value in changes.items():
            setattr(store, field, value)
        store.save(update_fields=list(changes))
        if changes.get("active"):  # reopening takes a place of the plan's max_stores again
            limits.check(store.merchant, limits.STORES)
        audit.record("tenancy.store.updated", actor=actor, merchant=store.merchant, obj=store,
                     data={"fields": sorted(changes)})
    return store


def check_may_manage(by: Staff | None, role: str) -> None:
    """Admins manage staff and tokens, but only an owner makes, changes or speaks for an owner:
    otherwise an admin could promote themselves or act with an owner's token. `by` None is
    the operator (CLI)."""
    if by is not None and role == Staff.Role.OWNER and not access.role_may(by.role,
                                                                             "manage_owners"):
        raise access.refuse("manage_owners")


@transaction.atomic
def update_staff(staff: Staff, *, by: Staff | None, actor: Actor, role: str | None = None,
                 active: bool | None = None) -> Staff:
    """Change a staff member's role or switch them off. The merchant always keeps an active
    owner: the owners are locked and counted, so two owners demoting each other at the same
    moment cannot both succeed."""
    staff = Staff.objects.select_for_update().select_related("user").get(pk=staff.pk)
    if role is not None and role not in Staff.Role.values:
        raise InvalidInput(_("Unknown role %(role)r.") % {"role": role}, field="role")
    check_may_manage(by, staff.role)
    check_may_manage(by, role)
    changes = {field: value for field, value in (("role", role), ("active", active))
               if value is not None and getattr(staff, field) != value}
    if not changes:
        return staff
    stays_owner = changes.get("role", staff.role) == Staff.Role.OWNER
    if staff.active and staff.role == Staff.Role.OWNER and not (
        stays_owner and changes.get("active", True)
    ):
        owners = Staff.objects.select_for_update().filter(
            merchant=staff.merchant, role=Staff.Role.OWNER, active=True
        )
        if len(owners) <= 1:
            raise Conflict(_("The merchant must keep an active owner."),
                           field="role" if "role" in changes else "active")
    for field, value in changes.items():
        setattr(staff, field, value)
    staff.save(update_fields=list(changes))
    audit.record("tenancy.staff.updated", actor=actor, merchant=staff.merchant, obj=staff,
                 data={field: value for field, value in changes.items()})
    return staff


@transaction.atomic
def issue_api_token(staff: Staff, *, name: str, by: Staff | None,
                    actor: Actor) -> tuple[ApiToken, str]:
    """A management token acting as `staff`; the key is returned once."""
    check_may_manage(by, staff.role)
    if not staff.active:
        raise Conflict(_("This staff member is switched off."), field="staff_id")
    plaintext = create_api_token(staff, name=name.strip(), actor=actor)
    return ApiToken.objects.get(key_prefix=keys.split_key(plaintext, "mgt")), plaintext


@transaction.atomic
def revoke_api_token(token: ApiToken, *, by: Staff | None, actor: Actor) -> ApiToken:
    check_may_manage(by, token.staff.role)
    if token.revoked_at is None:  # revoking again changes nothing
        token.revoked_at = clock.now()
        token.save(update_fields=["revoked_at"])
        audit.record("tenancy.api_token.revoked", actor=actor, merchant=token.merchant,
                     obj=token, data={"key_prefix": token.key_prefix})
    return token
