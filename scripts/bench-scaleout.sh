#!/usr/bin/env bash
# Benchmarks rollcall's scale-out deployment (docs/scaling.md) on this
# machine: creates/s with one `rollcall-api` and with two, each beside one
# `rollcall-projector`, and with one API beside two projectors on a
# projection split in two (`rollcall partitions 2`), on one PostgreSQL and
# one RabbitMQ.
#
#   scripts/bench-scaleout.sh                    # 64 clients, 10 s per run, once
#   CLIENTS=32 SECONDS_PER_RUN=5 REPEAT=3 scripts/bench-scaleout.sh
#   ROLLCALL_BIN_DIR=target/release scripts/bench-scaleout.sh   # no build
#
# Each topology gets a fresh database and bus prefix (so the second does not
# start on the first one's users), made as an operator makes them:
# `rollcall migrate`, `rollcall org create`, `rollcall token issue`; the
# services then start with ROLLCALL_MIGRATE=false. Two organizations, one in
# each partition of a split in two, so that every topology gets the same
# load and the split one spreads it over both partitions. For each topology:
#   a. starts one rollcall-projector (or two, one per partition, after
#      `rollcall partitions 2`), then one (or two) rollcall-api on their own
#      ports and operators' (metrics) ports, and waits for their /healthz,
#   b. runs two `rollcall bench --ops create` processes side by side with
#      half the clients each, one per organization (`--url` and `--token`
#      take one each): both at the one API, or one at each of the two APIs;
#      creates/s is the sum of the two (repeated REPEAT times; the median
#      is reported); the projectors' folding time over the last run
#      (`rollcall_projector_apply_seconds_sum`) says how busy the fold was,
#   c. reads CPU-seconds per 1,000 creates of each process group over the
#      last run from /proc (scripts/lib/cpu.py): rollcall-api (the APIs
#      together), rollcall-projector, PostgreSQL, RabbitMQ, the load generator,
#   d. runs `rollcall verify` on the database once the projector has folded
#      the whole log, which must be sound.
# Then a summary: creates/s of each topology, the ratios, the mean appends
# per append transaction (group commit, from the APIs' /metrics), the
# projectors' seconds of folding per second, CPU per 1,000 creates,
# verify's verdicts. A verdict other than sound fails the
# script (exit 1) after the summary. No rollcall-reaper runs (so no linker:
# the SCIM users are not made into memberships meanwhile).
# Everything it created (databases, queues, exchanges, processes) is removed
# on exit, also on failure and Ctrl-C.
#
# Needs: cargo (unless ROLLCALL_BIN_DIR), psql, curl, python3; PostgreSQL and
# RabbitMQ running locally. Environment: CLIENTS (64, split over the two
# load generators), SECONDS_PER_RUN (10), REPEAT (1), ROLLCALL_BIN_DIR (a
# directory holding rollcall, rollcall-api and rollcall-projector to measure
# instead of building them), BENCH_PG_URL, AMQP_URL (see
# lib/scratch-server.sh); ROLLCALL_POOL_SIZE and the other settings of the
# services pass through to them.
set -euo pipefail

CLIENTS=${CLIENTS:-64}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
REPEAT=${REPEAT:-1}

# shellcheck source=lib/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/checks.sh"
require_positive_integers CLIENTS SECONDS_PER_RUN REPEAT
if ((CLIENTS < 2)); then
    echo "bench-scaleout.sh: CLIENTS must be at least 2 (two load generators)" >&2
    exit 2
fi
require_tools psql curl python3

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# shellcheck source=lib/scratch-server.sh
source scripts/lib/scratch-server.sh

# The load generators' clients: `rollcall bench --url` takes one URL, so two
# processes, one per API when there are two.
LOAD_CLIENTS=($((CLIENTS / 2)) $((CLIENTS - CLIENTS / 2)))

# The services of the topology being measured: pid, cpu.py group, log name.
SERVICE_PIDS=()
SERVICE_GROUPS=()
SERVICE_LOGS=()
# The load generators' wrappers (cpu.py run), while they run.
LOAD_PIDS=()

