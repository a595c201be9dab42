//! The officer commands end to end: the example ceremonies on a fresh
//! SoftHSM2 token and SQLite store, issuance under each profile, revocation,
//! CRLs checked by OpenSSL, and the audit log.

#![allow(clippy::unwrap_used)]

mod officer;

use der::Decode;
use officer::{example, openssl, openssl_out, openssl_verify, Bed};
use pki_core::Cert;

fn cert(path: &std::path::Path) -> Cert {
    Cert::parse_many(&std::fs::read(path).unwrap())
        .unwrap()
        .remove(0)
}

fn qc_info(cert: &Cert) -> ca_tools::profile::QcInfo {
    let ext = cert
        .x509()
        .unwrap()
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|x| x.extn_id == pki_core::oid::PE_QC_STATEMENTS)
        .expect("QCStatements present");
    ca_tools::profile::QcInfo::from_der(ext.extn_value.as_bytes()).unwrap()
}

/// Item 6 of issue 5: OpenSSL accepts an issued citizen certificate against
/// root + CNIE CA + CRL, and reports it revoked after `pki revoke` and
/// `pki crl generate`.
#[test]
fn openssl_accepts_then_reports_revoked() {
    let bed = Bed::new();
    let out = bed.ceremony("root", "01-national-root.toml");
    assert!(
        out.contains("generated P-384 key \"national-root-2026\" in the HSM"),
        "{out}"
    );
    assert!(
        out.contains("re-parsed, signature verified, lint passed"),
        "{out}"
    );
    bed.ceremony("intermediate", "02-cnie-citizen-ca.toml");
    let (amina, serial) = bed.citizen("amina", "Amina Citizen");
    let crl = bed.path("cnie-ca.crl");
    bed.ok(&[
        "crl",
        "generate",
        "--ca",
        "cnie-citizen-ca",
        "--out",
        crl.to_str().unwrap(),
    ]);

    let (root, ca) = (bed.path("root.pem"), bed.path("cnie-ca.pem"));
    let (ok, text) = openssl_verify(&root, &ca, &crl, &amina);
    assert!(ok && text.contains(": OK"), "{text}");

    let out = bed.ok(&[
        "revoke",
        "--ca",
        "cnie-citizen-ca",
        "--serial",
        &serial,
        "--reason",
        "keyCompromise",
        "--invalidity-date",
        "2026-01-01T00:00:00Z",
    ]);
    assert!(out.contains("committed"), "{out}");
    // The old CRL does not know yet.
    assert!(openssl_verify(&root, &ca, &crl, &amina).0);
    let out = bed.ok(&[
        "crl",
        "generate",
        "--ca",
        "cnie-citizen-ca",
        "--out",
        crl.to_str().unwrap(),
    ]);
    assert!(
        out.contains("CRL number 2") && out.contains("1 entries"),
        "{out}"
    );
    let (ok, text) = openssl_verify(&root, &ca, &crl, &amina);
    assert!(!ok && text.contains("certificate revoked"), "{text}");
    let listing = openssl_out(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        crl.to_str().unwrap(),
        "-noout",
        "-text",
    ]);
    assert!(
        listing.contains("Key Compromise") && listing.contains("Invalidity Date"),
        "{listing}"
    );

    // pki-core's validator agrees.
    let validate = |leaf: &std::path::Path| {
        bed.pki(&[
            "validate",
            "--anchor",
            root.to_str().unwrap(),
            "--intermediate",
            ca.to_str().unwrap(),
            "--crl",
            crl.to_str().unwrap(),
            "--purpose",
            "client-auth",
            leaf.to_str().unwrap(),
        ])
    };
    assert_eq!(validate(&amina).status.code(), Some(1));
    let (youssef, _) = bed.citizen("youssef", "Youssef Citizen");
    let good = validate(&youssef);
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );

    // The CNIE CA's certificate is recorded under the root: revoking it
    // there and publishing the root's CRL cuts off every citizen.
    let ca_serial = openssl_out(&["x509", "-in", ca.to_str().unwrap(), "-noout", "-serial"]);
    let ca_serial = ca_serial.trim().trim_start_matches("serial=");
    let root_crl = bed.path("root.crl");
    let chain_check = |crls: &[&std::path::Path]| {
        let mut cmd = std::process::Command::new("openssl");
        cmd.args(["verify", "-crl_check_all", "-CAfile"])
            .arg(&root)
            .arg("-untrusted")
            .arg(&ca);
        for crl in crls {
            cmd.arg("-CRLfile").arg(crl);
        }
        let out = cmd.arg(&youssef).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    bed.ok(&[
        "crl",
        "generate",
        "--ca",
        "national-root",
        "--out",
        root_crl.to_str().unwrap(),
    ]);
    bed.ok(&[
        "crl",
        "generate",
        "--ca",
        "cnie-citizen-ca",
        "--out",
        crl.to_str().unwrap(),
    ]);
    let (ok, text) = chain_check(&[&crl, &root_crl]);
    assert!(ok, "{text}");
    bed.ok(&[
        "revoke",
        "--ca",
        "national-root",
        "--serial",
        ca_serial,
        "--reason",
        "cACompromise",
    ]);
    bed.ok(&[
        "crl",
        "generate",
        "--ca",
        "national-root",
        "--out",
        root_crl.to_str().unwrap(),
    ]);
    let (ok, text) = chain_check(&[&crl, &root_crl]);
    assert!(
        !ok && text.contains("error 23 at 1 depth lookup: certificate revoked"),
        "{text}"
    );

    let out = bed.ok(&["audit", "verify"]);
    assert!(out.contains("audit log intact"), "{out}");
}

