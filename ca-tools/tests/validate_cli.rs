//! `pki validate` end to end: the real binary on chains made by the test CA,
//! one passing and one failing case for each check, and the exit codes.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::{Issued, TestCa, LEAF_EXT};

fn pki(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pki"))
        .arg("validate")
        .args(args)
        .output()
        .expect("pki runs")
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

/// Runs `pki validate --json` and returns (exit code, parsed JSON).
fn validate(
    anchor: &Issued,
    intermediates: &[&Issued],
    leaf: &Issued,
    extra: &[&str],
) -> (i32, serde_json::Value) {
    let mut args = vec!["--json", "--anchor", p(&anchor.cert)];
    for i in intermediates {
        args.extend(["--intermediate", p(&i.cert)]);
    }
    args.extend_from_slice(extra);
    args.push(p(&leaf.cert));
    let out = pki(&args);
    let code = out.status.code().expect("exit code");
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON output ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (code, json)
}

fn error_code(json: &serde_json::Value) -> &str {
    json["error"]["code"].as_str().unwrap_or("")
}

struct Hierarchy {
    ca: TestCa,
    root: Issued,
    ica: Issued,
    leaf: Issued,
}

fn hierarchy() -> Hierarchy {
    let ca = TestCa::new();
    let root = ca.root("Root");
    let ica = ca.ca("CNIE CA", &root, "");
    let leaf = ca.leaf("citizen", &ica, LEAF_EXT);
    Hierarchy {
        ca,
        root,
        ica,
        leaf,
    }
}

#[test]
fn valid_chain_reports_path_tier_and_level() {
    let h = hierarchy();
    let (code, json) = validate(&h.root, &[&h.ica], &h.leaf, &[]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["valid"], true);
    assert_eq!(json["tier"], "offline");
    assert_eq!(json["level"], "high");
    assert_eq!(json["path"].as_array().map(Vec::len), Some(3));
    assert_eq!(json["revocation"][0]["status"], "unchecked");
}

#[test]
fn missing_intermediate_is_issuer_not_found() {
    let h = hierarchy();
    let (code, json) = validate(&h.root, &[], &h.leaf, &[]);
    assert_eq!((code, error_code(&json)), (1, "issuer_not_found"));
}

#[test]
fn validity_period_is_checked_at_the_given_time() {
    let h = hierarchy();
    let (code, json) = validate(
        &h.root,
        &[&h.ica],
        &h.leaf,
        &["--at", "2090-01-01T00:00:00Z"],
    );
    assert_eq!((code, error_code(&json)), (1, "expired"));
    let (code, json) = validate(
        &h.root,
        &[&h.ica],
        &h.leaf,
        &["--at", "2001-01-01T00:00:00Z"],
    );
    assert_eq!((code, error_code(&json)), (1, "not_yet_valid"));
}

#[test]
fn issuer_must_be_a_ca() {
    let h = hierarchy();
    let not_ca = h.ca.issue(
        "notca",
        "/C=MA/CN=Not a CA",
        Some(&h.root),
        100,
        "basicConstraints=critical,CA:FALSE\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n",
    );
    let leaf = h.ca.leaf("under-notca", &not_ca, LEAF_EXT);
    let (code, json) = validate(&h.root, &[&not_ca], &leaf, &[]);
    assert_eq!((code, error_code(&json)), (1, "not_ca"));
}

#[test]
fn path_length_constraint() {
    let h = hierarchy();
    let tight = h.ca.ca(
        "Tight",
        &h.root,
        "basicConstraints=critical,CA:TRUE,pathlen:0\n",
    );
    let sub = h.ca.ca("Sub", &tight, "");
    let leaf = h.ca.leaf("deep", &sub, LEAF_EXT);
    let (code, json) = validate(&h.root, &[&tight, &sub], &leaf, &[]);
    assert_eq!((code, error_code(&json)), (1, "path_len_exceeded"));

    let loose = h.ca.ca(
        "Loose",
        &h.root,
        "basicConstraints=critical,CA:TRUE,pathlen:1\n",
    );
    let sub2 = h.ca.ca("Sub2", &loose, "");
    let leaf2 = h.ca.leaf("deep2", &sub2, LEAF_EXT);
    let (code, json) = validate(&h.root, &[&loose, &sub2], &leaf2, &[]);
    assert_eq!(code, 0, "{json}");
}

#[test]
fn max_depth_counts_intermediates() {
    let h = hierarchy();
    let (code, json) = validate(&h.root, &[&h.ica], &h.leaf, &["--max-depth", "0"]);
    assert_eq!((code, error_code(&json)), (1, "max_depth_exceeded"));
    let (code, _) = validate(&h.root, &[&h.ica], &h.leaf, &["--max-depth", "1"]);
    assert_eq!(code, 0);
}

#[test]
fn key_usage_of_issuer_and_leaf() {
    let h = hierarchy();
    let no_certsign = h.ca.issue(
        "nocertsign",
        "/C=MA/CN=No certsign",
        Some(&h.root),
        100,
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n",
    );
    let leaf = h.ca.leaf("under-nocertsign", &no_certsign, LEAF_EXT);
    let (code, json) = validate(&h.root, &[&no_certsign], &leaf, &[]);
    assert_eq!((code, error_code(&json)), (1, "key_usage_not_allowed"));

    let enc_only = h.ca.leaf(
        "enc-only",
        &h.ica,
        &LEAF_EXT.replace(
            "keyUsage=critical,digitalSignature",
            "keyUsage=critical,keyEncipherment",
        ),
    );
    let (code, json) = validate(&h.root, &[&h.ica], &enc_only, &["--purpose", "client-auth"]);
    assert_eq!((code, error_code(&json)), (1, "key_usage_not_allowed"));
    let (code, _) = validate(&h.root, &[&h.ica], &h.leaf, &["--purpose", "client-auth"]);
    assert_eq!(code, 0);
}

#[test]
fn extended_key_usage_must_allow_the_purpose() {
    let h = hierarchy();
    let (code, json) = validate(&h.root, &[&h.ica], &h.leaf, &["--purpose", "code-signing"]);
    assert_eq!(
        (code, error_code(&json)),
        (1, "extended_key_usage_not_allowed")
    );
    let signing = h.ca.leaf(
        "signing",
        &h.ica,
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,nonRepudiation\nextendedKeyUsage=1.3.6.1.5.5.7.3.36\nsubjectAltName=email:citizen@example.ma\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n",
    );
    let (code, json) = validate(
        &h.root,
        &[&h.ica],
        &signing,
        &["--purpose", "document-signing"],
    );
    assert_eq!(code, 0, "{json}");
    let (code, json) = validate(&h.root, &[&h.ica], &signing, &["--purpose", "client-auth"]);
    assert_eq!(
        (code, error_code(&json)),
        (1, "extended_key_usage_not_allowed")
    );
}

#[test]
fn peer_name_dns_ip_and_email() {
    let h = hierarchy();
    for ok in ["citizen.example.ma", "citizen@example.ma"] {
        let (code, json) = validate(&h.root, &[&h.ica], &h.leaf, &["--peer-name", ok]);
        assert_eq!(code, 0, "{ok}: {json}");
    }
    for bad in ["other.example.ma", "other@example.ma", "192.0.2.1"] {
        let (code, json) = validate(&h.root, &[&h.ica], &h.leaf, &["--peer-name", bad]);
        assert_eq!(
            (code, error_code(&json)),
            (1, "peer_name_mismatch"),
            "{bad}"
        );
    }
    let (code, _) = validate(
        &h.root,
        &[&h.ica],
        &h.leaf,
        &[
            "--purpose",
            "server-auth",
            "--peer-name",
            "citizen.example.ma",
        ],
    );
    assert_eq!(code, 0);
}

#[test]
fn name_constraints() {
    let h = hierarchy();
    let constrained = h.ca.ca(
        "Constrained",
        &h.root,
        "nameConstraints=critical,permitted;DNS:example.ma,permitted;email:example.ma\n",
    );
    let inside = h.ca.leaf("inside", &constrained, LEAF_EXT);
    let (code, json) = validate(&h.root, &[&constrained], &inside, &[]);
    assert_eq!(code, 0, "{json}");
    let outside = h.ca.leaf(
        "outside",
        &constrained,
        &LEAF_EXT.replace("DNS:citizen.example.ma", "DNS:evil.example.com"),
    );
    let (code, json) = validate(&h.root, &[&constrained], &outside, &[]);
    assert_eq!((code, error_code(&json)), (1, "name_constraints_violated"));
}

#[test]
fn certificate_policies() {
    let h = hierarchy();
    let pol = "certificatePolicies=2.16.504.1.1\n";
    let ica = h.ca.ca("Policy CA", &h.root, pol);
    let leaf = h.ca.leaf("policy-leaf", &ica, &format!("{LEAF_EXT}{pol}"));
    let (code, json) = validate(
        &h.root,
        &[&ica],
        &leaf,
        &["--policy", "2.16.504.1.1", "--explicit-policy"],
    );
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["valid_policies"][0], "2.16.504.1.1");
    let (code, json) = validate(
        &h.root,
        &[&ica],
        &leaf,
        &["--policy", "2.16.504.9.9", "--explicit-policy"],
    );
    assert_eq!((code, error_code(&json)), (1, "policy_invalid"));
    // Without a policy extension in the path, explicit policy cannot be met.
    let (code, json) = validate(&h.root, &[&h.ica], &h.leaf, &["--explicit-policy"]);
    assert_eq!((code, error_code(&json)), (1, "policy_invalid"));
}

