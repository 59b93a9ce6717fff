"""What the member wallet (`/my/`) shows of one membership: balances and their money value,
points waiting to activate and points about to expire with their dates, the tier and what is
left to the next one, spend and the last purchase — and the history in words.

Called inside the member's own merchant scope (`access.enter(Principal.for_member(member))`):
each membership is read as that merchant alone sees it. The one exception is `summaries`, the
wallet's pages: it reads one person's memberships together, one statement per table by
`member_id IN …` (ids that come from that person's own memberships), and works out each
membership's figures inside its own merchant's scope with its own program.
"""

import dataclasses
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import BigIntegerField, Case, F, Max, Min, Q, Sum, Value, When
from django.db.models.functions import Coalesce, Least
from django.utils.translation import gettext as _
from django_scopes import scopes_disabled

from kopilka.codes import services as codes
from kopilka.codes.models import Purpose
from kopilka.core import clock
from kopilka.core.errors import InvalidInput, NotFound
from kopilka.ledger import services as ledger
from kopilka.ledger.models import Account, Entry, Hold, Lot
from kopilka.members import services as members
from kopilka.members.models import Card, Member
from kopilka.processing import _book, enrol, queries, transfer
from kopilka.programs import engine
from kopilka.programs import services as programs
from kopilka.programs.config import ProgramConfig
from kopilka.programs.models import Program
from kopilka.tenancy import access
from kopilka.tenancy.models import Merchant, Store

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


def _card_number(cards) -> str:
    """The number to show: the plastic card if any, else a virtual one, else the phone card.
    `cards`: the member's active cards as (kind, number), oldest first (the newest of a kind
    wins)."""
    numbers = dict(cards)
    return numbers.get(Card.Kind.PLASTIC) or numbers.get(Card.Kind.VIRTUAL) or numbers.get(
        Card.Kind.PHONE, "")


def _summary(member: Member, program: engine.CompiledProgram, account: Account, available: int,
             hints: tuple[engine.Hint, ...], tier_code: str, card_number: str) -> Summary:
    """The figures from a member's card (what the counter's look-up shows: `member_card`)."""
    found = {hint.code: [] for hint in hints}
    for hint in hints:
        found[hint.code].append(hint.params)
    upcoming = (found.get("amount_to_next_tier") or [{}])[0]
    tier = program.tiers.get(tier_code)
    transfers = program.config.transfers
    zone = ZoneInfo(member.merchant.timezone)
    tick = timedelta(microseconds=1)
    return Summary(
        member=member, available=available,
        value=points_value(program, available),
        pending=tuple(Dated(p["points"], p["available_at"].astimezone(zone).date())
                      for p in found.get("pending_activation", [])),
        expiring=tuple(Dated(p["points"], (p["expires_at"] - tick).astimezone(zone).date())
                       for p in found.get("points_expiring_soon", [])),
        tier=tier.name if tier is not None else "",
        next_tier=upcoming.get("tier_name", ""), to_next_tier=upcoming.get("amount", 0),
        spend=account.lifetime_spend, purchases=account.purchase_count,
        last_purchase_at=account.last_purchase_at,
        program=program.config, card_number=card_number,
        can_send=bool(transfers and transfers.enabled),
        send_min=transfers.min_points if transfers else 0,
        send_max=(transfers.max_points or 0) if transfers else 0,
    )


def summary(member: Member, at: datetime | None = None) -> Summary:
    """One membership's figures, read as the counter reads them (`queries.member_card`)."""
    at = at or clock.now()
    merchant = member.merchant
    program = programs.load(merchant)
    card = queries.member_card(merchant, member, at)
    cards = Card.objects.filter(merchant=merchant, member=member,
                                status=Card.Status.ACTIVE).order_by("pk")
    return _summary(member, program, card.account, card.available, card.hints, card.tier,
                    _card_number(cards.values_list("kind", "number")))


# --- a person's memberships at once (the wallet's pages) ---------------------------------------


def joins() -> tuple[str, ...]:
    """The `select_related` paths `summaries` wants on each member (members.wallet.memberships
    `joined=`): the account and the merchant's program, so that neither costs a statement per
    membership. (Only these two: the merchant's other context parts are no business of the
    wallet, and each LEFT JOIN more multiplies the planner's row estimate.)"""
    return ("account", "merchant__program")


def _program_joined(merchant: Merchant) -> bool:
    return Merchant._meta.get_field("program").is_cached(merchant)


