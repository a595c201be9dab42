//! Certificate decoding plus path validation: the input is a leaf followed
//! by candidate issuers, concatenated DER; every part goes through
//! `Cert::from_der`, and the first one that decodes is validated against
//! the fixture root with the fixture CA among the candidates, for three
//! purposes and peer names.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use pki_core::cache::VerifiedEdgeCache;
use pki_core::name::PeerName;
use pki_core::path::PolicyInputs;
use pki_core::{Cert, Purpose, ValidationOptions, Validator};
use pki_fuzz::{fixtures, split_der, TIME};

/// Reads what a report about the certificate reads.
fn inspect(cert: &Cert) {
    let _ = cert.subject_string();
    let _ = cert.issuer_string();
    let _ = cert.public_key();
    let _ = cert.signature_algorithm();
    let _ = cert.serial_problem();
    let _ = cert.is_ca();
    let _ = pki_core::ocsp::verify::responder_urls(cert);
}

fuzz_target!(|data: &[u8]| {
    let f = fixtures();
    let mut certs = Vec::new();
    for part in split_der(data) {
        if let Ok(cert) = Cert::from_der(part) {
            inspect(&cert);
            certs.push(Arc::new(cert));
        }
    }
    if certs.is_empty() {
        return;
    }
    let leaf = certs.remove(0);
    certs.push(f.ca.clone());
    // A fresh edge cache per input: a crash must not depend on the inputs
    // before it.
    let validator = Validator::with_cache(f.trust.clone(), VerifiedEdgeCache::new(64));
    let runs = [
        (Purpose::Any, None, PolicyInputs::default()),
        (
            Purpose::ServerAuth,
            Some("fuzz.example.ma"),
            PolicyInputs {
                initial_policy_set: vec!["2.16.504.99.1.1".parse().expect("OID")],
                initial_explicit_policy: true,
                initial_policy_mapping_inhibit: false,
                initial_any_policy_inhibit: true,
            },
        ),
        (
            Purpose::Email,
            Some("user@example.ma"),
            PolicyInputs::default(),
        ),
    ];
    for (purpose, peer, policy) in runs {
        let mut opts = ValidationOptions::at(TIME);
        opts.purpose = purpose;
        opts.peer_name = peer.map(|p| PeerName::parse(p).expect("fixed peer name"));
        opts.policy = policy;
        if let Ok(path) = validator.validate(&leaf, &certs, &opts) {
            let _ = path.reusable_until(TIME, Some(3600), 86_400);
            let _ = path.earliest_not_after();
        }
    }
});
