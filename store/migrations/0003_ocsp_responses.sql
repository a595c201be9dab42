-- Signed OCSP responses, the shared pre-signed cache (ocsp-responder's
-- updater writes them, every responder reads them): one response per
-- (issuer, CertID hash algorithm, serial).
--
-- * hash_alg: 1 SHA-1, 2 SHA-256 (the CertID's hashAlgorithm);
-- * status: 0 good, 1 revoked, 2 unknown (what the response says);
-- * status_seq: the change sequence number the status was read at; an
--   upsert never replaces a response signed from a newer status;
-- * this_update / next_update: Unix seconds, as in the response.
--
-- These rows are derived data, not state: each is signed by the responder
-- key and can be signed again from `certificates` and `revocations` at any
-- time, so the audit log does not bind them (the updater signs only from
-- rows the log vouches for).
CREATE TABLE ocsp_responses (
    ca_id       BIGINT NOT NULL REFERENCES cas (id),
    hash_alg    SMALLINT NOT NULL,
    serial      BYTEA NOT NULL,
    status      SMALLINT NOT NULL,
    status_seq  BIGINT NOT NULL,
    this_update BIGINT NOT NULL,
    next_update BIGINT NOT NULL,
    der         BYTEA NOT NULL,
    PRIMARY KEY (ca_id, hash_alg, serial)
);

-- What to re-sign first: the oldest responses of an issuer.
CREATE INDEX ocsp_responses_due ON ocsp_responses (ca_id, hash_alg, this_update);

-- Who may write: one updater per deployment holds the `ocsp-updater`
-- lease and renews it; a standby takes over once it expires.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
