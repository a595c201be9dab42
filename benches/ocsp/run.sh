#!/usr/bin/env bash
# OCSP load bench (issue 7 item 7): our responder pre-signed (GET, POST),
# `openssl ocsp -index` on the same requests, a bare hyper server (the
# ceiling), live signing with nonce vs a raw SoftHSM P-256 sign loop.
# Loopback only; about a minute (OCSP_LOAD_SECS per case, default 6, in 3
# interleaved rounds). Output also goes to target/ocsp-load.txt.
#
#   benches/ocsp/run.sh                       # defaults
#   OCSP_LOAD_SECS=3 OCSP_LOAD_CONNS=32 benches/ocsp/run.sh
#   OCSP_LOAD_ONLY="(d)" OCSP_LOAD_SECS=12 benches/ocsp/run.sh   # live signing only
#   OCSP_LOAD_CLIENT=raw ...     # wrk-like driver instead of hyper's client
# (d) checks every response's nonce and verifies one signature in 32.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v openssl >/dev/null || { echo "openssl is needed for case (b)" >&2; exit 1; }
[ -e /usr/lib/softhsm/libsofthsm2.so ] || [ -n "${PKCS11_MODULE:-}" ] \
  || { echo "SoftHSM2 is needed: apt-get install -y softhsm2" >&2; exit 1; }
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the figures)"
cargo bench -p benches --bench ocsp_load 2>&1 | tee target/ocsp-load.txt
