//! OCSP request parsing, as the responder does it for every GET and POST:
//! the input is one DER `OCSPRequest`. A request that parses is encoded
//! again with `build_request` and must parse to the same CertIDs and nonce.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pki_core::ocsp::{build_request, parse_request, RequestLimits};

fuzz_target!(|data: &[u8]| {
    let limits = RequestLimits::default();
    let Ok(parsed) = parse_request(data, &limits) else {
        return;
    };
    let ids: Vec<_> = parsed.certs.iter().map(|c| c.cert_id.clone()).collect();
    let again = build_request(&ids, parsed.nonce.as_deref()).expect("a parsed request encodes");
    let reparsed = parse_request(&again, &limits).expect("a re-encoded request parses");
    assert_eq!(reparsed.certs, parsed.certs);
    assert_eq!(reparsed.nonce, parsed.nonce);
});
