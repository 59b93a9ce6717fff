"""What the review events announce to the merchant's webhook endpoints (registered by
FeedbackConfig.ready). Each runs inside the review's transaction, so the deliveries are written
with it (webhooks.services.emit). Shapes in docs/webhooks.md and docs/feedback.md: add fields
freely, never rename or remove one."""

from kopilka.core import events
from kopilka.webhooks.services import emit


def review_payload(review) -> dict:
    return {
        "review_id": review.pk,
        "purchase_id": review.purchase_id,
        "member_id": review.member_id,
        "store_id": review.store_id,
        "cashier_id": review.cashier_id,
        "score": review.score,
        "comment": review.comment,
        "status": review.status,
        "occurred_at": review.created_at,
    }


@events.subscribe(events.ReviewCreated)
def review_created(event: events.ReviewCreated) -> None:
    emit(event.merchant, event.name, review_payload(event.review))


@events.subscribe(events.ReviewAnswered)
def review_answered(event: events.ReviewAnswered) -> None:
    message = event.message
    emit(event.merchant, event.name, {
        **review_payload(event.review),
        "message_id": message.pk,
        "staff_id": message.staff_id,
        "text": message.text,
        "occurred_at": message.created_at,
    })
