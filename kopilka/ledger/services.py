"""Ledger operations: the only code that changes point balances.

Work on an account goes through a `Book`: `Book.open()` locks the account row, loads its open
lots and journals what time has done (activation, expiry); the operations then change the
lots and the balance in memory and queue entries; `save()` writes everything in a handful of
set-based statements (new lots, changed lots, entries, the account). Callers hold one
`transaction.atomic()` around open … save. Callers are `processing` and `automation`.
`save_books()` writes many Books in those same statements: the daily sweep (sweep.py) builds
a chunk of Books from preloaded rows and saves them together.

Holds (pending-out, models.Hold) set points aside under the same lock: `Book.hold`,
`Book.capture` (spend them now), `Book.release`; an open hold past its `expires_at` is
released by `materialise` like an expired lot, and reads ignore it from that moment.

Reads that must not write (a look-up at the counter) use `balances()`, which computes the
state as of any moment from the lots, so it is right even if no job has run.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kopilka.core import clock
from kopilka.core.errors import Conflict
from kopilka.core.prepared import PreparedQuery
from kopilka.ledger import causes
from kopilka.ledger.bulk import insert_rows, update_rows
from kopilka.ledger.chain import entry_hash
from kopilka.ledger.models import Account, Entry, Hold, Lot

FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


class InsufficientPoints(Conflict):
    problem = "insufficient-points"


class HoldClosed(Conflict):
    problem = "hold-closed"


@dataclass(frozen=True)
class Cause:
    """Why a balance changed: purchase 12, refund 3, transfer 5, adjustment 7, time...
    `type` must be registered (causes.py): an unknown one is refused here, before any write."""

    type: str
    id: str = ""
    actor: str = ""

    def __post_init__(self):
        causes.check(self.type)


@dataclass
class Balances:
    available: int = 0  # spendable: the activated lots' points not set aside by a hold
    pending: int = 0
    held: int = 0  # set aside by open holds (counted in the account's available, not here)
    # (amount, moment) pairs, soonest first: what expires when, what activates when.
    expiring: list[tuple[int, datetime]] = field(default_factory=list)
    activating: list[tuple[int, datetime]] = field(default_factory=list)


def effective_expiry(lot: Lot, account: Account) -> datetime | None:
    """A lot expires at its own date or at the account's inactivity deadline, whichever first."""
    deadlines = [d for d in (lot.expires_at, account.inactivity_deadline) if d is not None]
    return min(deadlines) if deadlines else None


def live_holds(holds, at: datetime) -> int:
    """What the open holds set aside as of `at` (one past its expiry sets nothing aside)."""
    return sum(hold.amount for hold in holds
               if hold.state == Hold.State.OPEN and (hold.expires_at is None
                                                      or hold.expires_at > at))


def _balances(account: Account, lots, at: datetime, holds=()) -> Balances:
    result = Balances()
    for lot in lots:
        if lot.remaining <= 0:
            continue
        expiry = effective_expiry(lot, account)
        if expiry is not None and expiry <= at:
            continue
        if lot.activated or lot.available_at <= at:
            result.available += lot.remaining
            if expiry is not None:
                result.expiring.append((lot.remaining, expiry))
        else:
            result.pending += lot.remaining
            result.activating.append((lot.remaining, lot.available_at))
    result.expiring.sort(key=lambda pair: pair[1])
    result.activating.sort(key=lambda pair: pair[1])
    held = live_holds(holds, at)
    if held:
        result.held = min(held, result.available)
        result.available -= result.held
    return result


# The hot path's ledger reads, compiled once per process (core/prepared.py). The account id
# is the tenant key: an account belongs to one merchant.
# In id order: the entries of one materialise come out in the same order however the lots
# were loaded (Book.open here, the sweep's chunks in sweep.py).
_OPEN_LOTS = PreparedQuery(lambda account_id: Lot.objects.filter(
    account_id=account_id, remaining__gt=0).order_by("pk"), kinds=(int,))
_LOCK_BY_ID = PreparedQuery(lambda account_id: Account.objects.select_for_update().filter(
    pk=account_id)[:1], kinds=(int,))
