"""A loopback web push service (RFC 8030) for the tests: it takes what pywebpush posts, checks
the VAPID signature (RFC 8292) against the key in the request, and decrypts the payload
(RFC 8291, aes128gcm) with the browser's keys — the half of push a browser does, played by a
`Browser` that holds the subscription's private key."""

import base64
import json
import os
import time
from dataclasses import dataclass, field

import http_ece
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.loopback import QuietHandler


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """A subscribing browser: its key pair and auth secret, as PushManager makes them."""

    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def subscription(self, endpoint: str) -> dict:
        public = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                    serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": endpoint, "keys": {"p256dh": b64(public), "auth": b64(self.auth)}}

    def read(self, body: bytes) -> dict:
        return json.loads(http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth,
                                           version="aes128gcm"))


def check_vapid(authorization: str, audience: str) -> dict:
    """The VAPID header's JWT, verified with its own public key; returns its claims."""
    scheme, _, params = authorization.partition(" ")
    assert scheme == "vapid", authorization
    values = dict(part.strip().split("=", 1) for part in params.split(","))
    token, server_key = values["t"], unb64(values["k"])
    header, claims, signature = token.split(".")
    raw = unb64(signature)
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), server_key)
    public.verify(encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:])),
                  f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))  # raises if forged
    claims = json.loads(unb64(claims))
    assert claims["aud"] == audience and claims["exp"] > time.time()
    return {**claims, "k": values["k"]}


class PushService(QuietHandler):
    """POST /push/<name>: 201, or what `answers[name]` says (410: the subscription is gone)."""

    received: list[dict] = []
    answers: dict[str, int] = {}

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        name = self.path.rsplit("/", 1)[-1]
        status = self.answers.get(name, 201)
        headers = {key.lower(): value for key, value in self.headers.items()}
        self.received.append({"name": name, "body": body, "headers": headers, "status": status})
        self.send_response(status)
        if status == 201:
            self.send_header("Location", f"/messages/{name}-{len(self.received)}")
        self.send_header("Content-Length", "0")
        self.end_headers()
