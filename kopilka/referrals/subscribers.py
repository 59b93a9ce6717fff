"""The referral program's part in enrolments, sales and refunds (CMP-3), as subscribers to
the domain events (kopilka/core/events.py), registered by ReferralsConfig.ready.

Each runs inside the operation's transaction and never on a replay: a reward is written
exactly when the sale is (the unique constraint per purchase and level backs it), and the
points move through processing (processing/referral.py, ledger cause "referral"). The sale's
and the refund's subscribers run first (`first=True`): they lock the referrers' accounts
right after the buyer's, before analytics' day cell that every sale of the day shares, so the
locks are always taken in one order (an account, its referrers up the chain, then the cell).
The enrolment's runs first as well: an invite-only refusal comes before anyone else's work.
"""

from datetime import timedelta
from decimal import Decimal

from kopilka.core import audit, clock, events
from kopilka.core.actor import Actor
from kopilka.messaging import services as messaging
from kopilka.processing import referral as points
from kopilka.programs import services as programs
from kopilka.programs.config import ReferralProgram
from kopilka.referrals import services
from kopilka.referrals.models import Referral, Reward

SYSTEM = Actor(kind="system", label="referrals")
BP = 10_000


def _bp(percent: Decimal) -> int:
    return int(percent * 100)


@events.subscribe(events.MemberEnrolled, first=True)
def enrolled(event: events.MemberEnrolled) -> None:
    """Record who recommended the newcomer and give the newcomer's gift; an invite-only
    program refuses a registration without a referrer who may invite (the enrolment rolls
    back)."""
    member, merchant = event.member, event.merchant
    config = services.referral_program(merchant)
    given = member.referrer_code
    if not given and (config is None or not config.invite_only):
        return
    referrer = services.resolve(merchant, given) if given else None
    if config is not None and config.invite_only and member.registered_via != "import":
        services.refuse_uninvited(merchant, referrer, config)
    if referrer is None or referrer.pk == member.pk:
        return
    now = clock.now()
    Referral.objects.create(merchant=merchant, newcomer=member, referrer=referrer,
                            given=given, registered_at=now)
    audit.record("referrals.referral.recorded", actor=SYSTEM, merchant=merchant, obj=member,
                 data={"referrer": referrer.pk})
    gift = config.newcomer_gift if config is not None else None
    if gift is not None:
        reward = Reward.objects.create(merchant=merchant, member=member, friend=member,
                                       level=0, points=gift.points, created_at=now)
        points.grant(member, points=gift.points, reward_id=reward.pk, at=now, actor=SYSTEM,
                     validity_days=gift.validity_days)


def reward_points(config: ReferralProgram, level: int, purchase, program) -> int:
    """What the referrer `level` levels up earns for `purchase` (level 1 = the buyer's own)."""
    rule = config.levels[level - 1]
    if config.basis == "fixed":
        return rule.points
    bp = _bp(rule.percent)
    if config.basis == "points":
        return purchase.points_accrued * bp // BP
    money = purchase.total - purchase.discount - purchase.points_spent_money
    return money * bp * program.point_units // (BP * program.point_money)


def _rewards_this(config: ReferralProgram, link: Referral, event) -> bool:
    if config.period == "first_purchase":
        return event.first
    return event.purchase.occurred_at <= link.registered_at + timedelta(days=config.days)


@events.subscribe(events.PurchaseCommitted, first=True)
def purchased(event: events.PurchaseCommitted) -> None:
    merchant, buyer, purchase = event.merchant, event.member, event.purchase
    program = programs.load(merchant)
    config = program.config.referral
    if config is None:
        return
    link = Referral.objects.filter(newcomer=buyer).first()
    if link is None or not _rewards_this(config, link, event):
        return
    now = clock.now()
    for level, referrer in enumerate(services.chain(buyer, len(config.levels)), start=1):
        earned = reward_points(config, level, purchase, program)
        if earned <= 0 or not points.may_receive(referrer):
            continue
        referrer.merchant = merchant
        reward = Reward.objects.create(merchant=merchant, member=referrer, friend=buyer,
                                       purchase=purchase, level=level, points=earned,
                                       created_at=now)
        balances = points.grant(referrer, points=earned, reward_id=reward.pk, at=now,
                                actor=SYSTEM, validity_days=config.validity_days)
        messaging.queue(merchant, event="referral_accrual", member=referrer, context={
            "name": referrer.first_name, "points": earned, "balance": balances.available})


def _proportional(total_points: int, refunded: int, paid: int) -> int:
    # The accrual's rule (processing/refund.py): cumulative, floor, all at the full refund.
    if paid <= 0:
        return total_points if refunded >= paid else 0
    return total_points * refunded // paid


@events.subscribe(events.PurchaseRefunded, first=True)
def refunded(event: events.PurchaseRefunded) -> None:
    """A refund takes back the purchase's referral rewards in proportion (no buying for a
    referrer's reward and returning the goods)."""
    purchase = event.purchase
    rewards = list(Reward.objects.filter(purchase=purchase, level__gte=1)
                   .select_related("member", "member__merchant").order_by("level"))
    if not rewards:
        return
    paid = purchase.total - purchase.discount
    for reward in rewards:
        target = _proportional(reward.points, purchase.refunded_amount, paid)
        due = target - reward.reversal_target
        if due <= 0:
            continue
        taken = points.take_back(reward.member, points=due, reward_id=reward.pk,
                                 at=event.at, actor=SYSTEM)
        reward.reversal_target = target
        reward.reversed += taken
        reward.save(update_fields=["reversal_target", "reversed"])
