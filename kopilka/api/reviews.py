"""Management API for reviews (FBK-1 … FBK-3, docs/feedback.md): what the cabinet's Reviews tab
does, for the merchant's own systems — the list with the cabinet's filters, one review with its
dialog, answering (the member is told by SMS exactly as from the cabinet: the same service),
assigning and the status, and NPS and quality per store and cashier.

Reading needs `read_reviews`, changing `answer_reviews` (owners, admins, managers); phones are
masked unless the caller's role may see them (`see_phones`), as in the cabinet."""

from datetime import date, datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils.translation import gettext as _
from ninja import Field, Query, Schema, Status
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from kopilka.api.analytics import Day
from kopilka.api.auth import ManagementToken, StaffSession, merchant_router, requires
from kopilka.api.schemas import CleanIn, Id, PageQuery, Problem, StrictIn, paginate
from kopilka.core import clock
from kopilka.core.errors import InvalidInput, NotFound
from kopilka.core.phones import mask_phone
from kopilka.feedback import quality
from kopilka.feedback import services as feedback
from kopilka.feedback.models import Review, ReviewMessage
from kopilka.tenancy.counter import display_name
from kopilka.tenancy.models import Staff, Store

router = merchant_router(tags=["Reviews"], auth=[ManagementToken(), StaffSession()])
READ = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 422: Problem}
WRITE = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}
DEFAULT_DAYS = 30  # the quality period when none is given, as in the cabinet
MAX_DAYS = 3 * 366

StatusCode = Literal["new", "in_progress", "processed"]
# Days a period may name: a day next to date.min or date.max would overflow when it becomes
# the moments of its start and end.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)


def _within(value: date) -> date:
    if value < FIRST_DAY:
        raise PydanticCustomError("greater_than_equal", "Input should be on or after {ge}",
                                  {"ge": FIRST_DAY.isoformat()})
    if value > LAST_DAY:
        raise PydanticCustomError("less_than_equal", "Input should be on or before {le}",
                                  {"le": LAST_DAY.isoformat()})
    return value


PeriodDay = Annotated[Day, AfterValidator(_within)]


class ReviewQuery(PageQuery):
    status: StatusCode | None = Field(None, description="new, in_progress or processed")
    score: int | None = Field(None, ge=1, le=5)
    store: Id | None = Field(None, description="The purchase's store; another merchant's: 404")
    cashier: Id | None = Field(None, description="The purchase's cashier (a staff id)")
    since: PeriodDay | None = Field(None, description="Written on or after this local day "
                                                "(the merchant's time zone)")
    until: PeriodDay | None = Field(None, description="Written on or before this local day")


class ReviewMemberOut(Schema):
    id: int
    name: str
    phone: str = Field(description="E.164, masked unless the caller's role may see phones; "
                                   "empty when erased or hidden behind an alias")
    alias: str | None = Field(description="The alias a member who hides the phone joined with")


class ReviewStaffOut(Schema):
    id: int
    name: str


class ReviewPurchaseOut(Schema):
    id: int
    receipt_id: str
    total: int = Field(description="Money minor units")
    occurred_at: datetime


class ReviewOut(Schema):
    id: int
    score: int = Field(description="1-5: 5 promoter, 4 passive, 1-3 detractor")
    comment: str
    status: str = Field(description="new, in_progress or processed (the dialog is closed)")
    purchase: ReviewPurchaseOut
    store: ReviewStaffOut | None = Field(description="The purchase's store")
    cashier: ReviewStaffOut | None = Field(description="The purchase's cashier; null: none "
                                                       "named")
    member: ReviewMemberOut
    assigned: ReviewStaffOut | None = Field(description="Who is in charge of it")
    created_at: datetime
    edited_at: datetime | None
    editable_until: datetime = Field(description="The member may change it until then")
    last_message_at: datetime = Field(description="The review's or its last comment's time")


class ReviewMessageOut(Schema):
    id: int
    author: str = Field(description="member or staff")
    staff: ReviewStaffOut | None = Field(description="Who answered, for staff messages")
    text: str
    created_at: datetime


class ReviewDetailOut(ReviewOut):
    messages: list[ReviewMessageOut] = Field(description="The dialog, oldest first")


class ReviewPage(Schema):
    items: list[ReviewOut]
    next: str | None = Field(description="Pass as `cursor` to get the next page; null at the end")


class ReviewAnswerIn(StrictIn):
    text: str = Field(min_length=1, max_length=feedback.MAX_TEXT,
                      description="The answer; the member gets an SMS with a link to the dialog")


class ReviewPatchIn(StrictIn):
    status: StatusCode | None = Field(None, description="processed closes the dialog; change "
                                                        "it back to answer again")
    assigned: Id | None = Field(None, description="An active owner's, admin's or manager's "
                                                  "staff id; null: nobody")


