#!/usr/bin/env bash
# A read replica on this machine: two PostgreSQL clusters of their own (a primary on port
# 5441 and a streaming replica of it on 5442, in a temporary directory, stopped and deleted at
# the end), Kopilka migrated on the primary, a sale written there, and the analytics figures
# read on the replica through kopilka/core/dbrouter.py. docs/operations.md, "Read replica".
#
#   scripts/replica_drill.sh
#
# Needs PostgreSQL's server binaries (initdb, pg_ctl, pg_basebackup); as root it runs them as
# the `postgres` user. Touches no other cluster.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
PRIMARY_PORT=${PRIMARY_PORT:-5441}
REPLICA_PORT=${REPLICA_PORT:-5442}
dir=$(mktemp -d /tmp/kopilka-replica.XXXXXX)
as_pg=()
if [ "$(id -u)" = 0 ]; then
    chown postgres "$dir"
    as_pg=(runuser -u postgres --)
fi
stop() {
    for node in replica primary; do
        [ -f "$dir/$node/postmaster.pid" ] && "${as_pg[@]}" "$BIN/pg_ctl" -D "$dir/$node" -m fast \
            -w stop >/dev/null || true
    done
    rm -rf "$dir"
}
trap stop EXIT

echo "== a primary on $PRIMARY_PORT"
"${as_pg[@]}" "$BIN/initdb" -D "$dir/primary" -U postgres --auth=trust >/dev/null
cat >>"$dir/primary/postgresql.conf" <<EOF
port = $PRIMARY_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
wal_level = replica
max_wal_senders = 4
EOF
echo "host replication postgres 127.0.0.1/32 trust" >>"$dir/primary/pg_hba.conf"
"${as_pg[@]}" "$BIN/pg_ctl" -D "$dir/primary" -l "$dir/primary.log" -w start >/dev/null

echo "== a streaming replica on $REPLICA_PORT (pg_basebackup -R)"
"${as_pg[@]}" "$BIN/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres \
    -D "$dir/replica" -R -X stream
echo "port = $REPLICA_PORT" >>"$dir/replica/postgresql.conf"
"${as_pg[@]}" "$BIN/pg_ctl" -D "$dir/replica" -l "$dir/replica.log" -w start >/dev/null

export DATABASE_URL="postgres://postgres@127.0.0.1:$PRIMARY_PORT/kopilka"
export KOPILKA_REPLICA_URL="postgres://postgres@127.0.0.1:$REPLICA_PORT/kopilka"
export KOPILKA_DATA_DIR="$dir/var"
psql -qAt "postgres://postgres@127.0.0.1:$PRIMARY_PORT/postgres" -c "CREATE DATABASE kopilka"
echo "== migrate on the primary"
"$PYTHON" -m kopilka.cli manage migrate -v0
echo "== a sale on the primary, the figures on the replica"
"$PYTHON" scripts/replica_check.py
