"""Inbound messages from SMS gateways: a member's reply "STOP" opts them out (MSG-3).

A gateway calls this with the shared secret of the installation (`KOPILKA_INBOUND_SMS_SECRET`)
as a bearer token; a phone belongs to no single merchant, so the call runs in no tenant scope
and the service revokes the consent at every merchant the phone is a member of.
"""

import hmac

from django.conf import settings
from ninja import Field, Router, Schema
from ninja.security import HttpBearer

from kopilka.api.auth import client_ip
from kopilka.api.schemas import Problem, StrictIn
from kopilka.core.actor import Actor
from kopilka.messaging import optout


class GatewaySecret(HttpBearer):
    """`Authorization: Bearer <KOPILKA_INBOUND_SMS_SECRET>`; refused while no secret is set."""

    def authenticate(self, request, token):
        secret = settings.INBOUND_SMS_SECRET
        if not secret or not hmac.compare_digest(token.encode(), secret.encode()):
            return None
        return Actor(kind="system", label="sms gateway", ip=client_ip(request))


router = Router(tags=["Inbound"], auth=GatewaySecret())


class InboundSmsIn(StrictIn):
    sender: str = Field(alias="from", min_length=1, max_length=32,
                        description="The phone the SMS came from (E.164 preferred)")
    text: str = Field(max_length=1600, description="The SMS text as received")


class InboundSmsOut(Schema):
    unsubscribed: int = Field(description="Memberships whose consent to messages this reply "
                                          "revoked: 0 for any text but STOP, СТОП, ОТПИСКА, "
                                          "ВІДПИСКА (trimmed, any case)")


@router.post("/inbound/sms", response={200: InboundSmsOut, 400: Problem, 401: Problem,
                                        422: Problem},
             summary="Receive an SMS sent to the merchant's number (STOP opts out)")
def inbound_sms(request, body: InboundSmsIn):
    return {"unsubscribed": optout.stop(body.sender, body.text, actor=request.auth)}
