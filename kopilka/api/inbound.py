"""Inbound calls from SMS gateways: a member's reply "STOP" opts them out (MSG-3), and the
gateway's word on what became of a message it accepted (delivery receipts).

A gateway calls these with the shared secret of the installation (`KOPILKA_INBOUND_SMS_SECRET`)
as a bearer token, or as the password of HTTP Basic authentication for gateways that can only
put credentials in the callback URL (`https://kopilka:<secret>@host/...`, as Twilio does). A
phone or a provider's message id belongs to no single merchant, so the calls run in no tenant
scope: the services find the rows by phone, or by provider and provider id.
"""

import hmac
import json

from django.conf import settings
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from ninja.security import HttpBasicAuth, HttpBearer

from kopilka.api.auth import client_ip
from kopilka.api.schemas import Problem, StrictIn
from kopilka.campaigns import services as campaigns
from kopilka.core.actor import Actor
from kopilka.core.errors import InvalidInput
from kopilka.core.phones import normalize_phone
from kopilka.messaging import optout, receipts
from kopilka.messaging.backends import http


def _gateway(request, secret_given: str):
    secret = settings.INBOUND_SMS_SECRET
    if not secret or not hmac.compare_digest(secret_given.encode(), secret.encode()):
        return None
    return Actor(kind="system", label="sms gateway", ip=client_ip(request))


class GatewaySecret(HttpBearer):
    """`Authorization: Bearer <KOPILKA_INBOUND_SMS_SECRET>`; refused while no secret is set."""

    def authenticate(self, request, token):
        return _gateway(request, token)


class GatewayPassword(HttpBasicAuth):
    """HTTP Basic with the secret as the password (any user name)."""

    def authenticate(self, request, username, password):
        return _gateway(request, password)


router = Router(tags=["Inbound"], auth=[GatewaySecret(), GatewayPassword()])


class InboundSmsIn(StrictIn):
    sender: str = Field(alias="from", min_length=1, max_length=32,
                        description="The phone the SMS came from (E.164 preferred)")
    text: str = Field(max_length=1600, description="The SMS text as received")


class InboundSmsOut(Schema):
    unsubscribed: int = Field(description="Memberships whose consent to messages this reply "
                                          "revoked: 0 for any text but STOP, СТОП, ОТПИСКА, "
                                          "ВІДПИСКА (trimmed, any case)")
    reply: str | None = Field(None, description="For a campaign code (\"CODE 7XQ29F4K\"): "
                                                "what happened, also queued as an SMS reply "
                                                "from the code's merchant when it is known")
    points: int = Field(0, description="Points the code granted (0 when refused)")


@router.post("/inbound/sms", response={200: InboundSmsOut, 400: Problem, 401: Problem,
                                        422: Problem},
             summary="Receive an SMS sent to the merchant's number (STOP opts out, "
                     "CODE <code> activates a campaign code)",
             exclude_unset=True)
def inbound_sms(request, body: InboundSmsIn):
    answer = campaigns.activate_by_sms(_e164(body.sender), body.text, actor=request.auth)
    if answer is not None:
        return {"unsubscribed": 0, "reply": answer.reply,
                "points": answer.activated.points if answer.activated else 0}
    return {"unsubscribed": optout.stop(body.sender, body.text, actor=request.auth)}


def _e164(sender: str) -> str:
    try:
        return normalize_phone(sender, settings.PHONENUMBER_DEFAULT_REGION, field="from")
    except InvalidInput:
        return sender.strip()[:32]


class SmsStatusOut(Schema):
    known: bool = Field(description="A message sent through this gateway has this id; false "
                                    "answers 200 all the same (a gateway would retry an "
                                    "error for ever), and is logged")
    updated: bool = Field(description="The message changed: delivered, failed, or one more "
                                      "of its parts delivered. A repeated status changes "
                                      "nothing")


def _text(max_length: int, description: str) -> dict:
    return {"type": "string", "minLength": 1, "maxLength": max_length,
            "description": description}


# The three shapes of a status callback, for the OpenAPI document (the view reads the body
# itself: Twilio sends a form, the others JSON).
_STATUS_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"oneOf": [
        {"title": "Generic", "type": "object", "required": ["provider_id", "status"],
         "properties": {
             "provider_id": _text(100, "The gateway's id of the message (or of one part)"),
             "status": {"type": "string", "enum": list(http.GENERIC_CALLBACK["states"])},
             "error": _text(500, "What went wrong (failed only)")}},
        {"title": "Vonage delivery receipt", "type": "object",
         "required": ["messageId", "status"],
         "properties": {
             "messageId": _text(100, "Vonage's id of the message part"),
             "status": {"type": "string",
                        "enum": list(http.PRESETS["vonage"]["callback"]["states"])},
             "err-code": _text(500, "Vonage's error code")}},
    ]}},
    "application/x-www-form-urlencoded": {"schema": {
        "title": "Twilio status callback", "type": "object",
        "required": ["MessageSid", "MessageStatus"],
        "properties": {
            "MessageSid": _text(100, "Twilio's id of the message"),
            "MessageStatus": {"type": "string",
                              "enum": list(http.PRESETS["twilio"]["callback"]["states"])},
            "ErrorCode": _text(500, "Twilio's error code")}}},
}}}


def _fields(request) -> dict:
    """The callback's fields, from a form or a JSON object."""
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return {name: request.POST.get(name) for name in request.POST}
    if not request.body:
        return {}
    try:
        document = json.loads(request.body)
    except ValueError:
        # As ninja answers any other operation's unreadable body.
        raise HttpError(400, "Cannot parse request body") from None
    if not isinstance(document, dict):
        raise InvalidInput(_("Must be an object."), field="body")
    return document


@router.post("/inbound/sms/status", response={200: SmsStatusOut, 400: Problem, 401: Problem,
                                               422: Problem},
             summary="Receive a gateway's delivery status for an SMS it accepted",
             openapi_extra=_STATUS_BODY)
def sms_status(request):
    receipt = http.read_status(_fields(request))
    outcome = receipts.apply(receipt.provider, receipt.provider_id, receipt.state, receipt.error)
    return {"known": outcome is not receipts.Outcome.UNKNOWN, "updated": bool(outcome)}