#[test]
fn whole_example_hierarchy_and_every_profile() {
    let bed = Bed::new();
    bed.root_and_cnie();
    bed.ceremony("intermediate", "03-qualified-signature-ca.toml");
    bed.ceremony("intermediate", "04-organisations-ca.toml");
    for (file, out) in [
        ("05-ocsp-cnie-citizen-ca.toml", "ocsp-cnie-ca.pem"),
        (
            "06-ocsp-qualified-signature-ca.toml",
            "ocsp-qualified-ca.pem",
        ),
        ("07-ocsp-organisations-ca.toml", "ocsp-organisations-ca.pem"),
    ] {
        bed.ceremony("ocsp-signer", file);
        let signer = cert(&bed.path(out));
        let ext = signer.extensions();
        assert!(ext.ocsp_no_check, "{out}");
        assert_eq!(
            ext.ext_key_usage.as_ref().unwrap().value,
            [pki_core::oid::KP_OCSP_SIGNING]
        );
        assert!(!signer.is_ca());
        assert!(signer.not_after().0 - signer.not_before().0 <= 30 * 86_400);
    }
    let root = cert(&bed.path("root.pem"));
    let cnie = cert(&bed.path("cnie-ca.pem"));
    cnie.verify_signed_by(&root, pki_core::AlgorithmPolicy::Default)
        .unwrap();
    assert_eq!(
        cnie.extensions()
            .basic_constraints
            .as_ref()
            .unwrap()
            .value
            .path_len_constraint,
        Some(0)
    );
    assert!(cnie.extensions().name_constraints.is_some());

    // Qualified citizen signature: QCStatements with Moroccan legislation.
    let csr = bed.csr(
        "salma",
        "/C=MA/serialNumber=ID-salma/GN=Salma/SN=Citizen/CN=Salma Citizen",
    );
    let salma = bed.path("salma-sign.pem");
    bed.ok(&[
        "issue",
        "--ca",
        "qualified-signature-ca",
        "--profile",
        "cnie-sign",
        "--csr",
        csr.to_str().unwrap(),
        "--out",
        salma.to_str().unwrap(),
    ]);
    let qc = qc_info(&cert(&salma));
    assert!(qc.compliance && qc.sscd);
    assert_eq!(qc.types, [ca_tools::profile::QCT_ESIGN]);
    assert_eq!(qc.legislation, ["MA"]);
    let cnie_sign = cert(&salma);
    assert!(cnie_sign.key_usage_allows(x509_cert::ext::pkix::KeyUsages::NonRepudiation));
    assert!(!cnie_sign.key_usage_allows(x509_cert::ext::pkix::KeyUsages::DigitalSignature));

    // The CNIE CA does not issue signature certificates.
    let err = bed.fails(&[
        "issue",
        "--ca",
        "cnie-citizen-ca",
        "--profile",
        "cnie-sign",
        "--csr",
        csr.to_str().unwrap(),
    ]);
    assert!(
        err.contains("profile \"cnie-sign\" is not allowed for CA \"cnie-citizen-ca\""),
        "{err}"
    );

    // A seal whose certificate would be refused leaves no key behind: a
    // single-label CN reads as a dNSName outside the CA's dns:example.ma
    // constraint (as the validator reads it), caught before key generation.
    let err = bed.fails(&[
        "issue",
        "--ca",
        "organisations-ca",
        "--profile",
        "qualified-seal",
        "--subject",
        "CN=Seal,O=Banque Exemple,C=MA",
        "--key-label",
        "seal-banque-exemple",
    ]);
    assert!(
        err.contains("[name-constraints]") && !err.contains("generated"),
        "{err}"
    );
    // Organisation seal with its key generated in the HSM.
    let seal = bed.path("seal.pem");
    let out = bed.ok(&[
        "issue",
        "--ca",
        "organisations-ca",
        "--profile",
        "qualified-seal",
        "--subject",
        "CN=Cachet Banque Exemple,organizationIdentifier=NTRMA-000123456,O=Banque Exemple,C=MA",
        "--key-label",
        "seal-banque-exemple",
        "--out",
        seal.to_str().unwrap(),
    ]);
    assert!(
        out.contains("generated P-256 key \"seal-banque-exemple\""),
        "{out}"
    );
    assert_eq!(qc_info(&cert(&seal)).types, [ca_tools::profile::QCT_ESEAL]);

    // TLS server for a given public key; a SAN outside the profile's forms is refused.
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "tls.key",
        ],
        bed.dir.path(),
    );
    openssl(
        &["pkey", "-in", "tls.key", "-pubout", "-out", "tls.pub"],
        bed.dir.path(),
    );
    let tls = bed.path("tls.pem");
    bed.ok(&[
        "issue",
        "--ca",
        "organisations-ca",
        "--profile",
        "tls-server",
        "--subject",
        "CN=portail.example.ma,O=Banque Exemple,L=Rabat,C=MA",
        "--public-key",
        "tls.pub",
        "--san",
        "dns:portail.example.ma",
        "--out",
        tls.to_str().unwrap(),
    ]);
    let chain = [bed.path("root.pem"), bed.path("organisations-ca.pem")];
    let out = std::process::Command::new("openssl")
        .args(["verify", "-x509_strict", "-purpose", "sslserver", "-CAfile"])
        .arg(&chain[0])
        .arg("-untrusted")
        .arg(&chain[1])
        .arg(&tls)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = bed.fails(&[
        "issue",
        "--ca",
        "organisations-ca",
        "--profile",
        "tls-server",
        "--subject",
        "CN=x,O=Banque Exemple,C=MA",
        "--public-key",
        "tls.pub",
        "--san",
        "dns:*.example.ma",
    ]);
    assert!(err.contains("[san]") && err.contains("wildcards"), "{err}");
    let err = bed.fails(&[
        "issue",
        "--ca",
        "organisations-ca",
        "--profile",
        "tls-server",
        "--subject",
        "CN=x,O=Banque Exemple,C=MA",
        "--public-key",
        "tls.pub",
    ]);
    assert!(
        err.contains("at least one dNSName") && err.contains("before signing"),
        "{err}"
    );

    bed.ok(&["audit", "verify"]);
}

