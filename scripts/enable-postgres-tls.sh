#!/usr/bin/env bash
# One-time setup of a developer's (and CI's) local PostgreSQL for rollcall's
# TLS tests: makes a self-signed CA, a server certificate it signs for
# 127.0.0.1, ::1 and localhost, and a second CA that signed nothing (the
# tests' "wrong CA"); then points the server at them (ALTER SYSTEM: ssl,
# ssl_cert_file, ssl_key_file) and reloads it. Connections that do not ask
# for TLS are not affected. Run it as root (it writes under /etc/rollcall
# and hands the key to the postgres user); it is idempotent: existing files
# are kept.
#
#   scripts/enable-postgres-tls.sh            # files in /etc/rollcall/postgres-tls
#   ROLLCALL_PG_TLS_DIR=/elsewhere scripts/enable-postgres-tls.sh
#
# The tests read the CA at $ROLLCALL_PG_TLS_DIR/ca.crt (the same default).
set -euo pipefail

dir=${ROLLCALL_PG_TLS_DIR:-/etc/rollcall/postgres-tls}
# Earlier versions wrote under /etc/postgresql, where a directory that is not
# a cluster's version breaks `pg_ctlcluster $(ls /etc/postgresql) main start`.
legacy=/etc/postgresql/rollcall-tls
superuser=(psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -v ON_ERROR_STOP=1 -Atq)

fail() { printf 'enable-postgres-tls: %s\n' "$*" >&2; exit 1; }

command -v openssl >/dev/null || fail "openssl is not installed (apt-get install openssl)"
"${superuser[@]}" -c 'select 1' >/dev/null \
    || fail "cannot connect as postgres@127.0.0.1:5432; start PostgreSQL first"
id postgres >/dev/null 2>&1 || fail "there is no postgres user to own the server key"

mkdir -p "$dir"
if [[ -z ${ROLLCALL_PG_TLS_DIR:-} && -d $legacy ]]; then
    cp -an "$legacy"/. "$dir"/
    rm -rf "$legacy"
fi
chmod 755 "$dir"
cd "$dir"

# A CA: its key signs the server certificate, then stays here (root only).
make_ca() {
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
        -subj "/CN=$2" -keyout "$1.key" -out "$1.crt" 2>/dev/null
    chmod 600 "$1.key"
    chmod 644 "$1.crt"
}

if [[ ! -s ca.crt || ! -s ca.key ]]; then
    make_ca ca "rollcall local test CA"
    rm -f server.crt server.key
fi
[[ -s other-ca.crt ]] || { make_ca other-ca "rollcall unrelated CA"; rm -f other-ca.key; }

if [[ ! -s server.crt || ! -s server.key ]]; then
    openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=localhost" \
        -keyout server.key -out server.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' \
        > server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
        -days 3650 -sha256 -extfile server.ext -out server.crt 2>/dev/null
    rm -f server.csr server.ext
fi
# PostgreSQL refuses a key that others may read.
chown postgres: server.key server.crt
chmod 600 server.key
chmod 644 server.crt

"${superuser[@]}" >/dev/null <<SQL
alter system set ssl_cert_file = '$dir/server.crt';
alter system set ssl_key_file = '$dir/server.key';
alter system set ssl = on;
select pg_reload_conf();
SQL

# The reload is asynchronous: wait until a verified connection gets through.
probe="host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=verify-full sslrootcert=$dir/ca.crt"
for _ in $(seq 1 50); do
    if [[ $(psql "$probe" -Atqc 'select ssl from pg_stat_ssl where pid = pg_backend_pid()' 2>/dev/null) == t ]]; then
        echo "PostgreSQL on 127.0.0.1:5432 serves TLS with a certificate from $dir/ca.crt"
        exit 0
    fi
    sleep 0.2
done
fail "PostgreSQL did not take the certificate; see its log (/var/log/postgresql/)"
