"""Web push (MSG-2, PolyCard's "push instead of paid SMS"): a person subscribes their wallet on
a phone, and from then on the messages their merchants send them go to that phone as a push,
free, instead of an SMS. A subscription the push service reports gone falls back to SMS.

The server half only: the browser subscribes with the VAPID public key (`public_key`) and
posts its subscription (`subscribe`); the push service is whatever URL the browser got from
its vendor, so only the hosts in settings.PUSH_HOSTS are accepted — otherwise a subscription
would make this server post to any address its owner chose.

The VAPID key pair is generated once and kept in the data directory (`vapid_private.pem`),
like the development secret key: it identifies this server to the push services, and a new
key would void every subscription made with the old one.
"""

import base64
import binascii
import os
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from kopilka.core import audit, clock
from kopilka.core.actor import Actor
from kopilka.core.errors import InvalidInput
from kopilka.messaging.models import PushSubscription

KEY_FILE = "vapid_private.pem"
P256DH_BYTES = 65  # an uncompressed P-256 point
AUTH_BYTES = 16


def key_path() -> Path:
    return Path(settings.PUSH_VAPID_KEY_FILE or Path(settings.DATA_DIR) / KEY_FILE)


@cache
def private_key() -> ec.EllipticCurvePrivateKey:
    """The server's VAPID key, created on first use (mode 0600, never overwritten)."""
    path = key_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            pass
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def vapid() -> str:
    """The key file as pywebpush takes it."""
    private_key()
    return str(key_path())


def public_key() -> str:
    """The applicationServerKey the browser subscribes with: base64url, no padding."""
    raw = private_key().public_key().public_bytes(serialization.Encoding.X962,
                                                  serialization.PublicFormat.UncompressedPoint)
    return _b64(raw)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def _check_endpoint(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    allowed = any(host == pattern or (pattern.startswith(".") and host.endswith(pattern))
                  for pattern in settings.PUSH_HOSTS)
    secure = parts.scheme == "https" or (parts.scheme == "http" and settings.PUSH_ALLOW_HTTP)
    if not endpoint or len(endpoint) > 1000 or not secure or not allowed:
        raise InvalidInput(_("This browser's push service is not one we send to."),
                           field="endpoint")
    return endpoint


def subscribe(person, *, endpoint: str, p256dh: str, auth: str, actor: Actor,
              user_agent: str = "") -> PushSubscription:
    """Keep the browser's subscription for `person` (the same endpoint again updates it)."""
    endpoint = _check_endpoint(str(endpoint or "").strip())
    key, secret = _unb64(str(p256dh or "")), _unb64(str(auth or ""))
    if key is None or len(key) != P256DH_BYTES or key[0] != 4:
        raise InvalidInput(_("The subscription's key is not valid."), field="p256dh")
    if secret is None or len(secret) != AUTH_BYTES:
        raise InvalidInput(_("The subscription's secret is not valid."), field="auth")
    now = clock.now()
    with transaction.atomic():
        subscription, _created = PushSubscription.objects.update_or_create(
            endpoint=endpoint,
            defaults={"person": person, "p256dh": _b64(key), "auth": _b64(secret),
                      "user_agent": user_agent[:200], "gone_at": None},
            create_defaults={"person": person, "p256dh": _b64(key), "auth": _b64(secret),
                             "user_agent": user_agent[:200], "created_at": now},
        )
        audit.record("messaging.push.subscribed", actor=actor, obj=subscription)
    return subscription


def unsubscribe(person, endpoint: str, *, actor: Actor) -> bool:
    """Switch this browser's push off; False when it had none."""
    with transaction.atomic():
        ended = PushSubscription.objects.filter(person=person, endpoint=endpoint,
                                                gone_at=None).update(gone_at=clock.now())
        if ended:
            audit.record("messaging.push.unsubscribed", actor=actor, obj=person)
    return bool(ended)


def forget(person) -> int:
    """End every live subscription of the person ("sign out everywhere")."""
    return PushSubscription.objects.filter(person=person, gone_at=None).update(
        gone_at=clock.now())


def live(person_id: int) -> PushSubscription | None:
    """The person's most recent live subscription: where their messages go instead of SMS."""
    return (PushSubscription.objects.filter(person_id=person_id, gone_at=None)
            .order_by("-created_at", "-pk").first())


def live_of(person_ids) -> dict[int, PushSubscription]:
    """`live` for many people at once, by person id (those without one left out): one query."""
    found: dict[int, PushSubscription] = {}
    for subscription in (PushSubscription.objects.filter(person_id__in=person_ids, gone_at=None)
                         .order_by("person_id", "-created_at", "-pk")):
        found.setdefault(subscription.person_id, subscription)
    return found


def is_subscribed(person, endpoint: str) -> bool:
    return PushSubscription.objects.filter(person=person, endpoint=endpoint,
                                           gone_at=None).exists()


def subscription_info(subscription: PushSubscription) -> dict:
    """What pywebpush sends to."""
    return {"endpoint": subscription.endpoint,
            "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}}


def gone(subscription_id: int) -> None:
    PushSubscription.objects.filter(pk=subscription_id, gone_at=None).update(
        gone_at=clock.now())


def sent(subscription_id: int) -> None:
    PushSubscription.objects.filter(pk=subscription_id).update(last_sent_at=clock.now())


RECIPIENT_PREFIX = "push:"


def recipient(subscription: PushSubscription) -> str:
    """What a push message's recipient column holds: the subscription, not its keys."""
    return f"{RECIPIENT_PREFIX}{subscription.pk}"


def of_recipient(text: str) -> PushSubscription | None:
    """The live subscription a push message goes to; None once it is gone."""
    raw = text.removeprefix(RECIPIENT_PREFIX)
    if not raw.isdigit():
        return None
    return PushSubscription.objects.filter(pk=int(raw), gone_at=None).first()