#[test]
fn dry_run_changes_nothing_and_nothing_is_overwritten() {
    let bed = Bed::new();
    let root_file = example("01-national-root.toml");
    let root_file = root_file.to_str().unwrap();
    let out = bed.ok(&["ceremony", "root", root_file, "--dry-run"]);
    assert!(
        out.contains("DRY RUN") && out.contains("lint      passed"),
        "{out}"
    );
    assert!(!bed.path("root.pem").exists());
    // Nothing recorded: an empty log is said so, and is not a pass.
    let out = bed.fails(&["audit", "verify"]);
    assert!(out.contains("audit log EMPTY"), "{out}");

    bed.ok(&["ceremony", "root", root_file]);
    let first = std::fs::read(bed.path("root.pem")).unwrap();
    let err = bed.fails(&["ceremony", "root", root_file]);
    assert!(
        err.contains("refusing to overwrite: certificate file root.pem already exists"),
        "{err}"
    );
    // With the file gone, the CA record still blocks a second root.
    std::fs::rename(bed.path("root.pem"), bed.path("root.bak")).unwrap();
    let err = bed.fails(&["ceremony", "root", root_file]);
    assert!(
        err.contains("refusing to overwrite: CA record \"national-root\""),
        "{err}"
    );
    // Under another name, the key label blocks it.
    let text = std::fs::read_to_string(root_file)
        .unwrap()
        .replace("name = \"national-root\"", "name = \"second-root\"");
    std::fs::write(bed.path("second.toml"), text).unwrap();
    let err = bed.fails(&["ceremony", "root", "second.toml"]);
    assert!(
        err.contains("refusing to overwrite: HSM key label \"national-root-2026\""),
        "{err}"
    );
    assert!(!bed.path("root.pem").exists());
    assert_eq!(std::fs::read(bed.path("root.bak")).unwrap(), first);

    // Strict TOML: an unknown key is named.
    let text = std::fs::read_to_string(root_file)
        .unwrap()
        .replace("path_len = 1", "path_len = 1\npathlen = 2");
    std::fs::write(bed.path("typo.toml"), text).unwrap();
    let err = bed.fails(&["ceremony", "root", "typo.toml"]);
    assert!(
        err.contains("typo.toml") && err.contains("unknown field `pathlen`"),
        "{err}"
    );
    // An intermediate file is not a root file.
    let err = bed.fails(&[
        "ceremony",
        "root",
        example("02-cnie-citizen-ca.toml").to_str().unwrap(),
    ]);
    assert!(err.contains("unknown field `parent`"), "{err}");

    // A wrong PIN is a clear error, and the PIN is not echoed.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pki"))
        .args([
            "ceremony",
            "intermediate",
            example("02-cnie-citizen-ca.toml").to_str().unwrap(),
        ])
        .current_dir(bed.dir.path())
        .env("PKI_CONFIG", example("pki.toml"))
        .env("PKI_HSM_TOKEN", &bed.token)
        .env("PKI_STORE_URL", &bed.store_url)
        .env("PKI_HSM_PIN", "wrong-pin-9999")
        .env("PKI_ACTOR", "test-officer")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("wrong user PIN"),
        "{err}"
    );
    assert!(!err.contains("wrong-pin-9999"));
    assert!(!bed.path("cnie-ca.pem").exists());
}