log() { printf '\n==> %s\n' "$*" >&2; }
cpu() { python3 "$ROOT/scripts/lib/cpu.py" "$@"; }
median() { python3 -c 'import statistics, sys; print("%.1f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

stop_load() {
    local pid
    for pid in "${LOAD_PIDS[@]}"; do
        # cpu.py run passes no signal on: end its `rollcall bench` first.
        pkill -TERM -P "$pid" 2>/dev/null
        kill -TERM "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    LOAD_PIDS=()
}

# SIGINT to every service (they finish what is in flight), SIGKILL to any
# still running 30 s later.
stop_services() {
    local pid
    for pid in "${SERVICE_PIDS[@]}"; do
        kill -INT "$pid" 2>/dev/null
    done
    for pid in "${SERVICE_PIDS[@]}"; do
        stop_process "$pid"
    done
    SERVICE_PIDS=()
    SERVICE_GROUPS=()
    SERVICE_LOGS=()
}

show_logs() {
    local name
    for name in "${SERVICE_LOGS[@]}"; do
        if [[ -s $SCRATCH_LOG/$name.err ]]; then
            echo "--- last lines of $name's log ---" >&2
            tail -n 20 "$SCRATCH_LOG/$name.err" >&2
        fi
    done
}

cleanup() {
    local status=$?
    set +e
    stop_load
    if ((status != 0)) && [[ -n ${SCRATCH_LOG:-} ]]; then
        show_logs
    fi
    if ((${#SERVICE_PIDS[@]} > 0)); then
        echo "stopping the services (pids ${SERVICE_PIDS[*]})" >&2
    fi
    stop_services
    drop_scratch
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -n ${ROLLCALL_BIN_DIR:-} ]]; then
    BIN_DIR=$(cd "$ROLLCALL_BIN_DIR" && pwd)
    log "measuring the binaries in $BIN_DIR (ROLLCALL_BIN_DIR), not building"
else
    command -v cargo >/dev/null || { echo "bench-scaleout.sh: cargo is required (or set ROLLCALL_BIN_DIR)" >&2; exit 2; }
    log "building the release binaries"
    # The workspace's binaries together: with -p, cargo unifies features
    # differently from a workspace build and rebuilds much of the tree.
    cargo build --release --bins
    BIN_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/release"
fi
ROLLCALL="$BIN_DIR/rollcall"
for binary in rollcall rollcall-api rollcall-projector; do
    [[ -x $BIN_DIR/$binary ]] || { echo "bench-scaleout.sh: $BIN_DIR/$binary is missing" >&2; exit 2; }
done

# Starts BINARY (a service) as NAME with its own operators' listener on
# METRICS_PORT and any further VAR=value arguments in its environment, and
# waits for its /healthz.
start_service() {
    local binary=$1 name=$2 group=$3 metrics_port=$4 pid
    shift 4
    env DATABASE_URL="$PG_BASE/$SCRATCH_DB" AMQP_URL="$AMQP_URL" ROLLCALL_BUS_PREFIX="$SCRATCH_PREFIX" \
        ROLLCALL_METRICS_BIND="127.0.0.1:$metrics_port" ROLLCALL_MIGRATE=false RUST_LOG="${RUST_LOG:-warn}" \
        "$@" "$BIN_DIR/$binary" >"$SCRATCH_LOG/$name.out" 2>"$SCRATCH_LOG/$name.err" &
    pid=$!
    SERVICE_PIDS+=("$pid")
    SERVICE_GROUPS+=("$group")
    SERVICE_LOGS+=("$name")
    for _ in $(seq 1 600); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "$name exited during start-up" >&2
            return 1
        fi
        if curl -fsS -o /dev/null "http://127.0.0.1:$metrics_port/healthz" 2>/dev/null; then
            echo "$name (pid $pid) is up; operators' listener 127.0.0.1:$metrics_port" >&2
            return 0
        fi
        sleep 0.1
    done
    echo "$name did not answer /healthz within 60 s" >&2
    return 1
}

# Sum of a metric over the given /metrics URLs.
metric_sum() {
    local name=$1 url
    shift
    for url in "$@"; do
        curl -fsS "$url" || true
    done | python3 -c '
import sys
name = sys.argv[1]
total = 0.0
for line in sys.stdin:
    if line.split(" ", 1)[0].split("{", 1)[0] == name:
        total += float(line.rsplit(" ", 1)[1])
print("%d" % total)
' "$name"
}

# Results by topology (its key: 1api, 2api, split).
declare -A RATE CPU_REPORT VERDICT VERDICT_STATUS LOAD_DETAIL RYW_TIMEOUTS APPEND_BATCH FOLD_BUSY

# TOKENS[K]: the SCIM token of an organization that partition K of a split
# in two folds. An organization's partition is its bucket (its id's last
# byte mod 64) mod 2: the parity of its id's last hex digit.
organizations_in_both_partitions() {
    local n=0 created org_id parity
    TOKENS=("" "")
    while [[ -z ${TOKENS[0]} || -z ${TOKENS[1]} ]]; do
        n=$((n + 1))
        created=$(RUST_LOG=${RUST_LOG:-warn} "$ROLLCALL" org create --database-url "$PG_BASE/$SCRATCH_DB" \
            --name "Bench$n" --owner-email "owner@bench$n.example.com")
        org_id=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["org_id"])' "$created")
        parity=$((16#${org_id: -1} % 2))
        [[ -z ${TOKENS[$parity]} ]] || continue
        TOKENS[$parity]=$(RUST_LOG=${RUST_LOG:-warn} "$ROLLCALL" token issue --database-url "$PG_BASE/$SCRATCH_DB" --org "Bench$n")
        [[ ${TOKENS[$parity]} == rcs_* ]] || { echo "rollcall token issue printed no token" >&2; return 1; }
    done
}

# Measures the topology KEY: APIS rollcall-api processes beside PROJECTORS
# rollcall-projector processes (two: one per partition of a split in two).
measure() {
    local key=$1 apis=$2 projectors=$3 i port metrics_port run cpu_before cpu_after load_cpu count errors rate detail appends transactions
    local api_urls=() metrics_urls=() projector_urls=() rates=() snapshot_args=() folding_before folding_after
    new_scratch "scaleout_${key}"
    log "$apis rollcall-api + $projectors rollcall-projector: database $SCRATCH_DB, bus prefix $SCRATCH_PREFIX"
    RUST_LOG=${RUST_LOG:-warn} "$ROLLCALL" migrate --database-url "$PG_BASE/$SCRATCH_DB" >/dev/null
    organizations_in_both_partitions
    if ((projectors > 1)); then
        RUST_LOG=${RUST_LOG:-warn} "$ROLLCALL" partitions "$projectors" --database-url "$PG_BASE/$SCRATCH_DB" >&2
    fi

    for i in $(seq 0 $((projectors - 1))); do
        metrics_port=$(free_port)
        start_service rollcall-projector "projector$i" rollcall-projector "$metrics_port" ROLLCALL_PROJECTOR_PARTITION="$i"
        projector_urls+=("http://127.0.0.1:$metrics_port/metrics")
    done
    for i in $(seq 1 "$apis"); do
        port=$(free_port)
        metrics_port=$(free_port)
        start_service rollcall-api "api$i" rollcall-api "$metrics_port" ROLLCALL_BIND="127.0.0.1:$port"
        api_urls+=("http://127.0.0.1:$port/scim_v2")
        metrics_urls+=("http://127.0.0.1:$metrics_port/metrics")
    done
    for i in "${!SERVICE_PIDS[@]}"; do
        snapshot_args+=("${SERVICE_GROUPS[$i]}=${SERVICE_PIDS[$i]}")
    done
    # PostgreSQL's CPU: this topology's database and the server's own
    # processes, not other databases on the machine (scripts/lib/cpu.py).
    export CPU_DATABASES=$SCRATCH_DB
    export CPU_PG_URL="$PG_BASE/postgres"

    for run in $(seq 1 "$REPEAT"); do
        log "$key, run $run/$REPEAT: two rollcall bench --ops create (${LOAD_CLIENTS[0]} + ${LOAD_CLIENTS[1]} clients, ${SECONDS_PER_RUN} s)"
        folding_before=$(metric_sum rollcall_projector_apply_seconds_sum "${projector_urls[@]}")
        cpu_before=$(cpu snapshot "${snapshot_args[@]}")
        for i in 0 1; do
            # python3 itself, not the cpu function: $! is then cpu.py's pid,
            # whose child stop_load can end.
            python3 "$ROOT/scripts/lib/cpu.py" run "$SCRATCH_LOG/load-cpu.$i" -- "$ROLLCALL" bench --url "${api_urls[$((i % apis))]}" \
                --token "${TOKENS[$i]}" --clients "${LOAD_CLIENTS[$i]}" --seconds "$SECONDS_PER_RUN" \
                --ops create --json >"$SCRATCH_LOG/load.$i.json" &
            LOAD_PIDS+=("$!")
        done
        for i in 0 1; do
            wait "${LOAD_PIDS[$i]}" || { echo "load generator $i failed" >&2; return 1; }
        done
        LOAD_PIDS=()
        cpu_after=$(cpu snapshot "${snapshot_args[@]}")
        folding_after=$(metric_sum rollcall_projector_apply_seconds_sum "${projector_urls[@]}")
        # Sums over the two load generators: creates/s, creates, errors,
        # their CPU-seconds, and a line on each.
        read -r rate count errors load_cpu < <(python3 -c '
import json, sys
figures = [json.load(open(path))[0] for path in sys.argv[1:3]]
load = sum(float(open(path).read()) for path in sys.argv[3:5])
print("%.1f %d %d %.3f" % (sum(f["ops_per_second"] for f in figures),
    sum(f["count"] for f in figures), sum(f["errors"] for f in figures), load))
' "$SCRATCH_LOG/load.0.json" "$SCRATCH_LOG/load.1.json" "$SCRATCH_LOG/load-cpu.0" "$SCRATCH_LOG/load-cpu.1")
        detail=$(for i in 0 1; do
            python3 -c '
import json, sys
f = json.load(open(sys.argv[1]))[0]
print("  load generator %s -> %s: %d clients, %.1f creates/s, %d errors, p50 %.2f ms, p99 %.2f ms" % (
    sys.argv[2], sys.argv[3], int(sys.argv[4]), f["ops_per_second"], f["errors"], f["p50_ms"], f["p99_ms"]))
' "$SCRATCH_LOG/load.$i.json" "$i" "${api_urls[$((i % apis))]}" "${LOAD_CLIENTS[$i]}"
        done)
        echo "$detail" >&2
        echo "creates/s: $rate (sum of the two; errors: $errors)" >&2
        rates+=("$rate")
        CPU_REPORT[$key]=$(cpu report "$cpu_before" "$cpu_after" "$load_cpu" "$count" creates)
        LOAD_DETAIL[$key]=$detail
        FOLD_BUSY[$key]=$(python3 -c "print('%.2f' % (($folding_after - $folding_before) / $SECONDS_PER_RUN))")
    done
    RATE[$key]=$(median "${rates[@]}")
    RYW_TIMEOUTS[$key]=$(metric_sum rollcall_api_read_your_writes_timeouts_total "${metrics_urls[@]}")
    # Group commit: appends per transaction, over every API's appender (two
    # appenders take turns at the one log_head lock).
    appends=$(metric_sum rollcall_store_append_batch_size_sum "${metrics_urls[@]}")
    transactions=$(metric_sum rollcall_store_append_batch_size_count "${metrics_urls[@]}")
    APPEND_BATCH[$key]=$(python3 -c "print('%.1f' % ($appends / $transactions) if $transactions else 'n/a')")

    log "rollcall verify on $SCRATCH_DB"
    verify_scratch "$ROLLCALL"
    echo "$VERIFY_VERDICT" >&2
    VERDICT[$key]="(after ${VERIFY_WAITED} s for the log to settle) $VERIFY_VERDICT"
    VERDICT_STATUS[$key]=$VERIFY_STATUS

    stop_services
    drop_scratch
}

FREE_CONNECTIONS=$(psql -At "$PG_BASE/postgres" -c \
    "select current_setting('max_connections')::int - count(*) from pg_stat_activity")
if ((FREE_CONNECTIONS < 2 * ${ROLLCALL_POOL_SIZE:-32} + 16)); then
    echo "warning: PostgreSQL has $FREE_CONNECTIONS free connections; two APIs open up to $((2 * ${ROLLCALL_POOL_SIZE:-32})) and the projector more" >&2
fi

measure 1api 1 1
measure 2api 2 1
measure split 1 2

TOPOLOGIES=(1api 2api split)
declare -A NAME=(
    [1api]="1 rollcall-api + 1 rollcall-projector"
    [2api]="2 rollcall-api + 1 rollcall-projector"
    [split]="1 rollcall-api + 2 projectors, split"
)
echo
echo "=== rollcall scale-out bench: $CLIENTS clients, ${SECONDS_PER_RUN} s per run, $REPEAT run(s), $(nproc) cores ==="
echo "load: two \`rollcall bench --ops create\` processes of ${LOAD_CLIENTS[0]} and ${LOAD_CLIENTS[1]} clients side by side (--url takes one URL), creates/s summed;"
echo "      each drives one organization (one per partition of the split); with one API both drive it, with two each drives one"
printf '%-38s %10s %18s %26s %14s\n' topology creates/s mean-append-batch read-your-writes-timeouts folding-s/s
for key in "${TOPOLOGIES[@]}"; do
    printf '%-38s %10s %18s %26s %14s\n' "${NAME[$key]}" "${RATE[$key]}" "${APPEND_BATCH[$key]}" "${RYW_TIMEOUTS[$key]}" "${FOLD_BUSY[$key]}"
done
echo "ratio two APIs / one API:                 $(python3 -c "print('%.3f' % (${RATE[2api]} / ${RATE[1api]}))")"
echo "ratio split in two / one projector:       $(python3 -c "print('%.3f' % (${RATE[split]} / ${RATE[1api]}))")"
echo "(folding-s/s: seconds the projectors spent folding per second of the last run, summed; near 1 per projector, the fold is the bottleneck)"
for key in "${TOPOLOGIES[@]}"; do
    echo
    echo "${NAME[$key]}, last run:"
    echo "${LOAD_DETAIL[$key]}"
    echo " CPU by process group, from /proc:"
    echo "${CPU_REPORT[$key]}"
done
echo
for key in "${TOPOLOGIES[@]}"; do
    echo "rollcall verify, ${NAME[$key]}: ${VERDICT[$key]}"
done
for key in "${TOPOLOGIES[@]}"; do
    if [[ ${VERDICT_STATUS[$key]} != 0 ]]; then
        echo "bench-scaleout.sh: rollcall verify did not find the database of ${NAME[$key]} sound (exit ${VERDICT_STATUS[$key]}): the figures above are not to be trusted" >&2
        exit 1
    fi
done
