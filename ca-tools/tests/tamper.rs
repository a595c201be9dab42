//! Issue 19 item 3: the audit log vouches for the state. Rows edited
//! directly in the SQLite database behind the store's back (a revocation's
//! reason or date, a deleted revocation, an inserted certificate) are
//! named by `pki audit verify` (exit 1), and `pki crl generate` and
//! `pki presign` refuse to publish from them, naming the row. The same on
//! PostgreSQL is in `officer_pg.rs`.

#![allow(clippy::unwrap_used)]

mod officer;

use officer::Bed;

/// Root, CNIE CA, Amina revoked (keyCompromise, invalidity date), Youssef
/// good, one CRL published; returns the bed and Amina's serial.
fn revoked_bed() -> (Bed, String) {
    let bed = Bed::new();
    bed.root_and_cnie();
    let (_, amina) = bed.citizen("amina", "Amina Citizen");
    bed.citizen("youssef", "Youssef Citizen");
    bed.ok(&[
        "revoke",
        "--ca",
        "cnie-citizen-ca",
        "--serial",
        &amina,
        "--reason",
        "keyCompromise",
        "--invalidity-date",
        "2026-01-01T00:00:00Z",
    ]);
    bed.ok(&crl_generate());
    (bed, amina)
}

fn crl_generate() -> [&'static str; 6] {
    [
        "crl",
        "generate",
        "--ca",
        "cnie-citizen-ca",
        "--out",
        "cnie-ca.crl",
    ]
}

/// Runs SQL on the bed's SQLite database, as a tamperer would.
fn tamper(bed: &Bed, sql: &str) -> u64 {
    let db = bed.path("var/pki.db");
    Bed::runtime().block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let n = sqlx::query(sql)
            .execute(&mut c)
            .await
            .unwrap()
            .rows_affected();
        c.close().await.unwrap();
        n
    })
}

/// `pki audit verify` fails naming `line`, with the chain itself intact;
/// `pki crl generate` refuses naming it too and publishes nothing.
fn named_and_blocked(bed: &Bed, line: &str) {
    let out = bed.fails(&["audit", "verify"]);
    assert!(out.contains("audit log intact"), "{out}");
    assert!(out.contains("rows NOT VOUCHED FOR: 1 of"), "{out}");
    assert!(out.contains(line), "expected {line:?} in:\n{out}");
    let before = std::fs::read(bed.path("cnie-ca.crl")).unwrap();
    let err = bed.fails(&crl_generate());
    assert!(
        err.contains("the audit log does not vouch for the state of CA \"cnie-citizen-ca\"")
            && err.contains(line),
        "expected {line:?} in:\n{err}"
    );
    assert_eq!(std::fs::read(bed.path("cnie-ca.crl")).unwrap(), before);
}

#[test]
fn intact_state_verifies_and_publishes() {
    let (bed, _) = revoked_bed();
    let out = bed.ok(&["audit", "verify"]);
    // 2 CAs, 4 certificates (both CA certificates, Amina, Youssef), 1
    // revocation, 1 CRL number.
    assert!(
        out.contains(
            "rows intact: 8 rows of cas, certificates, revocations, crl_numbers and officers"
        ),
        "{out}"
    );
    let out = bed.ok(&crl_generate());
    assert!(
        out.contains("CRL number 2") && out.contains("1 entries"),
        "{out}"
    );
    bed.ok(&["audit", "verify"]);
}

#[test]
fn edited_reason_is_named_and_blocks_the_crl() {
    let (bed, amina) = revoked_bed();
    assert_eq!(tamper(&bed, "UPDATE revocations SET reason = 0"), 1);
    named_and_blocked(
        &bed,
        &format!(
            "revocations row of CA \"cnie-citizen-ca\" (#2), serial {amina}: reason is \
             unspecified, the log says keyCompromise (audit entry "
        ),
    );
    // Put back as it was, the state verifies and publishes again.
    tamper(&bed, "UPDATE revocations SET reason = 1");
    bed.ok(&["audit", "verify"]);
    bed.ok(&crl_generate());
}

