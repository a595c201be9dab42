#!/usr/bin/env bash
# make demo: the sample national hierarchy of examples/ceremony/, made by
# HSM key ceremonies on a fresh SoftHSM2 token and a fresh SQLite store,
# then citizen certificates issued, one revoked, CRLs published, and one
# good and one revoked certificate validated with `pki validate` (and
# cross-checked with `openssl verify -crl_check`).
#
# Files the later demo steps (scripts/demo-ocsp.sh, scripts/demo-api.sh)
# rely on, at stable paths under $VAR/demo:
#
#   demo.env                 `source` it: SOFTHSM2_CONF, PKI_HSM_TOKEN, PKI_ACTOR,
#                            PKI_HSM_PIN_FILE, PKI_STORE_URL, PKI_CONFIG
#   softhsm/softhsm2.conf    SoftHSM2 config (SOFTHSM2_CONF) of the token
#   token label              pki-demo  (every CA and OCSP signer key is on it)
#   hsm-pin                  user PIN file of the token (mode 600)
#   store URL                sqlite://$VAR/demo/pki.db
#   root.pem                 national root (self-signed, P-384)
#   cnie-ca.pem              CNIE citizen CA (tier cnie, level high)
#   qualified-ca.pem         qualified signature CA
#   organisations-ca.pem     organisations and seals CA
#   root.crl cnie-ca.crl qualified-ca.crl organisations-ca.crl
#                            full CRLs (DER); cnie-ca.crl lists the revoked citizen
#   citizen-good.pem         Amina, valid (cnie-auth profile; key citizen-good.key)
#   citizen-revoked.pem      Youssef, revoked keyCompromise (key citizen-revoked.key)
#   citizen-2.pem            Salma, valid
#   ocsp-cnie-ca.pem         OCSP signer of cnie-citizen-ca,   HSM key label ocsp-cnie-citizen-ca-2026-01
#   ocsp-qualified-ca.pem    OCSP signer of qualified-signature-ca, label ocsp-qualified-signature-ca-2026-01
#   ocsp-organisations-ca.pem OCSP signer of organisations-ca, label ocsp-organisations-ca-2026-01
#   (CA key labels: national-root-2026, cnie-citizen-ca-2026,
#    qualified-signature-ca-2026, organisations-ca-2026)
set -euo pipefail
VAR=${VAR:-$(pwd)/var}
mkdir -p "$VAR"
VAR=$(cd "$VAR" && pwd)
DIR="$VAR/demo"
ROOT_DIR=$(cd "$(dirname "$0")/.." && pwd)
PKI=${PKI:-$ROOT_DIR/target/release/pki}
EX="$ROOT_DIR/examples/ceremony"
TOKEN=pki-demo

rm -rf "$DIR" && mkdir -p "$DIR" && cd "$DIR"

say() { printf '\n== %s\n' "$*"; }
now() { date +%s.%N; }
show() { # run a pki command, echoing it without the demo directory
  echo "\$ pki $*" | sed "s#$DIR/##g; s#$EX/##g"
  "$PKI" "$@"
}

say "Fresh SoftHSM2 token '$TOKEN' and SQLite store in $DIR"
(umask 077
 od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > hsm-pin
 od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > so-pin)
cat > demo.env <<ENV
# Written by scripts/demo.sh: source this to talk to the demo token and store.
export SOFTHSM2_CONF=$DIR/softhsm/softhsm2.conf
export PKI_HSM_TOKEN=$TOKEN
export PKI_HSM_PIN_FILE=$DIR/hsm-pin
export PKI_STORE_URL=sqlite://$DIR/pki.db
export PKI_CONFIG=$EX/pki.toml
export PKI_ACTOR=demo-officer
ENV
# shellcheck source=/dev/null
source demo.env
export PKI_ACTOR=demo-officer
show token init-softhsm --dir "$DIR/softhsm" --label "$TOKEN" --so-pin-file "$DIR/so-pin"
show store init

say "Key ceremonies (keys generated inside the HSM, certificates linted before and after signing)"
t0=$(now)
show ceremony root "$EX/01-national-root.toml" --dry-run | sed 's/^/  /'
show ceremony root "$EX/01-national-root.toml"
show ceremony intermediate "$EX/02-cnie-citizen-ca.toml"
show ceremony intermediate "$EX/03-qualified-signature-ca.toml"
show ceremony intermediate "$EX/04-organisations-ca.toml"
show ceremony ocsp-signer "$EX/05-ocsp-cnie-citizen-ca.toml"
show ceremony ocsp-signer "$EX/06-ocsp-qualified-signature-ca.toml"
show ceremony ocsp-signer "$EX/07-ocsp-organisations-ca.toml"
t1=$(now)
printf '(7 ceremonies, dry run included, in %.2f s)\n' "$(echo "$t1 - $t0" | bc)"

say "Refusing to overwrite: the root ceremony again"
set +e; show ceremony root "$EX/01-national-root.toml"; echo "(exit status $?)"; set -e

say "Citizen certificates (cnie-auth profile) from CSRs; the keys stand in for CNIE cards"
citizen() { # file stem, CN, id number
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/C=MA/serialNumber=$3/CN=$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
  local email
  email=$(echo "$2" | tr 'A-Z ' 'a-z.')@cnie.example.ma
  show issue --ca cnie-citizen-ca --profile cnie-auth --csr "$1.csr" --san "email:$email" --out "$1.pem"
}
citizen citizen-good "Amina Citizen" AB100001
citizen citizen-revoked "Youssef Citizen" AB100002
citizen citizen-2 "Salma Citizen" AB100003

say "Revoke Youssef (keyCompromise) and publish every CA's CRL"
serial=$(openssl x509 -in citizen-revoked.pem -noout -serial | cut -d= -f2)
show revoke --ca cnie-citizen-ca --serial "$serial" --reason keyCompromise
show crl generate --ca national-root --out root.crl
show crl generate --ca cnie-citizen-ca --out cnie-ca.crl
show crl generate --ca qualified-signature-ca --out qualified-ca.crl
show crl generate --ca organisations-ca --out organisations-ca.crl
openssl crl -inform DER -in cnie-ca.crl -noout -text | grep -E "Serial Number|Reason" -A1 | grep -v '^--' | sed 's/^ */  /'

validate() {
  echo "\$ pki validate $*" | sed "s#$DIR/##g"
  set +e; "$PKI" validate "$@"; local rc=$?; set -e
  echo "(exit status $rc)"
}

say "Validate Amina's authentication certificate (expected: valid, tier/level in the JSON)"
validate --anchor root.pem --intermediate cnie-ca.pem --crl cnie-ca.crl --crl root.crl \
  --purpose client-auth --peer-name amina.citizen@cnie.example.ma --policy 2.16.504.99.1.1 \
  --explicit-policy --require-revocation --json citizen-good.pem

say "Validate Youssef's certificate (expected: revoked)"
validate --anchor root.pem --intermediate cnie-ca.pem --crl cnie-ca.crl --crl root.crl \
  --purpose client-auth --require-revocation citizen-revoked.pem

say "Validate Amina's certificate without its CA (expected: no trusted issuer)"
validate --anchor root.pem citizen-good.pem

say "OpenSSL agrees"
for c in citizen-good citizen-revoked; do
  openssl verify -crl_check -CAfile root.pem -untrusted cnie-ca.pem -CRLfile cnie-ca.crl "$c.pem" 2>&1 \
    | sed 's/^/  /' || true
done

say "Audit log"
show audit verify

say "Files for the next steps (see the top of scripts/demo.sh)"
ls -1 "$DIR" | sed 's/^/  /'