_OPEN_HOLDS = PreparedQuery(lambda account_id: Hold.objects.filter(
    account_id=account_id, state=Hold.State.OPEN).order_by("pk"), kinds=(int,))
_LOCK_BY_MEMBER = PreparedQuery(lambda member_id: Account.objects.select_for_update().filter(
    member_id=member_id)[:1], kinds=(int,))


def balances(account: Account, at: datetime | None = None) -> Balances:
    """The balance as of `at`, computed from the lots and holds: no lock, no write. Holds
    are read only when the account has some (`held` > 0): no query on the usual path."""
    holds = _OPEN_HOLDS.all(account.pk) if account.held else ()
    return _balances(account, _OPEN_LOTS.all(account.pk), at or clock.now(), holds)


def lots_of(cause: Cause, entry_kind: str, *, account_id: int) -> list[Lot]:
    """The lots of `account_id` that entries of `entry_kind` with this cause touched, by id:
    a purchase's own lots are those its ACCRUE entries created, the lots it spent those its
    REDEEM entries took from. The ledger finds them by the cause (index `entry_cause`), so it
    needs no foreign key to the purchase or to anything else that causes a change."""
    touched = Entry.objects.filter(account_id=account_id, cause_type=cause.type,
                                   cause_id=str(cause.id), kind=entry_kind).values("lot_id")
    return list(Lot.objects.filter(account_id=account_id, pk__in=touched).order_by("pk"))


def open_account(member, *, tier_code: str = "") -> Account:
    return Account.objects.create(
        merchant_id=member.merchant_id, member=member, tier_code=tier_code, updated_at=clock.now()
    )


@dataclass
class _Pending:
    lot: Lot
    kind: str
    cause: Cause
    at: datetime
    available: int
    pending: int


