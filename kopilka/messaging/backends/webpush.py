"""Web push (RFC 8030, payload encrypted per RFC 8291, aes128gcm, signed with VAPID per RFC
8292) to a wallet's browser, with pywebpush — the maintained implementation the Mozilla push
team keeps (MPL-2.0); django-webpush is GPL-3 and stale.

The recipient is the subscription as JSON (the outbox reads it from push.py when it sends, so
the message row never holds the browser's keys). The payload is what the wallet's service
worker shows: {"title": the merchant's name, "body": the SMS text, "url": the wallet}.

Options: `subject` (the VAPID contact, "mailto:…" or an https URL; default
settings.PUSH_VAPID_SUBJECT), `url` (where a tap on the notification opens; default "/my/"),
`ttl` (seconds the push service keeps an undelivered message; default one day), `timeout`.
201/202 are accepted; 404 and 410 mean the subscription is gone (the outbox falls back to
SMS); 413 and other 4xx are refusals; 429 and 5xx are retried.
"""

import json

from django.conf import settings
from pywebpush import WebPushException, webpush

from kopilka.messaging import push
from kopilka.messaging.backends.base import (
    BaseBackend,
    DeliveryError,
    Gone,
    Outgoing,
    Refused,
    Sent,
)


class WebPushBackend(BaseBackend):
    name = "webpush"

    def __init__(self, subject: str | None = None, url: str = "/my/", ttl: int = 86_400,
                 timeout: float = 10):
        self.subject = subject or settings.PUSH_VAPID_SUBJECT
        self.url, self.ttl, self.timeout = url, ttl, timeout

    def send(self, message: Outgoing) -> Sent:
        payload = json.dumps({"title": message.subject, "body": message.body, "url": self.url},
                             ensure_ascii=False)
        try:
            response = webpush(
                json.loads(message.recipient), data=payload, ttl=self.ttl,
                vapid_private_key=push.vapid(), vapid_claims={"sub": self.subject},
                content_encoding="aes128gcm", timeout=self.timeout,
            )
        except WebPushException as error:
            status = error.response.status_code if error.response is not None else None
            if status in (404, 410):
                raise Gone(f"push subscription gone ({status})") from None
            if status is not None and 400 <= status < 500 and status != 429:
                raise Refused(f"push service refused: {status}") from None
            raise DeliveryError(f"push service: {status or error}") from None
        # The push service's id for the message, when it gives one (a Location URL).
        return Sent(provider_id=response.headers.get("Location", "")[-100:], parts=0)
