"""The shift: one cashier's sales book at one counter device, from its opening to its close.

A shift holds what the server recorded at this device by this cashier after their last close:
the purchases with this terminal and cashier (by `recorded_at`, so an offline sale uploaded
later joins the shift that is open when it arrives; its own time of sale is kept and shown),
and the refunds this cashier made at this device (a refund records its actor's label, "e-mail
at terminal:prefix", not the till, so that label is what ties it to the shift). A shift opens
with an explicit "Open shift" or by itself with the first sale after the last close; closing
it computes the summary from those rows and keeps it with the shift.
"""

from dataclasses import asdict, dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Min, Q, Sum
from django.utils.translation import gettext as _

from kopilka.core import audit, clock
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, NotFound
from kopilka.processing.models import Purchase, Refund, Shift
from kopilka.tenancy.models import Staff, Terminal


@dataclass(frozen=True)
class PaymentTotal:
    method: str  # as the sale recorded it: "cash", "card", … or "" when none was given
    sales: int
    money: int  # what customers paid in money: total - discount - paid with points


@dataclass(frozen=True)
class Summary:
    """A shift's figures; money in minor units, points in hundredths."""

    sales: int = 0
    refunds: int = 0
    total: int = 0  # the receipts' totals before discounts
    discounts: int = 0
    paid_with_points: int = 0  # money paid with points
    money: int = 0  # money taken: total - discounts - paid with points
    refunded: int = 0  # money of the refunds
    points_accrued: int = 0
    points_spent: int = 0
    points_reversed: int = 0  # accrued points refunds took back
    points_returned: int = 0  # spent points refunds gave back
    first_sale_at: datetime | None = None
    last_sale_at: datetime | None = None
    by_payment: tuple[PaymentTotal, ...] = ()

    def as_json(self) -> dict:
        data = asdict(self)
        for name in ("first_sale_at", "last_sale_at"):
            data[name] = data[name].isoformat() if data[name] else None
        data["by_payment"] = [asdict(row) for row in self.by_payment]
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Summary":
        values = dict(data)
        for name in ("first_sale_at", "last_sale_at"):
            values[name] = datetime.fromisoformat(values[name]) if values.get(name) else None
        values["by_payment"] = tuple(PaymentTotal(**row) for row in values.get("by_payment", ()))
        return cls(**values)


@dataclass(frozen=True)
class ShiftBook:
    """The live shift of a cashier at a device: `shift` is its row once opened explicitly or
    closed; `opened_at` is None while nothing happened since the last close."""

    terminal: Terminal
    cashier: Staff
    actor_label: str
    since: datetime | None  # the last close (exclusive), None before the first one
    shift: Shift | None
    opened_at: datetime | None
    summary: Summary

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None

    def purchases(self):
        """The shift's purchases, the latest sale first, with their members' phones."""
        return (_purchases(self.terminal, self.cashier, self.since)
                .select_related("member__person").order_by("-occurred_at", "-pk"))


def _purchases(terminal: Terminal, cashier: Staff, since: datetime | None):
    rows = Purchase.objects.filter(merchant_id=terminal.merchant_id, terminal=terminal,
                                   cashier=cashier)
    return rows.filter(recorded_at__gt=since) if since else rows


def _refunds(terminal: Terminal, actor_label: str, since: datetime | None):
    rows = Refund.objects.filter(merchant_id=terminal.merchant_id, actor=actor_label)
    return rows.filter(occurred_at__gt=since) if since else rows


def summarise(terminal: Terminal, cashier: Staff, actor_label: str,
              since: datetime | None) -> Summary:
    """The figures of everything recorded after `since`: three aggregate queries."""
    purchases = _purchases(terminal, cashier, since)
    totals = purchases.aggregate(
        sales=Count("pk"), total=Sum("total", default=0), discounts=Sum("discount", default=0),
        paid_with_points=Sum("points_spent_money", default=0),
        points_accrued=Sum("points_accrued", default=0),
        points_spent=Sum("points_spent", default=0),
        first_sale_at=Min("occurred_at"), last_sale_at=Max("occurred_at"),
    )
    by_payment = tuple(
        PaymentTotal(method=row["payment_method"], sales=row["sales"],
                     money=row["total"] - row["discount"] - row["points"])
        for row in purchases.values("payment_method").order_by("payment_method").annotate(
            sales=Count("pk"), total=Sum("total"), discount=Sum("discount"),
            points=Sum("points_spent_money"))
    )
    refunds = _refunds(terminal, actor_label, since).aggregate(
        refunds=Count("pk"), refunded=Sum("amount", default=0),
        points_reversed=Sum("points_reversed", default=0),
        points_returned=Sum("points_returned", default=0),
    )
    return Summary(
        **totals, **refunds, by_payment=by_payment,
        money=totals["total"] - totals["discounts"] - totals["paid_with_points"],
    )


