#!/usr/bin/env bash
# Runs the independent SCIM conformance suite scim2-tester (PyPI) against a
# scratch `rollcall serve`, and exits 1 if it reports any failure.
#
#   scripts/conformance.sh            # User checks
#   RESOURCES=User,Group scripts/conformance.sh
#
# Needs python3 with venv, cargo, curl, psql; PostgreSQL and RabbitMQ running.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=lib/scratch-server.sh
source scripts/lib/scratch-server.sh

VENV=${CONFORMANCE_VENV:-$ROOT/.venv}
if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c 'import scim2_tester, httpx2' 2>/dev/null; then
    echo "installing scim2-tester into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q 'scim2-tester>=0.5' 'scim2-client[httpx2]'
fi

trap 'stop_scratch_server $?' EXIT
cargo build -q -p rollcall
start_scratch_server "${CARGO_TARGET_DIR:-$ROOT/target}/debug/rollcall" conformance
"$VENV/bin/python" scripts/conformance.py "$BASE_URL/scim_v2" "$TOKEN" "${RESOURCES:-User}"
