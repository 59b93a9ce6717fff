"""How a campaign code looks and how it is kept: random characters from an alphabet without
look-alikes, an optional prefix and Luhn mod N check character, and a keyed hash.

The hash is keyed BLAKE2b (RFC 7693's MAC mode, a drop-in for HMAC: a pseudo-random function
of the key and the code) over the normalised code (prefix and check character included), with
a key derived once from SECRET_KEY for this purpose only, 16 bytes long (128 bits: no two codes
of the world collide, and nothing can be guessed back from it). BLAKE2b is chosen over
HMAC-SHA256 for speed: a million codes hash in a third of the time (bench/bench_campaigns.py).
Changing SECRET_KEY makes every printed code unknown: keep it, as for sessions.
"""

import hashlib
import secrets
from hashlib import blake2b

from django.conf import settings

SALT = b"kopilka.campaigns.SecretCode"
DIGEST_BYTES = 16


def _key() -> bytes:
    return hashlib.sha256(SALT + settings.SECRET_KEY.encode()).digest()


def digest(code: str, key: bytes | None = None) -> bytes:
    return blake2b(code.encode(), key=key or _key(), digest_size=DIGEST_BYTES).digest()


def digests(codes: list[str]) -> list[bytes]:
    key = _key()
    return [blake2b(code.encode(), key=key, digest_size=DIGEST_BYTES).digest()
            for code in codes]


def normalise(typed: str) -> str:
    """What a person typed or scanned: upper case, without spaces and dashes; a scanned QR
    link gives its last part."""
    text = typed.strip()
    if "/" in text:
        text = text.rstrip("/").rsplit("/", 1)[-1]
    return "".join(ch for ch in text.upper() if ch not in " -_\t")


def check_char(body: str, alphabet: str) -> str:
    """Luhn mod N over `body` (every character in `alphabet`): catches any single wrong
    character and most swaps of two neighbours."""
    n = len(alphabet)
    factor, total = 2, 0
    for ch in reversed(body):
        addend = factor * alphabet.index(ch)
        total += addend // n + addend % n
        factor = 1 if factor == 2 else 2
    return alphabet[(n - total % n) % n]


def check_ok(code: str, alphabet: str) -> bool:
    if len(code) < 2 or any(ch not in alphabet for ch in code):
        return False
    return check_char(code[:-1], alphabet) == code[-1]


def random_bodies(count: int, length: int, alphabet: str) -> list[str]:
    """`count` random strings from `alphabet` (the operating system's CSPRNG, no modulo bias:
    bytes above the largest multiple of the alphabet's size are dropped)."""
    n = len(alphabet)
    limit = 256 - 256 % n
    table = bytes((alphabet[b % n] if b < limit else "?").encode()[0] for b in range(256))
    drop = bytes(range(limit, 256))
    need = count * length
    out = bytearray()
    while len(out) < need:
        chunk = secrets.token_bytes((need - len(out)) * 256 // limit + 64)
        out += chunk.translate(table, drop)
    text = out[:need].decode()
    return [text[i:i + length] for i in range(0, need, length)]


def make(bodies: list[str], prefix: str, alphabet: str, with_check: bool) -> list[str]:
    if with_check:
        return [f"{prefix}{body}{check_char(body, alphabet)}" for body in bodies]
    return [prefix + body for body in bodies] if prefix else bodies
