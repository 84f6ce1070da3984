#!/usr/bin/env bash
# Benchmarks the auditors' tools on a log of EVENTS events (1,000,000) whose
# organization has USERS SCIM users (100,000), on this machine.
#
#   scripts/bench-audit.sh
#   USERS=10000 EVENTS=100000 scripts/bench-audit.sh     # a quick run
#
# It builds the release binary (or takes ROLLCALL_BIN), starts `rollcall
# serve` against a fresh database and bus prefix, and builds the history
# through the SCIM API like an identity provider would:
#   1. `rollcall bench --populate USERS` creates the users (the linker makes
#      each an account and a membership: several events per user);
#   2. `rollcall bench --ops patch` renames users until the log holds EVENTS
#      events (each client renames the few users it made, so some users have
#      thousands of changes: the worst case for a timeline);
# then waits for the projector and the linker, and measures, each RUNS times
# (median):
#   export       `rollcall audit export --format ndjson` of the whole history
#                to /dev/null: events/s
#   export-http  GET .../audit/export?format=ndjson, streamed to /dev/null:
#                events/s
#   state        GET .../audit/state?at=NOW: all USERS users as SCIM resources
#   state-mid    GET .../audit/state?at=(the middle of the history)
#   timeline     GET .../audit/users/{id}/timeline of the most changed user
#   diff         GET .../audit/diff from the middle of the history to now
#   rebuild      `rollcall rebuild` (compare only): events/s
#   verify       `rollcall verify --org`: events/s
# Everything it created is removed on exit.
#
# Needs: cargo, psql, curl, python3; PostgreSQL and RabbitMQ running locally.
# Environment: USERS (100000), EVENTS (1000000), CLIENTS (64), RUNS (3),
# ROLLCALL_BIN, BENCH_PG_URL, AMQP_URL (see lib/scratch-server.sh).
set -euo pipefail

USERS=${USERS:-100000}
EVENTS=${EVENTS:-1000000}
CLIENTS=${CLIENTS:-64}
RUNS=${RUNS:-3}
# shellcheck source=lib/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/checks.sh"
require_positive_integers USERS EVENTS CLIENTS RUNS
require_tools cargo psql curl python3

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# shellcheck source=lib/scratch-server.sh
source scripts/lib/scratch-server.sh

log() { printf '\n==> %s\n' "$*" >&2; }
median() { python3 -c 'import statistics, sys; print("%.3f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

cleanup() {
    local status=$?
    set +e
    stop_scratch_server "$status"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -n ${ROLLCALL_BIN:-} ]]; then
    ROLLCALL=$ROLLCALL_BIN
else
    log "building the release binary"
    cargo build --release -p rollcall
    ROLLCALL="${CARGO_TARGET_DIR:-$ROOT/target}/release/rollcall"
fi

start_scratch_server "$ROLLCALL" benchaudit
DB_URL="$PG_BASE/$SCRATCH_DB"
export DATABASE_URL=$DB_URL
sql() { psql -At "$DB_URL" -v ON_ERROR_STOP=1 -c "$1"; }
head_position() { sql 'select last_position from log_head'; }

log "populating $USERS users"
"$ROLLCALL" bench --url "$BASE_URL/scim_v2" --token "$TOKEN" --clients "$CLIENTS" \
    --populate "$USERS" --seconds 0 --json >/dev/null
log "renaming users until the log holds $EVENTS events (now $(head_position))"
while (( $(head_position) < EVENTS )); do
    "$ROLLCALL" bench --url "$BASE_URL/scim_v2" --token "$TOKEN" --clients "$CLIENTS" \
        --ops patch --seconds 20 --json >/dev/null
    echo "  $(head_position) events" >&2
done

# The projector folds the log; measure once it has. The linker follows far
# slower on a history like this one (about 50 events/s on 2 cores, measured
# here): waiting for it would take hours, so its lag is printed and the
# audit figures are taken while it works.
log "waiting for the projector to reach the head"
for _ in $(seq 1 1800); do
    head=$(head_position)
    behind=$(sql "select count(*) from checkpoints where position < $head and name = 'projector'")
    [[ $behind == 0 ]] && break
    sleep 1
