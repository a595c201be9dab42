//! Issue 18 item 6: what the example hierarchy issues passes DigiCert's
//! public linters (`pkilint`, from PyPI, in a venv under `target/`).
//!
//! The whole example hierarchy is made as an officer would (the ceremony
//! files in `examples/ceremony/`, the real `pki` binary, SoftHSM2), one
//! certificate is issued under every profile of `pki.toml`, a CRL is
//! generated and an OCSP response fetched from the real responder. Then:
//!
//! - the qualified profiles go to the ETSI linter with their certificate
//!   type (`lint_etsi_cert`),
//! - the TLS server profile to the CA/B Baseline Requirements linter
//!   (`lint_cabf_serverauth_cert`),
//! - every other certificate (CAs, OCSP signers, the non-qualified
//!   profiles) to the RFC 5280 linter (`lint_pkix_cert`),
//! - the CRL to `lint_crl` and the OCSP response to `lint_ocsp_response`.
//!
//! An ERROR or FATAL finding fails the test unless it is in [`EXCEPTIONS`]
//! with its reason; an exception that no longer fires fails it too, so the
//! list stays true. Warnings and notices are printed, not judged.
//!
//! Needs `python3` with the `venv` module (Debian: `python3-venv`) and
//! access to PyPI (or a mirror set in `PIP_INDEX_URL`) the first time; the
//! venv is reused while it holds the pinned version.

#![allow(clippy::unwrap_used)]

mod officer;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use officer::{openssl, Bed};

/// The pkilint release these expectations are written against.
const PKILINT: &str = "0.13.3";

const INSTALL_HINT: &str = "install Python 3 with its venv module \
     (Debian/Ubuntu: apt-get install python3-venv, which `make deps-test` does)";

/// Findings of severity ERROR or FATAL that are accepted, as (document,
/// finding code, reason). The document is the name the test gives it in
/// [`documents`].
const EXCEPTIONS: &[(&str, &str, &str)] = &[];

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}; {INSTALL_HINT}"))
}

/// `target/tmp/pkilint-<version>/bin`, making the venv when it is missing
/// or holds another version.
fn pkilint() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("pkilint-{PKILINT}"));
    let bin = venv.join("bin");
    let installed = || {
        Command::new(bin.join("pip"))
            .args(["show", "pkilint"])
            .output()
            .is_ok_and(|o| {
                o.status.success() && text(&o).contains(&format!("Version: {PKILINT}\n"))
            })
            && bin.join("lint_pkix_cert").exists()
    };
    if installed() {
        return bin;
    }
    // A half-made venv (an interrupted install) is made again.
    let _ = std::fs::remove_dir_all(&venv);
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let o = run(Command::new(&python).args(["-m", "venv"]).arg(&venv));
    assert!(
        o.status.success(),
        "`{python} -m venv {}` failed; {INSTALL_HINT}\n{}",
        venv.display(),
        text(&o)
    );
    let o = run(Command::new(bin.join("pip")).args([
        "install",
        "--disable-pip-version-check",
        "--quiet",
        &format!("pkilint=={PKILINT}"),
    ]));
    assert!(
        o.status.success(),
        "pip could not install pkilint {PKILINT} from PyPI \
         (set PIP_INDEX_URL for a mirror)\n{}",
        text(&o)
    );
    assert!(installed(), "pkilint {PKILINT} not runnable after install");
    bin
}

/// One document and the linter that judges it.
struct Doc {
    name: &'static str,
    file: PathBuf,
    /// Linter executable and its arguments before the file.
    linter: &'static str,
    args: &'static [&'static str],
}

/// One finding of a linter.
#[derive(Debug)]
struct Finding {
    severity: String,
    code: String,
    message: String,
    node: String,
}

/// Runs `doc`'s linter with JSON output; every finding it reports.
fn lint(bin: &Path, doc: &Doc) -> Vec<Finding> {
    let mut cmd = Command::new(bin.join(doc.linter));
    cmd.arg("lint")
        .args(doc.args)
        .args(["--severity", "INFO", "--format", "JSON"])
        .arg(&doc.file);
    let o = run(&mut cmd);
    // pkilint exits with the number of findings at or above the threshold.
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{} on {}: not JSON ({e}):\n{}",
            doc.linter,
            doc.name,
            text(&o)
        )
    });
    let mut out = Vec::new();
    for result in report["results"].as_array().unwrap() {
        for f in result["finding_descriptions"].as_array().unwrap() {
            out.push(Finding {
                severity: f["severity"].as_str().unwrap().to_owned(),
                code: f["code"].as_str().unwrap().to_owned(),
                message: f["message"].as_str().unwrap_or("").to_owned(),
                node: result["node_path"].as_str().unwrap().to_owned(),
            });
        }
    }
    out
}

