"""Management API for webhooks: endpoints, their signing secrets, the delivery log, test pings
and redelivery. See docs/webhooks.md."""

from datetime import datetime
from typing import Literal

from ninja import Field, Query, Schema, Status

from kopilka.api.auth import ManagementToken, StaffSession, merchant_router, requires
from kopilka.api.schemas import PageQuery, Problem, StrictIn, cursor_value
from kopilka.webhooks import services as webhooks
from kopilka.webhooks.events import CATALOGUE
from kopilka.webhooks.models import Delivery, Endpoint
from kopilka.webhooks.transport import MAX_URL

router = merchant_router(tags=["Webhooks"], auth=[ManagementToken(), StaffSession()])
READ = {401: Problem, 404: Problem, 422: Problem}
WRITE = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}
EVENTS_HELP = "Event names: " + ", ".join(CATALOGUE)


class EndpointIn(StrictIn):
    url: str = Field(min_length=1, max_length=MAX_URL, description="http:// or https://")
    events: list[str] = Field(min_length=1, max_length=len(CATALOGUE), description=EVENTS_HELP)
    description: str = Field("", max_length=200)
    active: bool = True


class EndpointPatch(StrictIn):
    # Defaults are not validated: a field left out stays as it is, while an explicit null is
    # refused by its type.
    url: str = Field(None, min_length=1, max_length=MAX_URL)
    events: list[str] = Field(None, min_length=1, max_length=len(CATALOGUE),
                              description=EVENTS_HELP)
    description: str = Field(None, max_length=200)
    active: bool = Field(None, description="false pauses deliveries to this endpoint")


class EndpointOut(Schema):
    id: int
    url: str
    description: str
    events: list[str]
    active: bool
    created_at: datetime


class EndpointWithSecretOut(EndpointOut):
    secret: str = Field(description="The signing secret (whsec_...). Shown only now: keep it "
                                    "with the receiver.")


class DeliveryOut(Schema):
    id: int
    endpoint_id: int
    event: str
    event_id: str = Field(description="The `id` of the event in the body: the same on every "
                                      "attempt; receivers deduplicate on it")
    status: str = Field(description="pending, delivered or failed")
    attempts: int
    next_attempt_at: datetime | None = Field(description="When it is sent next; null unless "
                                                         "pending")
    last_status_code: int | None
    created_at: datetime
    delivered_at: datetime | None


class AttemptOut(Schema):
    started_at: datetime
    duration_ms: int
    status_code: int | None = Field(description="The receiver's HTTP status; null when no "
                                                "answer came (see error)")
    error: str
    response_body: str = Field(description="The first 1 KB of the receiver's answer")


class DeliveryDetailOut(DeliveryOut):
    payload: dict = Field(description="The body sent: {id, type, created_at, merchant, data}")
    attempt_log: list[AttemptOut] = Field(description="Every attempt, oldest first")


class DeliveryPage(Schema):
    items: list[DeliveryOut]
    next: str | None = Field(description="Pass as `cursor` to get the next page; null at the end")


class DeliveryQuery(PageQuery):
    status: Literal["pending", "delivered", "failed"] | None = None


def delivery_out(delivery: Delivery) -> dict:
    return {
        "id": delivery.pk, "endpoint_id": delivery.endpoint_id, "event": delivery.event,
        "event_id": str(delivery.event_id), "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": (delivery.next_attempt_at
                            if delivery.status == Delivery.Status.PENDING else None),
        "last_status_code": delivery.last_status_code, "created_at": delivery.created_at,
        "delivered_at": delivery.delivered_at,
    }


@router.get("/webhooks", response={200: list[EndpointOut], 401: Problem})
@requires("read_setup")
def list_endpoints(request):
    """The merchant's webhook endpoints (at most 20), oldest first."""
    return Endpoint.objects.filter(merchant=request.auth.merchant).order_by("pk")


@router.post("/webhooks", response={201: EndpointWithSecretOut, **WRITE})
@requires("manage_webhooks")
def create_endpoint(request, payload: EndpointIn):
    """Register an endpoint for the events it lists. The answer carries its signing secret,
    shown only once."""
    principal = request.auth
    endpoint = webhooks.create_endpoint(principal.merchant, actor=principal.actor,
                                        **payload.model_dump())
    return Status(201, endpoint)