done
echo "the linker has followed $(sql "select position from checkpoints where name = 'linker'") of $(head_position) events" >&2
psql -q "$DB_URL" -c 'vacuum analyze' >/dev/null

ORG=$(sql "select name from organizations order by created_at limit 1")
ORG_ID=$(sql "select org_id from organizations order by created_at limit 1")
TOTAL=$(sql "select count(*) from events where org_id = '$ORG_ID'")
HEAD=$(head_position)
PASSWORD=$(grep -A2 "owner's password" "$SCRATCH_LOG/serve.out" | tail -n1 | tr -d ' ')
SESSION=$(curl -fsS -X POST "$BASE_URL/api/v1/sessions" -H 'content-type: application/json' \
    -d "{\"email\":\"owner@example.com\",\"password\":\"$PASSWORD\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
AUDIT="$BASE_URL/api/v1/orgs/$ORG_ID/audit"
MIDDLE_POSITION=$(( $(head_position) / 2 ))
MIDDLE=$(sql "select to_char(recorded_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') from events where position = $MIDDLE_POSITION")
NOW=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
BUSIEST=$(sql "select u.user_id from scim_users u join streams s on s.org_id = u.org_id and s.stream_id = u.user_id where u.org_id = '$ORG_ID' order by s.version desc limit 1")
BUSIEST_CHANGES=$(sql "select version from streams where org_id = '$ORG_ID' and stream_id = '$BUSIEST'")
USERS_NOW=$(sql "select count(*) from scim_users where org_id = '$ORG_ID'")

# Seconds one GET takes, its body streamed to /dev/null.
timed_get() {
    curl -fsS -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $SESSION" "$1"
}
# Seconds one command takes.
timed() {
    local started ended
    started=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    ended=$(date +%s.%N)
    python3 -c "print('%.3f' % ($ended - $started))"
}
declare -A SECONDS_OF
measure() {
    local name=$1 samples=() i
    shift
    for i in $(seq 1 "$RUNS"); do
        samples+=("$("$@")")
    done
    SECONDS_OF[$name]=$(median "${samples[@]}")
    echo "  $name: ${samples[*]} s" >&2
}

log "measuring ($RUNS runs each, median)"
measure export timed "$ROLLCALL" audit export --org "$ORG" --format ndjson --out /dev/null
measure export-http timed_get "$AUDIT/export?format=ndjson"
measure state timed_get "$AUDIT/state?at=$NOW"
measure state-mid timed_get "$AUDIT/state?at=$MIDDLE"
measure timeline timed_get "$AUDIT/users/$BUSIEST/timeline"
measure diff timed_get "$AUDIT/diff?from=$MIDDLE&to=$NOW"
measure rebuild timed "$ROLLCALL" rebuild
measure verify timed "$ROLLCALL" verify --org "$ORG"

rate() { python3 -c "print('%.0f' % ($2 / ${SECONDS_OF[$1]}))"; }
echo
echo "=== audit on $TOTAL events of the organization ($HEAD in the log), $USERS_NOW users, $(nproc) cores ==="
echo "export (CLI, ndjson):        $(rate export "$TOTAL") events/s"
echo "export (HTTP, ndjson):       $(rate export-http "$TOTAL") events/s"
echo "state at now:                ${SECONDS_OF[state]} s ($USERS_NOW users)"
echo "state at mid-history:        ${SECONDS_OF[state-mid]} s"
echo "timeline (busiest user):     ${SECONDS_OF[timeline]} s ($BUSIEST_CHANGES changes)"
echo "diff mid-history -> now:     ${SECONDS_OF[diff]} s"
echo "rebuild (compare only):      $(rate rebuild "$HEAD") events/s (the whole log)"
echo "verify --org:                $(rate verify "$TOTAL") events/s"
