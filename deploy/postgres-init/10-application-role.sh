#!/bin/bash
# Runs once, when the postgres container initialises an empty data directory:
# creates the application role the rollcall services connect as. The
# migrations (`rollcall migrate`, as the owner) grant it what it may do.
set -euo pipefail

psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" \
    -v password="${ROLLCALL_APP_PASSWORD:?set ROLLCALL_APP_PASSWORD}" <<'SQL'
create role rollcall_app login password :'password';
SQL