def _balances(accounts: list[Account], at: datetime,
              horizon: datetime) -> dict[int, ledger.Balances]:
    """`ledger.balances(account, at)` of every account, from one statement over their open lots
    (and one over their open holds, where any has some). The database adds up the lots that
    are spendable and expire after `horizon` (or never), one row per account; the others
    (pending, or expiring by `horizon`: what the hints list by day) come one row per lot. The
    totals are the ledger's; the lists keep every lot the hints look at (with `horizon` the
    furthest warning window among the programs).

    A lot expires at its own date or at the account's inactivity deadline, whichever first
    (`ledger.effective_expiry`): both, as the SQL's Least of the two with NULL as "never"."""
    balances = {account.pk: ledger.Balances() for account in accounts}
    if not balances:
        return balances
    deadline = F("account__inactivity_deadline")
    spendable = Q(activated=True) | Q(available_at__lte=at)
    lots = (Lot.objects.filter(merchant_id__in={account.merchant_id for account in accounts},
                               account_id__in=list(balances), remaining__gt=0)
            .annotate(expiry=Least(Coalesce("expires_at", deadline),
                                   Coalesce(deadline, "expires_at")))
            .filter(Q(expiry__isnull=True) | Q(expiry__gt=at))
            .annotate(one=Case(When(spendable & (Q(expiry__isnull=True) | Q(expiry__gt=horizon)),
                                    then=Value(0)), default=F("id"),
                             output_field=BigIntegerField()))
            .values("account_id", "one")
            .annotate(points=Sum("remaining"), since=Min("available_at"), until=Min("expiry"),
                      ready=Max(Case(When(spendable, then=Value(1)), default=Value(0))))
            .values_list("account_id", "one", "points", "since", "until", "ready")
            .order_by())
    for account_id, one, points, since, until, ready in lots:
        found = balances[account_id]
        if ready:
            found.available += points
            if one and until is not None:
                found.expiring.append((points, until))
        else:
            found.pending += points
            found.activating.append((points, since))
    holding = [account.pk for account in accounts if account.held]
    holds: dict[int, list[Hold]] = {}
    for hold in (Hold.objects.filter(account_id__in=holding, state=Hold.State.OPEN)
                 .order_by("pk") if holding else ()):
        holds.setdefault(hold.account_id, []).append(hold)
    for account_id, found in balances.items():
        found.expiring.sort(key=lambda pair: pair[1])
        found.activating.sort(key=lambda pair: pair[1])
        held = ledger.live_holds(holds.get(account_id, ()), at)
        if held:
            found.held = min(held, found.available)
            found.available -= found.held
    return balances


def summaries(memberships: list[Member], at: datetime | None = None) -> list[Summary]:
    """`summary` of each of one person's memberships, in their order, in a constant number of
    statements whatever their number: the open lots, the active cards (and the open holds,
    where an account has some) of all of them at once, the accounts and programs as joined on
    the members (`joins()`; else one statement each for all). Each membership's figures are
    then worked out in its own merchant's scope, with its program, exactly as `summary` does
    (tests/wallet/test_summaries.py holds them equal). Call outside any merchant's scope."""
    at = at or clock.now()
    if not memberships:
        return []
    if len({member.person_id for member in memberships}) > 1:  # a programming error
        raise ValueError("summaries() reads one person's memberships, not several people's")
    ids = [member.pk for member in memberships]
    merchant_ids = {member.merchant_id for member in memberships}
    contexts, unloaded = {}, set()
    for member in memberships:
        # The merchant's context with its program as joined (None: the shop has none), so
        # programs.load reads no row; the context's other parts load on use, if ever.
        merchant = member.merchant
        if _program_joined(merchant):
            contexts[member.pk] = access.MerchantContext(
                merchant, values={"program": getattr(merchant, "program", None)})
        else:
            contexts[member.pk] = access.MerchantContext(merchant)
            unloaded.add(member.merchant_id)
    accounts: dict[int, Account] = {}
    with scopes_disabled():  # one person's own rows, at several merchants: by their ids
        for member in memberships:
            if Member.account.is_cached(member):
                with suppress(Account.DoesNotExist):  # none yet: summary() opens it
                    accounts[member.pk] = member.account
        unjoined = [member.pk for member in memberships if not Member.account.is_cached(member)]
        if unjoined:
            accounts.update((account.member_id, account) for account in Account.objects.filter(
                merchant_id__in=merchant_ids, member_id__in=unjoined))
        if unloaded:
            rows = {row.merchant_id: row
                    for row in Program.objects.filter(merchant_id__in=unloaded)}
            for member in memberships:
                if member.merchant_id in unloaded:
                    contexts[member.pk]["program"] = rows.get(member.merchant_id)
        compiled = {}
        for member in memberships:
            with access.enter(_as(member, contexts[member.pk])):
                compiled[member.pk] = programs.load(member.merchant)
        horizon = at + timedelta(days=max(p.expiry_warning_days for p in compiled.values()))
        balances = _balances(list(accounts.values()), at, horizon)
        cards: dict[int, list[tuple[str, str]]] = {}
        for member_id, kind, number in (Card.objects.filter(
                merchant_id__in=merchant_ids, member_id__in=ids, status=Card.Status.ACTIVE)
                .order_by("pk").values_list("member_id", "kind", "number")):
            cards.setdefault(member_id, []).append((kind, number))
    found = []
    for member in memberships:
        with access.enter(_as(member, contexts[member.pk])):
            account = accounts.get(member.pk)
            if account is None:
                found.append(summary(member, at))
                continue
            program = compiled[member.pk]
            state = _book.state(program, member, account, balances[account.pk])
            hints = engine.hints_for(program, state, at, member.merchant.timezone)
            found.append(_summary(member, program, account, state.available_points, hints,
                                  state.tier_code, _card_number(cards.get(member.pk, ()))))
    return found


def _as(member: Member, context: access.MerchantContext) -> access.Principal:
    return dataclasses.replace(access.Principal.for_member(member), context=context)


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
