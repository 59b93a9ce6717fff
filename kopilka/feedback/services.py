"""Reviews (FBK-1, FBK-2): the request after a purchase, the member's review, the dialog.

- A subscriber to `PurchaseCommitted` schedules one `ReviewRequest` per purchase, inside the
  sale's transaction, when the merchant asks for reviews, the member agreed to messages and
  got no request in the last N days. It is due `delay_minutes` after the sale, moved past the
  merchant's quiet hours.
- `send_due` (the tick, and a task deferred to the due moment) claims each due request with one
  conditional UPDATE, so a job run twice sends one SMS: the `review_request` message with a
  single-use link `/my/r/<token>` to the wallet's form.
- `submit` uses the link up and writes the review; the member may change it for EDIT_WINDOW.
- Staff answer in the dialog (`answer`: the member gets an SMS with a single-use link to it),
  assign a review and move it new → in progress → processed; processed closes the dialog.

Services validate, write in one transaction with an audit entry, and publish one event
(`ReviewCreated`, `ReviewAnswered`) that webhooks announce (feedback/hooks.py).
"""

import hashlib
import logging
import secrets
import string
from datetime import datetime, timedelta

from django.conf import settings as django_settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.tasks import task
from django.utils import translation
from django.utils.translation import gettext as _
from django_scopes import scope, scopes_disabled

from kopilka.core import audit, clock, events, outbox
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, InvalidInput, NotFound
from kopilka.feedback.models import AnswerLink, Review, ReviewMessage, ReviewRequest, Settings
from kopilka.members import services as members
from kopilka.members.models import Consent, Member
from kopilka.messaging import quiet
from kopilka.messaging import services as messaging
from kopilka.messaging.models import Event
from kopilka.tenancy import access
from kopilka.tenancy.models import Merchant, Staff

logger = logging.getLogger(__name__)

REQUEST_TTL = timedelta(days=14)  # how long the link of a request rates its purchase
ANSWER_TTL = timedelta(days=7)  # how long the link telling of an answer opens the dialog
EDIT_WINDOW = timedelta(days=1)  # how long the member may change a review
TOKEN_ALPHABET = string.ascii_letters + string.digits
TOKEN_LENGTH = 10  # 59 bits; an SMS part is 70 Cyrillic characters, every one counts
MAX_TEXT = 2000
LINK_PATH = "/my/r/"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "".join(secrets.choice(TOKEN_ALPHABET) for _n in range(TOKEN_LENGTH))


def link_url(token: str) -> str:
    return f"{django_settings.PUBLIC_URL}{LINK_PATH}{token}"


# --- settings --------------------------------------------------------------------------------


def settings_for(merchant: Merchant) -> Settings:
    """The merchant's review settings, or the defaults (unsaved): requests off."""
    row = access.context(merchant)["review_settings"]
    return row if row is not None else Settings(merchant=merchant, updated_at=clock.now())


