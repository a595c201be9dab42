//! x509-limbo conformance suite (C2SP), run as an ordinary test.
//!
//! Reads `../shared/conformance/limbo/limbo.json.zst` (relative to the
//! workspace root), validates every test case with pki-core and compares the
//! verdict with the expected one. Cases listed in `tests/limbo-exceptions.txt`
//! (one id per line, `#` comments give the reason) are allowed to disagree,
//! but only in the direction of rejecting: an expected FAILURE that we accept
//! is never excused.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use pki_core::crl::{Crl, CrlSet};
use pki_core::name::PeerName;
use pki_core::path::PolicyInputs;
use pki_core::{
    AlgorithmPolicy, AssuranceLevel, Cert, Purpose, Tier, TrustStore, UnixTime, ValidationOptions,
    Validator,
};
use serde::Deserialize;
use x509_cert::ext::pkix::KeyUsages;

#[derive(Deserialize)]
struct Limbo {
    testcases: Vec<Case>,
}

#[derive(Deserialize)]
struct PeerNameJson {
    kind: String,
    value: String,
}

#[derive(Deserialize)]
struct Case {
    id: String,
    validation_kind: String,
    trusted_certs: Vec<String>,
    untrusted_intermediates: Vec<String>,
    peer_certificate: String,
    validation_time: Option<String>,
    key_usage: Vec<String>,
    extended_key_usage: Vec<String>,
    expected_result: String,
    expected_peer_name: Option<PeerNameJson>,
    max_chain_depth: Option<usize>,
    crls: Vec<String>,
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn key_usage(name: &str) -> Option<KeyUsages> {
    Some(match name {
        "digitalSignature" => KeyUsages::DigitalSignature,
        "contentCommitment" | "nonRepudiation" => KeyUsages::NonRepudiation,
        "keyEncipherment" => KeyUsages::KeyEncipherment,
        "dataEncipherment" => KeyUsages::DataEncipherment,
        "keyAgreement" => KeyUsages::KeyAgreement,
        "keyCertSign" => KeyUsages::KeyCertSign,
        "cRLSign" => KeyUsages::CRLSign,
        "encipherOnly" => KeyUsages::EncipherOnly,
        "decipherOnly" => KeyUsages::DecipherOnly,
        _ => return None,
    })
}

/// Runs one case; `Ok(())` when the chain validates, `Err(reason)` otherwise.
fn run(case: &Case) -> Result<(), String> {
    let mut trust = TrustStore::new();
    trust
        .add_tier(Tier::new("limbo", AssuranceLevel::High))
        .map_err(|e| e.to_string())?;
    for pem in &case.trusted_certs {
        // An anchor we cannot decode is not trusted (it could not anchor anything).
        if let Ok(certs) = Cert::parse_many(pem.as_bytes()) {
            for c in certs {
                let _ = trust.add_anchor("limbo", Arc::new(c));
            }
        }
    }
    let intermediates: Vec<Arc<Cert>> = case
        .untrusted_intermediates
        .iter()
        .filter_map(|p| Cert::parse_many(p.as_bytes()).ok())
        .flatten()
        .map(Arc::new)
        .collect();
    let leaf = Arc::new(
        Cert::parse_many(case.peer_certificate.as_bytes())
            .map_err(|e| format!("leaf: {e}"))?
            .pop()
            .ok_or("leaf: empty")?,
    );
    let time = match &case.validation_time {
        Some(t) => UnixTime::parse_rfc3339(t).map_err(|e| e.to_string())?,
        None => UnixTime::now(),
    };
    let mut opts = ValidationOptions::at(time);
    opts.policy = PolicyInputs::default();
    opts.algorithm_policy = AlgorithmPolicy::Default;
    if let Some(d) = case.max_chain_depth {
        opts.max_intermediates = d;
    }
    opts.profile = Some(pki_core::path::Profile::Strict);
    opts.purpose = match case.extended_key_usage.first().map(String::as_str) {
        None if case.validation_kind == "SERVER" => Purpose::ServerAuth,
        None => Purpose::Any,
        Some("serverAuth") => Purpose::ServerAuth,
        Some("clientAuth") => Purpose::ClientAuth,
        Some("codeSigning") => Purpose::CodeSigning,
        Some("emailProtection") => Purpose::Email,
        Some("OCSPSigning") => Purpose::OcspSigning,
        Some(other) => return Err(format!("unsupported EKU in harness: {other}")),
    };
    for ku in &case.key_usage {
        opts.required_key_usage
            .push(key_usage(ku).ok_or_else(|| format!("unknown key usage {ku}"))?);
    }
    if let Some(p) = &case.expected_peer_name {
        let name = match p.kind.as_str() {
            "DNS" | "IP" | "RFC822" => PeerName::parse(&p.value).map_err(|e| e.to_string())?,
            other => return Err(format!("unknown peer name kind {other}")),
        };
        opts.peer_name = Some(name);
    }
    let crl_set;
    if !case.crls.is_empty() {
        let mut crls = Vec::new();
        for pem in &case.crls {
            // A CRL we cannot decode decides nothing; with revocation
            // required the affected certificate then fails.
            if let Ok(list) = Crl::parse_many(pem.as_bytes()) {
                crls.extend(list.into_iter().map(Arc::new));
            }
        }
        // As `pki validate` does: the intermediates may also sign CRLs.
        crl_set = CrlSet::new(crls, opts.algorithm_policy).with_signers(intermediates.clone());
        opts.revocation = Some(&crl_set);
        opts.require_revocation = true;
    }
    let validator = Validator::new(trust);
    validator
        .validate(&leaf, &intermediates, &opts)
        .map(|_| ())
        .map_err(|e| format!("{} ({})", e, e.code()))
}

fn load_exceptions() -> HashMap<String, String> {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/limbo-exceptions.txt"),
    )
    .expect("tests/limbo-exceptions.txt is committed");
    let mut out = HashMap::new();
    let mut reason = String::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(c) = line.strip_prefix('#') {
            c.trim().clone_into(&mut reason);
        } else if !line.is_empty() {
            let (id, why) = match line.split_once(char::is_whitespace) {
                Some((id, why)) => (id, why.trim().trim_start_matches('#').trim().to_owned()),
                None => (line, reason.clone()),
            };
            out.insert(id.to_owned(), why);
        }
    }
    out
}

