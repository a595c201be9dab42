#!/usr/bin/env python3
"""A small client of the validation API, Python standard library only.

POST /v1/validate with a certificate chain and print the verdict; with
--ocsp-url, also ask the OCSP responder about the leaf (GET, RFC 6960
appendix A.1) and print its answer. Exit status: 0 valid (and, with
--ocsp-url, OCSP "good"), 1 not valid (or OCSP "revoked"/"unknown"),
2 refused (HTTP 4xx/5xx), unreachable, or a usage error.

    VALIDATION_API_TOKEN_FILE=token python3 validate.py \\
        --url http://127.0.0.1:8480 --leaf amina.pem --intermediate cnie-ca.pem --level high

The bearer token comes from a file (--token-file or the file
VALIDATION_API_TOKEN_FILE names), never from the command line. An https
URL is checked against the system's CAs, or --ca-file.

The OCSP answer is printed for diagnosis only: this client does not check
the response's signature (the API's verdict does, when its tier uses
OCSP). Trust the verdict, not this line.
"""

import argparse
import base64
import hashlib
import json
import os
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

VALID, NOT_VALID, REFUSED = 0, 1, 2


def read_certificate(path):
    """PEM text as it is, DER as base64: what the API takes."""
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(b"-----BEGIN"):
        return data.decode("ascii")
    return base64.b64encode(data).decode("ascii")


def der_of(path):
    """The DER of the first certificate in a PEM or DER file."""
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(b"-----BEGIN"):
        text = data.decode("ascii")
        body = text.split("-----BEGIN CERTIFICATE-----", 1)[1].split("-----END", 1)[0]
        return base64.b64decode("".join(body.split()))
    return data


# --- DER, as much as an OCSP request and response need ----------------------


def tlv(data, pos):
    """(tag, start of content, end of content) of the element at pos."""
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    if pos + length > len(data):
        raise ValueError("DER element runs past its input")
    return tag, pos, pos + length


def children(data, start, end):
    """The elements inside a constructed element's content."""
    out = []
    while start < end:
        tag, c_start, c_end = tlv(data, start)
        out.append((tag, start, c_start, c_end))
        start = c_end
    return out


def encode(tag, content):
    n = len(content)
    if n < 0x80:
        head = bytes([tag, n])
    else:
        size = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([tag, 0x80 | len(size)]) + size
    return head + content


def certificate_parts(der):
    """Serial (content bytes), issuer Name DER, subject Name DER and the
    subject public key (the BIT STRING's bits) of a certificate."""
    _, start, end = tlv(der, 0)
    _, tbs_start, tbs_end = tlv(der, start)
    fields = children(der, tbs_start, tbs_end)
    if fields[0][0] == 0xA0:  # [0] version
        fields = fields[1:]
    serial = der[fields[0][2] : fields[0][3]]
    issuer = der[fields[2][1] : fields[2][3]]
    subject = der[fields[4][1] : fields[4][3]]
    spki = fields[5]
    key = children(der, spki[2], spki[3])[1]
    subject_key = der[key[2] + 1 : key[3]]  # past the unused-bits byte
    return serial, issuer, subject, subject_key


SHA1_ALGORITHM = encode(0x30, encode(0x06, bytes.fromhex("2b0e03021a")) + b"\x05\x00")


def ocsp_request(leaf_der, issuer_der):
    """RFC 6960 4.1.1 OCSPRequest for one certificate, SHA-1 CertID (the
    hash every responder must answer, RFC 5019 2.1.1)."""
    serial, _, _, _ = certificate_parts(leaf_der)
    _, _, issuer_subject, issuer_key = certificate_parts(issuer_der)
    cert_id = encode(
        0x30,
        SHA1_ALGORITHM
        + encode(0x04, hashlib.sha1(issuer_subject).digest())
        + encode(0x04, hashlib.sha1(issuer_key).digest())
        + encode(0x02, serial),
    )
    request = encode(0x30, cert_id)
    tbs = encode(0x30, encode(0x30, request))
    return encode(0x30, tbs), serial


RESPONSE_STATUS = {
    0: "successful",
    1: "malformedRequest",
    2: "internalError",
    3: "tryLater",
    5: "sigRequired",
    6: "unauthorized",
}