/// Issue 5 item 5: edit a row of the audit log directly in SQLite and
/// `pki audit verify` fails naming it.
#[test]
fn audit_verify_names_the_tampered_entry() {
    let bed = Bed::new();
    bed.root_and_cnie();
    bed.citizen("amina", "Amina Citizen");
    let out = bed.ok(&["audit", "verify"]);
    assert!(out.contains("audit log intact: 5 entries"), "{out}");

    let db = bed.path("var/pki.db");
    let rt = Bed::runtime();
    let exec = |sql: &str| {
        rt.block_on(async {
            use sqlx::Connection;
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
                .await
                .unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
            c.close().await.unwrap();
        });
    };
    exec("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3");
    let out = bed.fails(&["audit", "verify"]);
    assert!(
        out.contains("audit log BROKEN at entry 3: stored hash does not match"),
        "{out}"
    );
    exec("UPDATE audit_log SET actor = 'test-officer' WHERE seq = 3");
    bed.ok(&["audit", "verify"]);
    exec("DELETE FROM audit_log WHERE seq = 4");
    let out = bed.fails(&["audit", "verify"]);
    assert!(out.contains("BROKEN at entry 4: entry is missing"), "{out}");
}

/// Issue 19: `pki audit verify | head -c 10` panicked on the broken pipe
/// (exit 101). A reader that goes away ends the report quietly; the exit
/// status is the verdict's.
#[test]
fn audit_verify_into_a_closed_pipe_exits_quietly() {
    use std::io::Read as _;
    use std::process::Stdio;

    let bed = Bed::new();
    bed.ceremony("root", "01-national-root.toml");
    bed.ok(&["audit", "verify"]);
    // The reader is gone before the first line: every write fails (EPIPE).
    let mut child = bed
        .command(&["audit", "verify"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    // `| head -c 10`: ten bytes read, then the pipe closed.
    let mut child = bed
        .command(&["audit", "verify"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0; 10];
    child.stdout.take().unwrap().read_exact(&mut head).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(&head, b"audit log ");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

/// The CRL number and SHA-256 a `pki crl generate` run reports.
fn published(stdout: &str) -> (u64, String) {
    let number = stdout
        .split("CRL number ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no CRL number in {stdout}"));
    let sha256 = stdout
        .split("SHA-256 ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_hexdigit()).next())
        .unwrap_or_else(|| panic!("no SHA-256 in {stdout}"));
    (number, sha256.to_owned())
}

/// Issue 19: three `crl generate` runs writing one `--out` file could
/// leave an older CRL there than the newest number recorded.
#[test]
fn concurrent_crl_runs_leave_the_highest_number_in_the_file() {
    let bed = Bed::new();
    bed.root_and_cnie();
    for round in 0..3 {
        let runs: Vec<_> = (0..3)
            .map(|_| {
                bed.command(&[
                    "crl",
                    "generate",
                    "--ca",
                    "cnie-citizen-ca",
                    "--out",
                    "same.crl",
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
            })
            .collect();
        let mut reports: Vec<(u64, String)> = runs
            .into_iter()
            .map(|run| {
                let out = run.wait_with_output().unwrap();
                let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
                assert!(
                    out.status.success(),
                    "{stdout}{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                published(&stdout)
            })
            .collect();
        reports.sort();
        assert_eq!(
            reports.iter().map(|r| r.0).collect::<Vec<_>>(),
            (1..=3).map(|n| round * 3 + n).collect::<Vec<_>>()
        );
        let file = std::fs::read(bed.path("same.crl")).unwrap();
        let highest = &reports[2];
        assert_eq!(
            pki_core::cert::hex(&store::sha256(&file)),
            highest.1,
            "round {round}: same.crl is not CRL number {}",
            highest.0
        );
    }
    // Nothing left but the CRL and its lock file.
    let mut left: Vec<_> = std::fs::read_dir(bed.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("same.crl"))
        .collect();
    left.sort();
    assert_eq!(left, [".same.crl.lock", "same.crl"]);
}

/// The lock behind the test above: a run waits for the holder of its
/// output's lock before it takes a CRL number, and then goes on.
#[test]
fn crl_generate_waits_for_the_lock_on_its_output() {
    let bed = Bed::new();
    bed.root_and_cnie();
    let out = bed.path("held.crl");
    let held = ca_tools::publish::lock(&out).unwrap();
    let mut run = bed
        .command(&[
            "crl",
            "generate",
            "--ca",
            "cnie-citizen-ca",
            "--out",
            "held.crl",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(run.try_wait().unwrap().is_none(), "finished under the lock");
    assert!(!out.exists());
    drop(held);
    let done = run.wait_with_output().unwrap();
    assert!(done.status.success());
    let (number, sha256) = published(&String::from_utf8_lossy(&done.stdout));
    assert_eq!(number, 1);
    assert_eq!(
        pki_core::cert::hex(&store::sha256(&std::fs::read(&out).unwrap())),
        sha256
    );
}

/// `pki issue --out FILE` takes the lock on FILE before it checks that FILE
/// is absent: a run that finds FILE written meanwhile issues nothing,
/// instead of recording a certificate it then cannot write.
#[test]
fn issue_waits_for_the_lock_on_its_output_then_refuses_the_file_written_meanwhile() {
    let bed = Bed::new();
    bed.root_and_cnie();
    let csr = bed.csr("late", "/C=MA/serialNumber=ID-late/CN=Late Citizen");
    let out = bed.path("late.pem");
    let held = ca_tools::publish::lock(&out).unwrap();
    let run = bed
        .command(&[
            "issue",
            "--ca",
            "cnie-citizen-ca",
            "--profile",
            "cnie-auth",
            "--csr",
            csr.to_str().unwrap(),
            "--san",
            "email:late@cnie.example.ma",
            "--out",
            "late.pem",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    std::fs::write(&out, "the other run's certificate").unwrap();
    drop(held);
    let done = run.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("refusing to overwrite: certificate file late.pem already exists"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"the other run's certificate");
    // Root and CNIE CA: two entries each; no certificate was issued.
    let audit = bed.ok(&["audit", "verify"]);
    assert!(audit.contains("audit log intact: 4 entries"), "{audit}");
}

/// `pki presign` from the responder's own config: a PIN file open to
/// others is refused with the chmod to run; the responses go into the
/// store's response table, one per serial and CertID hash, each a signed
/// OCSP response for its serial; a second run finds nothing left to sign;
/// while another updater holds the lease it refuses.
#[test]
fn presign_checks_its_pin_file_and_fills_the_response_table() {
    use std::os::unix::fs::PermissionsExt as _;

    let bed = Bed::new();
    bed.root_and_cnie();
    bed.ceremony("ocsp-signer", "05-ocsp-cnie-citizen-ca.toml");
    let (_, amina) = bed.citizen("amina", "Amina Citizen");
    let config = bed.path("ocsp.toml");
    std::fs::write(
        &config,
        format!(
            r#"listen = "127.0.0.1:0"
database = "{store}"
[responses]
presign_hashes = ["sha1", "sha256"]
[hsm]
token = "{token}"
pin_file = "pin"
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
    let pin = bed.path("pin");
    std::fs::write(&pin, officer::PIN).unwrap();
    std::fs::set_permissions(&pin, std::fs::Permissions::from_mode(0o644)).unwrap();
    let args = ["presign", "--responder-config", "ocsp.toml", "--quiet"];
    let err = bed.fails(&args);
    assert!(
        // (The path as resolved against the responder config's directory.)
        err.contains("PIN file ./pin has mode 644, open to group or others; run `chmod 600 ./pin`"),
        "{err}"
    );
    std::fs::set_permissions(&pin, std::fs::Permissions::from_mode(0o600)).unwrap();

    let out = bed.ok(&args);
    // The OCSP signer and Amina's certificate, two hashes each.
    assert!(
        out.contains("signed 4 responses into the store's response table"),
        "{out}"
    );
    let rt = Bed::runtime();
    let store = rt.block_on(store::Store::open(&bed.store_url)).unwrap();
    let ca = rt.block_on(store.require_ca("cnie-citizen-ca")).unwrap();
    let serial = store::Serial::from_hex(&amina).unwrap();
    for hash in store::CertIdHash::ALL {
        let read = rt
            .block_on(store.ocsp_response(ca.id, hash, &serial))
            .unwrap()
            .expect("a stored response");
        assert!(read.current());
        assert_eq!(read.response.status, store::ResponseStatus::Good);
        // A whole OCSPResponse naming the serial.
        let der = &read.response.der;
        assert_eq!(der[0], 0x30);
        assert!(der
            .windows(serial.as_bytes().len())
            .any(|w| w == serial.as_bytes()));
    }
    let again = bed.ok(&args);
    assert!(again.contains("signed 0 responses"), "{again}");
    // Another updater holds the lease: presign leaves the work to it.
    assert!(rt
        .block_on(store.try_lease(
            "ocsp-updater",
            "elsewhere",
            time::OffsetDateTime::now_utc(),
            std::time::Duration::from_secs(60),
        ))
        .unwrap());
    let err = bed.fails(&args);
    assert!(
        err.contains("an OCSP updater holds the \"ocsp-updater\" lease"),
        "{err}"
    );
}

#[test]
fn requests_hold_and_delta_crls() {
    let bed = Bed::new();
    bed.root_and_cnie();
    // A CSR whose signature was tampered with is refused.
    let csr = bed.csr("forged", "/C=MA/CN=Forged Citizen");
    let der = bed.path("forged.der");
    openssl(
        &[
            "req",
            "-in",
            csr.to_str().unwrap(),
            "-outform",
            "DER",
            "-out",
            der.to_str().unwrap(),
        ],
        bed.dir.path(),
    );
    let mut bytes = std::fs::read(&der).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&der, &bytes).unwrap();
    let err = bed.fails(&[
        "issue",
        "--ca",
        "cnie-citizen-ca",
        "--profile",
        "cnie-auth",
        "--csr",
        der.to_str().unwrap(),
    ]);
    assert!(
        err.contains("signature does not verify under the request's public key"),
        "{err}"
    );
    std::fs::write(&der, b"\x30\x03\x02\x01\x01").unwrap();
    let err = bed.fails(&[
        "issue",
        "--ca",
        "cnie-citizen-ca",
        "--profile",
        "cnie-auth",
        "--csr",
        der.to_str().unwrap(),
    ]);
    assert!(err.contains("malformed request"), "{err}");

    // The CNIE CA's name constraints (C=MA, emails at cnie.example.ma) are
    // checked before signing.
    let foreign = bed.csr("foreign", "/C=FR/CN=Jean Dupont");
    let err = bed.fails(&[
        "issue",
        "--ca",
        "cnie-citizen-ca",
        "--profile",
        "cnie-auth",
        "--csr",
        foreign.to_str().unwrap(),
    ]);
    assert!(
        err.contains("[name-constraints]") && err.contains("not within the permitted subtrees"),
        "{err}"
    );
    let local = bed.csr("local", "/C=MA/CN=Local Citizen");
    let err = bed.fails(&[
        "issue",
        "--ca",
        "cnie-citizen-ca",
        "--profile",
        "cnie-auth",
        "--csr",
        local.to_str().unwrap(),
        "--san",
        "email:local@gmail.example",
    ]);
    assert!(err.contains("[name-constraints]"), "{err}");

    let (karim, serial) = bed.citizen("karim", "Karim Citizen");
    bed.ok(&["crl", "generate", "--ca", "cnie-citizen-ca"]);
    // The full CRL points at the delta (freshestCRL), which is what
    // OpenSSL's -use_deltas needs to apply one.
    let full = bed.path("cnie-citizen-ca.crl");
    let listing = openssl_out(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        full.to_str().unwrap(),
        "-noout",
        "-text",
    ]);
    assert!(
        listing.contains("Freshest CRL") && listing.contains("cnie-citizen-ca-delta.crl"),
        "{listing}"
    );
    let err = bed.fails(&[
        "revoke",
        "--ca",
        "cnie-citizen-ca",
        "--serial",
        &serial,
        "--reason",
        "removeFromCRL",
    ]);
    assert!(err.contains("unknown revocation reason"), "{err}");
    bed.ok(&[
        "revoke",
        "--ca",
        "cnie-citizen-ca",
        "--serial",
        &serial,
        "--reason",
        "certificateHold",
    ]);
    let out = bed.ok(&["crl", "generate", "--ca", "cnie-citizen-ca", "--delta"]);
    assert!(
        out.contains("delta CRL number 2")
            && out.contains("1 entries")
            && out.contains("base CRL 1"),
        "{out}"
    );
    let delta = openssl_out(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        bed.path("cnie-citizen-ca-delta.crl").to_str().unwrap(),
        "-noout",
        "-text",
    ]);
    assert!(
        delta.contains("Delta CRL Indicator") && delta.contains("Certificate Hold"),
        "{delta}"
    );
    let with_delta = |use_deltas: bool| {
        let mut cmd = std::process::Command::new("openssl");
        cmd.args(["verify", "-crl_check"]);
        if use_deltas {
            cmd.arg("-use_deltas");
        }
        cmd.arg("-CAfile")
            .arg(bed.path("root.pem"))
            .arg("-untrusted")
            .arg(bed.path("cnie-ca.pem"))
            .arg("-CRLfile")
            .arg(&full);
        // Without -use_deltas the delta is left out altogether: OpenSSL
        // (without extended CRL support) may otherwise take a delta whose
        // lastUpdate is a second newer as the complete CRL.
        if use_deltas {
            cmd.arg("-CRLfile")
                .arg(bed.path("cnie-citizen-ca-delta.crl"));
        }
        let out = cmd.arg(&karim).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, text) = with_delta(false);
    assert!(ok, "the full CRL alone does not list the hold yet: {text}");
    let (ok, text) = with_delta(true);
    assert!(!ok && text.contains("certificate revoked"), "{text}");
    bed.ok(&["unhold", "--ca", "cnie-citizen-ca", "--serial", &serial]);
    bed.ok(&["crl", "generate", "--ca", "cnie-citizen-ca", "--delta"]);
    let delta = openssl_out(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        bed.path("cnie-citizen-ca-delta.crl").to_str().unwrap(),
        "-noout",
        "-text",
    ]);
    assert!(delta.contains("Remove From CRL"), "{delta}");
    let out = bed.ok(&[
        "crl",
        "generate",
        "--ca",
        "cnie-citizen-ca",
        "--pem",
        "--out",
        "full.pem",
    ]);
    assert!(out.contains("0 entries"), "{out}");
    assert!(std::fs::read_to_string(bed.path("full.pem"))
        .unwrap()
        .starts_with("-----BEGIN X509 CRL-----"));

    // The root's config does not allow holds.
    bed.ceremony("intermediate", "03-qualified-signature-ca.toml");
    let csr = bed.csr("nadia", "/C=MA/GN=Nadia/SN=Citizen/CN=Nadia Citizen");
    let pem = bed.ok(&[
        "issue",
        "--ca",
        "qualified-signature-ca",
        "--profile",
        "cnie-sign",
        "--csr",
        csr.to_str().unwrap(),
    ]);
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    let issued = Cert::parse_many(pem.as_bytes()).unwrap().remove(0);
    let hex = pki_core::cert::hex(issued.serial());
    let err = bed.fails(&[
        "revoke",
        "--ca",
        "qualified-signature-ca",
        "--serial",
        &hex,
        "--reason",
        "certificateHold",
    ]);
    assert!(err.contains("does not allow certificateHold"), "{err}");
    let err = bed.fails(&[
        "revoke",
        "--ca",
        "qualified-signature-ca",
        "--serial",
        "0BADBEEF",
        "--reason",
        "superseded",
    ]);
    assert!(err.contains("was never issued"), "{err}");
    bed.ok(&[
        "revoke",
        "--ca",
        "qualified-signature-ca",
        "--serial",
        &hex,
        "--reason",
        "superseded",
    ]);
    let err = bed.fails(&[
        "revoke",
        "--ca",
        "qualified-signature-ca",
        "--serial",
        &hex,
        "--reason",
        "keyCompromise",
    ]);
    assert!(err.contains("already revoked"), "{err}");
    bed.ok(&["audit", "verify"]);
}

/// A CRL with many entries: revocations imported through the store, the
/// CRL generated by the CLI and decoded back. The 1,000,000-entry timing
/// is `big_crl_timing` (ignored; run in release).
#[test]
fn crl_with_many_entries() {
    let bed = Bed::new();
    bed.root_and_cnie();
    let n = import_revocations(&bed, 20_000);
    let crl = bed.path("big.crl");
    let out = bed.ok(&[
        "crl",
        "generate",
        "--ca",
        "cnie-citizen-ca",
        "--out",
        crl.to_str().unwrap(),
    ]);
    assert!(out.contains(&format!("{n} entries")), "{out}");
    let parsed = pki_core::crl::Crl::from_der(&std::fs::read(&crl).unwrap()).unwrap();
    assert_eq!(parsed.len(), n);
    let _ = x509_cert::crl::CertificateList::from_der(&std::fs::read(&crl).unwrap()).unwrap();
}

fn import_revocations(bed: &Bed, n: usize) -> usize {
    let rt = Bed::runtime();
    rt.block_on(async {
        let store = store::Store::open(&bed.store_url).await.unwrap();
        let ca = store.require_ca("cnie-citizen-ca").await.unwrap();
        let now = time::OffsetDateTime::now_utc();
        let entries: Vec<_> = (0..n)
            .map(|i| store::ImportedRevocation {
                serial: store::Serial::random().unwrap(),
                reason: if i % 3 == 0 {
                    store::RevocationReason::KeyCompromise
                } else {
                    store::RevocationReason::Superseded
                },
                revoked_at: now,
                invalidity_date: None,
            })
            .collect();
        store
            .import_revocations(ca.id, &entries, &store::AuditContext::new("test-import"))
            .await
            .unwrap();
        store.close().await;
    });
    n
}

/// `cargo test --release -p ca-tools --test officer_cli big_crl_timing -- --ignored --nocapture`
#[test]
#[ignore = "performance figure; run in release mode"]
fn big_crl_timing() {
    let bed = Bed::new();
    bed.root_and_cnie();
    let n = import_revocations(&bed, 1_000_000);
    let t = std::time::Instant::now();
    let out = bed.ok(&[
        "crl",
        "generate",
        "--ca",
        "cnie-citizen-ca",
        "--out",
        "big.crl",
    ]);
    let took = t.elapsed();
    println!("pki crl generate, {n} entries: {took:.2?} wall, process start included:\n{out}");
}

/// The lint runs before the key is generated: a ceremony that would fail it
/// leaves no key behind, and the parent's pathLen is enforced.
#[test]
fn ceremonies_fail_before_generating_keys() {
    let bed = Bed::new();
    bed.root_and_cnie();
    let ocsp = std::fs::read_to_string(example("05-ocsp-cnie-citizen-ca.toml")).unwrap();
    std::fs::write(
        bed.path("long-ocsp.toml"),
        ocsp.replace("validity_days = 30", "validity_days = 365"),
    )
    .unwrap();
    let err = bed.fails(&["ceremony", "ocsp-signer", "long-ocsp.toml"]);
    assert!(
        err.contains("[validity] OCSP signer valid for 365 days, at most 90")
            && err.contains("before signing"),
        "{err}"
    );
    assert!(!err.contains("generated"), "{err}");
    // The label is still free: the corrected file goes through.
    let out = bed.ceremony("ocsp-signer", "05-ocsp-cnie-citizen-ca.toml");
    assert!(
        out.contains("generated P-256 key \"ocsp-cnie-citizen-ca-2026-01\""),
        "{out}"
    );

    // The CNIE CA has pathLen 0: it cannot certify another CA.
    let sub = std::fs::read_to_string(example("02-cnie-citizen-ca.toml"))
        .unwrap()
        .replace("name = \"cnie-citizen-ca\"", "name = \"cnie-sub-ca\"")
        .replace("parent = \"national-root\"", "parent = \"cnie-citizen-ca\"")
        .replace("cnie-citizen-ca-2026", "cnie-sub-ca-2026")
        .replace("output = \"cnie-ca.pem\"", "output = \"sub.pem\"");
    std::fs::write(bed.path("sub.toml"), sub).unwrap();
    let err = bed.fails(&["ceremony", "intermediate", "sub.toml", "--dry-run"]);
    assert!(
        err.contains("its pathLenConstraint 0 leaves no room"),
        "{err}"
    );
    // A CA outlasting its parent is refused by the lint.
    let long = std::fs::read_to_string(example("03-qualified-signature-ca.toml"))
        .unwrap()
        .replace("validity_days = 3650", "validity_days = 9000");
    std::fs::write(bed.path("long-ca.toml"), long).unwrap();
    let err = bed.fails(&["ceremony", "intermediate", "long-ca.toml", "--dry-run"]);
    assert!(
        err.contains("[validity]") && err.contains("not within the issuer's"),
        "{err}"
    );
}

/// An offline root on its own token: the intermediate ceremony finds the
/// parent's key through `[parent_hsm]` and puts the new key on the online
/// token.
#[test]
fn parent_key_on_another_token() {
    let bed = Bed::new();
    let offline = officer::new_token("offline-root");
    let root = std::fs::read_to_string(example("01-national-root.toml"))
        .unwrap()
        .replace("[key]", &format!("[hsm]\ntoken = \"{offline}\"\n\n[key]"));
    std::fs::write(bed.path("root.toml"), root).unwrap();
    let cnie = std::fs::read_to_string(example("02-cnie-citizen-ca.toml"))
        .unwrap()
        .replace(
            "[key]",
            &format!("[parent_hsm]\ntoken = \"{offline}\"\n\n[key]"),
        );
    std::fs::write(bed.path("cnie.toml"), cnie).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pki"))
            .args(args)
            .current_dir(bed.dir.path())
            .env("PKI_CONFIG", example("pki.toml"))
            .env("PKI_STORE_URL", &bed.store_url)
            .env("PKI_HSM_PIN", officer::PIN)
            .env("PKI_ACTOR", "test-officer")
            .env_remove("PKI_HSM_TOKEN")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    };
    let (ok, text) = run(&["--token", &offline, "ceremony", "root", "root.toml"]);
    assert!(
        ok && text.contains(&format!("token     {offline}")),
        "{text}"
    );
    let (ok, text) = run(&[
        "--token",
        &bed.token,
        "ceremony",
        "intermediate",
        "cnie.toml",
    ]);
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("token     {}", &bed.token)),
        "{text}"
    );
    // Without [parent_hsm] the root key is not on the online token.
    std::fs::remove_file(bed.path("cnie-ca.pem")).unwrap();
    let plain = std::fs::read_to_string(example("02-cnie-citizen-ca.toml"))
        .unwrap()
        .replace("cnie-citizen-ca", "cnie-other-ca")
        .replace("cnie-ca.pem", "other.pem");
    std::fs::write(bed.path("other.toml"), plain).unwrap();
    let (ok, text) = run(&[
        "--token",
        &bed.token,
        "ceremony",
        "intermediate",
        "other.toml",
    ]);
    assert!(
        !ok && text.contains("no key labelled \"national-root-2026\""),
        "{text}"
    );
}