#[test]
fn crl_revocation_and_required_status() {
    let h = hierarchy();
    let other = h.ca.leaf("other", &h.ica, LEAF_EXT);
    let crl = h.ca.crl("cnie", &h.ica, &[(&other, "keyCompromise")], "");
    let crl_s = p(&crl);
    let (code, json) = validate(&h.root, &[&h.ica], &h.leaf, &["--crl", crl_s]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["revocation"][0]["status"], "good");
    let (code, json) = validate(&h.root, &[&h.ica], &other, &["--crl", crl_s]);
    assert_eq!((code, error_code(&json)), (1, "revoked"));
    assert!(json["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("keyCompromise"));

    // The intermediate has no CRL from the root: unchecked, unless required.
    let (code, json) = validate(
        &h.root,
        &[&h.ica],
        &h.leaf,
        &["--crl", crl_s, "--require-revocation"],
    );
    assert_eq!(
        (code, error_code(&json)),
        (1, "revocation_status_unavailable")
    );
    assert_eq!(json["error"]["certificate_index"], 1);
    let root_crl = h.ca.crl("root", &h.root, &[], "");
    let (code, json) = validate(
        &h.root,
        &[&h.ica],
        &h.leaf,
        &[
            "--crl",
            crl_s,
            "--crl",
            p(&root_crl),
            "--require-revocation",
        ],
    );
    assert_eq!(code, 0, "{json}");
}

#[test]
fn unknown_critical_extension_is_rejected() {
    let h = hierarchy();
    let odd = h.ca.leaf(
        "odd",
        &h.ica,
        &format!("{LEAF_EXT}1.3.6.1.4.1.55738.666.1=critical,ASN1:NULL\n"),
    );
    let (code, json) = validate(&h.root, &[&h.ica], &odd, &[]);
    assert_eq!((code, error_code(&json)), (1, "unknown_critical_extension"));
}

#[test]
fn algorithm_policy_legacy_admits_sha1_and_says_so() {
    let h = hierarchy();
    let sha1 =
        h.ca.issue_md("sha1", "/C=MA/CN=old", Some(&h.ica), 100, LEAF_EXT, "-sha1");
    let (code, json) = validate(&h.root, &[&h.ica], &sha1, &[]);
    assert_eq!(
        (code, error_code(&json)),
        (1, "unsupported_signature_algorithm")
    );
    let (code, json) = validate(&h.root, &[&h.ica], &sha1, &["--algorithm-policy", "legacy"]);
    assert_eq!(code, 0, "{json}");
    assert!(
        json["legacy_algorithms"][0]
            .as_str()
            .unwrap_or("")
            .contains("sha1WithRSAEncryption")
            || json["legacy_algorithms"][0]
                .as_str()
                .unwrap_or("")
                .contains("ecdsa-with-SHA1"),
        "{json}"
    );
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let h = hierarchy();
    let garbage = h.ca.path("garbage.pem");
    std::fs::write(&garbage, b"not a certificate").expect("write");
    for args in [
        vec!["--anchor", p(&h.root.cert), "/nonexistent/leaf.pem"],
        vec!["--anchor", p(&h.root.cert), p(&garbage)],
        vec!["--anchor", p(&garbage), p(&h.leaf.cert)],
        vec![
            "--anchor",
            p(&h.root.cert),
            "--at",
            "yesterday",
            p(&h.leaf.cert),
        ],
        vec![
            "--anchor",
            p(&h.root.cert),
            "--policy",
            "not-an-oid",
            p(&h.leaf.cert),
        ],
    ] {
        let out = pki(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("pki validate: bad input:"), "{stderr}");
    }
}

/// Fixtures from pki-core's Rust test CA (for CRL features openssl's `ca`
/// cannot produce: separate signers, deltas, holds released by a delta).
mod rust_ca {
    use std::path::PathBuf;

    use pki_core::builder::KeyUsageSpec;
    use pki_core::revocation::RevocationReason;
    use pki_core::testing::{utc, TestCa};
    use x509_cert::ext::pkix::KeyUsages;

    pub struct Files {
        pub dir: tempfile::TempDir,
        pub root: TestCa,
        pub sub: TestCa,
        pub leaf: TestCa,
    }

    impl Files {
        pub fn new() -> Self {
            let root = TestCa::root("CN=CLI CRL Root,C=MA");
            let sub = root.intermediate("CN=CLI CRL Sub,C=MA", |_| {});
            let leaf = sub.leaf("CN=leaf.example.ma", |_| {});
            Self {
                dir: tempfile::tempdir().expect("temp dir"),
                root,
                sub,
                leaf,
            }
        }

        pub fn write(&self, name: &str, bytes: &[u8]) -> String {
            let path: PathBuf = self.dir.path().join(name);
            std::fs::write(&path, bytes).expect("write fixture");
            path.to_str().expect("utf-8 temp path").to_owned()
        }

        pub fn cert(&self, name: &str, ca: &TestCa) -> String {
            self.write(name, ca.cert_pem().as_bytes())
        }

        /// A CRL-signing certificate under the sub CA's name, issued by the root.
        pub fn crl_signer(&self) -> TestCa {
            self.root.leaf("CN=CLI CRL Sub,C=MA", |t| {
                t.key_usage = Some(KeyUsageSpec::new(KeyUsages::CRLSign));
                t.extended_key_usage.clear();
            })
        }

        pub fn crl(
            &self,
            ca: &TestCa,
            number: u64,
            delta_of: Option<u64>,
            revoke: Option<RevocationReason>,
        ) -> Vec<u8> {
            ca.crl(|t| {
                t.crl_number = Some(number);
                t.delta_crl_indicator = delta_of;
                t.this_update = utc(2025, 1, 1);
                t.next_update = Some(utc(2030, 1, 1));
                if let Some(r) = revoke {
                    t.revoked.push(self.leaf.revocation().with_reason(r));
                }
            })
        }
    }
}

fn run_json(args: &[&str]) -> (i32, serde_json::Value) {
    let mut all = vec!["--json", "--at", "2026-01-01T00:00:00Z"];
    all.extend_from_slice(args);
    let out = pki(&all);
    let json = serde_json::from_slice(&out.stdout).expect("JSON output");
    (out.status.code().expect("exit code"), json)
}

#[test]
fn crl_from_a_separate_signer_given_as_intermediate() {
    use pki_core::revocation::RevocationReason;
    let f = rust_ca::Files::new();
    let (root, sub, leaf) = (
        f.cert("root.pem", &f.root),
        f.cert("sub.pem", &f.sub),
        f.cert("leaf.pem", &f.leaf),
    );
    let signer = f.crl_signer();
    let signer_pem = f.cert("signer.pem", &signer);
    let crl = f.write(
        "signer.crl",
        &f.crl(&signer, 3, None, Some(RevocationReason::KeyCompromise)),
    );
    let root_crl = f.write("root.crl", &f.crl(&f.root, 1, None, None));
    let base = [
        "--anchor",
        &root,
        "--intermediate",
        &sub,
        "--crl",
        &crl,
        "--crl",
        &root_crl,
        "--require-revocation",
    ];
    // Without the signer's certificate the CRL cannot be used.
    let mut args = base.to_vec();
    args.push(&leaf);
    let (code, json) = run_json(&args);
    assert_eq!(
        (code, error_code(&json)),
        (1, "revocation_status_unavailable"),
        "{json}"
    );
    let mut args = base.to_vec();
    args.extend(["--intermediate", &signer_pem, &leaf]);
    let (code, json) = run_json(&args);
    assert_eq!((code, error_code(&json)), (1, "revoked"), "{json}");
    assert_eq!(json["error"]["reason"], "keyCompromise");
    assert_eq!(json["error"]["on_hold"], false);
}

#[test]
fn delta_crl_and_deciding_crl_in_json() {
    use pki_core::revocation::RevocationReason;
    let f = rust_ca::Files::new();
    let (root, sub, leaf) = (
        f.cert("root.pem", &f.root),
        f.cert("sub.pem", &f.sub),
        f.cert("leaf.pem", &f.leaf),
    );
    let root_crl = f.write("root.crl", &f.crl(&f.root, 1, None, None));
    let base = f.write(
        "base.crl",
        &f.crl(&f.sub, 10, None, Some(RevocationReason::CertificateHold)),
    );
    let release = f.write(
        "release.crl",
        &f.crl(&f.sub, 11, Some(10), Some(RevocationReason::RemoveFromCrl)),
    );
    // On hold with the base alone.
    let (code, json) = run_json(&[
        "--anchor",
        &root,
        "--intermediate",
        &sub,
        "--crl",
        &base,
        "--crl",
        &root_crl,
        &leaf,
    ]);
    assert_eq!((code, error_code(&json)), (1, "revoked"), "{json}");
    assert_eq!(json["error"]["on_hold"], true);
    // Released by the delta, which is named as the deciding CRL.
    let (code, json) = run_json(&[
        "--anchor",
        &root,
        "--intermediate",
        &sub,
        "--crl",
        &base,
        "--crl",
        &release,
        "--crl",
        &root_crl,
        "--require-revocation",
        &leaf,
    ]);
    assert_eq!(code, 0, "{json}");
    let leaf_status = &json["revocation"][0];
    assert_eq!(leaf_status["status"], "good");
    assert_eq!(leaf_status["source"]["file"], release.as_str());
    assert_eq!(leaf_status["source"]["delta"], true);
    assert_eq!(leaf_status["source"]["crl_number"], "0b");
    assert_eq!(json["revocation"][1]["source"]["file"], root_crl.as_str());
}

/// Issuance-profile rules are findings under `--profile rfc5280` (exit 0,
/// each citing its rule) and errors under `--profile strict` (exit 1).
#[test]
fn profile_findings_and_strict_errors() {
    use pki_core::builder::PolicyConstraintsSpec;
    let f = rust_ca::Files::new();
    let sub = f.root.intermediate("CN=CLI TTP CA,C=MA", |t| {
        t.policy_constraints = Some(PolicyConstraintsSpec {
            require_explicit_policy: Some(4),
            inhibit_policy_mapping: None,
        });
        t.critical_overrides
            .push((pki_core::oid::CE_POLICY_CONSTRAINTS, false));
    });
    let leaf = sub.leaf("CN=ee.tiers.ma", |_| {});
    let (root, sub, leaf) = (
        f.cert("root.pem", &f.root),
        f.cert("ttp.pem", &sub),
        f.cert("ee.pem", &leaf),
    );
    let base = ["--anchor", &root, "--intermediate", &sub];
    let (code, json) = run_json(&[&base[..], &["--profile", "rfc5280", &leaf]].concat());
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["profile"], "rfc5280");
    assert_eq!(json["findings"][0]["rule"], "RFC 5280 4.2.1.11", "{json}");
    assert_eq!(json["findings"][0]["index"], 1);
    // The default for purpose any is rfc5280.
    let (code, _) = run_json(&[&base[..], &[&leaf]].concat());
    assert_eq!(code, 0);
    let (code, json) = run_json(&[&base[..], &["--profile", "strict", &leaf]].concat());
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["error"]["code"], "bad_extension");
    assert_eq!(json["error"]["certificate_index"], 1);
}