class Book:
    """One locked account with its open lots, changed in memory and written by `save()`."""

    def __init__(self, account: Account, lots: list[Lot]):
        self.account = account
        self.lots = lots
        self._entries: list[_Pending] = []
        self._new_lots: list[Lot] = []
        self._changed_lots: dict[int, Lot] = {}
        self._account_fields: set[str] = set()
        self._holds: list[Hold] | None = None  # the open ones, loaded when first needed
        self._new_holds: list[Hold] = []
        self._changed_holds: dict[int, Hold] = {}

    # --- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, *, account_id: int | None = None, member_id: int | None = None,
             at: datetime | None = None) -> "Book":
        """Lock the account (SQLite: the IMMEDIATE transaction already holds the write lock),
        load its open lots and journal activation/expiry due by `at` (default: now)."""
        account = (_LOCK_BY_ID.first(account_id) if account_id
                   else _LOCK_BY_MEMBER.first(member_id))
        if account is None:
            raise Account.DoesNotExist(f"no account {account_id or f'of member {member_id}'}")
        book = cls(account, _OPEN_LOTS.all(account.pk))
        book.materialise(at or clock.now())
        return book

    @classmethod
    def open_many(cls, *, member_ids, at: datetime | None = None) -> dict[int, "Book"]:
        """`open` for many accounts at once, by member id: the accounts locked in id order in
        one SELECT … FOR UPDATE (the order the sweep and `open_pair` lock in, so none of them
        can deadlock with another), their open lots loaded in one query, what time did by
        `at` journalled. Write them together with `save_books` (automation's batched gifts)."""
        accounts = list(Account.objects.select_for_update()
                        .filter(member_id__in=set(member_ids)).order_by("pk"))
        missing = set(member_ids) - {account.member_id for account in accounts}
        if missing:
            raise Account.DoesNotExist(f"no account of members {sorted(missing)}")
        lots: dict[int, list[Lot]] = defaultdict(list)
        for lot in (Lot.objects.filter(account_id__in=[account.pk for account in accounts],
                                       remaining__gt=0).order_by("pk")):
            lots[lot.account_id].append(lot)
        at = at or clock.now()
        books = {}
        for account in accounts:
            book = cls(account, lots[account.pk])
            book.materialise(at)
            books[account.member_id] = book
        return books

    @classmethod
    def open_pair(cls, first_id: int, second_id: int) -> tuple["Book", "Book"]:
        """Lock two accounts in id order, so two opposite transfers cannot deadlock."""
        low, high = sorted((first_id, second_id))
        books = {low: cls.open(account_id=low), high: cls.open(account_id=high)}
        return books[first_id], books[second_id]

    # --- reading ------------------------------------------------------------------------------

    def balances(self, at: datetime | None = None) -> Balances:
        return _balances(self.account, self.lots, at or clock.now(), self.holds())

    def holds(self) -> list[Hold]:
        """The account's holds open when the Book was opened or made since (closed ones stay
        in the list with their new state until saved)."""
        if self._holds is None:
            self._holds = _OPEN_HOLDS.all(self.account.pk) if self.account.held else []
        return self._holds

    def spendable(self) -> int:
        """What a debit or a new hold may take: the available points no hold sets aside."""
        return max(0, self.account.available - self.account.held)

    # --- journal ------------------------------------------------------------------------------

    def _journal(self, lot: Lot, kind: str, cause: Cause, at: datetime, *,
                 available: int = 0, pending: int = 0) -> None:
        self._entries.append(_Pending(lot, kind, cause, at, available, pending))
        self.account.available += available
        self.account.pending += pending
        if lot.pk is not None:
            self._changed_lots[lot.pk] = lot

    def materialise(self, at: datetime) -> None:
        """Journal what time has done by `at`: activate due pending lots, expire lots past
        their effective expiry. Idempotent."""
        time = Cause("time")
        for lot in self.lots:
            if lot.remaining <= 0:
                continue
            expiry = effective_expiry(lot, self.account)
            if expiry is not None and expiry <= at:
                left = lot.remaining
                lot.remaining = 0
                if lot.activated:
                    self._journal(lot, Entry.Kind.EXPIRE, time, expiry, available=-left)
                else:
                    self._journal(lot, Entry.Kind.EXPIRE, time, expiry, pending=-left)
            elif not lot.activated and lot.available_at <= at:
                lot.activated = True
                self._journal(lot, Entry.Kind.ACTIVATE, time, lot.available_at,
                              available=lot.remaining, pending=-lot.remaining)
        if self.account.held:
            for hold in self.holds():
                if (hold.state == Hold.State.OPEN and hold.expires_at is not None
                        and hold.expires_at <= at):
                    self._close(hold, Hold.State.RELEASED, hold.expires_at)

    def credit(self, amount: int, *, lot_kind: str, entry_kind: str, cause: Cause, at: datetime,
               available_at: datetime | None = None,
               expires_at: datetime | None = None) -> Lot | None:
        """Grant `amount` points as a new lot; pending until `available_at` if that is later."""
        if amount < 0:
            raise ValueError("credit amount must not be negative")
        if amount == 0:
            return None
        available_at = available_at or at
        active = available_at <= clock.now()
        lot = Lot(
            merchant_id=self.account.merchant_id, account=self.account, kind=lot_kind,
            amount=amount, remaining=amount, available_at=available_at, expires_at=expires_at,
            activated=active, created_at=at,
        )
        self._new_lots.append(lot)
        self.lots.append(lot)
        if active:
            self._journal(lot, entry_kind, cause, at, available=amount)
        else:
            self._journal(lot, entry_kind, cause, at, pending=amount)
        return lot

    def _spend_order(self, lot: Lot):
        expiry = effective_expiry(lot, self.account)
        return (expiry is None, expiry or FAR_FUTURE, lot.available_at, lot.pk or 0)

    def _active_lots(self) -> list[Lot]:
        active = [lot for lot in self.lots if lot.activated and lot.remaining > 0]
        return sorted(active, key=self._spend_order)

    def _take(self, amount: int, lots, entry_kind: str, cause: Cause, at: datetime):
        taken, left = [], amount
        for lot in lots:
            if left == 0:
                break
            part = min(left, lot.remaining)
            if part == 0:
                continue
            lot.remaining -= part
            if lot.activated:
                self._journal(lot, entry_kind, cause, at, available=-part)
            else:
                self._journal(lot, entry_kind, cause, at, pending=-part)
            taken.append((lot, part))
            left -= part
        return taken

    def debit(self, amount: int, *, entry_kind: str, cause: Cause,
              at: datetime) -> list[tuple[Lot, int]]:
        """Take `amount` spendable points, soonest-expiring lots first. All or nothing."""
        if amount < 0:
            raise ValueError("debit amount must not be negative")
        self._require_spendable(amount)
        return self._take(amount, self._active_lots(), entry_kind, cause, at)

    def _require_spendable(self, amount: int) -> None:
        spendable = self.spendable()
        if amount > spendable:
            raise InsufficientPoints(
                ngettext(
                    "Only %(available)s point is available, %(requested)s requested.",
                    "Only %(available)s points are available, %(requested)s requested.",
                    spendable,
                ) % {"available": spendable, "requested": amount},
                field="points",
            )

    # --- holds (pending-out) ------------------------------------------------------------------

    def hold(self, amount: int, *, cause: Cause, at: datetime,
             expires_at: datetime | None = None) -> Hold:
        """Set `amount` spendable points aside for `cause` until captured or released (or
        until `expires_at`). All or nothing, like a debit."""
        if amount <= 0:
            raise ValueError("hold amount must be positive")
        self._require_spendable(amount)
        hold = Hold(merchant_id=self.account.merchant_id, account=self.account, amount=amount,
                    cause_type=cause.type, cause_id=str(cause.id), created_at=at,
                    expires_at=expires_at)
        self.holds().append(hold)
        self._new_holds.append(hold)
        self._set(held=self.account.held + amount)
        return hold

    def open_hold(self, hold_id: int) -> Hold:
        """One of this account's holds, still open (HoldClosed if spent, released or lapsed)."""
        for hold in self.holds():
            if hold.pk == hold_id and hold.state == Hold.State.OPEN:
                return hold
        raise HoldClosed(_("These points are no longer held."), field="hold")

    def _close(self, hold: Hold, state: str, at: datetime) -> None:
        hold.state = state
        hold.closed_at = at
        if hold.pk is not None:
            self._changed_holds[hold.pk] = hold
        self._set(held=self.account.held - hold.amount)

    def release(self, hold: Hold, *, at: datetime) -> None:
        """Give the held points back to spending (an order cancelled or lapsed)."""
        if hold.state != Hold.State.OPEN:
            raise HoldClosed(_("These points are no longer held."), field="hold")
        self._close(hold, Hold.State.RELEASED, at)

    def capture(self, hold: Hold, *, entry_kind: str, cause: Cause,
                at: datetime) -> list[tuple[Lot, int]]:
        """Spend the held points now, soonest-expiring lots first. If lots expired under the
        hold and too few points are left, nothing happens (InsufficientPoints)."""
        if hold.state != Hold.State.OPEN:
            raise HoldClosed(_("These points are no longer held."), field="hold")
        if hold.expires_at is not None and hold.expires_at <= at:
            raise HoldClosed(_("The hold on these points has lapsed."), field="hold")
        self._close(hold, Hold.State.CAPTURED, at)
        try:
            return self.debit(hold.amount, entry_kind=entry_kind, cause=cause, at=at)
        except InsufficientPoints:
            hold.state, hold.closed_at = Hold.State.OPEN, None
            self._set(held=self.account.held + hold.amount)
            raise

    def reverse(self, amount: int, *, own_lot_ids: set[int], cause: Cause, at: datetime) -> int:
        """Take back up to `amount` points a purchase created: first from the lots it created
        (pending or not), then from any spendable lot. Returns how much could NOT be taken
        back because the member had already spent it — a balance never goes negative."""
        own = [lot for lot in self.lots if lot.pk in own_lot_ids and lot.remaining > 0]
        others = [lot for lot in self._active_lots() if lot.pk not in own_lot_ids]
        taken = self._take(amount, own + others, Entry.Kind.REVERSE, cause, at)
        return amount - sum(part for _lot, part in taken)

    # --- account statistics -------------------------------------------------------------------

    def _set(self, **values) -> None:
        for name, value in values.items():
            setattr(self.account, name, value)
        self._account_fields.update(values)

    def record_purchase(self, *, spend: int, at: datetime,
                        inactivity_deadline: datetime | None) -> None:
        """Update purchase statistics; with "N days after the last purchase" expiry, push the
        deadline (never backwards: an old offline upload must not shorten it)."""
        account = self.account
        self._set(lifetime_spend=account.lifetime_spend + spend,
                  purchase_count=account.purchase_count + 1)
        if account.last_purchase_at is None or at > account.last_purchase_at:
            self._set(last_purchase_at=at)
        if inactivity_deadline is not None and (
            account.inactivity_deadline is None or inactivity_deadline > account.inactivity_deadline
        ):
            self._set(inactivity_deadline=inactivity_deadline)

    def record_refund(self, *, spend: int) -> None:
        """A refund lowers lifetime spend (never below zero)."""
        self._set(lifetime_spend=max(0, self.account.lifetime_spend - spend))

    def set_tier(self, tier_code: str, *, manual: bool = False) -> None:
        self._set(tier_code=tier_code, tier_manual=manual)

    # --- writing ------------------------------------------------------------------------------

    def save(self) -> None:
        """Write new lots, changed lots, the hash-chained entries and the account."""
        save_books([self])

    def _chained_entries(self) -> list[Entry]:
        """The queued entries as rows, continuing the account's hash chain (seq, prev_hash,
        hash) and moving its head. New lots must have their ids: the hash covers lot_id."""
        account = self.account
        entries = []
        for pending in self._entries:
            account.entry_seq += 1
            # By id, not object: assigning related objects costs more than the rest of the row.
            entry = Entry(
                merchant_id=account.merchant_id, account_id=account.pk, seq=account.entry_seq,
                kind=pending.kind, lot_id=pending.lot.pk, available_delta=pending.available,
                pending_delta=pending.pending, cause_type=pending.cause.type,
                cause_id=str(pending.cause.id), actor=pending.cause.actor[:200],
                occurred_at=pending.at, prev_hash=account.last_hash,
            )
            entry.hash = entry_hash(account.last_hash, entry)
            account.last_hash = entry.hash
            entries.append(entry)
        if entries:
            self._account_fields.update(("available", "pending", "entry_seq", "last_hash"))
        return entries

    def _written(self) -> None:
        self._entries, self._new_lots, self._changed_lots = [], [], {}
        self._new_holds, self._changed_holds = [], {}
        if self._holds is not None:
            self._holds = [hold for hold in self._holds if hold.state == Hold.State.OPEN]
        self._account_fields = set()


