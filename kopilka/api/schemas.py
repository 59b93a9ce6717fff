"""Request and response shapes shared by the POS and management routers."""

from datetime import date, datetime
from typing import Annotated, Literal

from django.utils.translation import gettext as _
from ninja import Field, Schema
from pydantic import AfterValidator, ConfigDict, field_validator
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
    phone: str = Field(min_length=3, max_length=32, description="Any common format; E.164 out")
    consents: list[ConsentIn] = []


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


class MemberPage(Schema):
    items: list[MemberOut]
    next: str | None = Field(description="Pass as `cursor` to get the next page; null at the end")


class TerminalIn(StrictIn):
    store: str = Field(min_length=1, max_length=200, description="Store name")
    name: str = Field("", max_length=200)


class TerminalOut(Schema):
    id: int
    name: str
    store: str
    key_prefix: str


class NewTerminalOut(TerminalOut):
    key: str = Field(description="The POS API key. Shown once: store it in the POS now.")


class WhoAmI(Schema):
    merchant: MerchantOut
    terminal: TerminalOut


def cursor_value(cursor: str) -> int:
    """A page cursor is the decimal id the previous page ended at (ASCII digits only: "²" is a
    digit to str.isdigit() but not to int())."""
    if not (cursor.isascii() and cursor.isdigit()):
        raise InvalidInput(_("cursor is not valid."), field="cursor")
    return int(cursor)


def member_out(member, *, full_phone: bool) -> dict:
    phone = str(member.person.phone)
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


def member_card_out(card, *, full_phone: bool) -> dict:
    from zoneinfo import ZoneInfo

    from kopilka.processing import hints

    account = card.account
    return {
        **member_out(card.member, full_phone=full_phone),
        "available": card.available, "pending": card.pending, "tier": account.tier_code,
        "tier_manual": account.tier_manual, "lifetime_spend": account.lifetime_spend,
        "purchase_count": account.purchase_count,
        "hints": hints.as_dicts(card.hints, ZoneInfo(card.member.merchant.timezone)),
    }


def terminal_out(terminal) -> dict:
    return {"id": terminal.pk, "name": terminal.name, "store": terminal.store.name,
            "key_prefix": terminal.key_prefix}