/// An intermediate or CRL that cannot be used is a verdict naming the file
/// (exit 1); only the target certificate and the anchors are bad input.
#[test]
fn unusable_intermediate_or_crl_is_a_verdict() {
    let f = rust_ca::Files::new();
    let (root, sub, leaf) = (
        f.cert("root.pem", &f.root),
        f.cert("sub.pem", &f.sub),
        f.cert("leaf.pem", &f.leaf),
    );
    let junk = f.write(
        "junk.pem",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    for extra in [["--intermediate", junk.as_str()], ["--crl", junk.as_str()]] {
        let args = [
            &["--anchor", &root, "--intermediate", &sub][..],
            &extra[..],
            &[&leaf],
        ]
        .concat();
        let (code, json) = run_json(&args);
        assert_eq!(code, 1, "{json}");
        assert_eq!(json["error"]["code"], "unusable_input");
        assert_eq!(json["unusable_inputs"][0]["file"], junk.as_str(), "{json}");
        let out = pki(&args[..]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("junk.pem"), "{stderr}");
    }
    // The same chain without the junk file is valid.
    let (code, json) = run_json(&["--anchor", &root, "--intermediate", &sub, &leaf]);
    assert_eq!(code, 0, "{json}");
}

/// `pki validate --json` into a reader that is already gone ends quietly
/// with the verdict's exit status instead of panicking on the broken pipe
/// (exit 101).
#[test]
fn validate_into_a_closed_pipe_keeps_the_verdict() {
    use std::process::Stdio;
    let f = rust_ca::Files::new();
    let (root, sub, leaf) = (
        f.cert("root.pem", &f.root),
        f.cert("sub.pem", &f.sub),
        f.cert("leaf.pem", &f.leaf),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_pki"))
        .args(["validate", "--json", "--at", "2026-01-01T00:00:00Z"])
        .args(["--anchor", &root, "--intermediate", &sub, &leaf])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pki runs");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("pki ends");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
