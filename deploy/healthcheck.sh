#!/bin/bash
# The image's health check: GET a path (default /healthz) from this
# container's metrics listener (ROLLCALL_METRICS_BIND, port 9464 unless set)
# and succeed on a 200. Bash's /dev/tcp keeps curl out of the runtime image.
#
#   rollcall-healthcheck [/healthz|/readyz]
set -euo pipefail

path=${1:-/healthz}
bind=${ROLLCALL_METRICS_BIND:-127.0.0.1:9464}
port=${bind##*:}

exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$path" >&3
read -r _ status _ <&3
[[ $status == 200 ]] || { echo "GET $path on :$port answered ${status:-nothing}" >&2; exit 1; }
