"""Webhook endpoints, the one call every service uses to announce an event, and the manual
operations on deliveries (test ping, redelivery)."""

import json
import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kopilka.core import audit, clock
from kopilka.core.actor import Actor
from kopilka.core.errors import Conflict, InvalidInput, NotFound
from kopilka.tenancy import access
from kopilka.tenancy.models import Merchant
from kopilka.webhooks import signing, tasks, transport
from kopilka.webhooks.events import CATALOGUE, PING
from kopilka.webhooks.models import Delivery, Endpoint, Subscription

MAX_ENDPOINTS = 20


# --- events ----------------------------------------------------------------------------------


def _deliveries(merchant: Merchant, event: str, data: dict, endpoints) -> list[Delivery]:
    now = clock.now()
    event_id = uuid.uuid4()
    body = {"id": str(event_id), "type": event, "created_at": now, "merchant": merchant.slug,
            "data": data}
    # Stored as it will be sent: datetimes as RFC 3339 text, like the API writes them.
    payload = json.loads(json.dumps(body, cls=DjangoJSONEncoder))
    deliveries = Delivery.objects.bulk_create([
        Delivery(merchant=merchant, endpoint=endpoint, event=event, event_id=event_id,
                 payload=payload, next_attempt_at=now, created_at=now)
        for endpoint in endpoints
    ])
    for delivery in deliveries:
        tasks.enqueue_on_commit(delivery.pk)
    return deliveries


def emit(merchant: Merchant, event: str, data: dict) -> list[Delivery]:
    """Announce `event` to the merchant's active endpoints that subscribe to it.

    Call it inside the operation's transaction, after its writes and never on a replay: the
    deliveries are written in that transaction (so a rollback sends nothing) and their tasks
    are queued when it commits. `data` is the event's JSON object (ids, money in minor units,
    points, RFC 3339 times; phones masked at most)."""
    if event not in CATALOGUE:
        raise ValueError(f"unknown webhook event {event!r}")  # a programming error
    # The merchant context's subscription (joined when the API authenticated): a merchant
    # nobody listens to costs no query.
    subscription = access.context(merchant)["webhook_subscription"]  # None: no endpoints
    if subscription is None or event not in subscription.events:
        return []
    # Endpoints are few per merchant (MAX_ENDPOINTS); the subscription test is in Python
    # because SQLite cannot look inside a JSON list.
    endpoints = [endpoint for endpoint in Endpoint.objects.filter(merchant=merchant, active=True)
                 if event in endpoint.events]
    if not endpoints:
        return []
    return _deliveries(merchant, event, data, endpoints)


# --- endpoints -------------------------------------------------------------------------------


def _check_events(events) -> list[str]:
    if not events:
        raise InvalidInput(_("Choose at least one event."), field="events")
    unknown = [event for event in events if event not in CATALOGUE]
    if unknown:
        raise InvalidInput(
            _("Unknown event %(event)r. Known events: %(known)s.")
            % {"event": unknown[0], "known": ", ".join(CATALOGUE)},
            field="events",
        )
    return list(dict.fromkeys(events))


def _subscribe(merchant: Merchant) -> None:
    """Rewrite the merchant's Subscription from its endpoints (inside the change's transaction,
    with the merchant row locked: two changes at once cannot leave a stale union)."""
    events = set()
    for endpoint_events in Endpoint.objects.filter(merchant=merchant, active=True).values_list(
        "events", flat=True
    ):
        events.update(endpoint_events)
    row = None
    if events:
        row, _created = Subscription.objects.update_or_create(
            merchant_id=merchant.pk, defaults={"events": sorted(events)}
        )
    else:
        Subscription.objects.filter(merchant_id=merchant.pk).delete()
    access.context(merchant)["webhook_subscription"] = row  # what emit() reads from now on


def _lock(merchant: Merchant) -> None:
    Merchant.objects.select_for_update().filter(pk=merchant.pk).first()


