-- The audit log vouches for the rows it wrote (src/audit.rs, "Rows").
--
-- Each entry that writes a row of cas, certificates, revocations or
-- crl_numbers stores the row's canonical image here (src/audit/image.rs)
-- under its own sequence number; the entry's details carry the SHA-256 of
-- its images, so they are part of the hash chain. `tbl` is a small code
-- rather than the table name so that every engine and collation orders
-- bindings alike.

-- A row is (tbl, ca_id, row_key, row_num): (serial, 0) for certificates
-- and revocations, (empty, number) for crl_numbers, (empty, 0) for cas, so
-- each table joins its bindings by plain equality.
CREATE TABLE audit_rows (
    seq     BIGINT NOT NULL,
    tbl     SMALLINT NOT NULL,
    ca_id   BIGINT NOT NULL,
    row_key BYTEA NOT NULL,
    row_num BIGINT NOT NULL,
    image   BYTEA NOT NULL,
    PRIMARY KEY (seq, tbl, ca_id, row_key, row_num)
);

-- The newest image of a row: replay and per-CA checks.
CREATE INDEX audit_rows_by_row ON audit_rows (tbl, ca_id, row_key, row_num, seq);

-- A database with rows written before this migration: `Store::open` binds
-- them all to one `store.baseline` entry right after migrating, in the
-- transaction that sets this back to 0.
INSERT INTO counters (name, value)
SELECT 'audit_baseline', 1 WHERE EXISTS (SELECT 1 FROM cas);
