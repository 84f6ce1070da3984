#!/usr/bin/env bash
# Probes the access log with the requests of issue 8: many SCIM requests with
# a 60 KiB User-Agent, first without a valid token, then with one, and
# reports the server's resident memory (from /proc/<pid>/status) and how much
# the access log tables grew. Bounded: REQUESTS per phase, on loopback only.
#
#   scripts/access-log-probe.sh
#   REQUESTS=15000 CLIENTS=8 ROLLCALL_BIN=/path/to/rollcall scripts/access-log-probe.sh
#
# Builds the release binary unless ROLLCALL_BIN names one; runs it against a
# scratch database and bus prefix (scripts/lib/scratch-server.sh), removed on
# exit. Set MALLOC_ARENA_MAX to see its effect on the resident size.
# Needs: cargo, psql, curl, python3; PostgreSQL and RabbitMQ running locally.
set -euo pipefail

REQUESTS=${REQUESTS:-15000}
CLIENTS=${CLIENTS:-8}
for n in "$REQUESTS" "$CLIENTS"; do
    if ! [[ $n =~ ^[1-9][0-9]*$ ]] || ((n > 1000000)); then
        echo "access-log-probe.sh: REQUESTS and CLIENTS must be integers from 1 to 1000000" >&2
        exit 2
    fi
done

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

if [[ -z ${ROLLCALL_BIN:-} ]]; then
    cargo build --release -p rollcall
    ROLLCALL_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/rollcall"
fi
start_scratch_server "$ROLLCALL_BIN" probe

rss() { awk '/^VmRSS/ {print $2 " kB"}' "/proc/$SERVER_PID/status"; }
table_size() {
    psql -At "$PG_BASE/$SCRATCH_DB" -c \
        "select pg_size_pretty(coalesce(sum(pg_total_relation_size(c.oid)), 0)) || ' in ' ||
                (select count(*) from access_log) || ' access_log rows, ' ||
                coalesce((select count(*) from pg_class where relname = 'access_refusals'), 0) ||
                ' access_refusals table(s)'
         from pg_class c
         where c.relname like 'access\_log%' or c.relname like 'access\_refusals%'"
}

# Sends REQUESTS GETs with a 60 KiB User-Agent over CLIENTS keep-alive
# connections; prints the statuses seen and the server's peak RSS.
probe() {
    local token=$1
    python3 - "$BASE_URL" "$token" "$REQUESTS" "$CLIENTS" "$SERVER_PID" <<'PY'
import collections, http.client, sys, threading, time, urllib.parse
base, token, total, clients, pid = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
url = urllib.parse.urlparse(base)
agent = "A" * 61440
lock = threading.Lock()
statuses = collections.Counter()
left = [total]
peak = [0]

def rss_kb():
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    return 0

def client():
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    headers = {"User-Agent": agent}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    while True:
        with lock:
            if left[0] == 0:
                return
            left[0] -= 1
        try:
            connection.request("GET", "/scim_v2/Users?count=1", headers=headers)
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            connection.close()
            connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
            status = "error"
        with lock:
            statuses[status] += 1

def sample(done):
    while not done.is_set():
        peak[0] = max(peak[0], rss_kb())
        time.sleep(0.2)

done = threading.Event()
sampler = threading.Thread(target=sample, args=(done,))
sampler.start()
started = time.time()
threads = [threading.Thread(target=client) for _ in range(clients)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
done.set()
sampler.join()
print(f"  {total} requests in {time.time() - started:.1f} s: {dict(statuses)}; peak RSS {peak[0]} kB")
PY
}

echo "RSS at start: $(rss); access log: $(table_size)"
echo "phase 1: $REQUESTS requests with a wrong token"
probe "rcs_not-a-token"
sleep 2
echo "RSS after phase 1: $(rss); access log: $(table_size)"
echo "phase 2: $REQUESTS requests with the organization's token"
probe "$TOKEN"
sleep 2
echo "RSS after phase 2: $(rss); access log: $(table_size)"
