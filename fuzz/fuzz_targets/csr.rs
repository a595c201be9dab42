//! PKCS#10 request parsing as `pki issue --csr` does it: the input is a
//! request file, PEM or DER, decoded strictly and its self-signature
//! verified.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(csr) = ca_tools::csr::verify(data) {
        let _ = csr.subject.to_string();
    }
});
