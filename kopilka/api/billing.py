"""The operator's billing API (OPS-4) and the payment provider's webhook (docs/billing.md).

The platform operator calls `/api/v1/operator/billing/...` with
`Authorization: Bearer <KOPILKA_BILLING_OPERATOR_TOKEN>` (refused while the setting is empty):
plans, subscriptions, balances and debts, top-ups and statements. The calls act across
merchants, so each one enters the merchant's scope it names by slug.

A payment provider notifies `POST /api/v1/billing/payments` with the body signed by
HMAC-SHA256 under `KOPILKA_BILLING_WEBHOOK_SECRET`: `X-Kopilka-Signature: sha256=<hex>`. A
payment is recorded once per `payment_id`; a repeated notice answers 200 with the same entry.
"""

import hashlib
import hmac
import json
from datetime import date

from django.conf import settings
from django.utils.translation import gettext as _
from django_scopes import scope, scopes_disabled
from ninja import Field, Router, Schema, Status
from ninja.security import HttpBearer
from pydantic import ValidationError as PydanticError

from kopilka.api.auth import client_ip
from kopilka.api.schemas import Problem, StrictIn
from kopilka.billing import limits, services, statements
from kopilka.billing.models import Account, Plan
from kopilka.core.actor import Actor
from kopilka.core.errors import InvalidInput, NotFound
from kopilka.core.problem import problem
from kopilka.tenancy import services as tenancy


class OperatorToken(HttpBearer):
    """`Authorization: Bearer <KOPILKA_BILLING_OPERATOR_TOKEN>`."""

    def authenticate(self, request, token):
        secret = settings.BILLING_OPERATOR_TOKEN
        if not secret or not hmac.compare_digest(token.encode(), secret.encode()):
            return None
        return Actor(kind="operator", label="operator api", ip=client_ip(request))


router = Router(tags=["Operator billing"], auth=OperatorToken())
payments = Router(tags=["Operator billing"])


class PlanIn(StrictIn):
    code: str = Field(pattern=r"^[-a-z0-9_]{1,40}$")
    name: str = Field(min_length=1, max_length=100)
    kind: str = Field("period", description="`period` (paid at the start of each period) or "
                                            "`daily` (a daily debit)")
    months: int = Field(1, ge=1, le=120)
    monthly_price: int = Field(0, ge=0, le=services.MAX_AMOUNT, description="Minor units")
    discount_percent: int = Field(0, ge=0, le=100)
    daily_price: int = Field(0, ge=0, le=services.MAX_AMOUNT, description="Minor units")
    max_stores: int | None = Field(None, ge=0, le=services.MAX_LIMIT,
                                   description="Open stores at most; null: no limit")
    max_members: int | None = Field(None, ge=0, le=services.MAX_LIMIT,
                                    description="Members at most (never refused at the "
                                                "counter); null: no limit")


class PlanOut(Schema):
    code: str
    name: str
    kind: str
    months: int
    monthly_price: int
    discount_percent: int
    period_price: int = Field(description="monthly_price x months x (100 - discount) / 100, "
                                          "rounded half up to the minor unit")
    daily_price: int
    max_stores: int | None
    max_members: int | None
    active: bool


class SubscriptionIn(StrictIn):
    plan: str = Field(description="The plan's code")
    start: date | None = Field(None, description="First local day; default: today")


class AccountOut(Schema):
    merchant: str
    balance: int = Field(description="Minor units; below zero: a debt")
    currency: str
    plan: str | None
    next_charge_on: date | None
    overdue_since: date | None
    read_only: bool
    stores: int = Field(description="Open stores now")
    max_stores: int | None = Field(description="The plan's limit; null: none")
    members: int = Field(description="Members now (not erased)")
    max_members: int | None = Field(description="The plan's limit; null: none")
    over_limits: list[str] = Field(description="The limits exceeded now: max_stores, "
                                               "max_members (members who joined at the "
                                               "counter are never refused)")


class TopUpIn(StrictIn):
    amount: int = Field(ge=1, le=services.MAX_AMOUNT, description="Minor units")
    note: str = Field("", max_length=services.MAX_NOTE)
    payment_id: str = Field("", max_length=100, description="Records the payment once")


class BillingEntryOut(Schema):
    id: int
    kind: str
    day: date
    amount: int
    balance_after: int
    note: str


class StatementOut(Schema):
    merchant: str
    start: date
    end: date
    currency: str
    opening: int
    charges: int
    payments: int
    closing: int
    sms_cost: int = Field(description="The SMS account's charges less refunds in the period")
    entries: list[BillingEntryOut]


def _plan_out(plan: Plan) -> dict:
    return {name: getattr(plan, name) for name in PlanOut.model_fields}


def _account_out(merchant) -> dict:
    sub = services.subscription(merchant)
    usage = limits.usage(merchant, sub.plan if sub else None)
    return {"merchant": merchant.slug, "balance": services.account(merchant).balance,
            "currency": services.sms.currency(), "plan": sub.plan.code if sub else None,
            "next_charge_on": sub.next_charge_on if sub else None,
            "overdue_since": sub.overdue_since if sub else None,
            "read_only": services.read_only(merchant),
            "stores": usage.stores, "max_stores": usage.max_stores,
            "members": usage.members, "max_members": usage.max_members,
            "over_limits": usage.over}


