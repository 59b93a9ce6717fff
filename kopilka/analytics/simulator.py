"""The program simulator: replay the last N days of the merchant's real purchases under the
current program and under a proposed one, with the real engine (`programs.engine.quote`) and
no writes, and compare points issued, discounts, points spent and the liability they add.

Both programs are replayed the same way, so the difference is the programs' alone:
- purchases in the order they were made; each member starts the window with the lifetime
  spend they had before it (their account's, less what the window's purchases added) and the
  tier that spend earns under the program replayed, and gains spend and purchases as they buy;
- each check is one basket line of its recorded total (rules on product groups or SKUs see no
  lines: the sale's lines are not kept), at its own moment, store and cashier;
- a member asks to spend what they really spent, and may (the replay grants them that many
  points), so the program's redemption limit decides what is spent;
- the liability a program adds is the money value of the points it issued less those spent,
  at that program's point value. Refunds are left out: a refund undoes what it undoes under
  either program.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils.translation import gettext as _

from kopilka.core import clock
from kopilka.core.errors import InvalidInput
from kopilka.processing.models import Purchase
from kopilka.programs import engine
from kopilka.programs import services as programs
from kopilka.tenancy.models import Merchant

MAX_DAYS = 366
MAX_PURCHASES = 200_000  # a request's worth; the cabinet says when the window was cut


@dataclass
class Totals:
    purchases: int = 0
    total: int = 0  # money: the checks before discounts
    discount: int = 0
    points_issued: int = 0
    points_spent: int = 0
    points_spent_money: int = 0
    payable: int = 0  # what members paid in money
    liability: int = 0  # money value of issued - spent
    tiers: dict[str, int] = field(default_factory=dict)  # purchases per tier

    @property
    def cost(self) -> int:
        """What the program gave away: discounts, points paid with, the liability added."""
        return self.discount + self.points_spent_money + self.liability


@dataclass(frozen=True)
class Result:
    days: int
    purchases: int
    cut: bool  # more purchases than MAX_PURCHASES: only the latest were replayed
    current: Totals
    proposed: Totals


def proposed_config(config: dict) -> engine.CompiledProgram:
    """The proposal validated as a program is (InvalidInput naming the field)."""
    return engine.compile_program(programs.validate(config))


def _worth(program: engine.CompiledProgram, points: int) -> int:
    rate = program.config.point_value
    sign = -1 if points < 0 else 1
    return sign * ((abs(points) * rate.money * 2 + rate.points) // (rate.points * 2))


def simulate(merchant: Merchant, config: dict, days: int = 30) -> Result:
    if type(days) is not int or not 1 <= days <= MAX_DAYS:
        raise InvalidInput(_("Days: a whole number from 1 to %(max)s.") % {"max": MAX_DAYS},
                           field="days")
    proposed = proposed_config(config)
    current = programs.load(merchant)
    since = clock.now() - timedelta(days=days)
    rows = list(Purchase.objects.filter(merchant=merchant, occurred_at__gte=since)
                .order_by("-occurred_at", "-pk")
                .values_list("member_id", "occurred_at", "store_id", "cashier_id", "total",
                             "points_spent", "account__lifetime_spend",
                             "account__purchase_count", "discount", "refunded_amount")
                [:MAX_PURCHASES + 1])
    cut = len(rows) > MAX_PURCHASES
    rows = rows[:MAX_PURCHASES]
    rows.reverse()
    # What the window added to each account, to start each member where they stood before it.
    added: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for member_id, *_rest, discount, refunded in rows:
        added[member_id][0] += _rest[3] - discount - refunded  # what it added to the spend
        added[member_id][1] += 1
    return Result(days=days, purchases=len(rows), cut=cut,
                  current=_replay(current, rows, added, merchant.timezone),
                  proposed=_replay(proposed, rows, added, merchant.timezone))


def _replay(program: engine.CompiledProgram, rows: list, added: dict, zone: str) -> Totals:
    totals = Totals()
    spend: dict[int, int] = {}
    count: dict[int, int] = {}
    tiers: dict[int, str] = {}
    for (member_id, at, store_id, cashier_id, total, spent, lifetime, purchases, _discount,
         _refunded) in rows:
        if member_id not in spend:
            spend[member_id] = max((lifetime or 0) - added[member_id][0], 0)
            count[member_id] = max((purchases or 0) - added[member_id][1], 0)
            tiers[member_id] = engine.tier_for_lifetime(program, spend[member_id],
                                                        program.start_tier)
        state = engine.MemberState(tier_code=tiers[member_id], lifetime_spend=spend[member_id],
                                   available_points=spent, purchase_count=count[member_id])
        found = engine.quote(program, state, engine.Basket(
            lines=(engine.BasketLine(line_id="1", amount=total),)), engine.QuoteContext(
            at=at, tz=zone, store_id=store_id, cashier_id=cashier_id, points_to_spend=spent))
        totals.purchases += 1
        totals.total += total
        totals.discount += found.discount
        totals.points_issued += found.accrual_points
        totals.points_spent += found.points_spent
        totals.points_spent_money += found.points_spent_money
        totals.payable += found.payable
        totals.tiers[found.tier_code] = totals.tiers.get(found.tier_code, 0) + 1
        spend[member_id] += total - found.discount
        count[member_id] += 1
        tiers[member_id] = engine.tier_for_lifetime(program, spend[member_id], tiers[member_id])
    totals.liability = _worth(program, totals.points_issued - totals.points_spent)
    return totals
