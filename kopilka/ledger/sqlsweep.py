"""The nightly sweep's chunk written by PostgreSQL itself: entries, hash chain, lots, accounts.

`sweep.materialise_chunk` on PostgreSQL comes here (unless KOPILKA_SQL_SWEEP=0). The Python
path turns every due lot into a `Lot`, builds a `Book` per account, an `Entry` per lot with its
SHA-256 and sends it all back with COPY and two UPDATEs: about 140 µs of CPU per lot, most of
it in Python. Here one statement does the same from the rows where they are:

* `due`: the chunk's due lots, each turned into its one entry exactly as `Book.materialise`
  decides (expire at min(own expiry, the account's inactivity deadline) if that has come — of
  the spendable or of the pending points — else activate at `available_at`), numbered per
  account in lot id order, the order the Python sweep journals them;
* `chain`: a recursive CTE continuing each account's chain from its head (`entry_seq`,
  `last_hash`): entry n's hash is `sha256()` of the same text `chain.entry_hash` hashes —
  prev_hash|account|seq|kind|lot|available|pending|time||occurred, the moment in UTC as
  Python's `isoformat(timespec="microseconds")` writes it;
* then, in data-modifying CTEs of the same statement: the INSERT of the entries, the UPDATE of
  the lots (`remaining`, `activated`) and the UPDATE of the accounts (balances moved by the
  entries' deltas, the new chain head, `updated_at`).

The accounts are locked first, in id order, by one SELECT … FOR UPDATE — the order every
multi-account lock takes — so this path, the Python one, transfers and a second stream of
chunks cannot deadlock. An account with open holds goes through the Python path in the same
transaction: materialise may release an expired hold, which this statement does not know.

`tests/ledger/test_sweep_sql.py` runs the same ledgers through both paths and compares every
row: the same entries with the same hashes, the same lots, the same accounts.
"""

from collections.abc import Sequence
from datetime import datetime

from django.db import connections, router

from kopilka.core import clock
from kopilka.ledger.models import Account, Entry, Lot

# The moment as `chain.entry_hash` writes it: isoformat(timespec="microseconds") in UTC.
_ISO_UTC = """to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00'"""


def _tables() -> dict[str, str]:
    return {"account": Account._meta.db_table, "lot": Lot._meta.db_table,
            "entry": Entry._meta.db_table}


_LOCK = """
SELECT id, held FROM {account}
WHERE merchant_id = %s AND id = ANY(%s::bigint[])
ORDER BY id FOR UPDATE
"""

