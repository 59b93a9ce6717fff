"""What the member wallet (`/my/`) shows of one membership: balances and their money value,
points waiting to activate and points about to expire with their dates, the tier and what is
left to the next one, spend and the last purchase — and the history in words.

Called inside the member's own merchant scope (`access.enter(Principal.for_member(member))`):
each membership is read as that merchant alone sees it, so nothing here joins merchants.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils.translation import gettext as _

from kopilka.codes import services as codes
from kopilka.codes.models import Purpose
from kopilka.core import clock
from kopilka.core.errors import InvalidInput, NotFound
from kopilka.ledger.models import Entry
from kopilka.members import services as members
from kopilka.members.models import Card, Member
from kopilka.processing import enrol, queries, transfer
from kopilka.programs import services as programs
from kopilka.programs.config import ProgramConfig
from kopilka.tenancy.models import Store

HISTORY_PAGE = 20


@dataclass(frozen=True)
class Dated:
    """Points and the merchant's local day they concern: the first day pending points can be
    spent, or the last day expiring ones still can (they burn at the next local midnight)."""

    points: int
    day: date


@dataclass(frozen=True)
class Summary:
    member: Member
    available: int
    value: int  # money minor units the available points are worth
    pending: tuple[Dated, ...]  # soonest first
    expiring: tuple[Dated, ...]  # within the program's warning window, soonest first
    tier: str  # its name
    next_tier: str  # "" at the top
    to_next_tier: int  # money minor units of spend left to the next tier
    spend: int
    purchases: int
    last_purchase_at: datetime | None
    program: ProgramConfig  # how its points are written: their decimals and currency word
    card_number: str  # the plastic card if the member has one, else the phone card
    can_send: bool  # the program lets members send points to each other
    send_min: int  # the smallest and largest transfer (0: no limit), point minor units
    send_max: int

    @property
    def currency(self) -> str:
        return self.member.merchant.currency


def points_value(program, points: int) -> int:
    """Money minor units `points` are worth at the program's rate, rounded down."""
    return points * program.point_money // program.point_units


def _card_number(member: Member) -> str:
    cards = {card.kind: card.number for card in Card.objects.filter(
        merchant=member.merchant, member=member, status=Card.Status.ACTIVE)}
    return cards.get(Card.Kind.PLASTIC) or cards.get(Card.Kind.VIRTUAL) or cards.get(
        Card.Kind.PHONE, "")


def summary(member: Member, at: datetime | None = None) -> Summary:
    at = at or clock.now()
    merchant = member.merchant
    program = programs.load(merchant)
    card = queries.member_card(merchant, member, at)
    hints = {hint.code: [] for hint in card.hints}
    for hint in card.hints:
        hints[hint.code].append(hint.params)
    upcoming = (hints.get("amount_to_next_tier") or [{}])[0]
    tier = program.tiers.get(card.tier)
    account = card.account
    transfers = program.config.transfers
    zone = ZoneInfo(merchant.timezone)
    tick = timedelta(microseconds=1)
    return Summary(
        member=member, available=card.available,
        value=points_value(program, card.available),
        pending=tuple(Dated(p["points"], p["available_at"].astimezone(zone).date())
                      for p in hints.get("pending_activation", [])),
        expiring=tuple(Dated(p["points"], (p["expires_at"] - tick).astimezone(zone).date())
                       for p in hints.get("points_expiring_soon", [])),
        tier=tier.name if tier is not None else "",
        next_tier=upcoming.get("tier_name", ""), to_next_tier=upcoming.get("amount", 0),
        spend=account.lifetime_spend, purchases=account.purchase_count,
        last_purchase_at=account.last_purchase_at,
        program=program.config, card_number=_card_number(member),
        can_send=bool(transfers and transfers.enabled),
        send_min=transfers.min_points if transfers else 0,
        send_max=(transfers.max_points or 0) if transfers else 0,
    )