def current(terminal: Terminal, cashier: Staff, actor: Actor) -> ShiftBook:
    """The cashier's shift at this device as it stands now."""
    shift = (Shift.objects.filter(terminal=terminal, cashier=cashier, closed_at__isnull=True)
             .first())
    last = (Shift.objects.filter(terminal=terminal, cashier=cashier, closed_at__isnull=False)
            .order_by("-closed_at").values_list("closed_at", flat=True).first())
    summary = summarise(terminal, cashier, actor.label, last)
    opened_at = shift.opened_at if shift is not None else None
    if opened_at is None and summary.sales + summary.refunds:
        opened_at = _first_record(terminal, cashier, actor.label, last)
    return ShiftBook(terminal=terminal, cashier=cashier, actor_label=actor.label, since=last,
                     shift=shift, opened_at=opened_at, summary=summary)


def _first_record(terminal, cashier, actor_label, since) -> datetime | None:
    moments = [
        _purchases(terminal, cashier, since).aggregate(at=Min("recorded_at"))["at"],
        _refunds(terminal, actor_label, since).aggregate(at=Min("occurred_at"))["at"],
    ]
    return min((at for at in moments if at is not None), default=None)


def open_shift(terminal: Terminal, cashier: Staff, actor: Actor) -> Shift:
    """Open the cashier's shift at this device now (the first sale would have opened it
    anyway); an open one is returned as it is."""
    book = current(terminal, cashier, actor)
    if book.shift is not None:
        return book.shift
    try:
        with transaction.atomic():
            shift = Shift.objects.create(merchant_id=terminal.merchant_id, terminal=terminal,
                                         cashier=cashier, opened_at=book.opened_at or clock.now())
    except IntegrityError:  # opened at the same moment from another tab
        return Shift.objects.get(terminal=terminal, cashier=cashier, closed_at__isnull=True)
    audit.record("processing.shift.opened", actor=actor, merchant=terminal.merchant, obj=shift)
    return shift


def close_shift(terminal: Terminal, cashier: Staff, actor: Actor) -> Shift:
    """Close the cashier's shift at this device: its summary is computed and kept. A shift
    with nothing in it and never opened cannot be closed."""
    with transaction.atomic():
        # Two closes at once (a double tap, two tabs) close one shift once: they queue on the
        # device's row, and the second then finds nothing left to close.
        Terminal.objects.select_for_update().filter(pk=terminal.pk).first()
        open_row = (Shift.objects.filter(terminal=terminal, cashier=cashier,
                                         closed_at__isnull=True).first())
        book = current(terminal, cashier, actor)
        if not book.is_open:
            raise Conflict(_("There is no open shift to close."))
        now = clock.now()
        shift = open_row or Shift(merchant_id=terminal.merchant_id, terminal=terminal,
                                  cashier=cashier, opened_at=book.opened_at)
        # The summary is of what was recorded up to this moment: everything recorded later
        # belongs to the next shift (the window is "after the last close").
        shift.closed_at = now
        shift.summary = book.summary.as_json()
        shift.save()
    audit.record("processing.shift.closed", actor=actor, merchant=terminal.merchant, obj=shift,
                 data={"sales": shift.summary["sales"], "money": shift.summary["money"]})
    return shift


def closed_shift(terminal: Terminal, cashier: Staff, shift_id: int) -> tuple[Shift, Summary]:
    """A closed shift of this cashier at this device with its kept summary (404 otherwise:
    another device's or another cashier's shift is not theirs to see)."""
    shift = Shift.objects.filter(
        Q(pk=shift_id) & Q(terminal=terminal, cashier=cashier, closed_at__isnull=False)
    ).first() if 0 < shift_id < 2**63 else None
    if shift is None:
        raise NotFound(_("No such shift."))
    return shift, Summary.from_json(shift.summary)