def get_endpoint(merchant: Merchant, endpoint_id: int) -> Endpoint:
    endpoint = Endpoint.objects.filter(merchant=merchant, pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound(_("No webhook endpoint %(id)s.") % {"id": endpoint_id}, field="id")
    return endpoint


def _audit_data(endpoint: Endpoint) -> dict:
    return {"url": endpoint.url, "events": endpoint.events, "active": endpoint.active}


@transaction.atomic
def create_endpoint(merchant: Merchant, *, url: str, events: list[str], actor: Actor,
                    description: str = "", active: bool = True) -> Endpoint:
    """Register an endpoint. Its signing secret is on the returned object: show it now."""
    url = transport.check_url(url)
    events = _check_events(events)
    _lock(merchant)  # two registrations at once cannot both pass the limit
    if Endpoint.objects.filter(merchant=merchant).count() >= MAX_ENDPOINTS:
        raise Conflict(
            ngettext("A merchant can have at most %(count)s webhook endpoint.",
                     "A merchant can have at most %(count)s webhook endpoints.", MAX_ENDPOINTS)
            % {"count": MAX_ENDPOINTS}
        )
    endpoint = Endpoint.objects.create(
        merchant=merchant, url=url, description=description.strip(), events=events,
        secret=signing.new_secret(), active=active, created_at=clock.now(),
    )
    _subscribe(merchant)
    audit.record("webhooks.endpoint.created", actor=actor, merchant=merchant, obj=endpoint,
                 data=_audit_data(endpoint))
    return endpoint


@transaction.atomic
def update_endpoint(endpoint: Endpoint, *, actor: Actor, **changes) -> Endpoint:
    """Change the URL, description, events or the active flag (only those given)."""
    if "url" in changes:
        endpoint.url = transport.check_url(changes["url"])
    if "events" in changes:
        endpoint.events = _check_events(changes["events"])
    if "description" in changes:
        endpoint.description = changes["description"].strip()
    if "active" in changes:
        endpoint.active = changes["active"]
    _lock(endpoint.merchant)
    endpoint.save(update_fields=["url", "events", "description", "active"])
    _subscribe(endpoint.merchant)
    audit.record("webhooks.endpoint.updated", actor=actor, merchant=endpoint.merchant,
                 obj=endpoint, data=_audit_data(endpoint))
    return endpoint


@transaction.atomic
def delete_endpoint(endpoint: Endpoint, *, actor: Actor) -> None:
    """Remove an endpoint with its delivery log; nothing more is sent to it."""
    audit.record("webhooks.endpoint.deleted", actor=actor, merchant=endpoint.merchant,
                 obj=endpoint, data=_audit_data(endpoint))
    _lock(endpoint.merchant)
    endpoint.delete()
    _subscribe(endpoint.merchant)


@transaction.atomic
def rotate_secret(endpoint: Endpoint, *, actor: Actor) -> Endpoint:
    """A new signing secret, in force at once for every attempt from now on."""
    endpoint.secret = signing.new_secret()
    endpoint.save(update_fields=["secret"])
    audit.record("webhooks.endpoint.secret_rotated", actor=actor, merchant=endpoint.merchant,
                 obj=endpoint)
    return endpoint


def _require_active(endpoint: Endpoint) -> None:
    if not endpoint.active:
        raise Conflict(_("This webhook endpoint is disabled; enable it first."), field="active")


@transaction.atomic
def send_test(endpoint: Endpoint, *, actor: Actor) -> Delivery:
    """Queue a `ping` event to this endpoint, whatever it subscribes to."""
    _require_active(endpoint)
    [delivery] = _deliveries(endpoint.merchant, PING, {"endpoint_id": endpoint.pk}, [endpoint])
    audit.record("webhooks.endpoint.tested", actor=actor, merchant=endpoint.merchant,
                 obj=endpoint, data={"event_id": str(delivery.event_id)})
    return delivery


# --- deliveries ------------------------------------------------------------------------------


def get_delivery(merchant: Merchant, delivery_id: int) -> Delivery:
    delivery = (Delivery.objects.filter(merchant=merchant, pk=delivery_id)
                .select_related("endpoint").first())
    if delivery is None:
        raise NotFound(_("No webhook delivery %(id)s.") % {"id": delivery_id}, field="id")
    return delivery


@transaction.atomic
def redeliver(delivery: Delivery, *, actor: Actor) -> Delivery:
    """Send a delivery again now — delivered, failed or waiting for a retry — with the same
    event id and body, and a fresh set of retries."""
    _require_active(delivery.endpoint)
    delivery.status = Delivery.Status.PENDING
    delivery.failures = 0
    delivery.next_attempt_at = clock.now()
    delivery.save(update_fields=["status", "failures", "next_attempt_at"])
    tasks.enqueue_on_commit(delivery.pk)
    audit.record("webhooks.delivery.redelivered", actor=actor, merchant=delivery.merchant,
                 obj=delivery, data={"event": delivery.event, "event_id": str(delivery.event_id)})
    return delivery
