//! OCSP response verification, as a relying party does it: the input is
//! one DER `OCSPResponse`, verified as the answer about the fixture leaf
//! from the fixture CA, without and with the seeds' nonce; a verified one
//! is turned into a revocation status.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pki_core::ocsp::{decode_response, verify_response, VerifyOptions};
use pki_fuzz::{fixtures, NONCE, TIME};

fuzz_target!(|data: &[u8]| {
    let f = fixtures();
    let _ = decode_response(data);
    let opts = VerifyOptions::at(TIME);
    for leaf in [&f.leaf, &f.revoked] {
        for nonce in [None, Some(NONCE)] {
            if let Ok(verified) = verify_response(data, leaf, &f.ca, nonce, &opts) {
                let _ = verified.source();
                let _ = verified.revocation_status(TIME);
            }
        }
    }
});
