"""schemathesis hooks for tests/contract.rs: the exception list.

Three request fields have a domain no JSON Schema can state, so a
schema-valid string there may get 400:

- `leaf`, `intermediates`: base64 DER or PEM of a certificate ("0" is
  bad_encoding, "AAAA" bad_der);
- `peer_name`: a DNS name, IP address or mailbox as pki-core's PeerName
  parses them ("" or "a_b" is bad_field).

In the cases schemathesis generates as schema-valid (positive mode), this
hook puts a real chain from the test's hierarchy (CONTRACT_LEAF,
CONTRACT_CA: base64 DER) in the first two and a valid mailbox in
`peer_name` when one was drawn, so every other field is held to positive
data acceptance: a schema-valid request must get 200. Negative cases are
sent as generated.
"""

import os

import schemathesis

LEAF = os.environ["CONTRACT_LEAF"]
CA = os.environ["CONTRACT_CA"]
PEER_NAME = os.environ["CONTRACT_PEER_NAME"]


def _real_chain(item):
    if isinstance(item, dict) and "leaf" in item:
        item["leaf"] = LEAF
        item["intermediates"] = [CA]
        if item.get("peer_name") is not None:
            item["peer_name"] = PEER_NAME


@schemathesis.hook
def before_call(context, case, kwargs):
    # Right before sending: the generation hooks (map_case) do not see
    # every phase's cases.
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    body = case.body
    if case.path == "/v1/validate":
        _real_chain(body)
    elif case.path == "/v1/validate/batch" and isinstance(body, dict):
        for item in body.get("items", []):
            _real_chain(item)