def _whole(value, field: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise InvalidInput(_("A whole number from %(low)s to %(high)s, please.")
                           % {"low": low, "high": high}, field=field)
    return value


@transaction.atomic
def save_settings(merchant: Merchant, *, requests_on: bool, delay_minutes: int,
                  once_per_days: int, alert_on: bool, alert_score: int,
                  actor: Actor) -> Settings:
    values = {
        "requests_on": bool(requests_on),
        "delay_minutes": _whole(delay_minutes, "delay_minutes", 0, 7 * 24 * 60),
        "once_per_days": _whole(once_per_days, "once_per_days", 1, 365),
        "alert_on": bool(alert_on),
        "alert_score": _whole(alert_score, "alert_score", 1, 4),
    }
    row, _created = Settings.objects.update_or_create(
        merchant=merchant, defaults={**values, "updated_at": clock.now()})
    access.context(merchant)["review_settings"] = row
    audit.record("feedback.settings.saved", actor=actor, merchant=merchant, obj=row,
                 data=values)
    return row


# --- requests --------------------------------------------------------------------------------


def due_moment(merchant: Merchant, moment: datetime) -> datetime:
    """`moment`, or the end of the merchant's quiet hours when it falls in them."""
    row = messaging.settings_for(merchant)
    return quiet.release_at(moment, row.quiet_from, row.quiet_to, merchant.timezone) or moment


def schedule(merchant: Merchant, purchase, member: Member) -> ReviewRequest | None:
    """The purchase's review request, when the merchant asks for reviews, the member agreed to
    messages and had no request in the last `once_per_days` days; None otherwise. Call inside
    the sale's transaction."""
    row = settings_for(merchant)
    if not row.requests_on or member.status != Member.Status.ACTIVE:
        return None
    if not members.has_consent(member, Consent.Kind.MESSAGES):
        return None
    now = clock.now()
    recent = ReviewRequest.objects.filter(
        merchant=merchant, member=member,
        created_at__gt=now - timedelta(days=row.once_per_days),
    ).exclude(status=ReviewRequest.Status.SKIPPED)
    if recent.exists():
        return None
    due = due_moment(merchant, now + timedelta(minutes=row.delay_minutes))
    try:
        with transaction.atomic():
            request = ReviewRequest.objects.create(merchant=merchant, purchase=purchase,
                                                   member=member, due_at=due, created_at=now)
    except IntegrityError:
        return None  # the purchase has its request already
    outbox.enqueue_on_commit(send_request, request.pk, due)
    return request


@events.subscribe(events.PurchaseCommitted)
def purchase_committed(event: events.PurchaseCommitted) -> None:
    schedule(event.merchant, event.purchase, event.member)


@task()
def send_request(request_id: int) -> bool:
    return send(request_id)


def send(request_id: int, at: datetime | None = None) -> bool:
    """Send one due request: claim it (one conditional UPDATE: a second run, task or tick
    claims nothing), give it a fresh link and queue the `review_request` SMS. False when it was
    not due or not ours; a member who withdrew consent meanwhile gets nothing (skipped)."""
    at = at or clock.now()
    with scopes_disabled():  # one narrow look-up by id to learn the tenant; then scoped
        merchant_id = (ReviewRequest.objects.filter(pk=request_id)
                       .values_list("merchant_id", flat=True).first())
    if merchant_id is None:
        return False
    with scope(merchant=merchant_id), transaction.atomic():
        token = new_token()
        rows = ReviewRequest.objects.filter(merchant_id=merchant_id, pk=request_id)
        claimed = rows.filter(status=ReviewRequest.Status.SCHEDULED, due_at__lte=at).update(
            status=ReviewRequest.Status.SENT, token_hash=_hash(token), sent_at=at,
            expires_at=at + REQUEST_TTL)
        if not claimed:
            return False
        request = rows.select_related("merchant", "member__person", "purchase").get()
        merchant, member = request.merchant, request.member
        message = None
        if settings_for(merchant).requests_on and member.status == Member.Status.ACTIVE:
            message = messaging.queue(merchant, event=Event.REVIEW_REQUEST, member=member,
                                      context={"name": member.first_name,
                                               "amount": request.purchase.total,
                                               "link": link_url(token)})
        if message is None:
            rows.update(status=ReviewRequest.Status.SKIPPED, token_hash=None, expires_at=None)
        else:
            rows.update(message_id=message.pk)
        audit.record("feedback.request.sent" if message else "feedback.request.skipped",
                     actor=Actor.system(), merchant=merchant, obj=request,
                     data={"purchase": request.purchase_id})
    return message is not None


def send_due(at: datetime | None = None, limit: int = 500) -> int:
    """Send every scheduled request whose time has come, whichever merchant's; how many SMS
    were queued. The tick calls it every minute."""
    at = at or clock.now()
    with scopes_disabled():
        due = list(ReviewRequest.objects.filter(status=ReviewRequest.Status.SCHEDULED,
                                                due_at__lte=at)
                   .order_by("due_at").values_list("pk", flat=True)[:limit])
    return sum(send(pk, at) for pk in due)


# --- links -----------------------------------------------------------------------------------


def find_link(token: str) -> ReviewRequest | AnswerLink | None:
    """The request or answer link a token names (any merchant's: the token is the key), with
    its merchant read; None for an unknown token."""
    if not (len(token) == TOKEN_LENGTH and all(c in TOKEN_ALPHABET for c in token)):
        return None
    digest = _hash(token)
    with scopes_disabled():
        found = (ReviewRequest.objects.select_related("merchant", "member__person", "purchase")
                 .filter(token_hash=digest).first())
        if found is None:
            found = (AnswerLink.objects.select_related("merchant", "review__member__person")
                     .filter(token_hash=digest).first())
    return found


def link_state(link: ReviewRequest | AnswerLink, now: datetime | None = None) -> str:
    """"open", "used" or "expired"."""
    now = now or clock.now()
    if link.used_at is not None:
        return "used"
    if link.expires_at is None or now >= link.expires_at:
        return "expired"
    return "open"


def _text(value: str, field: str, *, required: bool) -> str:
    if not isinstance(value, str) or "\x00" in value:
        raise InvalidInput(_("The text must not contain NUL characters."), field=field)
    value = value.strip()
    if required and not value:
        raise InvalidInput(_("Write a few words, please."), field=field)
    if len(value) > MAX_TEXT:
        raise InvalidInput(_("At most %(limit)s characters.") % {"limit": MAX_TEXT},
                           field=field)
    return value


def _score(value) -> int:
    if type(value) is not int or not 1 <= value <= 5:
        raise InvalidInput(_("Choose a score from 1 to 5."), field="score")
    return value


def submit(request: ReviewRequest, *, score: int, comment: str = "") -> Review:
    """The member's review of the request's purchase; uses the link up. Call in the request's
    merchant scope. A used or expired link is a Conflict."""
    score, comment = _score(score), _text(comment, "comment", required=False)
    now = clock.now()
    with transaction.atomic():
        used = ReviewRequest.objects.filter(
            merchant=request.merchant, pk=request.pk, status=ReviewRequest.Status.SENT,
            used_at__isnull=True, expires_at__gt=now,
        ).update(status=ReviewRequest.Status.USED, used_at=now)
        if not used:
            raise Conflict(_("This link has been used already or is no longer valid."),
                           field="token")
        return _create(request.merchant, request.purchase, request.member, score=score,
                       comment=comment, now=now)


def _create(merchant: Merchant, purchase, member: Member, *, score: int, comment: str,
            now: datetime) -> Review:
    if Review.objects.filter(merchant=merchant, purchase=purchase).exists():
        raise Conflict(_("This purchase has been rated already."), field="score")
    review = Review.objects.create(
        merchant=merchant, purchase=purchase, member=member, store_id=purchase.store_id,
        cashier_id=purchase.cashier_id, score=score, comment=comment, created_at=now,
        editable_until=now + EDIT_WINDOW, last_message_at=now)
    actor = access.Principal.for_member(member).actor
    audit.record("feedback.review.created", actor=actor, merchant=merchant, obj=review,
                 data={"purchase": purchase.pk, "score": score})
    events.publish(events.ReviewCreated(merchant=merchant, review=review))
    row = settings_for(merchant)
    if row.alert_on and score <= row.alert_score:
        review_id = review.pk
        transaction.on_commit(lambda: alert_owners(review_id), robust=True)
    return review


def edit(review: Review, *, score: int, comment: str, actor: Actor) -> Review:
    """The member changes their review, within EDIT_WINDOW of writing it."""
    score, comment = _score(score), _text(comment, "comment", required=False)
    now = clock.now()
    if now >= review.editable_until:
        raise Conflict(_("A review can be changed for one day after it was written."),
                       field="score")
    with transaction.atomic():
        Review.objects.filter(merchant=review.merchant, pk=review.pk).update(
            score=score, comment=comment, edited_at=now)
        review.score, review.comment, review.edited_at = score, comment, now
        audit.record("feedback.review.edited", actor=actor, merchant=review.merchant,
                     obj=review, data={"score": score})
    return review


def _closed(review: Review) -> None:
    if review.status == Review.Status.PROCESSED:
        raise Conflict(_("This dialog is closed."), field="text")


def reply(review: Review, *, text: str, actor: Actor) -> ReviewMessage:
    """The member writes in the review's dialog."""
    text = _text(text, "text", required=True)
    _closed(review)
    now = clock.now()
    with transaction.atomic():
        message = ReviewMessage.objects.create(
            merchant=review.merchant, review=review, author=ReviewMessage.Author.MEMBER,
            text=text, created_at=now)
        Review.objects.filter(merchant=review.merchant, pk=review.pk).update(last_message_at=now)
        review.last_message_at = now
        audit.record("feedback.review.replied", actor=actor, merchant=review.merchant,
                     obj=review, data={"message": message.pk})
    return message


def answer(review: Review, *, staff: Staff, text: str, actor: Actor) -> ReviewMessage:
    """Staff answer in the dialog: a new review moves to "in progress", and the member gets
    the `review_answer` SMS with a single-use link to the dialog."""
    text = _text(text, "text", required=True)
    _closed(review)
    now = clock.now()
    with transaction.atomic():
        message = ReviewMessage.objects.create(
            merchant=review.merchant, review=review, author=ReviewMessage.Author.STAFF,
            staff=staff, text=text, created_at=now)
        changes = {"last_message_at": now}
        if review.status == Review.Status.NEW:
            changes["status"] = Review.Status.IN_PROGRESS
        Review.objects.filter(merchant=review.merchant, pk=review.pk).update(**changes)
        for name, value in changes.items():
            setattr(review, name, value)
        member = Member.objects.select_related("person").get(merchant=review.merchant,
                                                             pk=review.member_id)
        sms = None
        if member.status == Member.Status.ACTIVE:
            token = new_token()
            AnswerLink.objects.create(merchant=review.merchant, review=review,
                                      token_hash=_hash(token), created_at=now,
                                      expires_at=now + ANSWER_TTL)
            sms = messaging.queue(review.merchant, event=Event.REVIEW_ANSWER, member=member,
                                  context={"name": member.first_name, "link": link_url(token)})
        audit.record("feedback.review.answered", actor=actor, merchant=review.merchant,
                     obj=review, data={"message": message.pk, "sms": sms.pk if sms else None})
        events.publish(events.ReviewAnswered(merchant=review.merchant, review=review,
                                             message=message))
    return message


def use_answer_link(link: AnswerLink) -> Review:
    """Use an answer link up (call in its merchant's scope); the review it opens."""
    now = clock.now()
    used = AnswerLink.objects.filter(merchant=link.merchant, pk=link.pk, used_at__isnull=True,
                                     expires_at__gt=now).update(used_at=now)
    if not used:
        raise Conflict(_("This link has been used already or is no longer valid."),
                       field="token")
    return link.review


def assign(review: Review, *, staff_id: int | None, actor: Actor) -> Review:
    """Put a manager (or nobody) in charge of the review."""
    staff = None
    if staff_id is not None:
        staff = Staff.objects.filter(merchant=review.merchant, pk=staff_id, active=True).first()
        if staff is None or not access.role_may(staff.role, "answer_reviews"):
            raise NotFound(_("No manager %(id)s.") % {"id": staff_id}, field="assigned")
    with transaction.atomic():
        Review.objects.filter(merchant=review.merchant, pk=review.pk).update(assigned=staff)
        review.assigned = staff
        audit.record("feedback.review.assigned", actor=actor, merchant=review.merchant,
                     obj=review, data={"staff": staff_id})
    return review


def set_status(review: Review, *, status: str, actor: Actor) -> Review:
    if status not in Review.Status.values:
        raise InvalidInput(_("%(field)s must be one of %(codes)s.")
                           % {"field": "status", "codes": ", ".join(Review.Status.values)},
                           field="status")
    with transaction.atomic():
        Review.objects.filter(merchant=review.merchant, pk=review.pk).update(status=status)
        review.status = status
        audit.record("feedback.review.status", actor=actor, merchant=review.merchant,
                     obj=review, data={"status": status})
    return review


def thread(review: Review) -> list[ReviewMessage]:
    return list(ReviewMessage.objects.filter(merchant=review.merchant, review=review)
                .select_related("staff__user").order_by("created_at", "pk"))


# --- the low-score alert ---------------------------------------------------------------------


def alert_owners(review_id: int) -> int:
    """E-mail the merchant's active owners about a low score (after the review's commit);
    how many addresses it went to."""
    with scopes_disabled():
        merchant_id = (Review.objects.filter(pk=review_id)
                       .values_list("merchant_id", flat=True).first())
    if merchant_id is None:
        return 0
    with scope(merchant=merchant_id):
        review = (Review.objects.select_related("merchant", "purchase", "store", "member")
                  .get(pk=review_id))
        merchant = review.merchant
        owners = (Staff.objects.filter(merchant=merchant, role=Staff.Role.OWNER, active=True,
                                       user__is_active=True)
                  .select_related("user").order_by("pk"))
        addresses = [staff.user.email for staff in owners if staff.user.email]
    if not addresses:
        return 0
    with translation.override(merchant.language):
        subject = _("%(merchant)s: a review with score %(score)s") % {
            "merchant": merchant.name, "score": review.score}
        body = _(
            "A member rated a purchase %(score)s of 5.\n\n"
            "Receipt: %(receipt)s\nStore: %(store)s\nComment: %(comment)s\n\n"
            "Answer them in the cabinet: %(url)s"
        ) % {"score": review.score, "receipt": review.purchase.receipt_id,
             "store": review.store.name if review.store else "—",
             "comment": review.comment or "—",
             "url": f"{django_settings.PUBLIC_URL}/cabinet/reviews/{review.pk}/"}
    EmailMessage(subject=subject, body=body, from_email=django_settings.DEFAULT_FROM_EMAIL,
                 to=addresses).send()
    return len(addresses)


