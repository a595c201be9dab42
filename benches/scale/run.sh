#!/usr/bin/env bash
# National-scale OCSP bench (issue 17): a throwaway PostgreSQL 15 server
# under var/scale (as the `postgres` user when run as root: initdb refuses
# root), the release responder, then benches/benches/scale.rs: N statuses
# loaded with COPY, the updater against a raw SoftHSM sign loop (and the CPU
# per response it and PostgreSQL use), responder start-to-ready, cached-only
# against a bare hyper server, live signing against the raw loop, Zipf and
# uniform request rates, RSS with a full cache, revocation-to-visible on two
# responders. Loopback only, bounded in time.
#
#   benches/scale/run.sh                 # N = 1,000,000 (a few minutes)
#   benches/scale/run.sh --n 10000000    # the 10M sizing run (long)
#   SCALE_CACHE=200000 benches/scale/run.sh   # a cache smaller than N
# Output also goes to target/scale-N.txt. The server is stopped on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
N=${SCALE_N:-1000000}
while [ $# -gt 0 ]; do
  case "$1" in
    --n) N=$2; shift 2 ;;
    *) echo "usage: $0 [--n N]" >&2; exit 2 ;;
  esac
done
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
[ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL 15 server binaries not in $PG_BIN: apt-get install -y postgresql" >&2; exit 1; }
[ -e /usr/lib/softhsm/libsofthsm2.so ] || [ -n "${PKCS11_MODULE:-}" ] \
  || { echo "SoftHSM2 is needed: apt-get install -y softhsm2" >&2; exit 1; }
VAR=${SCALE_VAR:-$ROOT/var/scale}
rm -rf "$VAR/pg"
mkdir -p "$VAR"
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
[ "$(id -u)" = 0 ] && chown postgres "$VAR"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg "$PG_BIN/initdb" -D "$VAR/pg" -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null
stop() { as_pg "$PG_BIN/pg_ctl" -D "$VAR/pg" -w stop -m fast >/dev/null 2>&1 || true; }
trap stop EXIT
as_pg "$PG_BIN/pg_ctl" -D "$VAR/pg" -l "$VAR/pg.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $VAR -c shared_buffers=1GB -c max_wal_size=8GB -c max_connections=200" \
  start >/dev/null
psql -q -h 127.0.0.1 -p "$PORT" -U postgres -c "CREATE DATABASE scale"
echo "== PostgreSQL on 127.0.0.1:$PORT (data $VAR/pg); load average $(cut -d' ' -f1-3 /proc/loadavg)"
cd "$ROOT"
cargo build --release -q -p ocsp-responder
SCALE_N=$N SCALE_PG_URL="postgres://postgres@127.0.0.1:$PORT/scale" \
  cargo bench -q -p benches --bench scale 2>&1 | tee "target/scale-$N.txt"
