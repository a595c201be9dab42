-- The officers enrolled for dual control (`pki officer add`): each holds
-- one share of a CA token's user PIN, sealed to the credential kept here.
--
-- * credential_kind: 'x25519' (credential = the officer's 32-byte X25519
--   public key) or 'argon2id' (credential = the UTF-8 PHC string of an
--   Argon2id hash of the officer's passphrase, with its own salt);
-- * enrolled_at: Unix seconds.
--
-- Officers belong to no CA: the audit log binds each row under CA id 0
-- with the name's UTF-8 bytes as its key (src/audit/image.rs), and
-- `Store::verify_state` replays the table once, after the CAs.
CREATE TABLE officers (
    name            TEXT PRIMARY KEY,
    credential_kind TEXT NOT NULL,
    credential      BYTEA NOT NULL,
    enrolled_at     BIGINT NOT NULL
);