/// The example hierarchy, a certificate of every profile, a CRL and an
/// OCSP response, each with the linter that judges it.
fn documents(bed: &Bed) -> Vec<Doc> {
    bed.root_and_cnie();
    bed.ceremony("intermediate", "03-qualified-signature-ca.toml");
    bed.ceremony("intermediate", "04-organisations-ca.toml");
    bed.ceremony("ocsp-signer", "05-ocsp-cnie-citizen-ca.toml");
    bed.ceremony("ocsp-signer", "06-ocsp-qualified-signature-ca.toml");
    bed.ceremony("ocsp-signer", "07-ocsp-organisations-ca.toml");

    // cnie-auth, and one revoked so the CRL has an entry.
    let (_, revoked) = bed.citizen("revoked", "Youssef Citizen");
    bed.citizen("amina", "Amina Citizen");
    bed.ok(&[
        "revoke",
        "--ca",
        "cnie-citizen-ca",
        "--serial",
        &revoked,
        "--reason",
        "keyCompromise",
    ]);
    bed.ok(&[
        "crl",
        "generate",
        "--ca",
        "cnie-citizen-ca",
        "--out",
        bed.path("cnie-ca.crl").to_str().unwrap(),
    ]);

    // cnie-sign: a natural person, named by givenName and surname.
    let csr = bed.csr(
        "salma",
        "/C=MA/serialNumber=IDCMA-AB123456/GN=Salma/SN=Citizen/CN=Salma Citizen",
    );
    issue(
        bed,
        "qualified-signature-ca",
        "cnie-sign",
        &csr,
        &[],
        "cnie-sign.pem",
    );

    // org-seal and qualified-seal: legal persons.
    let csr = bed.csr(
        "seal",
        "/C=MA/O=Banque Exemple/organizationIdentifier=NTRMA-000123456/CN=Cachet Banque Exemple",
    );
    issue(
        bed,
        "organisations-ca",
        "org-seal",
        &csr,
        &[],
        "org-seal.pem",
    );
    issue(
        bed,
        "organisations-ca",
        "qualified-seal",
        &csr,
        &[],
        "qualified-seal.pem",
    );

    // tls-server: an organisation-validated endpoint.
    let csr = bed.csr(
        "tls",
        "/C=MA/L=Rabat/O=Banque Exemple/CN=portail.example.ma",
    );
    issue(
        bed,
        "organisations-ca",
        "tls-server",
        &csr,
        &["--san", "dns:portail.example.ma"],
        "tls-server.pem",
    );

    ocsp_response(bed);

    let p = |f: &str| bed.path(f);
    let pkix = |name, file: &str| Doc {
        name,
        file: p(file),
        linter: "lint_pkix_cert",
        args: &[],
    };
    vec![
        pkix("national-root", "root.pem"),
        pkix("cnie-citizen-ca", "cnie-ca.pem"),
        pkix("qualified-signature-ca", "qualified-ca.pem"),
        pkix("organisations-ca", "organisations-ca.pem"),
        pkix("ocsp-cnie-citizen-ca", "ocsp-cnie-ca.pem"),
        pkix("ocsp-qualified-signature-ca", "ocsp-qualified-ca.pem"),
        pkix("ocsp-organisations-ca", "ocsp-organisations-ca.pem"),
        pkix("cnie-auth", "amina.pem"),
        pkix("org-seal", "org-seal.pem"),
        Doc {
            name: "cnie-sign",
            file: p("cnie-sign.pem"),
            linter: "lint_etsi_cert",
            // QCP-n-qscd, qualified under Moroccan law (QcCClegislation MA).
            args: &["--type", "QCP-N-QSCD-NON-EIDAS-FINAL-CERTIFICATE"],
        },
        Doc {
            name: "qualified-seal",
            file: p("qualified-seal.pem"),
            linter: "lint_etsi_cert",
            // pkilint 0.13 has no QCP-l type of its own: a legal person's
            // certificate outside the web profiles is NCP-LEGAL-PERSON, and
            // the QCStatements validators run on it all the same.
            args: &["--type", "NCP-LEGAL-PERSON-CERTIFICATE"],
        },
        Doc {
            name: "tls-server",
            file: p("tls-server.pem"),
            linter: "lint_cabf_serverauth_cert",
            args: &["--type", "OV-FINAL-CERTIFICATE"],
        },
        Doc {
            name: "cnie-citizen-ca CRL",
            file: p("cnie-ca.crl"),
            linter: "lint_crl",
            args: &["--type", "CRL", "--profile", "PKIX"],
        },
        Doc {
            name: "OCSP response",
            file: p("ocsp-response.der"),
            linter: "lint_ocsp_response",
            args: &[],
        },
    ]
}

