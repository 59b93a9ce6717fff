"""Management API for promo codes (docs/campaigns.md, "Promo codes"): create, list with their
uses and revenue, one code, switch one off. The counter gives a code with a sale as the POS
API's `promo_code`."""

from datetime import date, datetime
from typing import Annotated

from ninja import Field, Schema, Status
from pydantic import ConfigDict, StrictInt

from kopilka.api.auth import ManagementToken, StaffSession, merchant_router, requires
from kopilka.api.schemas import Problem, StrictIn
from kopilka.campaigns import promo as promos
from kopilka.campaigns.models import PromoCode

router = merchant_router(tags=["Promo codes"], auth=[ManagementToken(), StaffSession()])
READ = {401: Problem, 403: Problem, 404: Problem, 422: Problem}
WRITE = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}
Count = Annotated[StrictInt, Field(gt=0, le=10**9)]


class PromoRuleIn(StrictIn):
    """Exactly one effect; percentages and multipliers as integers or decimal strings."""

    multiply_accrual: StrictInt | str | None = Field(
        None, description='Multiplies the accrual percent of the matching lines: 2 or "1.5" '
                          "(more than 1)", examples=[2])
    add_percent: StrictInt | str | None = Field(
        None, description='Percentage points added to the matching lines\' accrual: 3 or "2.5"')
    fixed_points: StrictInt | None = Field(
        None, description="Points added once to the check (program's minor units), spread over "
                          "the matching lines")
    product_groups: list[str] | None = Field(
        None, description="Only lines of these product groups (the POS's `product_group`); "
                          "omit for the whole check")


PROMO_EXAMPLE = {"code": "COFFEE2X", "name": "Double points on coffee in December",
                 "rule": {"multiply_accrual": 2, "product_groups": ["coffee"]},
                 "starts_on": "2026-12-01", "ends_on": "2026-12-31", "per_member": 1,
                 "max_uses": 500, "min_check": 30000}


class PromoCodeIn(StrictIn):
    model_config = ConfigDict(json_schema_extra={"examples": [PROMO_EXAMPLE]})

    code: str = Field(min_length=3, max_length=40,
                      description="3-32 Latin letters, digits, - or _; kept in upper case, "
                                  "unique in the merchant")
    name: str = Field("", max_length=200, description="What it is for (staff see it)")
    rule: PromoRuleIn = Field(description="What the code switches on for the purchase")
    starts_on: date = Field(description="First day, in the merchant's time zone")
    ends_on: date | None = Field(None, description="Last day; null: no end")
    store_ids: list[Annotated[StrictInt, Field(ge=1, le=2**63 - 1)]] = Field(
        [], max_length=1000, description="Stores where it works; empty: all")
    min_check: Annotated[StrictInt, Field(ge=0, le=10**13)] = Field(
        0, description="The check after the discount must be at least this (money minor units)")
    max_uses: Count | None = Field(None, description="Sales that may use it in total; 1: a "
                                                     "single-use code; null: no limit")
    per_member: Count | None = Field(None, description="Sales one member may use it in; 1: "
                                                       "once per member; null: no limit")


class PromoCodeOut(Schema):
    id: int
    code: str
    name: str
    rule: dict = Field(description="The rule as given (numbers as decimal strings)")
    starts_on: date
    ends_on: date | None
    store_ids: list[int]
    min_check: int
    max_uses: int | None
    per_member: int | None
    active: bool
    created_at: datetime
    deactivated_at: datetime | None
    uses: int = Field(description="Sales that used it and were not refunded in full")
    returned: int = Field(description="Sales that used it and were refunded in full (their use "
                                      "given back)")
    points: int = Field(description="Points it added to those sales")
    revenue: int = Field(description="What those sales brought after discounts and refunds "
                                     "(money minor units)")


def _out(stats: promos.Stats) -> dict:
    promo = stats.promo
    return {
        "id": promo.pk, "code": promo.code, "name": promo.name, "rule": promo.rule,
        "starts_on": promo.starts_on, "ends_on": promo.ends_on,
        "store_ids": sorted(store.pk for store in promo.stores.all()),
        "min_check": promo.min_check, "max_uses": promo.max_uses,
        "per_member": promo.per_member, "active": promo.active, "created_at": promo.created_at,
        "deactivated_at": promo.deactivated_at, "uses": stats.uses, "returned": stats.returned,
        "points": stats.points, "revenue": stats.revenue,
    }


def _one(merchant, promo: PromoCode) -> dict:
    return _out(promos.stats(merchant, [promo])[0])


@router.get("/promo-codes", response={200: list[PromoCodeOut], **READ},
            summary="List promo codes")
@requires("manage_campaigns")
def list_promo_codes(request):
    """The merchant's promo codes, newest first (at most 500), with their uses, points and
    revenue."""
    merchant = request.auth.merchant
    rows = PromoCode.objects.filter(merchant=merchant).prefetch_related("stores") \
        .order_by("-created_at", "-pk")[:500]
    return [_out(stats) for stats in promos.stats(merchant, rows)]


@router.post("/promo-codes", response={201: PromoCodeOut, **WRITE},
             summary="Create a promo code")
@requires("manage_campaigns")
def create_promo_code(request, payload: PromoCodeIn):
    """A code the cashier gives with a sale (`promo_code` of POST /pos/quote and
    /pos/purchases) to switch its rule on for that purchase. 409 when the code exists."""
    principal = request.auth
    data = payload.model_dump()
    rule = {key: value for key, value in data.pop("rule").items() if value is not None}
    created = promos.create(principal.merchant, actor=principal.actor, rule=rule,
                            stores=data.pop("store_ids"), **data)
    return Status(201, _one(principal.merchant, created))


@router.get("/promo-codes/{promo_id}", response={200: PromoCodeOut, **READ},
            summary="One promo code")
@requires("manage_campaigns")
def get_promo_code(request, promo_id: int):
    merchant = request.auth.merchant
    return _one(merchant, promos.get(merchant, promo_id))


@router.post("/promo-codes/{promo_id}/deactivate", response={200: PromoCodeOut, **WRITE},
             summary="Switch a promo code off")
@requires("manage_campaigns")
def deactivate_promo_code(request, promo_id: int):
    """For good: sales can no longer use it; its uses and figures stay. Repeating is harmless."""
    principal = request.auth
    promo = promos.deactivate(promos.get(principal.merchant, promo_id), actor=principal.actor)
    return _one(principal.merchant, promo)
