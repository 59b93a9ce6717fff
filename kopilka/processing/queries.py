"""The reads the API and the browser faces share: a member's card and points history, a
purchase by its receipt, purchases and refunds as filtered lists.

Every function takes the merchant and filters by it explicitly (besides the tenant scope the
caller has entered): a query module is where a forgotten filter would leak another merchant's
rows. Lists are returned as querysets, newest first when paged by the caller (the API pages by
id, see api/schemas.py `paginate`), so a page costs one query whatever face asks.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from kopilka.core import clock
from kopilka.core.errors import NotFound
from kopilka.ledger import services as ledger
from kopilka.ledger.models import Account, Entry
from kopilka.members import services as members
from kopilka.members.models import Member
from kopilka.processing import _book
from kopilka.processing.models import Purchase, Refund
from kopilka.programs import engine
from kopilka.programs import services as programs
from kopilka.tenancy.models import Merchant


@dataclass
class MemberCard:
    member: Member
    account: Account
    available: int
    pending: int
    hints: tuple[engine.Hint, ...]
    tier: str  # the account's, or the starting tier if the program no longer has that one


def member_card(merchant: Merchant, member: Member, at: datetime | None = None) -> MemberCard:
    """Balances, tier and cashier hints as of `at` — computed, not dependent on jobs."""
    at = at or clock.now()
    program = programs.load(merchant)
    account = _book.account(member, program)
    balances = ledger.balances(account, at)
    hints = engine.hints_for(program, _book.state(program, member, account, balances), at,
                             merchant.timezone)
    return MemberCard(member, account, balances.available, balances.pending, hints,
                      _book.tier_in(program, account))


def lookup(merchant: Merchant, *, phone=None, card=None, qr=None) -> MemberCard:
    """The card of the member a phone number, card number or member-page QR token names."""
    member = members.find_member(merchant, phone=phone, card=card, qr=qr)
    return member_card(merchant, member)


def member_history(merchant: Merchant, member: Member, *, before: int | None = None,
                   limit: int) -> tuple[list[Entry], int | None]:
    """One page of every change of the member's points (the ledger's entries), newest first:
    the entries and the `seq` to pass as `before` for the next page (None at the end)."""
    rows = Entry.objects.filter(merchant=merchant, account__member=member)
    if before is not None:
        rows = rows.filter(seq__lt=before)
    found = list(rows.order_by("-seq")[: limit + 1])
    more = len(found) > limit
    found = found[:limit]
    return found, (found[-1].seq if more else None)


def terminal_source(terminal) -> str:
    """The idempotency scope of a terminal's receipts: receipt ids are unique per source."""
    return f"terminal:{terminal.pk}"


def purchase_for_receipt(merchant: Merchant, *, terminal, receipt_id: str) -> Purchase:
    """The purchase a terminal recorded under `receipt_id` (404 naming receipt_id if none)."""
    purchase = Purchase.objects.filter(
        merchant=merchant, source=terminal_source(terminal), receipt_id=receipt_id,
    ).first()
    if purchase is None:
        raise NotFound(_("No purchase with receipt %(receipt)r.") % {"receipt": receipt_id},
                       field="receipt_id")
    return purchase


def _given(**lookups) -> dict:
    return {lookup: value for lookup, value in lookups.items() if value is not None}


def _between(rows: QuerySet, field: str, since: datetime | None,
             until: datetime | None) -> QuerySet:
    if since is not None:
        rows = rows.filter(**{f"{field}__gte": since})
    if until is not None:
        rows = rows.filter(**{f"{field}__lt": until})
    return rows


def purchases(merchant: Merchant, *, member_id: int | None = None, store_id: int | None = None,
              terminal_id: int | None = None, receipt_id: str | None = None,
              since: datetime | None = None, until: datetime | None = None) -> QuerySet:
    """The merchant's purchases matching every filter given; `since` (inclusive) and `until`
    (exclusive) bound the time of sale."""
    rows = Purchase.objects.filter(merchant=merchant, **_given(
        member_id=member_id, store_id=store_id, terminal_id=terminal_id, receipt_id=receipt_id,
    ))
    return _between(rows, "occurred_at", since, until)


def purchase(merchant: Merchant, purchase_id: int) -> Purchase:
    """One purchase with its lines and refunds prefetched (404 naming purchase_id if none)."""
    found = Purchase.objects.filter(
        merchant=merchant, pk=purchase_id
    ).prefetch_related("lines", "refunds").first()
    if found is None:
        raise NotFound(_("No purchase %(id)s.") % {"id": purchase_id}, field="purchase_id")
    return found


def refunds(merchant: Merchant, *, purchase_id: int | None = None,
            member_id: int | None = None, store_id: int | None = None,
            refund_id: str | None = None, since: datetime | None = None,
            until: datetime | None = None) -> QuerySet:
    """The merchant's refunds matching every filter given, each with its purchase joined;
    `since` and `until` bound the time of the refund."""
    rows = Refund.objects.filter(merchant=merchant, **_given(
        purchase_id=purchase_id, purchase__member_id=member_id,
        purchase__store_id=store_id, refund_id=refund_id,
    )).select_related("purchase")
    return _between(rows, "occurred_at", since, until)


def refund(merchant: Merchant, refund_pk: int) -> Refund:
    """One refund by its own id, with its purchase (404 naming refund_id if none)."""
    found = Refund.objects.filter(
        merchant=merchant, pk=refund_pk
    ).select_related("purchase").first()
    if found is None:
        raise NotFound(_("No refund %(id)s.") % {"id": refund_pk}, field="refund_id")
    return found
