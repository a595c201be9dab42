-- Which certificate answered which issuance request, so that a batch run
-- again after a crash issues every request exactly once (`pki issue
-- --batch`): one row per (issuer, request digest), written in the same
-- transaction as the certificate it points to.
--
-- request_sha256 digests what the certificate itself carries (profile,
-- subject, public key, subjectAltName), so every row can be checked
-- against its certificate, which the audit log vouches for; the row is an
-- index, like `serials` and `changes`, and the log does not bind it. A
-- reader never trusts it alone: it reads the certificate and compares.
CREATE TABLE issuance_requests (
    ca_id          BIGINT NOT NULL REFERENCES cas (id),
    request_sha256 BYTEA NOT NULL,
    serial         BYTEA NOT NULL,
    PRIMARY KEY (ca_id, request_sha256)
);