class QualityQuery(CleanIn):
    since: PeriodDay | None = Field(None, description="First local day; default: "
                                    f"{DEFAULT_DAYS - 1} days before `until`")
    until: PeriodDay | None = Field(None, description="Last local day, inclusive; default: "
                                                      "today")
    store: Id | None = Field(None, description="Only this store's reviews and sales")
    cashier: Id | None = Field(None, description="Only this cashier's reviews and sales")


class QualityRowOut(Schema):
    id: int | None = Field(description="The store's or staff member's id; null: purchases "
                                       "without one (not named)")
    name: str
    reviews: int
    sales: int = Field(description="Purchases in the period, rated or not: a small sample "
                                   "shows as one")
    average: float | None = Field(description="Average score, one decimal; null: no reviews")
    nps: int | None = Field(description="% promoters - % detractors, -100..100; null: no "
                                        "reviews")
    promoters: int = Field(description="Fives")
    passives: int = Field(description="Fours")
    detractors: int = Field(description="Ones to threes")


class QualityOut(Schema):
    since: date
    until: date
    total: QualityRowOut
    cashiers: list[QualityRowOut]
    stores: list[QualityRowOut]


def _who(staff: Staff | None) -> dict | None:
    return {"id": staff.pk, "name": display_name(staff)} if staff is not None else None


def _member_out(member, full_phone: bool) -> dict:
    person = member.person
    phone, alias = "", None
    if member.phone_hidden:
        alias = f"@{person.alias}" if person.alias else None
    elif person.phone:
        phone = str(person.phone) if full_phone else mask_phone(str(person.phone))
    return {"id": member.pk, "name": member.full_name, "phone": phone, "alias": alias}


def _review_out(review: Review, full_phone: bool) -> dict:
    purchase = review.purchase
    return {
        "id": review.pk, "score": review.score, "comment": review.comment,
        "status": review.status,
        "purchase": {"id": purchase.pk, "receipt_id": purchase.receipt_id,
                     "total": purchase.total, "occurred_at": purchase.occurred_at},
        "store": ({"id": review.store.pk, "name": review.store.name}
                  if review.store is not None else None),
        "cashier": _who(review.cashier), "member": _member_out(review.member, full_phone),
        "assigned": _who(review.assigned), "created_at": review.created_at,
        "edited_at": review.edited_at, "editable_until": review.editable_until,
        "last_message_at": review.last_message_at,
    }


def _message_out(message: ReviewMessage) -> dict:
    return {"id": message.pk, "author": message.author, "staff": _who(message.staff),
            "text": message.text, "created_at": message.created_at}


def _detail_out(review: Review, full_phone: bool) -> dict:
    return {**_review_out(review, full_phone),
            "messages": [_message_out(m) for m in feedback.thread(review)]}


def _reviews(merchant):
    return (Review.objects.filter(merchant=merchant)
            .select_related("purchase", "store", "cashier__user", "member__person",
                            "assigned__user"))


def _review(merchant, review_id: int) -> Review:
    review = _reviews(merchant).select_related("merchant").filter(pk=review_id).first()
    if review is None:
        raise NotFound(_("No review %(id)s.") % {"id": review_id}, field="review_id")
    return review


def _store(merchant, store_id: int | None) -> None:
    if store_id is not None and not Store.objects.filter(merchant=merchant,
                                                         pk=store_id).exists():
        raise NotFound(_("No store %(id)s.") % {"id": store_id}, field="store")


def _cashier(merchant, cashier_id: int | None) -> None:
    if cashier_id is not None and not Staff.objects.filter(merchant=merchant,
                                                           pk=cashier_id).exists():
        raise NotFound(_("No cashier %(id)s.") % {"id": cashier_id}, field="cashier")


def _period_order(since: date | None, until: date | None) -> None:
    if since is not None and until is not None and until < since:
        raise InvalidInput(_("The period must not end before it starts."), field="until")


@router.get("/reviews", response={200: ReviewPage, **READ})
@requires("read_reviews")
def list_reviews(request, query: Query[ReviewQuery]):
    """Reviews, newest first, with cursor pagination, narrowed by the cabinet's filters
    (all must match): status, score, the purchase's store and cashier, and the local days it
    was written. Send the same filters with the `cursor` of the previous page. Comments are
    in the list; the dialog is on the review. Owners, admins and managers."""
    principal = request.auth
    merchant = principal.merchant
    _store(merchant, query.store)
    _cashier(merchant, query.cashier)
    _period_order(query.since, query.until)
    rows = _reviews(merchant)
    for name, lookup in (("status", "status"), ("score", "score"), ("store", "store_id"),
                         ("cashier", "cashier_id")):
        if getattr(query, name) is not None:
            rows = rows.filter(**{lookup: getattr(query, name)})
    if query.since is not None:
        rows = rows.filter(created_at__gte=quality.bounds(merchant, query.since,
                                                          query.since)[0])
    if query.until is not None:
        rows = rows.filter(created_at__lt=quality.bounds(merchant, query.until,
                                                         query.until)[1])
    found, cursor = paginate(rows, query.cursor, query.limit)
    full = principal.sees_full_phones
    return {"items": [_review_out(review, full) for review in found], "next": cursor}


