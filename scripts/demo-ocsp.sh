#!/usr/bin/env bash
# make demo, OCSP step: start ocsp-responder on the demo hierarchy made by
# scripts/demo.sh (same SoftHSM token, same store), ask it with
# `openssl ocsp` about the good and the revoked citizen certificates, revoke
# a third one with `pki revoke` and watch the answer change, show the RFC
# 5019 headers, health and metrics, stop it, then sign every response
# into the store's response table with `pki presign` and serve them from a
# table-mode responder that has no HSM.
#
# Needs: $VAR/demo from scripts/demo.sh, target/release/ocsp-responder and
# target/release/pki (make demo builds them).
set -euo pipefail
VAR=${VAR:-$(pwd)/var}
VAR=$(cd "$VAR" && pwd)
DIR="$VAR/demo"
ROOT_DIR=$(cd "$(dirname "$0")/.." && pwd)
RESPONDER=${OCSP_RESPONDER:-$ROOT_DIR/target/release/ocsp-responder}
PKI=${PKI:-$ROOT_DIR/target/release/pki}

say() { printf '\n== %s\n' "$*"; }
[ -f "$DIR/demo.env" ] || { echo "no demo in $DIR: run scripts/demo.sh first" >&2; exit 1; }
[ -x "$RESPONDER" ] || { echo "missing $RESPONDER: cargo build --release -p ocsp-responder" >&2; exit 1; }
cd "$DIR"
# shellcheck source=/dev/null
source demo.env

say "Responder configuration (ocsp.toml): the three issuing CAs, their delegated OCSP keys in the HSM"
cat > ocsp.toml <<TOML
# Written by scripts/demo-ocsp.sh.
listen = "127.0.0.1:0"
database = "$PKI_STORE_URL"
unissued = "unknown"

[responses]
validity_secs = 345600
presign_hashes = ["sha1", "sha256"]
cache_capacity = 100000

[changes]
poll_ms = 500

[hsm]
token = "$PKI_HSM_TOKEN"
pin_file = "hsm-pin"
sessions = 2

# path: of the OCSP URL pki.toml (ocsp_urls) writes into each CA's
# certificates; GET requests are answered under it.
[[issuer]]
ca = "cnie-citizen-ca"
key_label = "ocsp-cnie-citizen-ca-2026-01"
responder_cert = "ocsp-cnie-ca.pem"
path = "/cnie-citizen-ca"

[[issuer]]
ca = "qualified-signature-ca"
key_label = "ocsp-qualified-signature-ca-2026-01"
responder_cert = "ocsp-qualified-ca.pem"
path = "/qualified-signature-ca"

[[issuer]]
ca = "organisations-ca"
key_label = "ocsp-organisations-ca-2026-01"
responder_cert = "ocsp-organisations-ca.pem"
path = "/organisations-ca"
TOML
sed 's/^/  /' ocsp.toml

say "Start: ocsp-responder --config ocsp.toml"
# The files exist before the loop below reads them: the background job
# opens its redirections only once it is forked.
: > responder.out; : > responder.log
RUST_LOG=${RUST_LOG:-info} "$RESPONDER" --config ocsp.toml > responder.out 2> responder.log &
pid=$!
stop() { kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; }
trap stop EXIT
addr=
for _ in $(seq 1 100); do
  addr=$(sed -n 's#^listening on http://##p' responder.out)
  [ -n "$addr" ] && break
  kill -0 "$pid" 2>/dev/null || { cat responder.log >&2; exit 1; }
  sleep 0.1
done
[ -n "$addr" ] || { echo "responder did not start" >&2; cat responder.log >&2; exit 1; }
URL="http://$addr"
sed 's/\x1b\[[0-9;]*m//g' responder.log | grep -E "loaded|pre-signing done|listening" | sed 's/^/  /'
echo "  health: $(curl -sS "$URL/health/ready")"

ask() { # certificate file
  echo "\$ openssl ocsp -issuer cnie-ca.pem -cert $1 -url $URL -CAfile root.pem"
  openssl ocsp -issuer cnie-ca.pem -cert "$1" -url "$URL" -CAfile root.pem \
    -verify_other cnie-ca.pem 2>&1 | sed 's/^/  /'
}

