"""signing.verify, the helper offered to Python receivers, against an HMAC written out here."""

import hashlib
import hmac

from kopilka.webhooks import signing

SECRET = "whsec_test-secret"
BODY = '{"id":"e1","type":"ping","data":{"note":"ünïcode"}}'.encode()
T = 1_795_000_000


def written_out(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def test_the_header_is_the_documented_hmac():
    assert signing.signature_header(SECRET, BODY, T) == f"t={T},v1={written_out(SECRET, T, BODY)}"


def test_verify_accepts_a_good_signature_within_the_tolerance():
    header = f"t={T},v1={written_out(SECRET, T, BODY)}"
    assert signing.verify(SECRET, header, BODY, now=T)
    assert signing.verify(SECRET, header, BODY, now=T + 300)
    assert signing.verify(SECRET, f"t={T}, v1=00ff, v1={written_out(SECRET, T, BODY)}", BODY,
                          now=T)


def test_verify_refuses_anything_else():
    good = written_out(SECRET, T, BODY)
    refused = [
        (SECRET, f"t={T},v1={good}", BODY, T + 301),  # too old: a replay
        (SECRET, f"t={T},v1={good}", BODY, T - 301),  # from the future
        ("whsec_other", f"t={T},v1={good}", BODY, T),
        (SECRET, f"t={T},v1={good}", BODY + b" ", T),
        (SECRET, f"t={T + 1},v1={good}", BODY, T),  # the timestamp is signed too
        (SECRET, f"v1={good}", BODY, T),
        (SECRET, f"t={T}", BODY, T),
        (SECRET, f"t=abc,v1={good}", BODY, T),
        (SECRET, "", BODY, T),
    ]
    assert [signing.verify(s, h, b, now=now) for s, h, b, now in refused] == [False] * 9


def test_secrets_are_new_each_time():
    first, second = signing.new_secret(), signing.new_secret()
    assert first.startswith("whsec_") and second.startswith("whsec_") and first != second
