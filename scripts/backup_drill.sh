#!/usr/bin/env bash
# A backup and restore drill on PostgreSQL: populate a database (bench/generate.py), dump it
# with pg_dump (custom format), restore the dump into a new database with pg_restore, then
# prove the copy: `kopilka verify-ledger` on it and the same row counts and balance sums as
# the original. Prints the figures (sizes, times); docs/operations.md, "Backups and a restore
# drill", has a run's.
#
#   scripts/backup_drill.sh [--members N] [--purchases N]
#
# PG_URL is the server (default postgres://postgres@127.0.0.1:5432); the databases are
# $DRILL_DB and ${DRILL_DB}_restored (default kopilka_scaleout_gen_drill; bench/generate.py wants "gen" in it): both are DROPPED first.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
DRILL_DB=${DRILL_DB:-kopilka_scaleout_gen_drill}
RESTORED="${DRILL_DB}_restored"
PYTHON=${PYTHON:-.venv/bin/python}
MEMBERS=20000
PURCHASES=200000
while [ $# -gt 0 ]; do
    case $1 in
        --members) MEMBERS=$2; shift 2 ;;
        --purchases) PURCHASES=$2; shift 2 ;;
        *) echo "usage: $0 [--members N] [--purchases N]" >&2; exit 2 ;;
    esac
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dump="$work/kopilka.dump"

now() { date +%s.%N; }
took() { python3 -c "print(f'{$2 - $1:.1f}')"; }
counts() {  # counts DATABASE: rows of the tables that matter and the balances' sums
    psql -qAt "$PG_URL/$1" -c "
        SELECT 'members ' || (SELECT count(*) FROM members_member)
            || ', purchases ' || (SELECT count(*) FROM processing_purchase)
            || ', ledger entries ' || (SELECT count(*) FROM ledger_entry)
            || ', points on accounts ' || (SELECT coalesce(sum(available), 0) FROM ledger_account)"
}

echo "== populating $DRILL_DB: $MEMBERS members, $PURCHASES purchases (bench/generate.py)"
start=$(now)
BENCH_DATABASE_URL="$PG_URL/$DRILL_DB" "$PYTHON" bench/generate.py --members "$MEMBERS" \
    --purchases "$PURCHASES" >/dev/null
echo "populated in $(took "$start" "$(now)") s; size $(psql -qAt "$PG_URL/postgres" \
    -c "SELECT pg_size_pretty(pg_database_size('$DRILL_DB'))")"
original=$(counts "$DRILL_DB")
echo "original: $original"

echo "== pg_dump --format=custom"
start=$(now)
pg_dump --format=custom --file="$dump" "$PG_URL/$DRILL_DB"
echo "dumped in $(took "$start" "$(now)") s; dump $(du -h "$dump" | cut -f1)"

echo "== pg_restore into a new database, $RESTORED"
psql -qAt "$PG_URL/postgres" -c "DROP DATABASE IF EXISTS $RESTORED" -c "CREATE DATABASE $RESTORED"
start=$(now)
pg_restore --no-owner --jobs=2 --dbname="$PG_URL/$RESTORED" "$dump"
echo "restored in $(took "$start" "$(now)") s"
restored=$(counts "$RESTORED")
echo "restored: $restored"
if [ "$restored" != "$original" ]; then
    echo "drill FAILED: the restored copy differs from the original" >&2
    exit 1
fi

echo "== kopilka verify-ledger on the restored copy"
start=$(now)
DATABASE_URL="$PG_URL/$RESTORED" "$PYTHON" -m kopilka.cli verify-ledger
echo "verified in $(took "$start" "$(now)") s"
DATABASE_URL="$PG_URL/$RESTORED" "$PYTHON" -m kopilka.cli manage migrate --check >/dev/null \
    && echo "migrations: the restored copy is up to date"
echo "== drill passed"
