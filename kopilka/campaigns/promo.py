"""Promo codes: a word such as COFFEE2X, given with one sale, switches on one accrual rule for
that purchase (Odoo's code-triggered rules, Voucherify's and Talon.One's coupons).

Not to be confused with the secret codes of `campaigns.services` (printed under caps, each
grants points by itself, once) nor with the one-time SMS codes of `kopilka.codes`.

- `create` / `deactivate`: the owner's side. A code has a rule (`programs.config.PromoRule`:
  a multiplier, an extra percent or fixed points, optionally on some product groups only),
  validity dates in the merchant's zone, the stores where it works (none: all), a minimum
  check, a limit of uses in total and per member.
- `for_sale(merchant, text, member=, store=, at=)`: the counter's side, before the sale — the
  code found and checked (dates, store, limits as they stand), as the engine's `Promo` for
  `processing.sale.sale_from(promo=...)`. The engine computes what it adds (`Quote.promo`);
  `refusal(quote)` turns a code the engine refused (minimum check, no line of its groups,
  nothing to add) into the error the caller answers.
- The use is recorded by a subscriber to the sale's event, inside the sale's transaction:
  the code's row is locked, every limit checked again, a `PromoUse` written and the counter
  moved. A limit reached meanwhile refuses the sale (409 on `promo_code`) and rolls all of it
  back — two sales racing for the last use: exactly one wins. A replayed receipt publishes no
  event: a use is recorded once.
- A refund of the whole purchase gives the use back (the limits count it no more, the
  statistics show it returned): the points the code added were taken back with the purchase's
  accrual, so nothing of the promotion was kept. A partial refund keeps the use.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.numbers import format_currency, get_currency_precision
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import formats, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from pydantic import ValidationError

from kopilka.campaigns.models import PromoCode, PromoUse
from kopilka.core import audit, clock, events
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, DomainError, InvalidInput, NotFound
from kopilka.processing.models import Purchase
from kopilka.processing.queries import terminal_source
from kopilka.programs import engine
from kopilka.programs.config import PromoRule
from kopilka.tenancy.models import Merchant, Store

FIELD = "promo_code"  # the field every refusal names, in the API and at the counter
CODE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
CODE_LENGTH = (3, 32)
MAX_MIN_CHECK = 10**13  # the API's bound for money


def normalise(text: str | None) -> str:
    """What the cashier typed or scanned, as codes are kept: upper case, no spaces."""
    return "".join((text or "").split()).upper()


def _money(amount: int, currency: str) -> str:
    value = Decimal(amount).scaleb(-get_currency_precision(currency))
    language = translation.get_language() or settings.LANGUAGE_CODE
    return format_currency(value, currency, locale=language.replace("-", "_"))


def _day(value: date) -> str:
    return formats.date_format(value, "SHORT_DATE_FORMAT")


def _local_day(merchant: Merchant, at: datetime) -> date:
    return at.astimezone(ZoneInfo(merchant.timezone)).date()


# --- the owner's side ------------------------------------------------------------------------


def create(merchant: Merchant, *, code: str, rule: dict | PromoRule, starts_on: date,
           actor: Actor, name: str = "", ends_on: date | None = None,
           stores=(), min_check: int = 0, max_uses: int | None = None,
           per_member: int | None = None) -> PromoCode:
    """A new promo code. `stores`: Store objects or ids of this merchant (none: all stores);
    `per_member` 1 makes it single-use per member, `max_uses` 1 a code only one sale uses."""
    text = normalise(code)
    if not CODE_LENGTH[0] <= len(text) <= CODE_LENGTH[1] or any(
            char not in CODE_CHARS for char in text):
        raise InvalidInput(_("A promo code has %(least)s to %(most)s Latin letters, digits, "
                             "hyphens or underscores.")
                           % {"least": CODE_LENGTH[0], "most": CODE_LENGTH[1]}, field="code")
    try:
        rule = rule if isinstance(rule, PromoRule) else PromoRule.model_validate(rule)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in ("rule", *first["loc"]))
        raise InvalidInput(_("The promo code's rule is not valid: %(problem)s")
                           % {"problem": first["msg"]}, field=where) from None
    if ends_on is not None and ends_on < starts_on:
        raise InvalidInput(_("The promo code cannot end before it starts."), field="ends_on")
    if type(min_check) is not int or not 0 <= min_check <= MAX_MIN_CHECK:
        raise InvalidInput(_("The minimum check must be zero or more."), field="min_check")
    for field, value in (("max_uses", max_uses), ("per_member", per_member)):
        if value is not None and (type(value) is not int or not 0 < value <= 10**9):
            raise InvalidInput(_("Must be a positive whole number or empty."), field=field)
    chosen = _stores(merchant, stores)
    try:
        with transaction.atomic():
            promo = PromoCode.objects.create(
                merchant=merchant, code=text, name=(name or "").strip()[:200],
                rule=rule.model_dump(mode="json", exclude_none=True), starts_on=starts_on,
                ends_on=ends_on, min_check=min_check, max_uses=max_uses,
                per_member=per_member, created_at=clock.now())
            if chosen:
                promo.stores.set(chosen)
            audit.record("campaigns.promo.created", actor=actor, merchant=merchant, obj=promo,
                         data={"code": promo.code, "rule": promo.rule,
                               "stores": [store.pk for store in chosen]})
    except IntegrityError:
        if PromoCode.objects.filter(merchant=merchant, code=text).exists():
            raise Conflict(_("The promo code %(code)s exists already.") % {"code": text},
                           field="code") from None
        raise
    return promo


def _stores(merchant: Merchant, stores) -> list[Store]:
    ids = [store.pk if isinstance(store, Store) else store for store in stores or ()]
    if any(type(pk) is not int for pk in ids):
        raise InvalidInput(_("Stores are given by their ids."), field="store_ids")
    found = list(Store.objects.filter(merchant=merchant, pk__in=ids))
    if len(found) != len(set(ids)):
        raise InvalidInput(_("No such store."), field="store_ids")
    return found


def deactivate(promo: PromoCode, *, actor: Actor) -> PromoCode:
    """Switch a code off for good; its uses and statistics stay. Doing it twice is a no-op."""
    with transaction.atomic():
        promo = PromoCode.objects.select_for_update().get(pk=promo.pk)
        if promo.active:
            promo.active = False
            promo.deactivated_at = clock.now()
            promo.save(update_fields=["active", "deactivated_at"])
            audit.record("campaigns.promo.deactivated", actor=actor, merchant=promo.merchant,
                         obj=promo, data={"code": promo.code})
    return promo


def get(merchant: Merchant, promo_id: int) -> PromoCode:
    found = PromoCode.objects.filter(merchant=merchant, pk=promo_id).first()
    if found is None:
        raise NotFound(_("No such promo code."))
    return found


def product_groups_in_use(merchant: Merchant) -> list[str]:
    """The product groups named by the codes that are on and not over (the counter offers to
    split a sale by them), in the order the codes were made."""
    today = _local_day(merchant, clock.now())
    found: list[str] = []
    for rule in PromoCode.objects.filter(merchant=merchant, active=True).filter(
            Q(ends_on__isnull=True) | Q(ends_on__gte=today)).order_by("pk") \
            .values_list("rule", flat=True):
        for group in rule.get("product_groups") or ():
            if group not in found:
                found.append(group)
    return found


def rule_of(promo: PromoCode) -> PromoRule:
    return PromoRule.model_validate(promo.rule)


@dataclass(frozen=True)
class Stats:
    promo: PromoCode
    uses: int  # sales with the code, not refunded in full
    returned: int  # sales with the code refunded in full (their use given back)
    points: int  # points the code added to those sales
    revenue: int  # what those sales brought, net of refunds (money minor units)


def stats(merchant: Merchant, promos) -> list[Stats]:
    """Uses, returned uses, points added and revenue per code, in one query."""
    promos = list(promos)
    kept = Q(returned_at__isnull=True)
    rows = {row["promo"]: row for row in PromoUse.objects.filter(
        merchant=merchant, promo__in=[promo.pk for promo in promos]).values("promo").annotate(
        uses=Count("pk", filter=kept), returned=Count("pk", filter=~kept),
        points=Sum("points", filter=kept),
        revenue=Sum(F("purchase__total") - F("purchase__discount")
                    - F("purchase__refunded_amount"), filter=kept))}
    empty = {"uses": 0, "returned": 0, "points": 0, "revenue": 0}
    return [Stats(promo, *(rows.get(promo.pk, empty)[key] or 0
                           for key in ("uses", "returned", "points", "revenue")))
            for promo in promos]


# --- the counter's side ----------------------------------------------------------------------


def _unknown(text: str) -> InvalidInput:
    return InvalidInput(_("There is no promo code %(code)s.") % {"code": text or "—"},
                        field=FIELD)


def _check(promo: PromoCode, *, member, store_id: int | None, day: date) -> None:
    """Every condition of the code but the ones the engine checks (minimum check, groups)."""
    code = promo.code
    if not promo.active:
        raise InvalidInput(_("The promo code %(code)s is switched off.") % {"code": code},
                           field=FIELD)
    if day < promo.starts_on:
        raise InvalidInput(_("The promo code %(code)s works from %(day)s.")
                           % {"code": code, "day": _day(promo.starts_on)}, field=FIELD)
    if promo.ends_on is not None and day > promo.ends_on:
        raise InvalidInput(_("The promo code %(code)s ended on %(day)s.")
                           % {"code": code, "day": _day(promo.ends_on)}, field=FIELD)
    allowed = {store.pk for store in promo.stores.all()}
    if allowed and store_id not in allowed:
        raise InvalidInput(_("The promo code %(code)s does not work in this store.")
                           % {"code": code}, field=FIELD)
    if promo.max_uses is not None and promo.uses >= promo.max_uses:
        raise Conflict(_("The promo code %(code)s has been used up.") % {"code": code},
                       field=FIELD)
    if promo.per_member is not None:
        used = PromoUse.objects.filter(promo=promo, member=member,
                                       returned_at__isnull=True).count()
        if used >= promo.per_member:
            raise Conflict(ngettext(
                "This customer has used the promo code %(code)s already (%(count)s time is "
                "the most).",
                "This customer has used the promo code %(code)s already (%(count)s times are "
                "the most).", promo.per_member) % {"code": code, "count": promo.per_member},
                field=FIELD)


def for_sale(merchant: Merchant, text: str, *, member, store=None, at: datetime | None = None,
             terminal=None, receipt_id: str | None = None) -> engine.Promo | None:
    """The code given with a sale, checked as things stand (no lock: the sale's subscriber
    checks again under the code's lock), as the engine's input. For a commit, the terminal
    and the receipt id: None when that receipt was committed already — the retry answers
    what the first commit did, and must not be refused for the use that commit made."""
    if receipt_id and terminal is not None and Purchase.objects.filter(
            merchant=merchant, source=terminal_source(terminal),
            receipt_id=receipt_id.strip()).exists():
        return None
    code = normalise(text)
    promo = PromoCode.objects.filter(merchant=merchant, code=code).first() if code else None
    if promo is None:
        raise _unknown(code)
    try:
        day = _local_day(merchant, at or clock.now())
    except (OverflowError, ValueError):  # an impossible sale time: processing refuses it
        day = _local_day(merchant, clock.now())
    _check(promo, member=member, store_id=store.pk if store is not None else None, day=day)
    return engine.Promo(code=promo.code, rule=rule_of(promo), min_check=promo.min_check,
                        ref=promo.pk)


def _refused(promo: PromoCode, refusal: str, currency: str) -> DomainError:
    code = promo.code
    if refusal == "min_check":
        return InvalidInput(_("The promo code %(code)s needs a check of at least %(amount)s.")
                            % {"code": code, "amount": _money(promo.min_check, currency)},
                            field=FIELD)
    if refusal == "product_groups":
        groups = ", ".join(rule_of(promo).product_groups or ())
        return InvalidInput(_("The promo code %(code)s works on %(groups)s only, and this check "
                              "has none.") % {"code": code, "groups": groups}, field=FIELD)
    return InvalidInput(_("The promo code %(code)s adds no points to this check.")
                        % {"code": code}, field=FIELD)


def refusal(merchant: Merchant, quote: engine.Quote) -> DomainError | None:
    """Why the quote's promo code cannot be used with this basket, or None."""
    outcome = quote.promo
    if outcome is None or outcome.applied:
        return None
    promo = PromoCode.objects.filter(merchant=merchant, pk=outcome.ref).first()
    if promo is None:
        return _unknown(outcome.code)
    return _refused(promo, outcome.refusal or "nothing", merchant.currency)


# --- the sale's and the refund's subscribers -------------------------------------------------


@events.subscribe(events.PurchaseCommitted)
def record_use(event: events.PurchaseCommitted) -> None:
    """The sale's promo code used, in the sale's transaction, once: under the code's lock
    every limit is checked again; a refusal rolls the whole sale back."""
    purchase = event.purchase
    given = purchase.quote.get("promo")
    if not given:
        return
    merchant = event.merchant
    promo = (PromoCode.objects.select_for_update()
             .filter(merchant=merchant, pk=given.get("id")).first())
    if promo is None:
        raise _unknown(given.get("code", ""))
    if not given.get("applied"):
        raise _refused(promo, given.get("refusal") or "nothing", merchant.currency)
    _check(promo, member=event.member, store_id=purchase.store_id,
           day=_local_day(merchant, purchase.occurred_at))
    PromoUse.objects.create(merchant=merchant, promo=promo, member=event.member,
                            purchase=purchase, store_id=purchase.store_id,
                            points=given.get("points", 0), at=purchase.recorded_at)
    PromoCode.objects.filter(pk=promo.pk).update(uses=F("uses") + 1)


@events.subscribe(events.PurchaseRefunded)
def give_back(event: events.PurchaseRefunded) -> None:
    """A purchase refunded in full gives its promo code's use back (docs/campaigns.md)."""
    purchase = event.purchase
    given = purchase.quote.get("promo")
    if not given or not given.get("applied"):
        return
    if purchase.refunded_amount < purchase.total - purchase.discount:
        return  # a partial refund keeps the use
    use = PromoUse.objects.filter(purchase=purchase, returned_at__isnull=True).first()
    if use is None:
        return
    PromoCode.objects.select_for_update().filter(pk=use.promo_id).first()  # the code's lock
    use.returned_at = event.at
    use.save(update_fields=["returned_at"])
    PromoCode.objects.filter(pk=use.promo_id).update(uses=F("uses") - 1)
