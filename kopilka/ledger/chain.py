"""The hash chain that makes each account's history tamper-evident."""

import hashlib
from datetime import UTC


def entry_hash(prev_hash: str, entry) -> str:
    """Hash of an entry's content and the previous entry's hash.

    Times are normalised to UTC so the same row hashes the same on SQLite and PostgreSQL.
    """
    occurred = entry.occurred_at.astimezone(UTC).isoformat(timespec="microseconds")
    content = "|".join(
        str(part)
        for part in (
            prev_hash, entry.account_id, entry.seq, entry.kind, entry.lot_id,
            entry.available_delta, entry.pending_delta, entry.cause_type, entry.cause_id,
            occurred,
        )
    )
    return hashlib.sha256(content.encode()).hexdigest()