def _quality_out(row: quality.Quality, name: str) -> dict:
    average = row.average
    return {"id": row.key, "name": name, "reviews": row.reviews, "sales": row.sales,
            "average": float(average) if average is not None else None, "nps": row.nps,
            "promoters": row.promoters, "passives": row.passives,
            "detractors": row.detractors}


# Declared before /reviews/{review_id}: "quality" is not a review id.
@router.get("/reviews/quality", response={200: QualityOut, **READ})
@requires("read_reviews")
def get_quality(request, query: Query[QualityQuery]):
    """NPS, average score and review count of a period (default: the last 30 local days),
    in total and per cashier and per store, each with the sales behind it (FBK-3). NPS maps
    the 1-5 scale: 5 promoter, 4 passive, 1-3 detractor; six fives, two fours and two twos
    are NPS 40. Another merchant's store or cashier is 404."""
    merchant = request.auth.merchant
    _store(merchant, query.store)
    _cashier(merchant, query.cashier)
    end = query.until or _today(merchant)
    start = query.since or end - timedelta(days=DEFAULT_DAYS - 1)
    _period_order(start, end)
    if (end - start).days > MAX_DAYS:
        raise InvalidInput(_("At most %(days)s days, please.") % {"days": MAX_DAYS},
                           field="since")
    where = {"store_id": query.store, "cashier_id": query.cashier}
    cashiers = {staff.pk: display_name(staff) for staff in
                Staff.objects.filter(merchant=merchant).select_related("user")}
    stores = dict(Store.objects.filter(merchant=merchant).values_list("pk", "name"))
    total = quality.summary(merchant, start, end, **where)
    return {
        "since": start, "until": end, "total": _quality_out(total, ""),
        "cashiers": [_quality_out(row, cashiers.get(row.key, "")) for row in
                     quality.per(merchant, start, end, "cashier_id", **where)],
        "stores": [_quality_out(row, stores.get(row.key, "")) for row in
                   quality.per(merchant, start, end, "store_id", **where)],
    }


def _today(merchant) -> date:
    return clock.now().astimezone(ZoneInfo(merchant.timezone)).date()


@router.get("/reviews/{review_id}", response={200: ReviewDetailOut, **READ})
@requires("read_reviews")
def get_review(request, review_id: Id):
    """One review with its purchase, member, assignee and the whole dialog, oldest message
    first. Another merchant's review is 404."""
    principal = request.auth
    return _detail_out(_review(principal.merchant, review_id), principal.sees_full_phones)


@router.post("/reviews/{review_id}/answers", response={201: ReviewDetailOut, **WRITE})
@requires("answer_reviews")
def answer_review(request, review_id: Id, payload: ReviewAnswerIn):
    """Answer the member in the review's dialog, as the caller (a token answers as its staff
    member). The member gets the `review_answer` SMS with a single-use link to the dialog,
    exactly as from the cabinet; a new review moves to in_progress. A processed review's
    dialog is closed: 409. Audited (`feedback.review.answered`)."""
    principal = request.auth
    review = _review(principal.merchant, review_id)
    feedback.answer(review, staff=principal.staff, text=payload.text, actor=principal.actor)
    return Status(201, _detail_out(review, principal.sees_full_phones))


@router.patch("/reviews/{review_id}", response={200: ReviewDetailOut, **WRITE})
@requires("answer_reviews")
def update_review(request, review_id: Id, payload: ReviewPatchIn):
    """Change the status (new → in_progress → processed; processed closes the dialog) and/or
    who is in charge (`assigned`: a staff id who may answer reviews, or null). Both or
    neither: a refused assignee changes nothing. Audited."""
    principal = request.auth
    review = _review(principal.merchant, review_id)
    changes = payload.model_dump(exclude_unset=True)
    if changes.get("status", "") is None:
        raise InvalidInput(_("%(field)s must be one of %(codes)s.")
                           % {"field": "status", "codes": ", ".join(Review.Status.values)},
                           field="status")
    with transaction.atomic():
        if "assigned" in changes:
            feedback.assign(review, staff_id=changes["assigned"], actor=principal.actor)
            review = _review(principal.merchant, review_id)
        if "status" in changes:
            feedback.set_status(review, status=changes["status"], actor=principal.actor)
    return _detail_out(review, principal.sees_full_phones)
