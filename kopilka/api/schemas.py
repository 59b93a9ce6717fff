"""Request and response shapes shared by the POS and management routers."""

import re
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from django.utils.translation import gettext as _
from ninja import Field, Schema
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, ConfigDict, field_validator
from pydantic_core import PydanticCustomError

from kopilka.core.errors import InvalidInput
from kopilka.core.phones import mask_phone


class Problem(Schema):
    """RFC 9457 problem details."""

    type: str = Field(examples=["/problems/validation"])
    title: str
    status: int
    detail: str | None = None
    errors: list[dict] | None = Field(None, description="[{field, message}] for invalid input")


def storable_text(value, at: tuple = ()):
    """Refuse text no database can store: the NUL character (PostgreSQL rejects it in text and
    in jsonb) and unpaired UTF-16 surrogates (not encodable as UTF-8). Checks strings inside
    lists and objects too, keys included; `ctx["at"]` is then the path inside the field
    (problems.py appends it to the field name). The messages are in problems.FIELD_MESSAGES."""
    if isinstance(value, str):
        context = {"at": ".".join(str(part) for part in at)}
        if "\x00" in value:
            raise PydanticCustomError("string_nul", "Must not contain the NUL character.",
                                      context)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise PydanticCustomError("string_unicode", "Must be valid Unicode text.",
                                      context) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            storable_text(key, at)
            storable_text(item, (*at, key))
    elif isinstance(value, (list, tuple)):
        for n, item in enumerate(value):
            storable_text(item, (*at, n))
    return value


# A text path parameter (a receipt id, a card number).
PathText = Annotated[str, AfterValidator(storable_text)]


class CleanIn(Schema):
    """Input (a body, a query): every text in it must be storable."""

    @field_validator("*")
    @classmethod
    def _storable(cls, value):
        return storable_text(value)


class StrictIn(CleanIn):
    # Unknown fields are an error, not silently dropped: a typo must not look like success.
    model_config = ConfigDict(extra="forbid")


class MerchantOut(Schema):
    slug: str
    name: str
    currency: str = Field(description="ISO 4217; money amounts are integers in its minor unit")
    timezone: str
    language: str
    country: str


class StoreOut(Schema):
    id: int
    name: str
    address: str
    active: bool


class StoreIn(StrictIn):
    name: str = Field(min_length=1, max_length=200)
    address: str = Field("", max_length=300)


class ConsentIn(StrictIn):
    kind: Literal["messages", "personal_data"]
    text_version: str = Field(min_length=1, max_length=40)


class ProfileIn(StrictIn):
    first_name: str | None = Field(None, max_length=100)
    last_name: str | None = Field(None, max_length=100)
    gender: Literal["", "female", "male"] | None = None
    birth_date: date | None = None
    email: str | None = Field(None, max_length=254)
    address: str | None = Field(None, max_length=300)
    comment: str | None = Field(None, max_length=2000)
    tags: list[str] | None = None


class MemberIn(ProfileIn):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "phone": "+7 916 555-44-33", "first_name": "Мария", "birth_date": "1990-03-14",
        "consents": [{"kind": "personal_data", "text_version": "2026-01"}]}]})

    phone: str = Field(min_length=3, max_length=32, description="Any common format; E.164 out")
    consents: list[ConsentIn] = []
    referrer_code: str = Field(
        "", max_length=40,
        description="Who recommended the shop, as the customer gave it: the member's referral "
                    "code, phone number or card number. The referral program rewards that "
                    "member; an invite-only program refuses a registration without one (403).",
    )


class CardOut(Schema):
    number: str
    kind: str
    status: str


class CardIn(StrictIn):
    number: str = Field(min_length=1, max_length=40)
    kind: Literal["plastic", "virtual"] = "plastic"


class CardReplaceIn(StrictIn):
    new_number: str = Field(min_length=1, max_length=40)
    lost: bool = False


class MemberOut(Schema):
    id: int
    phone: str = Field(description="E.164, masked unless the caller's role may see numbers")
    first_name: str
    last_name: str
    gender: str
    birth_date: date | None
    email: str
    tags: list[str]
    status: str
    registered_at: datetime
    registered_via: str
    cards: list[CardOut]


class HintOut(Schema):
    code: str = Field(description="Stable code, e.g. birthday_today, amount_to_next_tier")
    text: str = Field(description="The hint in words, in the request's language")
    params: dict


class MemberCardOut(MemberOut):
    """A member as the counter sees them: profile, balances, tier and hints."""

    available: int = Field(description="Spendable points now")
    pending: int = Field(description="Accrued points waiting for activation")
    tier: str
    tier_manual: bool
    lifetime_spend: int = Field(description="Money minor units")
    purchase_count: int
    hints: list[HintOut]


class MemberRowOut(MemberOut):
    """A member in the list, with the points account's statistics the list filters by."""

    tier: str
    lifetime_spend: int = Field(description="Money minor units")
    purchase_count: int
    last_purchase_at: datetime | None


