# shellcheck shell=bash
# shellcheck disable=SC2034 # it sets variables for the script that sources it
# Sourced by the scripts in scripts/: runs `rollcall serve` against a scratch
# database and bus prefix, and removes all of it again.
#
#   start_scratch_server BINARY NAME   sets BASE_URL, METRICS_URL, TOKEN,
#                                      SERVER_PID, SCRATCH_DB, SCRATCH_PREFIX,
#                                      SCRATCH_LOG
#   stop_scratch_server [STATUS]       stops it and drops what it created; with a
#                                      non-zero STATUS, first shows its log's tail
#
# Scripts that start their own processes (bench-scaleout.sh) use the naming
# and the clean-up alone:
#
#   new_scratch NAME                   sets SCRATCH_DB, SCRATCH_PREFIX (fresh
#                                      names, nothing created yet) and
#                                      SCRATCH_LOG (a new directory)
#   drop_scratch                       drops SCRATCH_DB, the queue and exchange
#                                      of SCRATCH_PREFIX and SCRATCH_LOG, then
#                                      forgets them (a second call does nothing);
#                                      stop the processes using them first
#   stop_process PID                   SIGINT, then SIGKILL after 30 s
#   release_binary                     sets ROLLCALL (ROLLCALL_BIN or a build)
#
# Environment: BENCH_PG_URL (postgres://postgres@127.0.0.1:5432, the server
# without a database), AMQP_URL (rollcall's default).

PG_BASE=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
PG_BASE=${PG_BASE%/}
AMQP_URL=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
SERVER_PID=""

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

new_scratch() {
    local name=$1 suffix
    suffix=$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')
    SCRATCH_DB="rollcall_${name}_${suffix}"
    SCRATCH_PREFIX="rollcall_${name}_${suffix}"
    SCRATCH_LOG=$(mktemp -d "${TMPDIR:-/tmp}/rollcall-${name}.XXXXXX")
}

start_scratch_server() {
    local binary=$1 name=$2 port metrics_port
    new_scratch "$name"
    port=$(free_port)
    # Its own operators' listener, so that it never meets another server's
    # on the default 127.0.0.1:9464.
    metrics_port=$(free_port)
    BASE_URL="http://127.0.0.1:$port"
    METRICS_URL="http://127.0.0.1:$metrics_port/metrics"
    echo "starting rollcall serve on $BASE_URL (database $SCRATCH_DB, bus prefix $SCRATCH_PREFIX)" >&2
    DATABASE_URL="$PG_BASE/$SCRATCH_DB" AMQP_URL="$AMQP_URL" ROLLCALL_BUS_PREFIX="$SCRATCH_PREFIX" \
        ROLLCALL_METRICS_BIND="127.0.0.1:$metrics_port" RUST_LOG="${RUST_LOG:-warn}" \
        "$binary" serve --bind "127.0.0.1:$port" >"$SCRATCH_LOG/serve.out" 2>"$SCRATCH_LOG/serve.err" &
    SERVER_PID=$!
    TOKEN=""
    for _ in $(seq 1 600); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "rollcall serve exited during start-up:" >&2
            tail -n 30 "$SCRATCH_LOG/serve.err" >&2
            return 1
        fi
        [[ -n $TOKEN ]] || TOKEN=$(grep -o -m1 'rcs_[A-Za-z0-9_-]*' "$SCRATCH_LOG/serve.out" || true)
        if [[ -n $TOKEN ]] && curl -fsS -o /dev/null "$BASE_URL/readyz" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "rollcall serve did not become ready with a token within 60 s" >&2
    return 1
}

stop_scratch_server() {
    local status=${1:-0}
    if [[ $status -ne 0 && -s ${SCRATCH_LOG:-}/serve.err ]]; then
        echo "--- last lines of the server's log ---" >&2
        tail -n 30 "$SCRATCH_LOG/serve.err" >&2
    fi
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "stopping rollcall serve (pid $SERVER_PID)" >&2
        stop_process "$SERVER_PID"
    fi
    drop_scratch
}

