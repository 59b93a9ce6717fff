"""The closed list of reasons a balance may change: every entry's `cause_type` is one of them.

The ledger knows no purchases, birthdays or campaigns; it records *why* as a cause type and
the id of the thing that caused it (`purchase 12`: `Entry.cause_type`, `Entry.cause_id`). Each
app that changes balances registers its cause types once, in its `AppConfig.ready()`, saying
what the id names; a `Cause` of a type nobody registered is refused when it is built, before
anything is written. So the list stays closed (a typo cannot start a new kind of history) and
every cause type in the journal has one owner who says what its id means — which is how a
later feature finds "the lots of purchase 12" without a foreign key from the ledger up to it.
"""

import re

# The ledger's own: activation and expiry, journalled when time has passed (no id).
_REGISTRY: dict[str, str] = {"time": "activation or expiry of a lot; no id"}
_NAME = re.compile(r"[a-z][a-z0-9_]*")
MAX_LENGTH = 20  # Entry.cause_type's column


class UnknownCause(ValueError):
    """A programming error: a cause type no app registered."""


def register(name: str, meaning: str) -> None:
    """Add a cause type; `meaning` says what its cause id names ("processing.Purchase id").
    Registering the same name again with the same meaning does nothing (Django may run
    `ready()` twice in tests); another meaning is a clash between two apps and refused."""
    if not _NAME.fullmatch(name) or len(name) > MAX_LENGTH:
        raise ValueError(f"cause type {name!r}: lower-case letters, digits and _, "
                         f"at most {MAX_LENGTH} characters")
    known = _REGISTRY.setdefault(name, meaning)
    if known != meaning:
        raise ValueError(f"cause type {name!r} is already registered: {known}")


def check(name: str) -> None:
    if name not in _REGISTRY:
        raise UnknownCause(f"unknown cause type {name!r}: register it with "
                           "kopilka.ledger.causes.register() in its app's ready()")


def registered() -> dict[str, str]:
    """Every cause type and what its id names."""
    return dict(_REGISTRY)
