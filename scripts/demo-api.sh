#!/usr/bin/env bash
# make demo, API step: start validation-api on the demo hierarchy that
# scripts/demo.sh left in $VAR/demo (root.pem, cnie-ca.pem, root.crl,
# cnie-ca.crl, citizen-good.pem, citizen-revoked.pem), then validate with
# curl a good citizen, a revoked citizen and a citizen of a foreign
# hierarchy (made here with throwaway openssl keys), print the JSON
# answers, and stop the server. Everything stays on 127.0.0.1; the CRL
# refresher is off because the demo's CDP URLs are example hosts.
set -euo pipefail
VAR=${VAR:-$(pwd)/var}
VAR=$(cd "$VAR" && pwd)
DIR="$VAR/demo"
ROOT_DIR=$(cd "$(dirname "$0")/.." && pwd)
API=${API:-$ROOT_DIR/target/release/validation-api}
OUT="$DIR/api"

for f in root.pem cnie-ca.pem root.crl cnie-ca.crl citizen-good.pem citizen-revoked.pem; do
  [ -f "$DIR/$f" ] || { echo "demo-api: $DIR/$f missing: run scripts/demo.sh first" >&2; exit 1; }
done
[ -x "$API" ] || { echo "demo-api: $API not built: cargo build --release -p validation-api" >&2; exit 1; }
command -v curl >/dev/null || { echo "demo-api: curl is needed (apt-get install curl)" >&2; exit 1; }

say() { printf '\n== %s\n' "$*"; }
pretty() { if command -v python3 >/dev/null; then python3 -m json.tool; else cat; echo; fi; }
rm -rf "$OUT" && mkdir -p "$OUT" && cd "$OUT"

# A foreign hierarchy: valid certificates that chain to nothing we trust.
cat > foreign.ext <<'X'
[ca]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
[leaf]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid:always
X
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
  -subj "/C=XX/O=Elsewhere/CN=Foreign Root" -keyout foreign-root.key -out foreign-root.pem \
  -extensions ca -config <(printf '[req]\ndistinguished_name=dn\n[dn]\n'; cat foreign.ext) 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/C=XX/CN=Foreign Citizen" -keyout foreign-citizen.key -out foreign-citizen.csr 2>/dev/null
openssl x509 -req -in foreign-citizen.csr -CA foreign-root.pem -CAkey foreign-root.key -days 365 \
  -sha256 -extfile foreign.ext -extensions leaf -set_serial 0x1001 -out foreign-citizen.pem 2>/dev/null

# A bearer token for the demo client; the config keeps only its SHA-256.
TOKEN=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
HASH=$(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)
cat > api.toml <<TOML
# validation-api config for the demo hierarchy (see docs/api.md).
listen = "127.0.0.1:0"
watch_seconds = 0

[auth]
[[auth.clients]]
name = "demo-broker"
token_sha256 = "$HASH"
max_concurrent = 16

[crl_refresh]
enabled = false

# One national root anchors every CA of the sample; the policy OID of a
# certificate decides the level it reaches (EXAMPLE OIDs, pki.toml).
[[tiers]]
name = "national"
level = "high"
anchors = ["$DIR/root.pem"]
intermediates = ["$DIR/cnie-ca.pem"]
crls = ["$DIR/root.crl", "$DIR/cnie-ca.crl"]
policy_levels = { "2.16.504.99.1.1" = "high", "2.16.504.99.1.2" = "high", "2.16.504.99.1.3" = "substantial", "2.16.504.99.1.4" = "substantial" }
revocation = { methods = ["crl"], unavailable = "hard-fail" }
# We issue this hierarchy: any issuance-profile deviation is an error.
profile = "strict"
TOML

say "Starting validation-api --config $OUT/api.toml"
"$API" --config api.toml 2> server.log &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
ADDR=""
for _ in $(seq 1 100); do
  ADDR=$(sed -n 's/.*listening on \([0-9.:]*\).*/\1/p' server.log | sed -n 1p)
  [ -n "$ADDR" ] && break
  kill -0 $PID 2>/dev/null || { cat server.log >&2; exit 1; }
  sleep 0.1
done
[ -n "$ADDR" ] || { echo "demo-api: server did not start" >&2; cat server.log >&2; exit 1; }
echo "listening on $ADDR"

b64() { openssl x509 -in "$1" -outform DER | base64 -w0; }
validate() { # title leaf.pem [intermediate.pem]
  local title=$1 leaf=$2 inter=${3:-}
  local body
  if [ -n "$inter" ]; then
    body=$(printf '{"leaf":"%s","intermediates":["%s"],"purpose":"clientAuth","required_level":"high"}' "$(b64 "$leaf")" "$(b64 "$inter")")
  else
    body=$(printf '{"leaf":"%s","purpose":"clientAuth"}' "$(b64 "$leaf")")
  fi
  say "$title"
  echo "\$ curl -s -H 'Authorization: Bearer ...' -H 'Content-Type: application/json' http://$ADDR/v1/validate -d '{\"leaf\": ...}'"
  curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    "http://$ADDR/v1/validate" -d "$body" | pretty
}

validate "Good citizen (Amina): valid, tier and level, path, CRL status" "$DIR/citizen-good.pem" "$DIR/cnie-ca.pem"
validate "Revoked citizen (Youssef): revoked, reason and date from the CNIE CA's CRL" "$DIR/citizen-revoked.pem" "$DIR/cnie-ca.pem"
validate "Foreign citizen: chains to no trusted anchor" foreign-citizen.pem

say "Without a token: 401"
curl -s -o /dev/null -w 'HTTP %{http_code}\n' -H 'Content-Type: application/json' "http://$ADDR/v1/validate" -d '{}'

say "GET /v1/tiers"
curl -s -H "Authorization: Bearer $TOKEN" "http://$ADDR/v1/tiers" | pretty | sed -n 1,30p

say "Metrics (excerpt)"
curl -s "http://$ADDR/metrics" | grep -E '^validation_api_(verdicts|unauthorized|result_cache)' || true

kill $PID
wait $PID 2>/dev/null || true
trap - EXIT
say "Server stopped"
