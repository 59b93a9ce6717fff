"""API keys: random, shown once, stored as a SHA-256 hash next to a short visible prefix.

Keys carry 256 bits of randomness, so a fast hash is enough (unlike passwords, they cannot
be guessed from a dictionary) and checking one costs microseconds on every POS request.
"""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class NewKey:
    plaintext: str
    prefix: str
    digest: str


def new_key(kind: str) -> NewKey:
    prefix = secrets.token_hex(4)
    plaintext = f"kp_{kind}_{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(plaintext=plaintext, prefix=prefix, digest=digest_key(plaintext))


def digest_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def split_key(plaintext: str, kind: str) -> str | None:
    """Return the prefix of a well-formed key of that kind, or None."""
    parts = plaintext.split("_", 3)
    if len(parts) != 4 or parts[0] != "kp" or parts[1] != kind:
        return None
    # Exactly what new_key makes (8 lowercase hex digits): anything else is no key, and never
    # reaches the database (PostgreSQL refuses a NUL in a query: that was a 500).
    if not re.fullmatch(r"[0-9a-f]{8}", parts[2]):
        return None
    return parts[2]


def same_digest(plaintext: str, digest: str) -> bool:
    return hmac.compare_digest(digest_key(plaintext), digest)