#[test]
fn edited_date_is_named_and_blocks_the_crl() {
    let (bed, amina) = revoked_bed();
    assert_eq!(
        tamper(&bed, "UPDATE revocations SET invalidity_date = 1767139200"),
        1
    );
    named_and_blocked(
        &bed,
        &format!(
            "serial {amina}: invalidity_date is 2025-12-31T00:00:00Z, the log says \
             2026-01-01T00:00:00Z (audit entry "
        ),
    );
    tamper(&bed, "UPDATE revocations SET invalidity_date = 1767225600");
    tamper(
        &bed,
        "UPDATE revocations SET revoked_at = revoked_at - 3600",
    );
    named_and_blocked(&bed, &format!("serial {amina}: revoked_at is "));
}

#[test]
fn deleted_revocation_is_named_and_blocks_the_crl_and_presign() {
    let (bed, amina) = revoked_bed();
    bed.ceremony("ocsp-signer", "05-ocsp-cnie-citizen-ca.toml");
    assert_eq!(tamper(&bed, "DELETE FROM revocations"), 1);
    let gone =
        format!("revocations row of CA \"cnie-citizen-ca\" (#2), serial {amina}: audit entry");
    named_and_blocked(&bed, &gone);
    let out = bed.fails(&["audit", "verify"]);
    assert!(
        out.contains("wrote this row; it is gone from the table"),
        "{out}"
    );

    // The OCSP pre-signer reads the same rows: it refuses too, and writes
    // no response.
    std::fs::write(
        bed.path("ocsp.toml"),
        format!(
            r#"listen = "127.0.0.1:0"
database = "{store}"
[hsm]
token = "{token}"
pin_env = "PKI_HSM_PIN"
[[issuer]]
ca = "cnie-citizen-ca"
key_label = "ocsp-cnie-citizen-ca-2026-01"
responder_cert = "ocsp-cnie-ca.pem"
"#,
            store = bed.store_url,
            token = bed.token,
        ),
    )
    .unwrap();
    let err = bed.fails(&["presign", "--responder-config", "ocsp.toml", "--quiet"]);
    assert!(
        err.contains("the audit log does not vouch for the state of CA \"cnie-citizen-ca\"")
            && err.contains(&gone),
        "{err}"
    );
    let rt = Bed::runtime();
    let store = rt.block_on(store::Store::open(&bed.store_url)).unwrap();
    let ca = rt.block_on(store.require_ca("cnie-citizen-ca")).unwrap();
    let serial = store::Serial::from_hex(&amina).unwrap();
    assert_eq!(
        rt.block_on(store.ocsp_response(ca.id, store::CertIdHash::Sha1, &serial))
            .unwrap(),
        None,
        "no response signed"
    );
}

#[test]
fn inserted_certificate_is_named_and_blocks_the_crl() {
    let (bed, _) = revoked_bed();
    // A certificate row under a serial the CA never issued, its DER and
    // sha256 consistent.
    let der = [0x30, 0x00];
    let sql = format!(
        "INSERT INTO certificates (ca_id, serial, subject_der, not_before, not_after, der, \
         profile, sha256, issued_at) SELECT ca_id, X'7F0102', subject_der, not_before, \
         not_after, X'3000', profile, X'{}', issued_at FROM certificates WHERE ca_id = 2 \
         LIMIT 1",
        pki_core::cert::hex(&store::sha256(&der))
    );
    assert_eq!(tamper(&bed, &sql), 1);
    named_and_blocked(
        &bed,
        "certificates row of CA \"cnie-citizen-ca\" (#2), serial 7F0102: no audit entry \
         wrote this row",
    );
    tamper(&bed, "DELETE FROM certificates WHERE serial = X'7F0102'");
    bed.ok(&crl_generate());
}