@router.get("/webhooks/{endpoint_id}", response={200: EndpointOut, **READ})
@requires("read_setup")
def get_endpoint(request, endpoint_id: int):
    return webhooks.get_endpoint(request.auth.merchant, endpoint_id)


@router.patch("/webhooks/{endpoint_id}", response={200: EndpointOut, **WRITE})
@requires("manage_webhooks")
def update_endpoint(request, endpoint_id: int, payload: EndpointPatch):
    """Change the URL, events, description or `active` (only the fields sent)."""
    principal = request.auth
    endpoint = webhooks.get_endpoint(principal.merchant, endpoint_id)
    return webhooks.update_endpoint(endpoint, actor=principal.actor,
                                    **payload.model_dump(exclude_unset=True))


@router.delete("/webhooks/{endpoint_id}", response={200: EndpointOut, **WRITE})
@requires("manage_webhooks")
def delete_endpoint(request, endpoint_id: int):
    """Remove the endpoint and its delivery log; the answer is the endpoint as it was (every
    success of this API is a JSON body)."""
    principal = request.auth
    endpoint = webhooks.get_endpoint(principal.merchant, endpoint_id)
    gone = {name: getattr(endpoint, name) for name in EndpointOut.model_fields}
    webhooks.delete_endpoint(endpoint, actor=principal.actor)
    return gone


@router.post("/webhooks/{endpoint_id}/rotate-secret",
             response={200: EndpointWithSecretOut, **WRITE})
@requires("manage_webhooks")
def rotate_secret(request, endpoint_id: int):
    """Replace the signing secret; the new one signs every attempt from now on."""
    principal = request.auth
    endpoint = webhooks.get_endpoint(principal.merchant, endpoint_id)
    return webhooks.rotate_secret(endpoint, actor=principal.actor)


@router.post("/webhooks/{endpoint_id}/test", response={202: DeliveryOut, **WRITE})
@requires("manage_webhooks")
def test_endpoint(request, endpoint_id: int):
    """Send a `ping` event to the endpoint now; follow it in the delivery log."""
    principal = request.auth
    endpoint = webhooks.get_endpoint(principal.merchant, endpoint_id)
    return Status(202, delivery_out(webhooks.send_test(endpoint, actor=principal.actor)))


@router.get("/webhooks/{endpoint_id}/deliveries", response={200: DeliveryPage, **READ})
@requires("read_setup")
def list_deliveries(request, endpoint_id: int, page: Query[DeliveryQuery]):
    """The endpoint's deliveries, newest first, with cursor pagination."""
    principal = request.auth
    endpoint = webhooks.get_endpoint(principal.merchant, endpoint_id)
    rows = Delivery.objects.filter(merchant=principal.merchant, endpoint=endpoint)
    if page.status:
        rows = rows.filter(status=page.status)
    if page.cursor:
        rows = rows.filter(pk__lt=cursor_value(page.cursor))
    found = list(rows.order_by("-pk")[: page.limit + 1])
    more = len(found) > page.limit
    found = found[: page.limit]
    return {"items": [delivery_out(d) for d in found],
            "next": str(found[-1].pk) if more else None}


@router.get("/webhook-deliveries/{delivery_id}", response={200: DeliveryDetailOut, **READ})
@requires("read_setup")
def get_delivery(request, delivery_id: int):
    """One delivery with the body it sends and every attempt."""
    delivery = webhooks.get_delivery(request.auth.merchant, delivery_id)
    log = delivery.log.order_by("pk")
    return {**delivery_out(delivery), "payload": delivery.payload, "attempt_log": list(log)}


@router.post("/webhook-deliveries/{delivery_id}/redeliver", response={202: DeliveryOut, **WRITE})
@requires("manage_webhooks")
def redeliver(request, delivery_id: int):
    """Send the delivery again now, with the same event id and body and fresh retries."""
    principal = request.auth
    delivery = webhooks.get_delivery(principal.merchant, delivery_id)
    return Status(202, delivery_out(webhooks.redeliver(delivery, actor=principal.actor)))