def save_books(books: Sequence[Book]) -> int:
    """Write what several Books changed with one statement per table — new lots, changed lots,
    entries, accounts (one per distinct set of changed account fields) — and return how many
    entries were written. `Book.save()` is this for one Book; the sweep (sweep.py) saves a
    chunk of accounts at once. The caller holds the transaction and the accounts' locks."""
    new_lots = [lot for book in books for lot in book._new_lots]
    if new_lots:
        Lot.objects.bulk_create(new_lots)  # ids come back (PostgreSQL, SQLite 3.35+)
    changed_lots = [lot for book in books for lot in book._changed_lots.values()]
    if changed_lots:
        update_rows(changed_lots, ["remaining", "activated"])
    new_holds = [hold for book in books for hold in book._new_holds]
    if new_holds:
        Hold.objects.bulk_create(new_holds)
    changed_holds = [hold for book in books for hold in book._changed_holds.values()]
    if changed_holds:
        Hold._base_manager.bulk_update(changed_holds, ["state", "closed_at"])
    entries = [entry for book in books for entry in book._chained_entries()]
    insert_rows(entries)  # append-only: their ids are not needed back
    now = clock.now()
    accounts_by_fields: dict[tuple[str, ...], list[Account]] = defaultdict(list)
    for book in books:
        if book._account_fields:
            book.account.updated_at = now
            fields = (*sorted(book._account_fields), "updated_at")
            accounts_by_fields[fields].append(book.account)
        book._written()
    for fields, accounts in accounts_by_fields.items():
        if len(accounts) == 1:
            accounts[0].save(update_fields=fields)
        else:
            update_rows(accounts, fields)
    return len(entries)