drop_scratch() {
    if [[ -n ${SCRATCH_DB:-} ]]; then
        psql -q "$PG_BASE/postgres" -v ON_ERROR_STOP=1 \
            -c "drop database if exists \"$SCRATCH_DB\" with (force)" >/dev/null \
            || echo "could not drop database $SCRATCH_DB; drop it by hand" >&2
    fi
    if [[ -n ${SCRATCH_PREFIX:-} ]] && command -v rabbitmqctl >/dev/null; then
        # Every queue of the prefix (bus::Topology: the projector's, or one
        # per partition of a split projection).
        local queue
        for queue in $(rabbitmqctl -q list_queues -p / name 2>/dev/null | grep -F "$SCRATCH_PREFIX."); do
            rabbitmqctl -q delete_queue -p / "$queue" >/dev/null 2>&1 \
                || echo "could not delete queue $queue; delete it by hand" >&2
        done
        # rabbitmqctl has no delete_exchange; an exchange with no queue bound
        # holds no messages, so failing here is harmless.
        local exchange
        for exchange in events partitions; do
            rabbitmqctl -q eval "rabbit_exchange:delete(rabbit_misc:r(<<\"/\">>, exchange, <<\"$SCRATCH_PREFIX.$exchange\">>), false, <<\"scripts\">>)." >/dev/null 2>&1 || true
        done
    fi
    if [[ -n ${SCRATCH_LOG:-} ]]; then
        rm -rf "$SCRATCH_LOG"
    fi
    SCRATCH_DB="" SCRATCH_PREFIX="" SCRATCH_LOG=""
}

# wait_for_settled_log: waits until the log of SCRATCH_DB has settled: its
# head, the projector's checkpoint (the lowest partition's, where the
# projection is split) and the linker's equal and unchanged for a second (at
# most VERIFY_SETTLE_SECS, 900). Right after a load the log still grows:
# `rollcall serve`'s linker appends the memberships of the users just
# created. The linker's own checkpoint counts: a pass that only finds locks
# already right appends nothing for a while, and the projector then catches
# up with a head that is about to move again. (A linker that never ran, as in
# bench-scaleout.sh's topologies, is not waited for.) Sets SETTLE_WAITED
# (seconds waited).
wait_for_settled_log() {
    local limit=${VERIFY_SETTLE_SECS:-900} started=$SECONDS polls=0 sample last="" head checkpoint linked
    while ((SECONDS - started < limit)); do
        sample=$(psql -At "$PG_BASE/$SCRATCH_DB" -c "select h.last_position || ' ' \
            || min(c.position) filter (where c.name = 'projector' or c.name like 'projector.%') || ' ' \
            || coalesce(nullif(min(c.position) filter (where c.name = 'linker'), 0), h.last_position) \
            from log_head h cross join checkpoints c where h.id = 1 group by h.last_position")
        read -r head checkpoint linked <<<"$sample"
        if [[ $head == "$checkpoint" && $head == "$linked" && $sample == "$last" ]]; then
            break
        fi
        if ((++polls % 10 == 0)); then
            echo "waiting for the log to settle: head $head, projector at $checkpoint, linker at $linked" >&2
        fi
        last=$sample
        sleep 1
    done
    SETTLE_WAITED=$((SECONDS - started))
}

# verify_scratch BINARY: `rollcall verify` on SCRATCH_DB (the log's hash
# chain, and the read tables against a fresh fold of the log) once the log
# has settled (wait_for_settled_log): verify calls a log that grows while it
# reads it "behind". Sets VERIFY_VERDICT (what verify printed),
# VERIFY_STATUS (its exit status: 0 is sound) and VERIFY_WAITED (seconds
# waited for the log to settle).
verify_scratch() {
    local binary=$1
    wait_for_settled_log
    VERIFY_WAITED=$SETTLE_WAITED
    VERIFY_STATUS=0
    VERIFY_VERDICT=$("$binary" verify --database-url "$PG_BASE/$SCRATCH_DB" 2>&1) || VERIFY_STATUS=$?
    [[ -n $VERIFY_VERDICT ]] || VERIFY_VERDICT="(rollcall verify printed nothing)"
}

# Sets ROLLCALL to the binary to measure: ROLLCALL_BIN when set (compare two
# builds back to back), else the release build of the workspace's binaries
# (together: with -p, cargo unifies features differently from a workspace
# build and rebuilds much of the tree).
release_binary() {
    if [[ -n ${ROLLCALL_BIN:-} ]]; then
        ROLLCALL=$ROLLCALL_BIN
        echo "measuring $ROLLCALL (ROLLCALL_BIN), not building" >&2
    else
        echo "building the release binary" >&2
        cargo build --release --bins
        ROLLCALL="${CARGO_TARGET_DIR:-$ROOT/target}/release/rollcall"
    fi
}

# Stops a child process with SIGINT (a graceful stop), and with SIGKILL if
# it is still there 30 s later.
stop_process() {
    local pid=$1
    # Already signalled, or gone: then only wait for it.
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "pid $pid did not stop within 30 s; killing it" >&2
        kill -KILL "$pid"
    fi
    wait "$pid" 2>/dev/null || true
}