# The words for an entry: what happened (its kind) and why (its cause type).
def _causes() -> dict[str, str]:
    return {
        "purchase": _("Purchase"),
        "first_purchase": _("First purchase gift"),
        "refund": _("Refund"),
        "transfer": _("Transfer between friends"),
        "adjustment": _("Granted by the shop"),
        "welcome": _("Welcome bonus"),
        "birthday": _("Birthday gift"),
        "relative_birthday": _("Gift for a relative's birthday"),
        "self_registration": _("Gift for joining by yourself"),
        "winback": _("We missed you: a gift"),
        "campaign_code": _("Campaign code"),
        "referral": _("Bonus for a recommendation"),
        "reward_order": _("Reward from the catalogue"),
        "time": _("By date"),
    }


def cause_words() -> dict[str, str]:
    """Why points moved, in words, by cause type (the cabinet's purchase page says it too)."""
    return _causes()


@dataclass(frozen=True)
class Line:
    entry: Entry
    what: str  # the kind in words: "accrued", "spent", ...
    why: str  # the cause in words: "Purchase", "Welcome bonus", ...
    points: int  # the change: available and pending together


def history(member: Member, *, before: int | None = None,
            limit: int = HISTORY_PAGE) -> tuple[list[Line], int | None]:
    entries, next_before = queries.member_history(member.merchant, member, before=before,
                                                  limit=limit)
    causes = _causes()
    lines = []
    for entry in entries:
        if entry.kind == Entry.Kind.ACTIVATE:
            points = entry.available_delta  # pending became available: show what arrived
        else:
            points = entry.available_delta + entry.pending_delta
        lines.append(Line(entry, entry.get_kind_display(),
                          causes.get(entry.cause_type, entry.cause_type), points))
    return lines, next_before


def stores(member: Member) -> list[Store]:
    """The merchant's open stores: where the member can use the card (what tenancy knows)."""
    return list(Store.objects.filter(merchant=member.merchant, active=True).order_by("name"))


def transfer_needs_code(member: Member) -> bool:
    transfers = programs.load(member.merchant).config.transfers
    return bool(transfers and transfers.confirm_by_code)


def send_points(member: Member, *, phone: str, points: int, key: str, actor,
                code: str | None = None) -> Member:
    """Send `points` to the member of the same merchant with `phone` (transfer.py checks the
    program's limits); the friend. 404 on `phone` when nobody here has that number. Where the
    program asks for it (`transfers.confirm_by_code`), `code` is the spending code sent to the
    sender's phone, used up by the transfer (422 on `code` when missing or wrong)."""
    merchant = member.merchant
    try:
        friend = members.find_member(merchant, phone=phone)
    except NotFound:
        raise NotFound(_("Nobody with this phone number is a member here."),
                       field="phone") from None
    confirmed = None
    if transfer_needs_code(member):
        confirmed = codes.check(merchant, phone=str(member.person.phone),
                                purpose=Purpose.SPENDING, code=code)
    with transaction.atomic():  # the code is used up exactly when the points move
        if confirmed is not None:
            codes.consume(confirmed)
        transfer.transfer_points(merchant, sender=member, recipient=friend, points=points,
                                 key=key, actor=actor)
    return friend


def join(merchant, *, phone: str, actor, consents, code: str | None = None,
         hide_phone: bool = False, alias: str = "", **profile) -> Member:
    """A person registers themselves at `merchant` (MEM-5, the channel "self"): confirmed by
    the registration `code` sent to `phone`, or, with no code, by the wallet session of the
    person holding `phone` (the caller's check). `hide_phone` (signed-in only): the merchant's
    staff see only the person's `alias`, which they must have. The program's welcome bonus
    and self-registration gift come with it (processing.enrol). Call in the merchant's
    scope."""
    if hide_phone and not alias:
        raise InvalidInput(_("Take an alias first: the shop will see it instead of your "
                             "number."), field="hide_phone")
    if code is not None:  # enrol checks it before its transaction: a wrong code's attempt stays
        return enrol.enrol(merchant, phone=phone, actor=actor, channel=Member.Channel.SELF,
                           consents=consents, code=code, **profile)
    with transaction.atomic():
        member = enrol.enrol(merchant, phone=phone, actor=actor, channel=Member.Channel.SELF,
                             consents=consents, **profile)
        if hide_phone:
            Member.objects.filter(merchant=merchant, pk=member.pk).update(phone_hidden=True)
            member.phone_hidden = True
    return member
