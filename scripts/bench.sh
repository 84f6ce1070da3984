#!/usr/bin/env bash
# Benchmarks rollcall's SCIM write path next to PostgreSQL's own single-row
# durable INSERT rate (pgbench), on this machine, in the same run.
#
#   scripts/bench.sh                      # 64 clients, 10 s per run, once
#   CLIENTS=32 SECONDS_PER_RUN=5 REPEAT=3 scripts/bench.sh
#
# It builds the release binary, starts `rollcall serve` on a free port against
# a fresh database and a fresh bus prefix, then:
#   a. `rollcall bench --ops create` (creates only),
#   b. once the server has settled (its linker and projector have done the
#      creates' work), pgbench at the same client count and duration,
#      single-row INSERTs of a row shaped like one event (synchronous_commit
#      stays on),
#   (a and b are repeated REPEAT times; the median ratio is reported)
#   c. `rollcall bench --ops create,patch,get` (the mixed load),
#   d. `rollcall verify` on the bench database once its log has stopped
#      growing (the linker catches up after the load): the hash chain holds
#      and the read tables equal a fresh fold of the log,
#   e. a summary: creates/s, pgbench inserts/s, their ratio, p50/p99 per op,
#      CPU-seconds per 1,000 creates (and per 1,000 pgbench inserts) of
#      each process group: rollcall (and its threads by name), PostgreSQL
#      (and its backends by the part of rollcall they serve: appender,
#      linker, projector...),
#      RabbitMQ, the load generator (over the creates, and again over the
#      creates and the settling after them), the bytes of WAL written per create (its settling included)
#      and per pgbench insert, and verify's verdict. A verdict other than
#      sound fails the script
#      (exit 1) after the summary.
# Everything it created (databases, queue, exchange) is removed on exit.
#
# Needs: cargo, psql, pgbench, curl, python3 (JSON and arithmetic); PostgreSQL and RabbitMQ
# running locally. Environment: CLIENTS (64), SECONDS_PER_RUN (10), REPEAT (1),
# BENCH_PG_URL (postgres://postgres@127.0.0.1:5432, the server without a
# database name), AMQP_URL (rollcall's default), ROLLCALL_BIN (a binary to
# measure instead of building one: compare two builds back to back),
# VERIFY_SETTLE_SECS (900: how long verify waits for the log to settle).
set -euo pipefail

CLIENTS=${CLIENTS:-64}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
REPEAT=${REPEAT:-1}

# shellcheck source=lib/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/checks.sh"
require_positive_integers CLIENTS SECONDS_PER_RUN REPEAT
require_tools cargo psql pgbench curl python3

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# shellcheck source=lib/scratch-server.sh
source scripts/lib/scratch-server.sh
PGBENCH_DB="rollcall_pgbench_$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rollcall-bench.XXXXXX")

log() { printf '\n==> %s\n' "$*" >&2; }

# CPU-seconds by process group over a run (scripts/lib/cpu.py).
cpu() { python3 "$ROOT/scripts/lib/cpu.py" "$@"; }

# Bytes of WAL the cluster has written so far (pg_stat_wal, PostgreSQL 14
# and later; empty before). Cluster-wide: nothing else should write meanwhile.
wal_bytes() { psql -At "$PG_BASE/postgres" -c 'select wal_bytes from pg_stat_wal' 2>/dev/null || true; }

# WAL bytes per unit between two wal_bytes readings ("n/a" without them).
wal_per() {
    if [[ -n $1 && -n $2 ]]; then
        python3 -c "import sys; print('%.0f' % ((float(sys.argv[2]) - float(sys.argv[1])) / float(sys.argv[3])))" "$1" "$2" "$3"
    else
        echo "n/a"
    fi
}

# Reads JSON on stdin and prints the result of a Python expression over it
# (`d` is the document). python3 rather than jq: it also does the
# arithmetic below.
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