fn issue(bed: &Bed, ca: &str, profile: &str, csr: &Path, extra: &[&str], out: &str) {
    let mut args = vec![
        "issue",
        "--ca",
        ca,
        "--profile",
        profile,
        "--csr",
        csr.to_str().unwrap(),
        "--out",
    ];
    let out = bed.path(out);
    args.push(out.to_str().unwrap());
    args.extend_from_slice(extra);
    bed.ok(&args);
}

/// The cnie-citizen-ca responder's answer about amina's certificate,
/// fetched by `openssl ocsp` from the real responder into
/// `ocsp-response.der`.
fn ocsp_response(bed: &Bed) {
    std::fs::write(bed.path("pin"), officer::PIN).unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(bed.path("pin"), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    std::fs::write(
        bed.path("ocsp.toml"),
        format!(
            r#"listen = "127.0.0.1:0"
database = "{store}"
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = ocsp_responder::Config::load(&bed.path("ocsp.toml")).unwrap();
    let running = rt
        .block_on(ocsp_responder::start_from_config(&config))
        .unwrap();
    let url = format!("http://127.0.0.1:{}/", running.local_addr().port());
    openssl(
        &[
            "ocsp",
            "-issuer",
            "cnie-ca.pem",
            "-cert",
            "amina.pem",
            "-url",
            &url,
            "-CAfile",
            "root.pem",
            "-verify_other",
            "cnie-ca.pem",
            "-respout",
            "ocsp-response.der",
        ],
        bed.dir.path(),
    );
    rt.block_on(running.shutdown());
}

#[test]
fn every_profile_ca_crl_and_ocsp_response_passes_pkilint() {
    let bin = pkilint();
    let bed = Bed::new();
    let docs = documents(&bed);

    let mut unexpected = Vec::new();
    let mut used = BTreeSet::new();
    for doc in &docs {
        let findings = lint(&bin, doc);
        println!("{} ({} {}):", doc.name, doc.linter, doc.args.join(" "));
        if findings.is_empty() {
            println!("  no findings");
        }
        for f in findings {
            let fatal = matches!(f.severity.as_str(), "ERROR" | "FATAL");
            let excepted = EXCEPTIONS
                .iter()
                .position(|(d, c, _)| *d == doc.name && *c == f.code);
            let note = match (fatal, excepted) {
                (true, Some(i)) => {
                    used.insert(i);
                    format!(" (excepted: {})", EXCEPTIONS[i].2)
                }
                (true, None) => {
                    unexpected.push(format!(
                        "{}: {} {} at {}",
                        doc.name, f.severity, f.code, f.node
                    ));
                    " (UNEXPECTED)".to_owned()
                }
                (false, _) => String::new(),
            };
            println!(
                "  {} {} at {}{}{note}",
                f.severity,
                f.code,
                f.node,
                if f.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", f.message)
                }
            );
        }
    }
    let stale: Vec<_> = EXCEPTIONS
        .iter()
        .enumerate()
        .filter(|(i, _)| !used.contains(i))
        .map(|(_, (d, c, _))| format!("{d}: {c}"))
        .collect();
    assert!(
        unexpected.is_empty(),
        "pkilint errors outside the exception list:\n{}",
        unexpected.join("\n")
    );
    assert!(
        stale.is_empty(),
        "exceptions that no longer fire (remove them):\n{}",
        stale.join("\n")
    );
}
