"""The processing centre's operations, one module per family; this module is their index.

- enrol.py     a member joins: account in the starting tier, welcome bonus
- sale.py      quote a basket, commit a purchase (`Sale`, `sale_from`, `commit_purchase`)
- refund.py    refund a purchase, or a terminal's receipt
- transfer.py  points from one member to another
- manual.py    the owner's allowances, grants and deductions by hand, tiers by hand
- queries.py   the reads API and web share: member card and history, purchases, refunds
- shifts.py    a cashier's shift at a counter device: live figures, open, close
- grants.py    points granted for a cause a feature owns (a campaign code), in its transaction
- _book.py     the account helpers the families share (private)

Each write is one transaction that locks the member's account first, lets `ledger` journal
what time has done (activation, expiry), then applies the program through the pure engine and
writes the result through `ledger`. Every write is idempotent by a client key (the receipt id
per source, the refund id per purchase, a transfer/adjustment key): a replay returns what the
first call did and changes nothing.

New code imports the family module it needs; the names below stay for the callers (and tests)
that know the operations by this module.
"""

from kopilka.processing.enrol import enrol
from kopilka.processing.manual import AdjustmentResult, adjust_points, assign_tier, set_allowance
from kopilka.processing.queries import MemberCard, lookup, member_card
from kopilka.processing.refund import RefundResult, refund_purchase, refund_receipt
from kopilka.processing.sale import (
    CLOCK_SKEW,
    EARLIEST_SALE,
    MAX_QUANTITY,
    PurchaseResult,
    Sale,
    commit_purchase,
    quote_purchase,
    sale_from,
)
from kopilka.processing.transfer import TransferResult, transfer_points

__all__ = [
    "CLOCK_SKEW", "EARLIEST_SALE", "MAX_QUANTITY", "AdjustmentResult", "MemberCard",
    "PurchaseResult", "RefundResult", "Sale", "TransferResult", "adjust_points", "assign_tier",
    "commit_purchase", "enrol", "lookup", "member_card", "quote_purchase", "refund_purchase",
    "refund_receipt", "sale_from", "set_allowance", "transfer_points",
]