cleanup() {
    local status=$?
    set +e
    stop_scratch_server "$status"
    psql -q "$PG_BASE/postgres" -v ON_ERROR_STOP=1 \
        -c "drop database if exists \"$PGBENCH_DB\" with (force)" >/dev/null \
        || echo "could not drop database $PGBENCH_DB; drop it by hand" >&2
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

release_binary

start_scratch_server "$ROLLCALL" bench
# PostgreSQL's CPU: the bench's two databases and the server's own
# processes, not other databases on the machine (scripts/lib/cpu.py).
export CPU_DATABASES="$SCRATCH_DB,$PGBENCH_DB"
# ...and split by the part of rollcall each backend serves.
export CPU_PG_URL="$PG_BASE/postgres"
echo "ready; SCIM token read from the server's first-start output" >&2

log "preparing $PGBENCH_DB for pgbench"
psql -q "$PG_BASE/postgres" -v ON_ERROR_STOP=1 -c "create database \"$PGBENCH_DB\""
psql -q "$PG_BASE/$PGBENCH_DB" -v ON_ERROR_STOP=1 <<'SQL'
create table bench_events (
    id          bigserial   primary key,
    org_id      uuid        not null,
    stream_id   uuid        not null,
    event_type  text        not null,
    payload     json        not null,
    recorded_at timestamptz not null
);
SQL
# One durable single-row INSERT per transaction, a payload like a
# UserProvisioned event (~400 bytes of JSON).
PAYLOAD='{"user_id":"0f8fad5b-d9cb-469f-a165-70867728950e","resource":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bench-user-0001@bench.example.com","externalId":"bench-user-0001","name":{"givenName":"Bench","familyName":"User 0001"},"displayName":"Bench User 0001","emails":[{"type":"work","value":"bench-user-0001@bench.example.com","primary":true}],"active":true},"role":"member","at":"2025-01-01T00:00:00Z"}'
cat >"$WORK/insert.sql" <<SQL
insert into bench_events (org_id, stream_id, event_type, payload, recorded_at)
values ('7d444840-9dc0-11d1-b245-5ffdce74fad2', gen_random_uuid(), 'UserProvisioned', '$PAYLOAD', now());
SQL
echo "payload: ${#PAYLOAD} bytes; synchronous_commit = $(psql -At "$PG_BASE/$PGBENCH_DB" -c 'show synchronous_commit')" >&2
# PostgreSQL's free connections: max_connections less those open now.
free_connections() {
    psql -At "$PG_BASE/postgres" -c \
        "select current_setting('max_connections')::int - count(*) from pg_stat_activity"
}

# pgbench opens CLIENTS connections beside the server's own, which it keeps
# open once a load has made them (its pools: up to 32 for requests, 8 for
# the linker, 4 each for the relay and the projector, 2 for the appender,
# about 50 in all).
# Checked before each pgbench run: a second run met the server's grown
# pools, and pgbench's own error ("too many clients") says nothing of why.
require_connections_for_pgbench() {
    local free
    free=$(free_connections)
    if ((free < CLIENTS)); then
        echo "PostgreSQL has $free free connections beside rollcall serve's; pgbench needs $CLIENTS." >&2
        echo "Raise max_connections (psql -c 'alter system set max_connections = 200', then restart PostgreSQL) or run with fewer CLIENTS." >&2
        exit 1
    fi
}

FREE_CONNECTIONS=$(free_connections)
if ((FREE_CONNECTIONS < CLIENTS + 8)); then
    echo "warning: PostgreSQL has $FREE_CONNECTIONS free connections; pgbench needs $CLIENTS and the server up to 32 more" >&2
fi

CREATE_RATES=()
PGBENCH_RATES=()
RATIOS=()
CREATE_JSON=""
for run in $(seq 1 "$REPEAT"); do
    log "run $run/$REPEAT: rollcall bench --ops create ($CLIENTS clients, ${SECONDS_PER_RUN} s)"
    cpu_before=$(cpu snapshot "$SERVER_PID")
    wal_before=$(wal_bytes)
    CREATE_JSON=$(cpu run "$WORK/load-cpu" -- "$ROLLCALL" bench --url "$BASE_URL/scim_v2" --token "$TOKEN" \
        --clients "$CLIENTS" --seconds "$SECONDS_PER_RUN" --ops create --json)
    cpu_after=$(cpu snapshot "$SERVER_PID")
    creates=$(json '"%.1f" % d[0]["ops_per_second"]' <<<"$CREATE_JSON")
    errors=$(json 'd[0]["errors"]' <<<"$CREATE_JSON")
    echo "creates/s: $creates (errors: $errors)" >&2
    CREATE_CPU=$(cpu report "$cpu_before" "$cpu_after" "$(cat "$WORK/load-cpu")" \
        "$(json 'd[0]["count"]' <<<"$CREATE_JSON")" creates)

    # The server's linker and projector finish the creates' work first:
    # pgbench measured beside that work would be slowed by it, and flatter
    # the ratio.
    wait_for_settled_log
    echo "the server settled ${SETTLE_WAITED} s after the creates" >&2
    # The whole of the creates' work, the burst and its settling: the
    # linker links many of the users after the creates stopped, so the
    # burst alone counts only part of what a create costs.
    SETTLED_CPU=$(cpu report "$cpu_before" "$(cpu snapshot "$SERVER_PID")" "$(cat "$WORK/load-cpu")" \
        "$(json 'd[0]["count"]' <<<"$CREATE_JSON")" creates)
    SETTLED_AFTER=$SETTLE_WAITED
    CREATE_WAL=$(wal_per "$wal_before" "$(wal_bytes)" "$(json 'd[0]["count"]' <<<"$CREATE_JSON")")

    log "run $run/$REPEAT: pgbench single-row INSERTs ($CLIENTS clients, ${SECONDS_PER_RUN} s)"
    require_connections_for_pgbench
    cpu_before=$(cpu snapshot "$SERVER_PID")
    wal_before=$(wal_bytes)
    cpu run "$WORK/load-cpu" --exited -- pgbench -n -c "$CLIENTS" -j 2 -T "$SECONDS_PER_RUN" -f "$WORK/insert.sql" \
        "$PG_BASE/$PGBENCH_DB" >"$WORK/pgbench.out" 2>&1 || {
        cat "$WORK/pgbench.out" >&2
        echo "pgbench failed" >&2
        exit 1
    }
    cpu_after=$(cpu snapshot "$SERVER_PID")
    inserts=$(sed -nE 's/^tps = ([0-9.]+).*/\1/p' "$WORK/pgbench.out" | tail -n1)
    if [[ -z $inserts ]]; then
        cat "$WORK/pgbench.out" >&2
        echo "could not read tps from pgbench's output" >&2
        exit 1
    fi
    inserts=$(printf '%.1f' "$inserts")
    PGBENCH_CPU=$(cpu report "$cpu_before" "$cpu_after" "$(cat "$WORK/load-cpu")" \
        "$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$WORK/pgbench.out")" inserts \
        "$(cat "$WORK/load-cpu.exited")")
    PGBENCH_WAL=$(wal_per "$wal_before" "$(wal_bytes)" \
        "$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$WORK/pgbench.out")")
    ratio=$(python3 -c "print('%.3f' % ($creates / $inserts))")
    echo "pgbench inserts/s: $inserts; ratio creates/pgbench: $ratio" >&2
    CREATE_RATES+=("$creates")
    PGBENCH_RATES+=("$inserts")
    RATIOS+=("$ratio")
done

log "rollcall bench --ops create,patch,get ($CLIENTS clients, ${SECONDS_PER_RUN} s)"
MIXED_JSON=$("$ROLLCALL" bench --url "$BASE_URL/scim_v2" --token "$TOKEN" \
    --clients "$CLIENTS" --seconds "$SECONDS_PER_RUN" --ops create,patch,get --json)
# The same table `rollcall bench` prints without --json.
table() {
    python3 -c '
import json, sys
print("%-8s %9s %7s %10s %9s %9s" % ("op", "count", "errors", "ops/s", "p50 ms", "p99 ms"))
for f in json.load(sys.stdin):
    print("%-8s %9d %7d %10.1f %9.2f %9.2f" % (f["operation"], f["count"], f["errors"], f["ops_per_second"], f["p50_ms"], f["p99_ms"]))
'
}
table <<<"$MIXED_JSON"

median() { python3 -c 'import statistics, sys; print("%.3f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

# Server-side figures from /metrics: how many appends each transaction
# carried (group commit) and how long writes waited for the projector.
SERVER_SIDE=$(curl -fsS "$METRICS_URL" | python3 -c '
import sys
m = {}
for line in sys.stdin:
    if line.startswith("#") or not line.strip():
        continue
    name, value = line.rsplit(" ", 1)
    m[name] = float(value)
def mean(h):
    count = m.get(h + "_count", 0)
    return m.get(h + "_sum", 0) / count if count else 0
print("mean append batch %.1f over %d transactions; read-your-writes wait mean %.1f ms, %d timeouts; %d write retries" % (
    mean("rollcall_store_append_batch_size"), m.get("rollcall_store_append_batch_size_count", 0),
    1000 * mean("rollcall_api_read_your_writes_wait_seconds"),
    m.get("rollcall_api_read_your_writes_timeouts_total", 0), m.get("rollcall_api_write_retries_total", 0)))
' || echo "(could not read /metrics)")

# After /metrics: the linker's catching up while verify waits would count
# in the server-side figures above.
log "rollcall verify on $SCRATCH_DB"
verify_scratch "$ROLLCALL"
echo "(after ${VERIFY_WAITED} s for the log to settle) $VERIFY_VERDICT" >&2

echo
echo "=== rollcall bench summary: $CLIENTS clients, ${SECONDS_PER_RUN} s per run, $REPEAT run(s), $(nproc) cores ==="
printf '%-5s %12s %18s %10s\n' run creates/s pgbench-inserts/s ratio
for i in "${!RATIOS[@]}"; do
    printf '%-5s %12s %18s %10s\n' "$((i + 1))" "${CREATE_RATES[$i]}" "${PGBENCH_RATES[$i]}" "${RATIOS[$i]}"
done
echo "creates/s (median):                    $(median "${CREATE_RATES[@]}")"
echo "pgbench single-row inserts/s (median): $(median "${PGBENCH_RATES[@]}")"
echo "ratio creates/pgbench (median):        $(median "${RATIOS[@]}")"
echo
echo "p50 / p99 ms per operation:"
{
    python3 -c 'import json, sys; [print("  %-22s %9.2f / %9.2f" % ("create (creates only)", f["p50_ms"], f["p99_ms"])) for f in json.loads(sys.argv[1])]' "$CREATE_JSON"
    python3 -c 'import json, sys; [print("  %-22s %9.2f / %9.2f" % (f["operation"] + " (mixed)", f["p50_ms"], f["p99_ms"])) for f in json.loads(sys.argv[1])]' "$MIXED_JSON"
}
echo
echo "server: $SERVER_SIDE"
echo
echo "CPU by process over the last run, from /proc (the server's process runs the API, relay, projector, linker and reaper):"
echo " rollcall bench --ops create:"
echo "$CREATE_CPU"
echo " rollcall bench --ops create, until the server settled ${SETTLED_AFTER} s later (its linking and projecting done):"
echo "$SETTLED_CPU"
echo " pgbench:"
echo "$PGBENCH_CPU"
echo
echo "WAL written (pg_stat_wal, the last run): $CREATE_WAL bytes per create, its settling included; $PGBENCH_WAL per pgbench insert"
echo
echo "rollcall verify (after ${VERIFY_WAITED} s for the log to settle): $VERIFY_VERDICT"
if ((VERIFY_STATUS != 0)); then
    echo "bench.sh: rollcall verify did not find the bench database sound (exit $VERIFY_STATUS): the figures above are not to be trusted" >&2
    exit 1
fi