#[test]
fn x509_limbo() {
    let path = workspace_root().join("../shared/conformance/limbo/limbo.json.zst");
    let file = std::fs::File::open(&path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let json = zstd::decode_all(file).expect("limbo.json.zst decompresses");
    let limbo: Limbo = serde_json::from_slice(&json).expect("limbo.json parses");
    let exceptions = load_exceptions();

    let (mut passed, mut excepted) = (0usize, 0usize);
    let mut failures = Vec::new();
    let mut stale_exceptions = Vec::new();
    let mut false_accepts = Vec::new();
    for case in &limbo.testcases {
        let expect_ok = case.expected_result == "SUCCESS";
        let outcome = run(case);
        let agree = outcome.is_ok() == expect_ok;
        if agree {
            passed += 1;
            if exceptions.contains_key(&case.id) {
                stale_exceptions.push(case.id.clone());
            }
        } else if outcome.is_ok() {
            false_accepts.push(case.id.clone());
        } else if exceptions.contains_key(&case.id) {
            excepted += 1;
        } else {
            failures.push(format!(
                "{}: expected SUCCESS, got {}",
                case.id,
                outcome.unwrap_err()
            ));
        }
    }
    let failed = failures.len() + false_accepts.len();
    for f in &failures {
        eprintln!("DISAGREE {f}");
    }
    for f in &false_accepts {
        eprintln!("FALSE ACCEPT {f}: limbo expects FAILURE");
    }
    for s in &stale_exceptions {
        eprintln!("note: exception no longer needed: {s}");
    }
    let total = limbo.testcases.len();
    println!("limbo: {passed} passed, {failed} failed, {excepted} excepted ({total} cases, {:.2}% agreement)", 100.0 * passed as f64 / total as f64);
    assert!(
        false_accepts.is_empty(),
        "{} false accepts",
        false_accepts.len()
    );
    assert!(
        failures.is_empty(),
        "{} cases disagree outside the exceptions list",
        failures.len()
    );
}
