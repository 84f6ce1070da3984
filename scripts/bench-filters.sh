#!/usr/bin/env bash
# Benchmarks SCIM filter queries as an organization grows from SMALL (1,000)
# to SIZE (100,000) users, on this machine, in the same run.
#
#   scripts/bench-filters.sh                        # 1,000 then 100,000 users
#   SIZE=20000 CLIENTS=8 SECONDS_PER_RUN=5 scripts/bench-filters.sh
#
# It builds the release binary, starts `rollcall serve` on a free port against
# a fresh database and bus prefix, then:
#   a. `rollcall bench --populate SMALL` creates SMALL users through
#      POST /Users (the real write path: the read tables and their indexes are
#      what production has), waits until the server has settled (its
#      projector and linker have done the creates' work), then VACUUM ANALYZE
#      as autovacuum would;
#   b. runs `rollcall bench --ops OP` for each filter operation:
#      filter-username  userName eq "pop-…"                       (1 result)
#      filter-email     emails[type eq "work"].value eq "POP-…"   (1 result)
#      filter-prefix    userName sw "POP-00123" (10, 100 or 1,000 results),
#                       count=50 from a random startIndex within them;
#      each checks it found exactly what it should (else an error);
#   c. populates up to SIZE and runs b again;
#   d. prints p50/p99 per operation at both sizes and the ratio SIZE/SMALL,
#      then EXPLAIN (ANALYZE, BUFFERS) of each query kind at SIZE, prepared
#      and executed as the store runs it (same SQL, bind parameters, a warm
#      statement: the plan PostgreSQL's plan cache actually picks).
# Everything it created is removed on exit.
#
# Needs: cargo, psql, curl, python3; PostgreSQL and RabbitMQ running locally.
# Environment: SIZE (100000), SMALL (1000), CLIENTS (16), SECONDS_PER_RUN
# (10), POPULATE_CLIENTS (64), ROLLCALL_BIN (a binary to measure instead of
# building one), BENCH_PG_URL, AMQP_URL (see bench.sh).
# shellcheck disable=SC2016 # the $2 in SQL below is PostgreSQL's parameter
set -euo pipefail

SIZE=${SIZE:-100000}
SMALL=${SMALL:-1000}
CLIENTS=${CLIENTS:-16}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
POPULATE_CLIENTS=${POPULATE_CLIENTS:-64}
OPS=(filter-username filter-email filter-prefix)

# shellcheck source=lib/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/checks.sh"
require_positive_integers SIZE SMALL CLIENTS SECONDS_PER_RUN POPULATE_CLIENTS
if ((SMALL >= SIZE)); then
    echo "bench-filters.sh: SMALL ($SMALL) must be less than SIZE ($SIZE)" >&2
    exit 2
fi
require_tools cargo psql curl python3

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# shellcheck source=lib/scratch-server.sh
source scripts/lib/scratch-server.sh
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rollcall-bench-filters.XXXXXX")

log() { printf '\n==> %s\n' "$*" >&2; }

