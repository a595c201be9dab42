//! CRL decoding plus the serial index and the RFC 5280 6.3 rules: the input
//! is one DER CRL. It is looked up by the fixture serials, checked against
//! the fixture CA's key, and then decides the status of the fixture leaves
//! in a path validation (the root's fixture CRL covers the CA).
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use pki_core::cache::VerifiedEdgeCache;
use pki_core::crl::{Crl, CrlSet};
use pki_core::{AlgorithmPolicy, ValidationOptions, Validator};
use pki_fuzz::{fixtures, TIME};

fuzz_target!(|data: &[u8]| {
    let f = fixtures();
    let Ok(crl) = Crl::from_der(data) else {
        return;
    };
    let _ = crl.number();
    let _ = crl.is_delta();
    let _ = crl.scope_der();
    let _ = crl.unknown_critical();
    let _ = crl.index_heap_bytes();
    for cert in [&f.leaf, &f.revoked, &f.ca] {
        let _ = crl.lookup(cert.serial());
        let _ = crl.entry_for(cert);
        let _ = crl.issued_by_crl_issuer(cert);
    }
    let _ = crl.lookup(&[]);
    let _ = crl.lookup(&[0x01, 0x02, 0x03]);
    let _ = crl.verify_signed_by(&f.ca, AlgorithmPolicy::Default);

    let root_crl = Crl::from_der(&f.root_crl).expect("fixture CRL decodes");
    let set = CrlSet::new(
        vec![Arc::new(crl), Arc::new(root_crl)],
        AlgorithmPolicy::Default,
    );
    let validator = Validator::with_cache(f.trust.clone(), VerifiedEdgeCache::new(64));
    let candidates = [f.ca.clone()];
    for leaf in [&f.leaf, &f.revoked] {
        for require in [false, true] {
            let mut opts = ValidationOptions::at(TIME);
            opts.revocation = Some(&set);
            opts.require_revocation = require;
            let _ = validator.validate(leaf, &candidates, &opts);
        }
    }
});