# What every operator route may answer besides its own: no or a wrong operator token; and for
# a body, one that is not JSON.
AUTH = {401: Problem}
WRITE = {400: Problem, 401: Problem}


def _entry_out(entry) -> dict:
    return {"id": entry.pk, "kind": entry.kind, "day": entry.day, "amount": entry.amount,
            "balance_after": entry.balance_after, "note": entry.note}


@router.get("/plans", response={200: list[PlanOut], **AUTH}, summary="The plans")
def list_plans(request):
    return [_plan_out(plan) for plan in Plan.objects.order_by("code")]


@router.put("/plans/{code}", response={200: PlanOut, 422: Problem, **WRITE},
            summary="Create or change a plan")
def put_plan(request, code: str, body: PlanIn):
    if body.code != code:
        raise InvalidInput(_("Must be the code in the address."), field="code")
    plan = services.save_plan(**body.model_dump(), actor=request.auth)
    return _plan_out(plan)


@router.get("/accounts", response={200: list[AccountOut], **AUTH},
            summary="Every merchant's balance, debts first")
def list_accounts(request, debt: bool = False):
    with scopes_disabled():
        rows = Account.objects.select_related("merchant").order_by("balance", "merchant_id")
        if debt:
            rows = rows.filter(balance__lt=0)
        merchants = [row.merchant for row in rows]
    out = []
    for merchant in merchants:
        with scope(merchant=merchant):
            out.append(_account_out(merchant))
    return out


@router.get("/merchants/{slug}", response={200: AccountOut, 404: Problem, **AUTH},
            summary="A merchant's balance and subscription")
def get_account(request, slug: str):
    merchant = tenancy.get_merchant(slug)
    with scope(merchant=merchant):
        return _account_out(merchant)


@router.put("/merchants/{slug}/subscription", response={200: AccountOut, 404: Problem,
                                                        422: Problem, **WRITE},
            summary="Put a merchant on a plan")
def put_subscription(request, slug: str, body: SubscriptionIn):
    merchant = tenancy.get_merchant(slug)
    plan = Plan.objects.filter(code=body.plan).first()
    if plan is None:
        raise NotFound(_("No plan with code %(code)r.") % {"code": body.plan}, field="plan")
    with scope(merchant=merchant):
        services.subscribe(merchant, plan, start=body.start, actor=request.auth)
        return _account_out(merchant)


@router.post("/merchants/{slug}/top-ups", response={201: BillingEntryOut, 404: Problem,
                                                    409: Problem, 422: Problem, **WRITE},
             summary="Record money the merchant paid")
def post_top_up(request, slug: str, body: TopUpIn):
    merchant = tenancy.get_merchant(slug)
    with scope(merchant=merchant):
        entry = services.top_up(merchant, body.amount, note=body.note, key=body.payment_id,
                                actor=request.auth)
    return Status(201, _entry_out(entry))


@router.get("/merchants/{slug}/statement", response={200: StatementOut, 404: Problem,
                                                     422: Problem, **AUTH},
            summary="The statement of a period of local days")
def get_statement(request, slug: str, start: date, end: date):
    if end < start or (end - start).days > 1830:
        raise InvalidInput(_("Must not be before the start."), field="end")
    merchant = tenancy.get_merchant(slug)
    with scope(merchant=merchant):
        found = statements.statement(merchant, start, end)
    return {"merchant": merchant.slug, "start": start, "end": end, "currency": found.currency,
            "opening": found.opening, "charges": found.charges, "payments": found.payments,
            "closing": found.closing, "sms_cost": found.sms_cost,
            "entries": [_entry_out(entry) for entry in found.entries]}


class PaymentIn(StrictIn):
    merchant: str = Field(min_length=1, max_length=100, description="The merchant's slug")
    amount: int = Field(ge=1, le=services.MAX_AMOUNT, description="Minor units")
    payment_id: str = Field(min_length=1, max_length=100)
    note: str = Field("", max_length=services.MAX_NOTE)


def signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@payments.post("/billing/payments", response={200: BillingEntryOut, 201: BillingEntryOut,
                                              400: Problem, 401: Problem,
                                              404: Problem, 422: Problem},
               summary="A payment provider's notice (signed)", auth=None)
def post_payment(request):
    secret = settings.BILLING_WEBHOOK_SECRET
    given = request.headers.get("X-Kopilka-Signature", "")
    if not secret or not hmac.compare_digest(given.encode(),
                                             signature(request.body, secret).encode()):
        return problem(401, "unauthenticated", _("Missing or invalid credentials."),
                       _("The signature does not match the body."))
    try:
        body = PaymentIn.model_validate(json.loads(request.body))
    except (ValueError, PydanticError):
        raise InvalidInput(_("The request is not valid.")) from None
    merchant = tenancy.get_merchant(body.merchant)
    actor = Actor(kind="system", label="payment webhook", ip=client_ip(request))
    with scope(merchant=merchant):
        entry, created = services.record_payment(merchant, body.amount,
                                                 payment_id=body.payment_id, note=body.note,
                                                 actor=actor)
    return Status(201 if created else 200, _entry_out(entry))