class MemberPage(Schema):
    items: list[MemberRowOut]
    next: str | None = Field(description="Pass as `cursor` to get the next page; null at the end")


class TerminalIn(StrictIn):
    store: str = Field(min_length=1, max_length=200, description="Store name")
    name: str = Field("", max_length=200)


class TerminalOut(Schema):
    id: int
    name: str
    store: str
    key_prefix: str


class TerminalRowOut(TerminalOut):
    store_id: int
    created_at: datetime
    last_used_at: datetime | None = Field(description="Updated at most once a minute")
    revoked_at: datetime | None = Field(description="Set: the key is refused (401)")


class NewTerminalOut(TerminalOut):
    key: str = Field(description="The POS API key. Shown once: store it in the POS now.")


class WhoAmI(Schema):
    merchant: MerchantOut
    terminal: TerminalOut


MAX_PAGE = 200
# An id filter: a database row id is a signed 64-bit integer; anything larger names nothing and
# must not reach SQLite (which raises on integers it cannot store).
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]


class PageQuery(CleanIn):
    """`cursor` (the `next` of the previous page) and `limit` of every list."""

    cursor: str | None = None
    limit: int = Field(50, ge=1, le=MAX_PAGE)


def cursor_value(cursor: str) -> int:
    """A page cursor is the decimal id the previous page ended at (ASCII digits only: "²" is a
    digit to str.isdigit() but not to int())."""
    if not (cursor.isascii() and cursor.isdigit()):
        raise InvalidInput(_("cursor is not valid."), field="cursor")
    return int(cursor)


def paginate(rows, cursor: str | None, limit: int) -> tuple[list, str | None]:
    """One page of `rows`, newest (highest id) first, and the cursor of the next page. The
    cursor is an id, so it stays right under any filter: send the same filters with it."""
    if cursor:
        rows = rows.filter(pk__lt=cursor_value(cursor))
    found = list(rows.order_by("-pk")[: limit + 1])
    more = len(found) > limit
    found = found[:limit]
    return found, (str(found[-1].pk) if more else None)


def _utc(value: datetime) -> datetime:
    """In UTC: PostgreSQL keeps offsets up to ±15:59 only, and far-away offsets overflow."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError("datetime_parsing", "Input should be a valid datetime",
                                  {"error": "out of range"}) from None


def _rfc3339_text(value):
    """Pydantic also reads "0.5" as seconds since 1970: a query's moment is RFC 3339 only."""
    if not (isinstance(value, str) and RFC3339_DATE.match(value)):
        raise PydanticCustomError("datetime_parsing", "Input should be a valid datetime",
                                  {"error": "not RFC 3339"})
    return value


RFC3339_DATE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]")
# A moment given in a filter (RFC 3339 with offset), in UTC.
UtcTime = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_utc)]


def member_out(member, *, full_phone: bool) -> dict:
    # An erased member's person is a tombstone without a phone (members.services.erase_member).
    phone = str(member.person.phone) if member.person.phone else ""
    return {
        "id": member.pk,
        "phone": phone if full_phone else mask_phone(phone),
        "first_name": member.first_name,
        "last_name": member.last_name,
        "gender": member.gender,
        "birth_date": member.birth_date,
        "email": member.email,
        "tags": member.tags,
        "status": member.status,
        "registered_at": member.registered_at,
        "registered_via": member.registered_via,
        "cards": [
            {"number": c.number, "kind": c.kind, "status": c.status}
            for c in member.cards.all()
        ],
    }


def member_row_out(member, *, full_phone: bool) -> dict:
    # Members registered before the merchant had a program have no account yet.
    account = getattr(member, "account", None)
    return {
        **member_out(member, full_phone=full_phone),
        "tier": account.tier_code if account else "",
        "lifetime_spend": account.lifetime_spend if account else 0,
        "purchase_count": account.purchase_count if account else 0,
        "last_purchase_at": account.last_purchase_at if account else None,
    }


def member_card_out(card, *, full_phone: bool) -> dict:
    from zoneinfo import ZoneInfo

    from kopilka.processing import hints

    account = card.account
    return {
        **member_out(card.member, full_phone=full_phone),
        "available": card.available, "pending": card.pending, "tier": card.tier,
        "tier_manual": account.tier_manual, "lifetime_spend": account.lifetime_spend,
        "purchase_count": account.purchase_count,
        "hints": hints.as_dicts(card.hints, ZoneInfo(card.member.merchant.timezone)),
    }


def terminal_out(terminal) -> dict:
    return {"id": terminal.pk, "name": terminal.name, "store": terminal.store.name,
            "key_prefix": terminal.key_prefix}


def terminal_row_out(terminal) -> dict:
    return {**terminal_out(terminal), "store_id": terminal.store_id,
            "created_at": terminal.created_at, "last_used_at": terminal.last_used_at,
            "revoked_at": terminal.revoked_at}
