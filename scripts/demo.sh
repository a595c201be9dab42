#!/usr/bin/env bash
# make demo: generate a sample national hierarchy under $VAR/demo and
# validate citizen certificates with `pki validate` (one good, one revoked).
# Keys here are throwaway software keys made by openssl for the sample; the
# ceremony tooling (pki ceremony ...) generates real CA keys inside the HSM.
set -euo pipefail
VAR=${VAR:-$(pwd)/var}
DIR="$VAR/demo"
PKI=${PKI:-$(pwd)/target/release/pki}
rm -rf "$DIR" && mkdir -p "$DIR/db" && cd "$DIR"

say() { printf '\n== %s\n' "$*"; }
ext() { printf '[v3]\n%s\n' "$2" > "$1"; }

CA='basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid:always'
ext root.ext "$CA"
ext cnie.ext "$CA
basicConstraints=critical,CA:TRUE,pathlen:0
certificatePolicies=2.16.504.99.1.1
nameConstraints=critical,permitted;email:cnie.example.ma"
ext citizen.ext 'basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
certificatePolicies=2.16.504.99.1.1
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid:always'

issue() { # name subject issuer(or -) extfile [san]
  local name=$1 subj=$2 issuer=$3 extf=$4 san=${5:-}
  [ -n "$san" ] && printf 'subjectAltName=%s\n' "$san" >> "$extf"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$subj" \
    -keyout "$name.key" -out "$name.csr" 2>/dev/null
  if [ "$issuer" = - ]; then
    openssl x509 -req -in "$name.csr" -signkey "$name.key" -days 3650 -sha256 \
      -extfile "$extf" -extensions v3 -set_serial "0x$(openssl rand -hex 8)" -out "$name.pem" 2>/dev/null
  else
    openssl x509 -req -in "$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" -days 825 -sha256 \
      -extfile "$extf" -extensions v3 -set_serial "0x$(openssl rand -hex 8)" -out "$name.pem" 2>/dev/null
  fi
}

say "Sample hierarchy (P-256) in $DIR"
issue root "/C=MA/O=Royaume du Maroc (demo)/CN=Racine nationale demo" - root.ext
issue cnie-ca "/C=MA/O=Royaume du Maroc (demo)/CN=CNIE CA demo" root cnie.ext
cp citizen.ext amina.ext; issue amina "/C=MA/CN=Amina Citizen" cnie-ca amina.ext "email:amina@cnie.example.ma"
cp citizen.ext youssef.ext; issue youssef "/C=MA/CN=Youssef Citizen" cnie-ca youssef.ext "email:youssef@cnie.example.ma"
for c in root cnie-ca amina youssef; do openssl x509 -in $c.pem -noout -subject | sed 's/^/  /'; done

say "Revoke Youssef (keyCompromise) and publish the CNIE CA's CRL"
: > db/index.txt; echo 01 > db/crlnumber
cat > db/ca.cnf <<CNF
[ca]
default_ca = x
[x]
database = $DIR/db/index.txt
crlnumber = $DIR/db/crlnumber
default_md = sha256
default_crl_days = 7
crl_extensions = crlext
[crlext]
authorityKeyIdentifier = keyid:always
CNF
openssl ca -config db/ca.cnf -cert cnie-ca.pem -keyfile cnie-ca.key -revoke youssef.pem -crl_reason keyCompromise 2>/dev/null
openssl ca -config db/ca.cnf -cert cnie-ca.pem -keyfile cnie-ca.key -gencrl -out cnie-ca.crl 2>/dev/null
openssl ca -config db/ca.cnf -cert root.pem -keyfile root.key -gencrl -out root.crl 2>/dev/null || true
: > db/index.txt
openssl ca -config db/ca.cnf -cert root.pem -keyfile root.key -gencrl -out root.crl 2>/dev/null
openssl crl -in cnie-ca.crl -noout -text | grep -E "Serial Number|Reason" -A0 | sed 's/^ */  /'

run() {
  echo "\$ pki validate $*" | sed "s#$DIR/##g"
  set +e; "$PKI" validate "$@"; local rc=$?; set -e
  echo "(exit status $rc)"
}

say "Validate Amina's authentication certificate (expected: valid)"
run --anchor root.pem --intermediate cnie-ca.pem --crl cnie-ca.crl --crl root.crl \
    --purpose client-auth --peer-name amina@cnie.example.ma --policy 2.16.504.99.1.1 \
    --explicit-policy --require-revocation --json amina.pem

say "Validate Youssef's certificate (expected: revoked)"
run --anchor root.pem --intermediate cnie-ca.pem --crl cnie-ca.crl --crl root.crl \
    --purpose client-auth --require-revocation youssef.pem

say "Validate Amina's certificate without its CA (expected: no trusted issuer)"
run --anchor root.pem amina.pem
