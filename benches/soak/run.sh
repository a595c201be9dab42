#!/usr/bin/env bash
# make soak: the demo hierarchy (scripts/demo.sh) with extra citizens to
# revoke, ocsp-responder and validation-api started on it (127.0.0.1), then
# the soak driver (benches/src/bin/soak.rs) for SOAK_SECS seconds (default
# 600): OCSP and validation traffic, a revocation every REVOKE_EVERY
# seconds (default 20) that must show in OCSP within 2 s and in validation
# within 5 s of the CRL being republished, and 500 idle connections per
# service opened and dropped every minute. It prints RSS at start, after
# warm-up and at the end, and exits 1 on any error, missed revocation, or
# RSS growth above 5% after warm-up (lows and highs of the first and last
# whole idle-wave cycle).
set -euo pipefail
ROOT_DIR=$(cd "$(dirname "$0")/../.." && pwd)
SOAK_SECS=${SOAK_SECS:-600}
REVOKE_EVERY=${REVOKE_EVERY:-20}
VAR=${SOAK_VAR:-$ROOT_DIR/var/soak}
BIN=$ROOT_DIR/target/release
mkdir -p "$VAR"

echo "== building release binaries"
cargo build --release -q -p ca-tools -p ocsp-responder -p validation-api -p benches --bin pki \
  --bin ocsp-responder --bin validation-api --bin soak

echo "== demo hierarchy under $VAR/demo (log: $VAR/setup.log)"
VAR=$VAR PKI=$BIN/pki "$ROOT_DIR/scripts/demo.sh" > "$VAR/setup.log" 2>&1
DIR=$VAR/demo
cd "$DIR"
# shellcheck source=/dev/null
source demo.env
export PKI_ACTOR=soak-driver
victims=$(( SOAK_SECS / REVOKE_EVERY + 1 ))
echo "== issuing $victims citizens to revoke"
for i in $(seq 1 "$victims"); do
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/C=MA/serialNumber=SOAK$i/CN=Soak Citizen $i" -keyout "soak-victim-$i.key" \
    -out "soak-victim-$i.csr" 2>/dev/null
  "$BIN/pki" issue --ca cnie-citizen-ca --profile cnie-auth --csr "soak-victim-$i.csr" \
    --san "email:soak$i@cnie.example.ma" --out "soak-victim-$i.pem" >> "$VAR/setup.log"
done
"$BIN/pki" crl generate --ca cnie-citizen-ca --out cnie-ca.crl >> "$VAR/setup.log"

cat > soak-ocsp.toml <<TOML
listen = "127.0.0.1:0"
database = "$PKI_STORE_URL"
unissued = "unknown"
[responses]
validity_secs = 345600
presign_hashes = ["sha256"]
cache_capacity = 100000
[changes]
poll_ms = 250
[hsm]
token = "$PKI_HSM_TOKEN"
pin_file = "hsm-pin"
sessions = 2
[[issuer]]
ca = "cnie-citizen-ca"
key_label = "ocsp-cnie-citizen-ca-2026-01"
responder_cert = "ocsp-cnie-ca.pem"
TOML
TOKEN=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
HASH=$(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)
cat > soak-api.toml <<TOML
listen = "127.0.0.1:0"
watch_seconds = 0
[auth]
[[auth.clients]]
name = "soak"
token_sha256 = "$HASH"
max_concurrent = 64
[crl_refresh]
enabled = false
[[tiers]]
name = "national"
level = "high"
anchors = ["$DIR/root.pem"]
intermediates = ["$DIR/cnie-ca.pem"]
crls = ["$DIR/root.crl", "$DIR/cnie-ca.crl"]
revocation = { methods = ["crl"], unavailable = "hard-fail" }
TOML

echo "== starting ocsp-responder and validation-api"
RUST_LOG=info,access=off "$BIN/ocsp-responder" --config soak-ocsp.toml > soak-ocsp.out 2> soak-ocsp.log &
OCSP_PID=$!
RUST_LOG=info,access=off "$BIN/validation-api" --config soak-api.toml > soak-api.out 2> soak-api.log &
API_PID=$!
trap 'kill $OCSP_PID $API_PID 2>/dev/null || true; wait 2>/dev/null || true' EXIT
listening() { # stem pid: the address a service prints on stdout or stderr
  local addr=
  for _ in $(seq 1 300); do
    addr=$(cat "$1.out" "$1.log" 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g' | sed -n 's#.*listening on \(http://\)\{0,1\}\([0-9.]*:[0-9]*\).*#\2#p' | sed -n 1p)
    [ -n "$addr" ] && { echo "$addr"; return; }
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  echo "service did not start: $1" >&2; cat "$1.out" "$1.log" >&2 2>/dev/null; exit 1
}
OCSP_ADDR=$(listening soak-ocsp $OCSP_PID)
API_ADDR=$(listening soak-api $API_PID)
echo "   ocsp-responder $OCSP_ADDR (pid $OCSP_PID), validation-api $API_ADDR (pid $API_PID)"
for _ in $(seq 1 300); do
  curl -sf "http://$OCSP_ADDR/health/ready" > /dev/null && break
  sleep 0.1
done

echo "== soak for $SOAK_SECS s"
"$BIN/soak" --ocsp "$OCSP_ADDR" --api "$API_ADDR" --api-token "$TOKEN" \
  --ocsp-pid $OCSP_PID --api-pid $API_PID --dir "$DIR" --pki "$BIN/pki" \
  --secs "$SOAK_SECS" --revoke-every "$REVOKE_EVERY"
