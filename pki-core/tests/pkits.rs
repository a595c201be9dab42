//! NIST PKITS 1.0.1 (the RFC 5280 relying-party suite), run as an ordinary
//! test under the `rfc5280` profile with revocation required.
//!
//! Reads `../shared/conformance/pkits/manifest.json` (relative to the
//! workspace root): 249 cases, each with its anchor, path, extra
//! certificates (CRL signers, rollover and indirect-CRL CAs, offered as
//! untrusted candidates), CRLs and RFC 5280 6.1.1 policy inputs. Cases listed
//! in `tests/pkits-exceptions.txt` (`id  # reason`) may disagree, only in the
//! direction of rejecting; an excepted case that now agrees, or an id that
//! is not in the manifest or expects a rejection, fails the test.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use const_oid::ObjectIdentifier;
use pki_core::crl::{Crl, CrlSet};
use pki_core::path::{PolicyInputs, Profile};
use pki_core::{
    AlgorithmPolicy, AssuranceLevel, Cert, Purpose, Tier, TrustStore, UnixTime, ValidationOptions,
    Validator,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    id: String,
    name: String,
    trust_anchor: String,
    intermediates: Vec<String>,
    leaf: String,
    extra_certs: Vec<String>,
    crls: Vec<String>,
    expected: String,
    user_initial_policy_set: Option<Vec<String>>,
    initial_explicit_policy: bool,
    initial_policy_mapping_inhibit: bool,
    initial_inhibit_any_policy: bool,
    expected_user_constrained_policy_set: Option<Vec<String>>,
}

fn suite_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/pkits")
}

fn read(dir: &Path, rel: &str) -> Vec<u8> {
    std::fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
}

fn oid(s: &str) -> ObjectIdentifier {
    ObjectIdentifier::new(s).unwrap_or_else(|e| panic!("manifest OID {s}: {e}"))
}

/// What a case came to: valid with its user-constrained policy set, or the
/// reason it is not.
type Verdict = Result<Vec<ObjectIdentifier>, String>;

fn run(dir: &Path, case: &Case) -> Verdict {
    run_with(dir, case, AlgorithmPolicy::Legacy, None)
}

/// Runs a case with an algorithm policy, and with `tamper` applied to the
/// leaf's DER.
fn run_with(
    dir: &Path,
    case: &Case,
    algorithms: AlgorithmPolicy,
    tamper: Option<fn(&mut Vec<u8>)>,
) -> Verdict {
    let mut trust = TrustStore::new();
    trust
        .add_tier(Tier::new("pkits", AssuranceLevel::Substantial))
        .expect("new tier");
    let anchor = Cert::from_der(&read(dir, &case.trust_anchor)).expect("the PKITS anchor decodes");
    trust.add_anchor("pkits", Arc::new(anchor)).expect("anchor");
    // A certificate that does not decode cannot be part of a path: the
    // case's verdict then comes from the path (or its absence).
    let decode = |rel: &String| Cert::from_der(&read(dir, rel)).ok().map(Arc::new);
    let mut pool: Vec<Arc<Cert>> = case.intermediates.iter().filter_map(decode).collect();
    pool.extend(case.extra_certs.iter().filter_map(decode));
    let mut leaf_der = read(dir, &case.leaf);
    if let Some(f) = tamper {
        f(&mut leaf_der);
    }
    let leaf = Arc::new(Cert::from_der(&leaf_der).map_err(|e| format!("leaf: {e}"))?);
    let crls: Vec<Arc<Crl>> = case
        .crls
        .iter()
        .filter_map(|rel| Crl::from_der(&read(dir, rel)).ok().map(Arc::new))
        .collect();
    let crl_set = CrlSet::new(crls, algorithms).with_signers(pool.clone());

    // PKITS: "any time between 2011-01-01 and 2030-12-31 gives the same results".
    let mut opts =
        ValidationOptions::at(UnixTime::parse_rfc3339("2011-04-15T00:00:00Z").expect("RFC 3339"));
    opts.purpose = Purpose::Any;
    opts.profile = Some(Profile::Rfc5280);
    // PKITS is signed with SHA-1 and RSA-1024 (2001-era material).
    opts.algorithm_policy = algorithms;
    opts.policy = PolicyInputs {
        initial_policy_set: case
            .user_initial_policy_set
            .iter()
            .flatten()
            .map(|s| oid(s))
            .collect(),
        initial_explicit_policy: case.initial_explicit_policy,
        initial_policy_mapping_inhibit: case.initial_policy_mapping_inhibit,
        initial_any_policy_inhibit: case.initial_inhibit_any_policy,
    };
    opts.revocation = Some(&crl_set);
    opts.require_revocation = true;
    let validator = Validator::new(trust);
    let path = validator
        .validate(&leaf, &pool, &opts)
        .map_err(|e| format!("{e} ({})", e.code()))?;
    let mut set = path.policies.valid_policies.clone();
    if path.policies.any_policy {
        set.push(const_oid::db::rfc5280::ANY_POLICY);
    }
    Ok(set)
}

