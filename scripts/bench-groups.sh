#!/usr/bin/env bash
# Benchmarks member PATCHes and group reads on a group of MEMBERS members
# (100,000) beside the same PATCHes on an empty group, on this machine.
#
#   scripts/bench-groups.sh
#   MEMBERS=20000 CLIENTS=2 SECONDS_PER_RUN=5 scripts/bench-groups.sh
#
# It builds the release binary, starts `rollcall serve` on a free port against
# a fresh database and bus prefix, and runs `rollcall bench-groups`, which
# creates the population users it needs through POST /Users, builds the big
# group with PATCHes of 1,000 members, runs VACUUM ANALYZE as autovacuum
# would, then measures, one kind at a time:
#   add-1 / remove-1        PATCH adding one member, then removing it again
#   add-1000 / remove-1000  the same with 1,000 members
#   (both on the empty group and on the big one)
#   get-lean                GET /Groups/{id}?excludedAttributes=members
#   get-full                GET /Groups/{id}, streamed, MEMBERS members checked
# and prints p50/p99 per kind. Everything it created is removed on exit.
#
# Needs: cargo, psql, curl; PostgreSQL and RabbitMQ running locally.
# Environment: MEMBERS (100000), CLIENTS (4), SECONDS_PER_RUN (10),
# ROLLCALL_BIN (a binary to measure instead of building one), BENCH_PG_URL, AMQP_URL (see lib/scratch-server.sh).
set -euo pipefail

MEMBERS=${MEMBERS:-100000}
CLIENTS=${CLIENTS:-4}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
# shellcheck source=lib/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/checks.sh"
require_positive_integers MEMBERS CLIENTS SECONDS_PER_RUN
require_tools cargo psql curl

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# shellcheck source=lib/scratch-server.sh
source scripts/lib/scratch-server.sh

cleanup() {
    local status=$?
    set +e
    stop_scratch_server "$status"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if pgrep -f 'rollcall bench|pgbench' >/dev/null; then
    echo "warning: another benchmark is running on this machine; figures will be noisy" >&2
fi

release_binary

start_scratch_server "$ROLLCALL" benchgroups

echo
echo "=== groups: $MEMBERS members vs empty, $CLIENTS clients, ${SECONDS_PER_RUN} s per kind, $(nproc) cores ==="
DB_URL="$PG_BASE/$SCRATCH_DB"
bench_groups() {
    "$ROLLCALL" bench-groups --url "$BASE_URL/scim_v2" --token "$TOKEN" \
        --members "$MEMBERS" --clients "$CLIENTS" --seconds "$SECONDS_PER_RUN" "$@"
}
bench_groups --setup-only
# Measured once the server has folded and linked the setup's users (creates
# do not wait for the projector), so that the PATCHes do not share the
# machine with the catching up.
wait_for_settled_log
# A table that grew from nothing in seconds has the statistics of an empty
# one until autovacuum's next round; production tables have had theirs.
psql -q "$DB_URL" -v ON_ERROR_STOP=1 -c 'vacuum analyze scim_users, scim_groups, scim_group_members, events, streams'
bench_groups
echo "scim_group_members: $(psql -At "$DB_URL" -c 'select count(*) from scim_group_members') rows, events: $(psql -At "$DB_URL" -c 'select count(*) from events')"
