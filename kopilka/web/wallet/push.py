"""Web push on this phone (MSG-2): the wallet's script subscribes the browser with the VAPID
public key and posts the subscription here; from then on the person's shops reach them by
push instead of a paid SMS (kopilka/messaging/push.py). Switching off ends it here too."""

import json

from django.http import JsonResponse
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kopilka.core.errors import DomainError
from kopilka.core.problem import problem
from kopilka.messaging import push
from kopilka.tenancy.logins import client_ip
from kopilka.web.wallet import signin
from kopilka.web.wallet.person import wallet_view


def _posted(request) -> dict | None:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _invalid(field: str, detail: str):
    return problem(422, "invalid-input", _("The subscription is not valid."), detail,
                   errors=[{"field": field, "message": detail}])


@require_POST
@wallet_view
def subscribe(request):
    body = _posted(request)
    if body is None:
        return _invalid("body", _("Send the subscription as a JSON object."))
    keys = body.get("keys") if isinstance(body.get("keys"), dict) else {}
    try:
        push.subscribe(request.person, endpoint=body.get("endpoint", ""),
                       p256dh=keys.get("p256dh", ""), auth=keys.get("auth", ""),
                       user_agent=request.headers.get("User-Agent", ""),
                       actor=signin.actor_for(request.person, client_ip(request)))
    except DomainError as error:
        return _invalid(error.field or "body", str(error.detail))
    return JsonResponse({"subscribed": True}, status=201)


@require_POST
@wallet_view
def unsubscribe(request):
    body = _posted(request)
    if body is None or not isinstance(body.get("endpoint"), str):
        return _invalid("endpoint", _("Name the subscription's endpoint."))
    ended = push.unsubscribe(request.person, body["endpoint"],
                             actor=signin.actor_for(request.person, client_ip(request)))
    return JsonResponse({"subscribed": False, "ended": ended})


urlpatterns = [
    path("push/subscribe/", subscribe, name="push-subscribe"),
    path("push/unsubscribe/", unsubscribe, name="push-unsubscribe"),
]
