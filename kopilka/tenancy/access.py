"""Who is acting, for which merchant, allowed to do what — for every way in.

The API, the web faces (cashier workplace, merchant cabinet, member wallet), tasks and the CLI
all describe the caller the same way:

- a `Principal`: its kind (a POS terminal, a management token, a staff session, a member
  session, the platform operator, a system job), the merchant it acts for, and the staff
  member, store, terminal or member behind it, with the `Actor` the audit log records;
- named permissions (`sell`, `adjust`, `see_phones`, ...) given to roles in ONE table,
  `PERMISSIONS`: `principal.require("adjust")` raises `Forbidden`, `principal.may(...)` asks;
- `enter(principal)`: the one way into a merchant's tenant scope (django-scopes) and its
  `MerchantContext`;
- `MerchantContext`: the merchant with what the operations of one request or job need from
  the apps above tenancy (the program, the webhook subscription, the messaging settings).
  Those apps register their parts here (`provide`, from their AppConfig.ready()); tenancy never
  names them. Where tenancy authenticates a key or a session it joins the parts' relations in
  the same query and fills the context from that row, so a POS request pays no query for them;
  anywhere else a part loads on first use, once per context.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django_scopes import scope

from kopilka.core.actor import Actor
from kopilka.core.errors import Forbidden
from kopilka.tenancy.models import Merchant, Staff, Store, Terminal


class Kind(StrEnum):
    TERMINAL = "terminal"  # a POS device or cash-register integration, by its key
    TOKEN = "token"  # a management API token, acting as the staff member it belongs to
    STAFF = "staff"  # a logged-in staff member (browser session), maybe at a store
    COUNTER = "counter"  # a staff member switched in with their PIN at a browser counter device
    MEMBER = "member"  # a member on their wallet
    OPERATOR = "operator"  # the platform operator (CLI, Django admin)
    SYSTEM = "system"  # a scheduled or background job


OWNER, ADMIN, MANAGER, CASHIER = (Staff.Role.OWNER, Staff.Role.ADMIN, Staff.Role.MANAGER,
                                  Staff.Role.CASHIER)
TERMINAL = "terminal"  # a device has no staff role; it has its own column
EVERYONE = frozenset({OWNER, ADMIN, MANAGER, CASHIER, TERMINAL})
STAFF = frozenset({OWNER, ADMIN, MANAGER, CASHIER})
MANAGERS = frozenset({OWNER, ADMIN, MANAGER})
ADMINS = frozenset({OWNER, ADMIN})

# THE permission table: what each role (and a POS terminal) may do. Every API operation
# declares one of these (kopilka/api/auth.py `requires`); services check the business rules
# among them (an owner-only allowance, grants beyond an allowance, managing owners).
PERMISSIONS: dict[str, frozenset[str]] = {
    # every way in
    "read_setup": EVERYONE,  # the merchant, stores, terminals, program, templates, webhooks
    "serve_members": EVERYONE,  # find, register, read cards and history, edit profiles, cards
    "send_codes": EVERYONE,  # one-time SMS codes for registration and spending
    "sell": EVERYONE,  # quote and commit purchases
    "refund": EVERYONE,
    # the counter's manual moves: a terminal names the cashier, whose allowance pays
    "adjust": MANAGERS | {TERMINAL},  # grant or deduct points by hand
    "transfer": MANAGERS | {TERMINAL},  # move points between members
    # records and lists of people
    "read_records": STAFF,  # purchases, refunds, the message log
    "tag_members": MANAGERS,  # tags put members into program rules
    "read_members": MANAGERS,  # the cabinet's member base and sales books (lists of people)
    "read_audit": MANAGERS,
    "read_billing": MANAGERS,  # the SMS balance, statement and costs
    "read_analytics": MANAGERS,  # the 17 figures: revenue, checks, members, SMS spend
    "read_reviews": MANAGERS,  # reviews, NPS and quality per cashier
    "answer_reviews": MANAGERS,  # answer a review in its dialog, assign it, change its status
    "sign_in_counters": MANAGERS,  # make a browser a store's counter device, or sign it out
    "see_phones": ADMINS,  # full phone numbers (others see them masked)
    "export_members": ADMINS,  # the cabinet's member export (it carries full phones)
    # running the business
    "edit_program": ADMINS,  # save or try a program configuration
    "assign_tier": ADMINS,
    "erase_members": ADMINS,
    "manage_stores": ADMINS,  # stores and terminals
    "manage_staff": ADMINS,  # staff and management tokens
    "manage_webhooks": ADMINS,
    "manage_messaging": ADMINS,  # templates, settings, the SMS billing policy
    "manage_campaigns": ADMINS,  # secret-code campaigns, promo codes, referral settings
    "manage_rewards": ADMINS,  # the reward catalogue's items
    "send_offers": ADMINS,  # targeted offers (SMS and gift points) to a saved segment
    "export_records": MANAGERS,  # sales and members to Excel (phones only with export_members)
    # the owner's own
    "set_allowance": frozenset({OWNER}),  # how many points an employee may grant
    "grant_unlimited": frozenset({OWNER}),  # grants beyond an allowance
    "manage_owners": frozenset({OWNER}),  # make, change or speak for an owner
}

# Refusals that say more than "your role": kept from the services that said them first.
REFUSALS = {
    "set_allowance": gettext_noop("Only the owner sets allowances."),
    "manage_owners": gettext_noop("Only an owner can manage owners."),
}


def role_may(role: str | None, permission: str) -> bool:
    """Whether `role` (a Staff.Role value or TERMINAL) has `permission`."""
    try:
        return role in PERMISSIONS[permission]
    except KeyError:
        raise ValueError(f"unknown permission {permission!r}") from None  # a programming error


def refuse(permission: str) -> Forbidden:
    return Forbidden(_(REFUSALS.get(permission, gettext_noop("Your role does not allow this."))))


# --- the merchant context -------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    name: str
    load: Callable[[Merchant], Any]  # when the context did not come with it joined
    relation: str | None  # a reverse one-to-one of Merchant joined where tenancy authenticates


_parts: dict[str, Part] = {}


def provide(name: str, *, load: Callable[[Merchant], Any], relation: str | None = None) -> None:
    """Register a part of the merchant context (call from the app's AppConfig.ready()).

    `relation` (a reverse one-to-one on Merchant, e.g. "program") is then joined where tenancy
    finds the merchant behind a key or session, and the part's value is that row or None;
    elsewhere `load(merchant)` gives it on first use."""
    existing = _parts.get(name)
    if existing is not None and (existing.load, existing.relation) != (load, relation):
        raise ValueError(f"merchant context part {name!r} registered twice")
    _parts[name] = Part(name, load, relation)


def merchant_joins(path: str = "merchant") -> tuple[str, ...]:
    """`select_related` paths for the registered parts of the merchant at `path` ("" when
    querying Merchant itself)."""
    prefix = f"{path}__" if path else ""
    return tuple(prefix + part.relation for part in _parts.values() if part.relation)


class MerchantContext:
    """The merchant one request or job works for, its store (a terminal's, or the one a staff
    session chose), and the parts the apps above tenancy keep with it (`context["program"]`).
    A part is read once per context; the service that changes it stores the new value
    (`context["program"] = saved`)."""

    __slots__ = ("merchant", "store", "_values")

    def __init__(self, merchant: Merchant, store: Store | None = None,
                 values: dict[str, Any] | None = None):
        self.merchant = merchant
        self.store = store
        self._values = dict(values or {})

    @classmethod
    def joined(cls, merchant: Merchant, store: Store | None = None) -> "MerchantContext":
        """For a merchant read with `merchant_joins()`: the joined parts are known without a
        query (None where the join found no row)."""
        return cls(merchant, store, {part.name: getattr(merchant, part.relation, None)
                                     for part in _parts.values() if part.relation})

    def __getitem__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            value = self._values[name] = _parts[name].load(self.merchant)
            return value

    def __setitem__(self, name: str, value: Any) -> None:
        if name not in _parts:
            raise KeyError(name)
        self._values[name] = value


_current: ContextVar[MerchantContext | None] = ContextVar("kopilka_merchant_context",
                                                           default=None)


def context(merchant: Merchant) -> MerchantContext:
    """The context of `merchant`: the one entered (`enter`) when it is this merchant's,
    otherwise a new one whose parts load on use."""
    current = _current.get()
    if current is not None and current.merchant.pk == merchant.pk:
        return current
    return MerchantContext(merchant)


# --- principals -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    """Who is acting. Build one with the class methods; `enter(principal)` before working."""

    kind: Kind
    merchant: Merchant | None  # None only for the operator working across merchants
    actor: Actor
    staff: Staff | None = None
    store: Store | None = None
    terminal: Terminal | None = None
    member: Any = None  # a members.Member for a member session (members sits above tenancy)
    context: MerchantContext | None = None

    @classmethod
    def for_terminal(cls, terminal: Terminal, *, ip: str | None = None,
                     joined: bool = False) -> "Principal":
        """`joined`: the terminal was read with `merchant_joins()` (tenancy's key look-up)."""
        actor = Actor(kind="terminal", label=f"terminal:{terminal.key_prefix}", ip=ip)
        return cls._make(Kind.TERMINAL, terminal.merchant, actor, joined, terminal=terminal,
                         store=terminal.store)

    @classmethod
    def for_token(cls, token, *, ip: str | None = None, joined: bool = False) -> "Principal":
        """A management token (tenancy.ApiToken with its staff and user read)."""
        staff = token.staff
        actor = Actor(kind="token", label=f"{staff.user.email} via token:{token.key_prefix}",
                      user_id=staff.user_id, ip=ip)
        return cls._make(Kind.TOKEN, token.merchant, actor, joined, staff=staff)

    @classmethod
    def for_staff(cls, staff: Staff, *, ip: str | None = None, store: Store | None = None,
                  joined: bool = False) -> "Principal":
        """A staff member signed in with a session, at `store` when the workplace chose one."""
        actor = Actor(kind="staff", label=staff.user.email, user_id=staff.user_id, ip=ip)
        return cls._make(Kind.STAFF, staff.merchant, actor, joined, staff=staff, store=store)

    @classmethod
    def at_counter(cls, terminal: Terminal, staff: Staff, *, ip: str | None = None,
                   joined: bool = False) -> "Principal":
        """`staff` working at the browser counter `terminal` (a device a manager signed in for
        a store). It may what a terminal may — the counter's manual moves, paid from the
        cashier's allowance — and what the staff member's role may (a cashier reads the
        purchases to refund them)."""
        actor = Actor(kind="staff", label=f"{staff.user.email} at terminal:{terminal.key_prefix}",
                      user_id=staff.user_id, ip=ip)
        return cls._make(Kind.COUNTER, terminal.merchant, actor, joined, staff=staff,
                         terminal=terminal, store=terminal.store)

    @classmethod
    def for_member(cls, member, *, ip: str | None = None) -> "Principal":
        actor = Actor(kind="member", label=f"member:{member.pk}", ip=ip)
        return cls._make(Kind.MEMBER, member.merchant, actor, False, member=member)

    @classmethod
    def operator(cls, merchant: Merchant | None = None, *, label: str = "cli") -> "Principal":
        return cls._make(Kind.OPERATOR, merchant, Actor(kind="cli", label=label), False)

    @classmethod
    def system(cls, merchant: Merchant, *, joined: bool = False) -> "Principal":
        """A job for `merchant` (`joined`: read with `merchant_joins("")`)."""
        return cls._make(Kind.SYSTEM, merchant, Actor.system(), joined)

    @classmethod
    def _make(cls, kind, merchant, actor, joined, **who) -> "Principal":
        context = None
        if merchant is not None:
            store = who.get("store")
            context = (MerchantContext.joined(merchant, store) if joined
                       else MerchantContext(merchant, store))
        return cls(kind=kind, merchant=merchant, actor=actor, context=context, **who)

    @property
    def role(self) -> str | None:
        """The column of the permission table: the staff role, TERMINAL, or None."""
        if self.kind == Kind.TERMINAL:
            return TERMINAL
        return self.staff.role if self.staff is not None else None

    def may(self, permission: str) -> bool:
        if self.kind in (Kind.OPERATOR, Kind.SYSTEM):
            role_may(None, permission)  # still refuses an unknown name
            return True
        if self.kind == Kind.COUNTER and role_may(TERMINAL, permission):
            return True
        return role_may(self.role, permission)

    def require(self, permission: str) -> None:
        if not self.may(permission):
            raise refuse(permission)

    @property
    def sees_full_phones(self) -> bool:
        return self.may("see_phones")


# The principals entered while it is set: the request log names who acted (kopilka/web/ops.py).
_witness: ContextVar[list[Principal] | None] = ContextVar("kopilka_principals", default=None)


@contextmanager
def witnessed() -> Iterator[list[Principal]]:
    """Collect, in order, the principals `enter`ed inside the block."""
    seen: list[Principal] = []
    token = _witness.set(seen)
    try:
        yield seen
    finally:
        _witness.reset(token)


@contextmanager
def enter(principal: Principal) -> Iterator[MerchantContext]:
    """Work as `principal`: inside its merchant's tenant scope (a query on a tenant-owned model
    without it raises), with its merchant context current. The API enters it for every
    operation; web middleware, tasks and CLI commands enter it the same way."""
    if principal.merchant is None:
        raise ValueError("this principal acts for no merchant")
    current = principal.context or MerchantContext(principal.merchant, principal.store)
    if (seen := _witness.get()) is not None:
        seen.append(principal)
    token = _current.set(current)
    try:
        with scope(merchant=principal.merchant):
            yield current
    finally:
        _current.reset(token)