def ocsp_status(response, serial):
    """The OCSPResponse's status, and the certStatus of `serial` in it:
    good, revoked or unknown (None when not successful or not found)."""
    _, start, end = tlv(response, 0)
    parts = children(response, start, end)
    status = RESPONSE_STATUS.get(response[parts[0][2]], "unknown status")
    if status != "successful":
        return status, None
    # [0] EXPLICIT ResponseBytes: responseType, response (OCTET STRING)
    response_bytes = children(response, parts[1][2], parts[1][3])[0]
    octets = children(response, response_bytes[2], response_bytes[3])[1]
    basic = response[octets[2] : octets[3]]
    _, b_start, b_end = tlv(basic, 0)
    tbs = children(basic, b_start, b_end)[0]
    data = children(basic, tbs[2], tbs[3])
    if data[0][0] == 0xA0:  # [0] version
        data = data[1:]
    responses = data[2]  # after responderID and producedAt
    for single in children(basic, responses[2], responses[3]):
        cert_id, cert_status = children(basic, single[2], single[3])[:2]
        id_serial = children(basic, cert_id[2], cert_id[3])[3]
        if basic[id_serial[2] : id_serial[3]] != serial:
            continue
        return status, {0x80: "good", 0xA1: "revoked", 0x82: "unknown"}.get(
            cert_status[0], "unknown"
        )
    return status, None


# --- HTTP -------------------------------------------------------------------


def http(request, context):
    """(status, body bytes) of one exchange; HTTP errors are answers too."""
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def validate(args, context):
    with open(args.token_file, encoding="utf-8") as f:
        token = f.read().strip()
    body = {
        "leaf": read_certificate(args.leaf),
        "intermediates": [read_certificate(p) for p in args.intermediate],
    }
    if args.purpose:
        body["purpose"] = args.purpose
    if args.level:
        body["required_level"] = args.level
    request = urllib.request.Request(
        args.url.rstrip("/") + "/v1/validate",
        data=json.dumps(body).encode("utf-8"),
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + token},
        method="POST",
    )
    status, raw = http(request, context)
    answer = json.loads(raw or b"{}")
    error = answer.get("error") or {}
    if status != 200:
        print(f"refused: HTTP {status}: {error.get('code')}: {error.get('message')}")
        return REFUSED
    if answer.get("valid") is True:
        path = " <- ".join(c.get("subject", "?") for c in answer.get("path", []))
        print(f"valid: tier {answer.get('tier')}, level {answer.get('level')}")
        print(f"path: {path}")
        for w in answer.get("warnings", []):
            print(f"warning: {w}")
        return VALID
    print(f"not valid: {error.get('code')}: {error.get('message')}")
    return NOT_VALID


def ocsp(args, context):
    issuer = args.issuer or (args.intermediate[0] if args.intermediate else None)
    if issuer is None:
        print("error: --ocsp-url needs --issuer or an --intermediate", file=sys.stderr)
        return REFUSED
    der, serial = ocsp_request(der_of(args.leaf), der_of(issuer))
    encoded = urllib.parse.quote(base64.b64encode(der).decode("ascii"), safe="")
    url = args.ocsp_url.rstrip("/") + "/" + encoded
    status, raw = http(urllib.request.Request(url), context)
    if status != 200:
        print(f"ocsp: HTTP {status} from {args.ocsp_url}")
        return REFUSED
    response_status, cert_status = ocsp_status(raw, serial)
    if cert_status is None:
        print(f"ocsp: {response_status}, no status for serial {serial.hex()}")
        return REFUSED
    print(f"ocsp: {cert_status} (serial {serial.hex()}; signature not checked by this client)")
    return VALID if cert_status == "good" else NOT_VALID


def main(argv=None):
    parser = argparse.ArgumentParser(description="Ask the validation API whether a chain is valid.")
    parser.add_argument("--url", required=True, help="base URL of the API, e.g. http://127.0.0.1:8480")
    parser.add_argument(
        "--token-file",
        default=os.environ.get("VALIDATION_API_TOKEN_FILE"),
        help="file with the bearer token (default: $VALIDATION_API_TOKEN_FILE)",
    )
    parser.add_argument("--leaf", required=True, help="end-entity certificate, PEM or DER")
    parser.add_argument(
        "--intermediate", action="append", default=[], help="intermediate CA certificate (repeat)"
    )
    parser.add_argument("--purpose", help="clientAuth (default), serverAuth, documentSigning, ...")
    parser.add_argument("--level", help="low, substantial or high")
    parser.add_argument("--ca-file", help="CA certificates for an https URL (default: the system's)")
    parser.add_argument("--ocsp-url", help="also GET the leaf's status from this OCSP responder")
    parser.add_argument("--issuer", help="the leaf's issuer for the OCSP request (default: the first --intermediate)")
    args = parser.parse_args(argv)
    if not args.token_file:
        parser.error("--token-file (or VALIDATION_API_TOKEN_FILE) is required")
    context = ssl.create_default_context(cafile=args.ca_file)
    try:
        verdict = validate(args, context)
        if args.ocsp_url is None:
            return verdict
        checked = ocsp(args, context)
        return max(verdict, checked)
    except (OSError, ValueError, IndexError) as e:
        print(f"error: {e}", file=sys.stderr)
        return REFUSED


if __name__ == "__main__":
    sys.exit(main())
