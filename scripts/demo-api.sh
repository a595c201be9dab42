#!/usr/bin/env bash
# make demo, API step: start validation-api on the demo hierarchy that
# scripts/demo.sh left in $VAR/demo (root.pem, cnie-ca.pem, root.crl,
# cnie-ca.crl, citizen-good.pem, citizen-revoked.pem), then validate with
# curl a good citizen, a revoked citizen and a citizen of a foreign
# hierarchy (made here with throwaway openssl keys), print the JSON
# answers, stop the server, and print what to try next. Everything stays
# on 127.0.0.1; the CRL refresher is off because the demo's CDP URLs are
# example hosts.
#
# Kept in $VAR/demo/api for repeating the calls by hand:
#   api.toml     the server's config (listen address: the first free port
#                from 8480 on, or $API_PORT)
#   token        the demo client's bearer token (mode 600; the config
#                holds only its SHA-256)
#   good.json revoked.json foreign.json batch.json   request bodies
# Every curl command is printed as it is run, from the directory make was
# started in; the token goes to curl through a file descriptor, never in
# its argv.
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
START_DIR=$(pwd)
# $OUT as the caller writes it (var/demo/api under make demo).
REL=$(realpath --relative-to="$START_DIR" "$OUT")
case "$REL" in ../../*) REL=$OUT ;; esac
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

# A bearer token for the demo client, kept in the file `token` (mode 600);
# the config keeps only its SHA-256.
(umask 077; od -An -N24 -tx1 /dev/urandom | tr -d ' \n' > token)
chmod 600 token
HASH=$(tr -d '\n' < token | sha256sum | cut -d' ' -f1)
# A fixed port, so that the printed commands work again after the demo.
port_free() { ! (: < "/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=${API_PORT:-}
if [ -z "$PORT" ]; then
  for p in $(seq 8480 8499); do port_free "$p" && { PORT=$p; break; }; done
  [ -n "$PORT" ] || { echo "demo-api: no free port in 8480-8499: set API_PORT" >&2; exit 1; }
fi
cat > api.toml <<TOML
# validation-api config for the demo hierarchy (see docs/api.md).
listen = "127.0.0.1:$PORT"
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

say "Starting validation-api --config $REL/api.toml"
: > server.log   # exists before the loop below reads it
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
body() { # leaf.pem [intermediate.pem]: a request body
  if [ -n "${2:-}" ]; then
    printf '{"leaf":"%s","intermediates":["%s"],"purpose":"clientAuth","required_level":"high"}' "$(b64 "$1")" "$(b64 "$2")"
  else
    printf '{"leaf":"%s","purpose":"clientAuth"}' "$(b64 "$1")"
  fi
}
body "$DIR/citizen-good.pem" "$DIR/cnie-ca.pem" > good.json
body "$DIR/citizen-revoked.pem" "$DIR/cnie-ca.pem" > revoked.json
body foreign-citizen.pem > foreign.json
printf '{"items":[%s,%s]}' "$(cat good.json)" "$(cat revoked.json)" > batch.json

URL="http://$ADDR"
# The bearer header, read from the token file through a file descriptor
# (curl -H @file): the token never shows in a process list.
AUTH="-H @<(echo \"Authorization: Bearer \$(cat $REL/token)\")"
JSON="-H 'Content-Type: application/json'"
run() { # command-line [filter]: printed, then run as printed from the caller's directory
  echo "\$ $1"
  (cd "$START_DIR" && bash -c "$1") | "${2:-cat}"
}

say "Good citizen (Amina): valid, tier and level, path, CRL status"
run "curl -s $AUTH $JSON -d @$REL/good.json $URL/v1/validate" pretty
say "Revoked citizen (Youssef): revoked, reason and date from the CNIE CA's CRL"
run "curl -s $AUTH $JSON -d @$REL/revoked.json $URL/v1/validate" pretty
say "Foreign citizen: chains to no trusted anchor"
run "curl -s $AUTH $JSON -d @$REL/foreign.json $URL/v1/validate" pretty

say "Without a token: 401"
run "curl -s -o /dev/null -w 'HTTP %{http_code}\n' $JSON -d '{}' $URL/v1/validate"

say "GET /v1/tiers"
run "curl -s $AUTH $URL/v1/tiers" pretty

say "Readiness"
run "curl -s $URL/health"; echo

say "Metrics (excerpt)"
curl -s "$URL/metrics" | grep -E '^validation_api_(verdicts|unauthorized|result_cache)' || true

kill $PID
wait $PID 2>/dev/null || true
trap - EXIT
say "Server stopped"

say "What to try next (from $START_DIR)"
cat <<NEXT
  $(realpath --relative-to="$START_DIR" "$API") --config $REL/api.toml &
  curl -s $AUTH $JSON -d @$REL/good.json $URL/v1/validate
  curl -s $AUTH $JSON -d @$REL/batch.json $URL/v1/validate/batch
  curl -s $AUTH $URL/v1/tiers
  curl -s $URL/health
  curl -s $URL/openapi.json
  kill %1
The token is in $REL/token (mode 600); request bodies are beside it; the API is described in docs/api.md.
NEXT