_SWEEP = """
WITH RECURSIVE acc AS MATERIALIZED (
    SELECT id, entry_seq, last_hash::text AS last_hash, inactivity_deadline
    FROM {account} WHERE id = ANY(%(ids)s::bigint[])
),
lots AS (
    SELECT l.id AS lot_id, l.account_id, l.remaining, l.activated, l.available_at,
           LEAST(l.expires_at, a.inactivity_deadline) AS expiry
    FROM acc a JOIN {lot} l ON l.account_id = a.id
    WHERE l.merchant_id = %(merchant)s AND l.remaining > 0
      AND (l.expires_at <= %(at)s OR a.inactivity_deadline <= %(at)s
           OR (NOT l.activated AND l.available_at <= %(at)s))
),
kinds AS (
    SELECT lot_id, account_id, remaining, activated, available_at, expiry,
           coalesce(expiry <= %(at)s, false) AS expire
    FROM lots
),
due AS MATERIALIZED (
    SELECT lot_id, account_id, expire,
           row_number() OVER (PARTITION BY account_id ORDER BY lot_id) AS rn,
           CASE WHEN expire THEN 'expire' ELSE 'activate' END AS kind,
           CASE WHEN NOT expire THEN remaining WHEN activated THEN -remaining ELSE 0 END
               AS available_delta,
           CASE WHEN NOT expire OR NOT activated THEN -remaining ELSE 0 END AS pending_delta,
           CASE WHEN expire THEN expiry ELSE available_at END AS occurred_at
    FROM kinds
),
hashed AS MATERIALIZED (  -- what follows the seq in the hashed text
    SELECT d.*, '|' || kind || '|' || lot_id || '|' || available_delta || '|'
                || pending_delta || '|time||' || {iso} AS tail
    FROM due d
),
chain AS (
    SELECT h.account_id, h.rn, a.entry_seq + 1 AS seq, a.last_hash AS prev_hash,
           encode(sha256(convert_to(a.last_hash || '|' || h.account_id || '|'
                                    || (a.entry_seq + 1) || h.tail, 'UTF8')), 'hex') AS hash
    FROM hashed h JOIN acc a ON a.id = h.account_id
    WHERE h.rn = 1
    UNION ALL
    SELECT h.account_id, h.rn, c.seq + 1, c.hash,
           encode(sha256(convert_to(c.hash || '|' || h.account_id || '|' || (c.seq + 1)
                                    || h.tail, 'UTF8')), 'hex')
    FROM chain c JOIN hashed h ON h.account_id = c.account_id AND h.rn = c.rn + 1
),
inserted AS (
    INSERT INTO {entry} (merchant_id, account_id, seq, kind, lot_id, available_delta,
                         pending_delta, cause_type, cause_id, actor, occurred_at, prev_hash,
                         hash)
    SELECT %(merchant)s, c.account_id, c.seq, h.kind, h.lot_id, h.available_delta,
           h.pending_delta, 'time', '', '', h.occurred_at, c.prev_hash, c.hash
    FROM chain c JOIN hashed h ON h.account_id = c.account_id AND h.rn = c.rn
    ORDER BY c.account_id, c.seq
    RETURNING account_id, seq, hash, available_delta, pending_delta
),
changed_lots AS (
    UPDATE {lot} l
    SET remaining = CASE WHEN d.expire THEN 0 ELSE l.remaining END,
        activated = l.activated OR NOT d.expire
    FROM due d WHERE l.id = d.lot_id
    RETURNING 1
),
heads AS (
    SELECT account_id, max(seq) AS seq, (array_agg(hash ORDER BY seq DESC))[1] AS hash,
           sum(available_delta) AS available, sum(pending_delta) AS pending
    FROM inserted GROUP BY account_id
),
changed_accounts AS (
    UPDATE {account} a
    SET available = a.available + h.available, pending = a.pending + h.pending,
        entry_seq = h.seq, last_hash = h.hash, updated_at = %(now)s
    FROM heads h WHERE a.id = h.account_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM changed_lots),
       (SELECT count(*) FROM changed_accounts)
"""


def supported(connection) -> bool:
    """PostgreSQL 11+ (`sha256()` is built in from 11)."""
    return connection.vendor == "postgresql" and connection.pg_version >= 110000


def lock(merchant_id: int, account_ids: Sequence[int], connection) -> list[tuple[int, int]]:
    """Lock the merchant's accounts among these, in id order: [(id, held)]."""
    with connection.cursor() as cursor:
        cursor.execute(_LOCK.format(**_tables()), [merchant_id, list(account_ids)])
        return cursor.fetchall()


def materialise_locked(merchant_id: int, account_ids: Sequence[int], at: datetime,
                       connection=None) -> int:
    """Journal what is due by `at` on these accounts (locked by the caller, in its
    transaction, without open holds); return how many entries were written."""
    if not account_ids:
        return 0
    connection = connection or connections[router.db_for_write(Entry)]
    sql = _SWEEP.format(iso=_ISO_UTC.format("d.occurred_at"), **_tables())
    with connection.cursor() as cursor:
        cursor.execute(sql, {"ids": list(account_ids), "merchant": merchant_id, "at": at,
                             "now": clock.now()})
        entries, lots, accounts = cursor.fetchone()
    if entries != lots:  # one entry per due lot, always
        raise AssertionError(f"sweep wrote {entries} entries for {lots} lots")
    return entries
