#!/usr/bin/env bash
# Runs the store test suite on SQLite and on a throwaway PostgreSQL 15.
#
# The test binary starts and stops the PostgreSQL server itself (initdb +
# pg_ctl as the `postgres` user in a temp dir, 127.0.0.1, free port); this
# script only makes sure the server binaries are installed first.
#
#   scripts/pg-test.sh                 # cargo test -p store
#   scripts/pg-test.sh --release       # also runs the 1M-revocation test
#   PG_BIN=/path/to/bin scripts/pg-test.sh
set -euo pipefail

pg_bin="${PG_BIN:-/usr/lib/postgresql/15/bin}"
if [ ! -x "$pg_bin/initdb" ] && ! command -v initdb >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        echo "PostgreSQL server binaries missing: installing postgresql" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    else
        echo "PostgreSQL server binaries missing: install postgresql: apt-get install -y postgresql" >&2
        exit 1
    fi
fi

cd "$(dirname "$0")/.."
exec cargo test -p store "$@"
