"""A generic HTTP SMS gateway: most providers take one request per message and answer with
JSON that holds the message id. What differs — URL, method, authentication, the body's field
names and form, where the id is in the answer — is configuration, with presets for common
providers.

Options: `url`, `method` ("POST"), `auth` (the Authorization header's value), `headers`,
`format` ("json" or "form"), `body` (an object whose string values may hold `{to}` — E.164 with
"+" —, `{to_digits}`, `{text}`, `{sender}`, `{id}` — our message id, for gateways that
deduplicate on a client reference), `id_path` (dotted path to the provider id in the JSON
answer, list items by index: "messages.0.message-id", or "*" for every item: the ids of all
parts), `sender`, `timeout` (seconds), `preset` (fills format, body and id_path). 2xx is
accepted; 408, 429 and 5xx are retried; other answers are refusals.

What became of a message comes back later, when the gateway calls
`POST /api/v1/inbound/sms/status` (kopilka/api/inbound.py): `read_status` reads that call —
Twilio's, Vonage's or the generic form — with each preset's `callback`: the fields holding
the provider id, the status and the error code, and what each status means for the message
(kopilka/messaging/receipts.py). A status a preset does not list changes nothing.
"""

import json
import logging
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping

from django.utils.translation import gettext as _

from kopilka import __version__
from kopilka.core.errors import InvalidInput
from kopilka.messaging import receipts
from kopilka.messaging.backends.base import BaseBackend, DeliveryError, Outgoing, Refused, Sent
from kopilka.messaging.receipts import DELIVERED, FAILED, PENDING

logger = logging.getLogger(__name__)

PRESETS = {
    # Twilio Messages API: form body, HTTP Basic auth (account SID and token), id in "sid".
    # Its status callback (the StatusCallback URL) is a form: MessageSid, MessageStatus and,
    # on failure, ErrorCode.
    "twilio": {"format": "form", "body": {"To": "{to}", "From": "{sender}", "Body": "{text}"},
               "id_path": "sid",
               "callback": {"id": "MessageSid", "status": "MessageStatus", "error": "ErrorCode",
                            "states": {
                                "delivered": DELIVERED, "read": DELIVERED,
                                "undelivered": FAILED, "failed": FAILED, "canceled": FAILED,
                                "accepted": PENDING, "scheduled": PENDING, "queued": PENDING,
                                "sending": PENDING, "sent": PENDING,
                                "partially_delivered": PENDING,
                            }}},
    # Vonage (Nexmo) SMS API: JSON with key and secret in the body, one id per part. Its
    # delivery receipt (one per part; "POST-JSON" in the dashboard) holds messageId, status
    # and err-code.
    "vonage": {"format": "json",
               "body": {"to": "{to_digits}", "from": "{sender}", "text": "{text}",
                        "client-ref": "{id}", "type": "unicode"},
               "id_path": "messages.*.message-id",
               "callback": {"id": "messageId", "status": "status", "error": "err-code",
                            "states": {
                                "delivered": DELIVERED,
                                "expired": FAILED, "failed": FAILED, "rejected": FAILED,
                                "accepted": PENDING, "buffered": PENDING, "unknown": PENDING,
                            }}},
}
# Any other gateway can call with {"provider_id": "...", "status": "delivered" | "failed" |
# "pending", "error": "..."}; here an unknown status is a mistake of ours to hear about (422).
GENERIC_CALLBACK = {"id": "provider_id", "status": "status", "error": "error",
                    "states": {"delivered": DELIVERED, "failed": FAILED, "pending": PENDING}}
_FIELD = re.compile(r"\{(to|to_digits|text|sender|id)\}")
_RETRY = {408, 429}
EXCERPT = 300