say "Amina (expected: good, response verified)"
ask citizen-good.pem

say "Youssef (expected: revoked, keyCompromise)"
ask citizen-revoked.pem

say "Revoke Salma with pki revoke; the responder follows the store's change feed"
serial=$(openssl x509 -in citizen-2.pem -noout -serial | cut -d= -f2)
echo "\$ pki revoke --ca cnie-citizen-ca --serial $serial --reason affiliationChanged"
"$PKI" revoke --ca cnie-citizen-ca --serial "$serial" --reason affiliationChanged > /dev/null
t0=$(date +%s.%N)
for _ in $(seq 1 100); do
  if openssl ocsp -issuer cnie-ca.pem -cert citizen-2.pem -url "$URL" -CAfile root.pem \
       -verify_other cnie-ca.pem -no_nonce 2>/dev/null | grep -q ': revoked'; then
    break
  fi
  sleep 0.1
done
printf '  served as revoked %.1f s after the revocation committed\n' "$(echo "$(date +%s.%N) - $t0" | bc)"
ask citizen-2.pem

say "GET with RFC 5019 caching headers (pre-signed), then If-None-Match"
openssl ocsp -issuer cnie-ca.pem -cert citizen-good.pem -no_nonce -reqout req.der >/dev/null 2>&1
path=$(base64 -w0 req.der | sed 's#+#%2B#g; s#/#%2F#g; s#=#%3D#g')
curl -sS -D headers.txt -o resp.der "$URL/$path"
grep -iE '^(HTTP|content-type|cache-control|etag|expires|last-modified)' headers.txt | sed 's/^/  /'
etag=$(grep -i '^etag:' headers.txt | cut -d' ' -f2 | tr -d '\r')
echo "  If-None-Match $etag -> $(curl -sS -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$URL/$path")"

say "Metrics"
curl -sS "$URL/metrics" | grep -E '^ocsp_(requests_total\{method="(GET|POST)",result="(cached|live|not_modified)"\}|cache_hits_total|live_signs_total|presigned_total|cache_entries|ready)' | sed 's/^/  /'

say "Stop (SIGTERM, graceful)"
stop
trap - EXIT
sed 's/\x1b\[[0-9;]*m//g' responder.log | tail -1 | sed 's/^/  /'

say "pki presign: every response signed once into the store's response table"
echo "\$ pki presign --responder-config ocsp.toml"
"$PKI" presign --responder-config ocsp.toml --quiet | sed 's/^/  /'

say "A table-mode responder without an HSM serves those stored bytes"
sed -e 's/^\[responses\]$/[responses]\nsource = "table"/' \
    -e '/^\[hsm\]$/,/^$/d' ocsp.toml > ocsp-table.toml
grep -E '^(source|\[hsm\])' ocsp-table.toml | sed 's/^/  /'
echo "  (no [hsm] section)"
: > responder-table.out; : > responder-table.log
"$RESPONDER" --config ocsp-table.toml > responder-table.out 2> responder-table.log &
pid=$!
trap stop EXIT
addr=
for _ in $(seq 1 100); do
  addr=$(sed -n 's#^listening on http://##p' responder-table.out)
  [ -n "$addr" ] && break
  kill -0 "$pid" 2>/dev/null || { cat responder-table.log >&2; exit 1; }
  sleep 0.1
done
[ -n "$addr" ] || { echo "table responder did not start" >&2; cat responder-table.log >&2; exit 1; }
URL="http://$addr"
echo "  health: $(curl -sS "$URL/health/ready")"
echo "\$ openssl ocsp -issuer cnie-ca.pem -cert citizen-good.pem -url $URL -no_nonce -CAfile root.pem"
openssl ocsp -issuer cnie-ca.pem -cert citizen-good.pem -url "$URL" -no_nonce -CAfile root.pem \
  -verify_other cnie-ca.pem 2>&1 | sed 's/^/  /'
curl -sS "$URL/metrics" | grep -E '^ocsp_(table_reads_total|live_signs_total|ready)' | sed 's/^/  /'
stop
trap - EXIT
