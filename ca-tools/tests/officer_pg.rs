//! The officer commands on the PostgreSQL backend: the same ceremonies,
//! issuance, revocation, CRL and OpenSSL check as on SQLite, a revocation
//! edited directly in PostgreSQL named by `pki audit verify` and refused by
//! `pki crl generate`, and an audit row edited directly named too.
//!
//! The throwaway PostgreSQL 15 server is the store suite's own
//! (`store/tests/backends/pg.rs`: initdb + pg_ctl on 127.0.0.1, a free
//! port, stopped on drop). Missing server binaries fail the test with the
//! install hint; nothing is skipped silently.

#![allow(clippy::unwrap_used)]

mod officer;
#[allow(dead_code, clippy::all, clippy::pedantic)]
#[path = "../../store/tests/backends/pg.rs"]
mod pg;

use officer::{openssl_verify, Bed};

#[test]
fn hierarchy_revocation_and_audit_on_postgres() {
    let server = pg::PgServer::start().unwrap_or_else(|e| panic!("{e}"));
    let rt = Bed::runtime();
    let url = rt.block_on(server.create_database("pki_officer"));
    let mut bed = Bed::new();
    bed.store_url.clone_from(&url);

    bed.root_and_cnie();
    let (amina, serial) = bed.citizen("amina", "Amina Citizen");
    let crl = bed.path("cnie-ca.crl");
    let crl_arg = crl.to_str().unwrap();
    bed.ok(&[
        "crl",
        "generate",
        "--ca",
        "cnie-citizen-ca",
        "--out",
        crl_arg,
    ]);
    let (root, ca) = (bed.path("root.pem"), bed.path("cnie-ca.pem"));
    let (ok, text) = openssl_verify(&root, &ca, &crl, &amina);
    assert!(ok, "{text}");
    bed.ok(&[
        "revoke",
        "--ca",
        "cnie-citizen-ca",
        "--serial",
        &serial,
        "--reason",
        "keyCompromise",
    ]);
    bed.ok(&[
        "crl",
        "generate",
        "--ca",
        "cnie-citizen-ca",
        "--out",
        crl_arg,
    ]);
    let (ok, text) = openssl_verify(&root, &ca, &crl, &amina);
    assert!(!ok && text.contains("certificate revoked"), "{text}");
    // 4 entries for the CAs, 1 for Amina, 1 for the revocation, and a
    // crl.reserve + crl.publish per CRL.
    let out = bed.ok(&["audit", "verify"]);
    assert!(out.contains("audit log intact: 10 entries"), "{out}");
    assert!(out.contains("rows intact: 8 rows"), "{out}");

    let exec = |sql: &str| {
        rt.block_on(async {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
            c.close().await.unwrap();
        });
    };
    // The revocation edited behind the store's back (issue 19 item 3).
    exec("UPDATE revocations SET reason = 4");
    let named = format!(
        "revocations row of CA \"cnie-citizen-ca\" (#2), serial {serial}: reason is \
         superseded, the log says keyCompromise (audit entry 8)"
    );
    let out = bed.fails(&["audit", "verify"]);
    assert!(out.contains(&named), "{out}");
    let err = bed.fails(&[
        "crl",
        "generate",
        "--ca",
        "cnie-citizen-ca",
        "--out",
        crl_arg,
    ]);
    assert!(err.contains(&named), "{err}");
    exec("UPDATE revocations SET reason = 1");
    bed.ok(&["audit", "verify"]);

    exec("UPDATE audit_log SET details = '{}' WHERE seq = 6");
    let out = bed.fails(&["audit", "verify"]);
    assert!(out.contains("audit log BROKEN at entry 6"), "{out}");
}