cleanup() {
    local status=$?
    set +e
    stop_scratch_server "$status"
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if pgrep -f 'rollcall bench|pgbench' >/dev/null; then
    echo "warning: another benchmark is running on this machine; figures will be noisy" >&2
fi

release_binary

start_scratch_server "$ROLLCALL" benchfilters
DB_URL="$PG_BASE/$SCRATCH_DB"

bench() { "$ROLLCALL" bench --url "$BASE_URL/scim_v2" --token "$TOKEN" "$@"; }

# populate N: creates population users until there are N, waits until the
# server has folded and linked them (a create does not wait for the
# projector: measured right away, the reads would share the machine with the
# catching up), then analyzes.
populate() {
    log "populating $1 users ($POPULATE_CLIENTS clients)"
    bench --clients "$POPULATE_CLIENTS" --seconds 0 --populate "$1" >/dev/null
    wait_for_settled_log
    echo "the server settled ${SETTLE_WAITED} s after populating" >&2
    psql -q "$DB_URL" -v ON_ERROR_STOP=1 -c 'vacuum analyze scim_users'
    echo "scim_users: $(psql -At "$DB_URL" -c 'select count(*) from scim_users') rows, $(psql -At "$DB_URL" -c "select pg_size_pretty(pg_total_relation_size('scim_users'))") with indexes" >&2
}

# measure LABEL: runs each filter operation alone, saving its figures.
measure() {
    local op
    for op in "${OPS[@]}"; do
        log "$op at $1 users ($CLIENTS clients, ${SECONDS_PER_RUN} s)"
        bench --clients "$CLIENTS" --seconds "$SECONDS_PER_RUN" --ops "$op" --json \
            | tee "$WORK/$1-$op.json" >&2
        echo >&2
    done
}

populate "$SMALL"
measure "$SMALL"
populate "$SIZE"
measure "$SIZE"

echo
echo "=== filter queries: $SMALL vs $SIZE users, $CLIENTS clients, ${SECONDS_PER_RUN} s per run, $(nproc) cores ==="
python3 - "$WORK" "$SMALL" "$SIZE" "${OPS[@]}" <<'PY'
import json, sys
work, small, size, ops = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
def load(n, op):
    return json.load(open(f"{work}/{n}-{op}.json"))[0]
head = f"p50/p99 ms at {small}", f"p50/p99 ms at {size}"
print("%-16s %22s %22s %13s %9s %9s" % ("op", head[0], head[1], "ratio p50/p99", "ops/s", "errors"))
for op in ops:
    a, b = load(small, op), load(size, op)
    print("%-16s %22s %22s %13s %9s %9s" % (
        op,
        "%.2f / %.2f" % (a["p50_ms"], a["p99_ms"]),
        "%.2f / %.2f" % (b["p50_ms"], b["p99_ms"]),
        "%.2f / %.2f" % (b["p50_ms"] / a["p50_ms"], b["p99_ms"] / a["p99_ms"]),
        "%.0f/%.0f" % (a["ops_per_second"], b["ops_per_second"]),
        "%d/%d" % (a["errors"], b["errors"]),
    ))
PY

# The statements crates/store/src/users.rs prepares for each filter
# (conditions from user_filter.rs; LIKE patterns escaped and ending in %),
# executed five times with other values first so that the plan cache has made
# its custom-or-generic choice, then explained.
ORG=$(psql -At "$DB_URL" -c 'select org_id from scim_users group by org_id order by count(*) desc limit 1')
COLUMNS='user_id, user_name, external_id, active, resource::text, version, created_at, updated_at'
explain() { # explain NAME CONDITION VALUE WARMUP_VALUE... (one text parameter, $2)
    local name=$1 condition=$2 value=$3 warm
    shift 3
    {
        [[ -z ${PLAN_MODE:-} ]] || echo "set plan_cache_mode = $PLAN_MODE;"
        echo "prepare ${name}_count (uuid, text) as select count(*) from scim_users where org_id = \$1 and $condition;"
        echo "prepare ${name}_page (uuid, text, bigint, bigint) as select $COLUMNS from scim_users where org_id = \$1 and $condition order by user_id offset \$3 limit \$4;"
        printf '\\o /dev/null\n'
        for warm in "$@"; do
            echo "execute ${name}_count ('$ORG', '$warm');"
            echo "execute ${name}_page ('$ORG', '$warm', 0, 50);"
        done
        printf '\\o\n\\echo %s\n' "'--- $name, count: $value'"
        echo "explain (analyze, buffers, costs off) execute ${name}_count ('$ORG', '$value');"
        printf '\\echo %s\n' "'--- $name, page (offset 20, limit 50): $value'"
        echo "explain (analyze, buffers, costs off) execute ${name}_page ('$ORG', '$value', 20, 50);"
    } | psql -q -X "$DB_URL" -v ON_ERROR_STOP=1 -P pager=off -P footer=off -At -f -
}
pick() { printf '%07d' $(((RANDOM * 32768 + RANDOM) % SIZE)); }
echo
echo "=== EXPLAIN (ANALYZE, BUFFERS) at $SIZE users, prepared as the store prepares them (plan_cache_mode = $(psql -At "$DB_URL" -c 'show plan_cache_mode')) ==="
warm=()
for _ in 1 2 3 4 5 6; do warm+=("pop-$(pick)@bench.example.com"); done
# The store binds values folded in Rust (scim::fold_case); these are ASCII,
# so their lower case is their fold. The conditions are the store's
# (crates/store/src/read_model/filter/index_keys.rs): the indexes hold
# left(value, 256), and work emails their digests.
explain username '(left(user_name_folded, 256) = left($2::text, 256) and user_name_folded = $2::text)' \
    "pop-$(pick)@bench.example.com" "${warm[@]}"
warm=()
for _ in 1 2 3 4 5 6; do warm+=("pop-$(pick)@work.bench.example.com"); done
explain email '(scim_digests(work_emails_folded) @> array[md5($2::text)] and work_emails_folded @> array[$2::text])' \
    "pop-$(pick)@work.bench.example.com" "${warm[@]}"
warm=()
for _ in 1 2 3 4 5 6; do warm+=("pop-$(pick | cut -c1-5)"); done
# The store binds the prefix and the escaped LIKE pattern apart; with no LIKE
# metacharacters in the prefix, `$2 || '%'` is that pattern.
PREFIX_CONDITION='(left(user_name_folded, 256) ~>=~ left($2::text, 256) and left(user_name_folded, 256) ~<~ (left($2::text, 256) || chr(1114111)) and user_name_folded like ($2::text || '"'%'"'))'
explain prefix "$PREFIX_CONDITION" "pop-$(pick | cut -c1-5)" "${warm[@]}"
echo
echo "=== the same prefix query with a generic plan (plan_cache_mode = force_generic_plan): still the index range ==="
PLAN_MODE=force_generic_plan explain prefix_generic "$PREFIX_CONDITION" "pop-$(pick | cut -c1-5)" "${warm[@]}"
