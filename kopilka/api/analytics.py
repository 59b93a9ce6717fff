"""Management API for the 17 figures (ANL-1): one read, the period and its predecessor.
Definitions in docs/analytics.md."""

import re
from datetime import date
from typing import Annotated

from ninja import Field, Query, Schema
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from kopilka.analytics import figures as analytics
from kopilka.api.auth import ManagementToken, StaffSession, merchant_router, requires
from kopilka.api.schemas import CleanIn, Id, Problem
from kopilka.automation import winback
from kopilka.messaging import billing

router = merchant_router(tags=["Analytics"], auth=[ManagementToken(), StaffSession()])
ERRORS = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 422: Problem}
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_day_text(value):
    """Pydantic also reads "0" as a day (of 1970): a period's day is YYYY-MM-DD only."""
    if not (isinstance(value, str) and ISO_DAY.fullmatch(value)):
        raise PydanticCustomError("date_parsing", "Input should be a date as YYYY-MM-DD",
                                  {"error": "not YYYY-MM-DD"})
    return value


Day = Annotated[date, BeforeValidator(_iso_day_text)]


class FiguresQuery(CleanIn):
    since: Day | None = Field(
        None, description="First local day of the period (the merchant's time zone), "
        f"inclusive; default: {analytics.DEFAULT_DAYS - 1} days before `until`")
    until: Day | None = Field(
        None, description="Last local day of the period, inclusive; default: today")
    store: Id | None = Field(None, description="Only this store's sales (figures 1-7)")
    cashier: Id | None = Field(None, description="Only this cashier's sales (figures 1-7)")


class PeriodOut(Schema):
    since: date
    until: date
    days: int


class FigureOut(Schema):
    number: int = Field(description="The figure's number in ANL-1 (1-17); some have parts")
    key: str = Field(description="What it is: revenue, checks, average_check, ... "
                     "(docs/analytics.md)")
    unit: str = Field(description="money (minor units; SMS in the billing currency), points "
                      "or count")
    scope: str = Field(description="`selection`: follows store and cashier; `merchant`: "
                       "the whole merchant whatever the filter")
    topic: str | None = Field(description="Figure 11 per message event; null: all of them")
    value: int
    previous: int = Field(description="The same figure in the previous period")
    change: int = Field(description="value - previous")
    change_percent: float | None = Field(
        description="The change in per cent of the previous value, one decimal; null when "
        "the previous value is 0")


class FiguresOut(Schema):
    period: PeriodOut
    previous: PeriodOut = Field(description="The period of equal length just before")
    store: int | None
    cashier: int | None
    currency: str = Field(description="The merchant's currency (money figures but SMS)")
    sms_currency: str = Field(description="The currency SMS are billed in (figures 11, 16)")
    lost_after_days: int = Field(description="The merchant's setting figure 10 uses")
    reviews_available: bool = Field(
        description="Whether figures 12-15 count reviews (true since the reviews feature)")
    figures: list[FigureOut]


def _period_out(span: analytics.Period) -> dict:
    return {"since": span.start, "until": span.end, "days": span.days}


@router.get("/analytics/figures", response={200: FiguresOut, **ERRORS})
@requires("read_analytics")
def get_figures(request, query: Query[FiguresQuery]):
    """The 17 figures of a period beside those of the period before it: revenue, checks,
    averages and points of the sales (by store and cashier if asked), the member base at the
    period's end, SMS spending by topic, reviews, win-back. Another merchant's store or
    cashier is 404. Owners, admins and managers."""
    merchant = request.auth.merchant
    found = analytics.report(merchant, query.since, query.until, store_id=query.store,
                             cashier_id=query.cashier, winback=winback.figures)
    return {
        "period": _period_out(found.period), "previous": _period_out(found.previous),
        "store": found.store_id, "cashier": found.cashier_id,
        "currency": merchant.currency, "sms_currency": billing.currency(),
        "lost_after_days": found.lost_after_days,
        "reviews_available": found.reviews_available,
        "figures": [{"number": figure.number, "key": figure.key, "unit": figure.unit,
                     "scope": figure.scope, "topic": figure.topic, "value": figure.value,
                     "previous": figure.previous, "change": figure.change,
                     "change_percent": figure.change_percent}
                    for figure in found.figures],
    }