fn load_exceptions() -> HashMap<String, String> {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pkits-exceptions.txt"),
    )
    .expect("tests/pkits-exceptions.txt is committed");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once('#') {
            Some((id, why)) => (id.trim().to_owned(), why.trim().to_owned()),
            None => (l.to_owned(), String::new()),
        })
        .collect()
}

#[test]
fn nist_pkits() {
    let dir = suite_dir();
    let manifest = std::fs::read(dir.join("manifest.json"))
        .unwrap_or_else(|e| panic!("cannot read {}/manifest.json: {e}", dir.display()));
    let cases: Vec<Case> = serde_json::from_slice(&manifest).expect("manifest.json parses");
    assert_eq!(cases.len(), 249, "PKITS 1.0.1 has 249 cases");
    let exceptions = load_exceptions();

    let mut problems = Vec::new();
    for (id, why) in &exceptions {
        match cases.iter().find(|c| &c.id == id) {
            None => problems.push(format!("exception {id} is not a PKITS case")),
            Some(c) if c.expected != "valid" => problems.push(format!(
                "exception {id} expects a rejection: a false accept is never excused"
            )),
            Some(_) if why.is_empty() => problems.push(format!("exception {id} has no reason")),
            Some(_) => {}
        }
    }
    let (mut passed, mut excepted) = (0usize, 0usize);
    for case in &cases {
        let expect_valid = case.expected == "valid";
        let verdict = run(&dir, case);
        let agree = verdict.is_ok() == expect_valid;
        match (&verdict, agree, exceptions.contains_key(&case.id)) {
            (Ok(set), true, false) => {
                // RFC 5280 6.1.6: the user-constrained policy set, where PKITS gives it.
                let want: Option<Vec<ObjectIdentifier>> = case
                    .expected_user_constrained_policy_set
                    .as_ref()
                    .map(|v| v.iter().map(|s| oid(s)).collect());
                match want {
                    Some(mut want) if !want.is_empty() => {
                        let mut got = set.clone();
                        got.sort();
                        want.sort();
                        if got == want {
                            passed += 1;
                        } else {
                            problems.push(format!(
                                "{} {}: user-constrained policy set {got:?}, PKITS expects {want:?}",
                                case.id, case.name
                            ));
                        }
                    }
                    _ => passed += 1,
                }
            }
            (_, true, false) => passed += 1,
            (_, true, true) => problems.push(format!(
                "{} {}: listed as an exception but now agrees with PKITS",
                case.id, case.name
            )),
            (Ok(_), false, _) => problems.push(format!(
                "FALSE ACCEPT {} {}: PKITS expects invalid",
                case.id, case.name
            )),
            (Err(_), false, true) => excepted += 1,
            (Err(e), false, false) => problems.push(format!(
                "{} {}: PKITS expects valid, got {e}",
                case.id, case.name
            )),
        }
    }
    for p in &problems {
        eprintln!("{p}");
    }
    println!(
        "pkits: {passed} passed, {} failed, {excepted} excepted ({} cases)",
        cases.len() - passed - excepted,
        cases.len()
    );
    assert!(problems.is_empty(), "{} PKITS problems", problems.len());
}

/// DSA (PKITS 4.1.4, 4.1.5 with parameter inheritance) validates under the
/// legacy algorithm policy only, and a DSA signature is really checked.
#[test]
fn dsa_needs_the_legacy_policy_and_a_good_signature() {
    let dir = suite_dir();
    let manifest = std::fs::read(dir.join("manifest.json")).expect("manifest");
    let cases: Vec<Case> = serde_json::from_slice(&manifest).expect("manifest.json parses");
    for id in ["4.1.4", "4.1.5"] {
        let case = cases.iter().find(|c| c.id == id).expect("DSA case");
        run_with(&dir, case, AlgorithmPolicy::Legacy, None)
            .unwrap_or_else(|e| panic!("{id} under legacy: {e}"));
        let e =
            run_with(&dir, case, AlgorithmPolicy::Default, None).expect_err("DSA is legacy only");
        assert!(e.contains("legacy") || e.contains("DSA"), "{id}: {e}");
        // Flip one bit of the signature (the last octet of the DER).
        let e = run_with(
            &dir,
            case,
            AlgorithmPolicy::Legacy,
            Some(|der: &mut Vec<u8>| {
                if let Some(b) = der.last_mut() {
                    *b ^= 1;
                }
            }),
        )
        .expect_err("a tampered DSA signature");
        assert!(e.contains("signature_invalid"), "{id}: {e}");
    }
}
