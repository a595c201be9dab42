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
    bed.init_store();

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

    // The inventory queries on PostgreSQL (issue 18): counts, filters,
    // the audit entries of one certificate, the action prefix.
    let shown: serde_json::Value =
        serde_json::from_str(&bed.ok(&["ca", "show", "cnie-citizen-ca", "--json"])).unwrap();
    assert_eq!(shown["certificates"]["issued"], 1);
    assert_eq!(shown["certificates"]["revoked"], 1);
    assert_eq!(shown["crl_number"], 2);
    let revoked = bed.ok(&[
        "cert",
        "list",
        "--ca",
        "cnie-citizen-ca",
        "--status",
        "revoked",
        "--json",
    ]);
    assert!(
        revoked.contains(&serial) && revoked.contains("keyCompromise"),
        "{revoked}"
    );
    assert!(!bed
        .ok(&[
            "cert",
            "list",
            "--ca",
            "cnie-citizen-ca",
            "--status",
            "good",
            "--json"
        ])
        .contains(&serial));
    let out = bed.ok(&["cert", "show", amina.to_str().unwrap()]);
    assert!(
        out.contains("certificate.issue") && out.contains("certificate.revoke"),
        "{out}"
    );
    let certs = bed.ok(&["audit", "list", "--action", "certificate", "--json"]);
    assert_eq!(certs.lines().count(), 4, "{certs}");
    let since = bed.ok(&["audit", "list", "--since", "2000-01-01T00:00:00Z", "--json"]);
    assert_eq!(since.lines().count(), 10, "{since}");
    assert!(bed.ok(&["audit", "show", "1"]).contains("ca.create"));
    let missing = url
        .rsplit_once('/')
        .map(|(base, _)| format!("{base}/no_such_db"))
        .unwrap();
    let out = bed
        .command(&["--store", &missing, "ca", "list"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("no store at") && err.contains("pki store init"),
        "{err}"
    );

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
