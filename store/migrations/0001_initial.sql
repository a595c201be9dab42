-- One schema for SQLite and PostgreSQL.
--
-- Portable on purpose:
-- * byte strings are BYTEA: PostgreSQL's type; SQLite accepts the name and
--   stores BLOB values unchanged (NUMERIC affinity never converts a BLOB);
-- * integers are BIGINT/SMALLINT and times are Unix seconds (audit: micro-
--   seconds) in BIGINT, so no TIMESTAMP semantics differ between engines;
-- * no SERIAL/AUTOINCREMENT: identifiers and sequence numbers come from the
--   `counters` table, bumped inside the writing transaction. Every write
--   transaction holds the store's write lock, so sequence numbers become
--   visible in commit order (a poller of `changes` never misses one).

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

INSERT INTO counters (name, value) VALUES ('ca', 0), ('change', 0), ('audit', 0);

CREATE TABLE cas (
    id          BIGINT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    subject_der BYTEA NOT NULL,
    cert_der    BYTEA NOT NULL,
    cert_sha256 BYTEA NOT NULL,
    key_label   TEXT NOT NULL UNIQUE,
    parent_id   BIGINT REFERENCES cas (id),
    tier        TEXT,
    crl_counter BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL
);

-- Every serial ever handed out or recorded per issuer, so that a serial is
-- never allocated twice even before its certificate is recorded.
CREATE TABLE serials (
    ca_id        BIGINT NOT NULL REFERENCES cas (id),
    serial       BYTEA NOT NULL,
    allocated_at BIGINT NOT NULL,
    PRIMARY KEY (ca_id, serial)
);

CREATE TABLE certificates (
    ca_id       BIGINT NOT NULL REFERENCES cas (id),
    serial      BYTEA NOT NULL,
    subject_der BYTEA NOT NULL,
    not_before  BIGINT NOT NULL,
    not_after   BIGINT NOT NULL,
    der         BYTEA NOT NULL,
    profile     TEXT NOT NULL,
    sha256      BYTEA NOT NULL,
    issued_at   BIGINT NOT NULL,
    PRIMARY KEY (ca_id, serial)
);

CREATE UNIQUE INDEX certificates_sha256 ON certificates (sha256);

-- One row per (issuer, serial). `reason` is the RFC 5280 CRLReason code;
-- certificateHold (6) is the hold flag. `removed_from_hold` keeps an unheld
-- entry for delta CRLs (removeFromCRL) instead of deleting it.
CREATE TABLE revocations (
    ca_id             BIGINT NOT NULL REFERENCES cas (id),
    serial            BYTEA NOT NULL,
    reason            SMALLINT NOT NULL,
    revoked_at        BIGINT NOT NULL,
    invalidity_date   BIGINT,
    removed_from_hold BOOLEAN NOT NULL DEFAULT FALSE,
    change_seq        BIGINT NOT NULL,
    PRIMARY KEY (ca_id, serial)
);

CREATE INDEX revocations_change ON revocations (ca_id, change_seq);

-- CRL numbers: one sequence per CA shared by full and delta CRLs (RFC 5280
-- 5.2.3). A row is reserved first (der NULL) and filled when published.
CREATE TABLE crl_numbers (
    ca_id        BIGINT NOT NULL REFERENCES cas (id),
    number       BIGINT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('full', 'delta')),
    base_number  BIGINT,
    as_of_change BIGINT NOT NULL,
    reserved_at  BIGINT NOT NULL,
    this_update  BIGINT,
    next_update  BIGINT,
    der          BYTEA,
    sha256       BYTEA,
    PRIMARY KEY (ca_id, number)
);

-- What changed, for responders polling "since N". serial NULL means the
-- whole CA changed (bulk import): reload it.
CREATE TABLE changes (
    seq    BIGINT PRIMARY KEY,
    ca_id  BIGINT NOT NULL REFERENCES cas (id),
    serial BYTEA,
    kind   TEXT NOT NULL,
    at     BIGINT NOT NULL
);

-- Hash-chained audit log; see src/audit.rs for the hashed encoding.
CREATE TABLE audit_log (
    seq            BIGINT PRIMARY KEY,
    at_us          BIGINT NOT NULL,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    inputs_sha256  BYTEA NOT NULL,
    outputs_sha256 BYTEA NOT NULL,
    details        TEXT NOT NULL,
    prev_hash      BYTEA NOT NULL,
    hash           BYTEA NOT NULL
);