def _fill(template, values: dict[str, str]):
    if isinstance(template, str):
        return _FIELD.sub(lambda match: values[match.group(1)], template)
    if isinstance(template, dict):
        return {key: _fill(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [_fill(value, values) for value in template]
    return template


def _pick(document, path: str) -> list[str]:
    """The values at a dotted path ("*" steps into every list item), in order."""
    if not path:
        return [] if document is None or isinstance(document, (dict, list)) else [str(document)]
    step, _, rest = path.partition(".")
    if isinstance(document, list) and step == "*":
        return [value for item in document for value in _pick(item, rest)]
    if isinstance(document, list) and step.isdigit() and int(step) < len(document):
        return _pick(document[int(step)], rest)
    if isinstance(document, dict) and step in document:
        return _pick(document[step], rest)
    return []


def read_status(fields: Mapping[str, object]) -> receipts.Receipt:
    """The receipt in a gateway's status callback: Twilio's, Vonage's or the generic one,
    told apart by the field that names the message. InvalidInput names a missing or wrong
    field."""
    callbacks = [PRESETS["twilio"]["callback"], PRESETS["vonage"]["callback"], GENERIC_CALLBACK]
    callback = next((each for each in callbacks if each["id"] in fields), GENERIC_CALLBACK)
    provider_id = _field(fields, callback["id"])
    status = _field(fields, callback["status"]).lower()
    state = callback["states"].get(status)
    if state is None:
        if callback is GENERIC_CALLBACK:
            raise InvalidInput(_("Must be one of: %(expected)s.") % {
                "expected": ", ".join(GENERIC_CALLBACK["states"])}, field="status")
        logger.warning("gateway status %r for %r is not known: nothing changes", status,
                       provider_id)
        state = PENDING
    error = ""
    if state == FAILED:
        code = _field(fields, callback["error"], required=False, limit=500)
        if callback is GENERIC_CALLBACK:
            error = code or status
        else:
            error = f"{status} ({code})" if code and code != "0" else status
    return receipts.Receipt(provider=HttpBackend.name, provider_id=provider_id, state=state,
                            error=error)


def _field(fields: Mapping[str, object], name: str, required: bool = True,
           limit: int = receipts.PROVIDER_ID_LENGTH) -> str:
    value = fields.get(name)
    if value is None or value == "":
        if required:
            raise InvalidInput(_("This field is required."), field=name)
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidInput(_("Must be a string."), field=name)
    value = str(value).strip()
    if "\x00" in value:
        raise InvalidInput(_("Must not contain the NUL character."), field=name)
    if len(value) > limit:
        raise InvalidInput(_("Too long (maximum length: %(max_length)s).") % {
            "max_length": limit}, field=name)
    return value


class HttpBackend(BaseBackend):
    name = "http"

    def __init__(self, url: str, *, method: str = "POST", auth: str = "",
                 headers: dict | None = None, format: str | None = None,
                 body: dict | None = None, id_path: str | None = None, sender: str = "",
                 timeout: float = 10, preset: str | None = None):
        base = PRESETS[preset] if preset else {}
        self.url = url
        self.method = method.upper()
        self.headers = {"User-Agent": f"Kopilka/{__version__}", **(headers or {})}
        if auth:
            self.headers["Authorization"] = auth
        self.format = format or base.get("format", "json")
        if self.format not in ("json", "form"):
            raise ValueError(f"format must be 'json' or 'form', not {self.format!r}")
        self.body = body or base.get("body") or {"to": "{to}", "text": "{text}",
                                                 "sender": "{sender}"}
        self.id_path = id_path if id_path is not None else base.get("id_path", "id")
        self.sender = sender
        self.timeout = timeout

    def _request(self, message: Outgoing) -> urllib.request.Request:
        values = {"to": message.recipient, "to_digits": message.recipient.lstrip("+"),
                  "text": message.body, "sender": self.sender, "id": str(message.id)}
        fields = _fill(self.body, values)
        if self.format == "json":
            data = json.dumps(fields, ensure_ascii=False).encode()
            content_type = "application/json"
        else:
            data = urllib.parse.urlencode(fields).encode()
            content_type = "application/x-www-form-urlencoded"
        return urllib.request.Request(self.url, data=data, method=self.method,
                                      headers={**self.headers, "Content-Type": content_type})

    def send(self, message: Outgoing) -> Sent:
        try:
            with urllib.request.urlopen(self._request(message), timeout=self.timeout) as answer:
                text = answer.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            excerpt = error.read().decode("utf-8", "replace")[:EXCERPT]
            failure = f"HTTP {error.code}: {excerpt}"
            if error.code in _RETRY or error.code >= 500:
                raise DeliveryError(failure) from None
            raise Refused(failure) from None
        try:
            document = json.loads(text)
        except ValueError:
            document = None  # accepted, but the gateway says nothing we can parse
        return Sent.of_parts(_pick(document, self.id_path))
