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
    #[serde(default)]
    expected_peer_names: Vec<PeerNameJson>,
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

/// What the harness made of a case.
enum Outcome {
    /// The validator accepted the chain (for every expected peer name).
    Valid,
    /// The validator refused it, with its reason.
    Invalid(String),
    /// The harness could not express the case (an EKU, key usage or peer
    /// name form it does not map): never counted as a correct rejection.
    Unsupported(String),
}

fn peer_name(p: &PeerNameJson) -> Result<PeerName, String> {
    match p.kind.as_str() {
        "DNS" | "IP" | "RFC822" => {
            PeerName::parse(&p.value).map_err(|e| format!("peer name {:?}: {e}", p.value))
        }
        other => Err(format!("unknown peer name kind {other}")),
    }
}

/// Runs one case: with `expected_peer_name`, or once per name of
/// `expected_peer_names` (valid only if valid for all of them).
fn run(case: &Case) -> Outcome {
    let mut names: Vec<Option<&PeerNameJson>> = case.expected_peer_names.iter().map(Some).collect();
    if names.is_empty() {
        names.push(case.expected_peer_name.as_ref());
    }
    for name in names {
        let peer = match name.map(peer_name).transpose() {
            Ok(p) => p,
            // A name the validator's own parser refuses (not a host name,
            // address or mailbox) in a case limbo expects to fail: that
            // refusal must not count as the chain's rejection, so the
            // chain is judged without the name and must fail on its own.
            // In a case expected to succeed the harness cannot run it.
            Err(_) if case.expected_result == "FAILURE" => None,
            Err(e) => return Outcome::Unsupported(e),
        };
        match run_one(case, peer) {
            Ok(Ok(())) => {}
            Ok(Err(reason)) => return Outcome::Invalid(reason),
            Err(unsupported) => return Outcome::Unsupported(unsupported),
        }
    }
    Outcome::Valid
}

/// One validation: `Ok(Ok(()))` valid, `Ok(Err(reason))` refused by the
/// validator, `Err` when the harness cannot express the case.
fn run_one(case: &Case, peer: Option<PeerName>) -> Result<Result<(), String>, String> {
    let mut trust = TrustStore::new();
    trust
        .add_tier(Tier::new("limbo", AssuranceLevel::High))
        .map_err(|e| e.to_string())?;
    let leaf = match Cert::parse_many(case.peer_certificate.as_bytes()) {
        Ok(mut v) if v.len() == 1 => Arc::new(v.remove(0)),
        Ok(v) => return Err(format!("leaf: {} certificates", v.len())),
        // A leaf that does not decode is a rejection by the validator.
        Err(e) => return Ok(Err(format!("leaf: {e} ({})", e.code()))),
    };
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
    opts.peer_name = peer;
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
    Ok(validator
        .validate(&leaf, &intermediates, &opts)
        .map(|_| ())
        .map_err(|e| format!("{} ({})", e, e.code())))
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

    // Every exception names a case that exists and expects SUCCESS (a
    // false accept is never excused).
    let mut bad_exceptions = Vec::new();
    for id in exceptions.keys() {
        match limbo.testcases.iter().find(|c| &c.id == id) {
            None => bad_exceptions.push(format!("exception {id} is not a limbo case")),
            Some(c) if c.expected_result != "SUCCESS" => bad_exceptions.push(format!(
                "exception {id}: limbo expects {}, only SUCCESS cases may be excepted",
                c.expected_result
            )),
            Some(_) => {}
        }
    }

    let (mut passed, mut excepted) = (0usize, 0usize);
    let mut failures = Vec::new();
    let mut stale_exceptions = Vec::new();
    let mut false_accepts = Vec::new();
    let mut unsupported = Vec::new();
    for case in &limbo.testcases {
        let expect_ok = case.expected_result == "SUCCESS";
        let outcome = match run(case) {
            Outcome::Unsupported(why) => {
                unsupported.push(format!("{}: harness cannot run it: {why}", case.id));
                continue;
            }
            Outcome::Valid => Ok(()),
            Outcome::Invalid(reason) => Err(reason),
        };
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
    let failed = failures.len() + false_accepts.len() + unsupported.len();
    for f in &failures {
        eprintln!("DISAGREE {f}");
    }
    for f in &false_accepts {
        eprintln!("FALSE ACCEPT {f}: limbo expects FAILURE");
    }
    for s in &stale_exceptions {
        eprintln!("STALE EXCEPTION {s}: the case now agrees with limbo");
    }
    for u in unsupported.iter().chain(&bad_exceptions) {
        eprintln!("HARNESS {u}");
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
    assert!(
        stale_exceptions.is_empty() && bad_exceptions.is_empty(),
        "exceptions list out of date: {stale_exceptions:?} {bad_exceptions:?}"
    );
    assert!(
        unsupported.is_empty(),
        "{} cases the harness cannot run",
        unsupported.len()
    );
}
