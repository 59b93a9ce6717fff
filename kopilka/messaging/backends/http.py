"""A generic HTTP SMS gateway: most providers take one request per message and answer with
JSON that holds the message id. What differs — URL, method, authentication, the body's field
names and form, where the id is in the answer — is configuration, with presets for common
providers.

Options: `url`, `method` ("POST"), `auth` (the Authorization header's value), `headers`,
`format` ("json" or "form"), `body` (an object whose string values may hold `{to}` — E.164 with
"+" —, `{to_digits}`, `{text}`, `{sender}`, `{id}` — our message id, for gateways that
deduplicate on a client reference), `id_path` (dotted path to the provider id in the JSON
answer, list items by index: "messages.0.message-id"), `sender`, `timeout` (seconds),
`preset` (fills format, body and id_path). 2xx is accepted; 408, 429 and 5xx are retried;
other answers are refusals.
"""

import json
import re
import urllib.error
import urllib.parse
import urllib.request

from kopilka import __version__
from kopilka.messaging.backends.base import BaseBackend, DeliveryError, Outgoing, Refused, Sent

PRESETS = {
    # Twilio Messages API: form body, HTTP Basic auth (account SID and token), id in "sid".
    "twilio": {"format": "form", "body": {"To": "{to}", "From": "{sender}", "Body": "{text}"},
               "id_path": "sid"},
    # Vonage (Nexmo) SMS API: JSON with key and secret in the body, id per part.
    "vonage": {"format": "json",
               "body": {"to": "{to_digits}", "from": "{sender}", "text": "{text}",
                        "client-ref": "{id}", "type": "unicode"},
               "id_path": "messages.0.message-id"},
}
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


def _pick(document, path: str) -> str:
    for step in path.split(".") if path else ():
        if isinstance(document, list) and step.isdigit() and int(step) < len(document):
            document = document[int(step)]
        elif isinstance(document, dict) and step in document:
            document = document[step]
        else:
            return ""
    return "" if document is None or isinstance(document, (dict, list)) else str(document)


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
        return Sent(provider_id=_pick(document, self.id_path)[:100])
