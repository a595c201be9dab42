//! RFC 6960 / RFC 5019 OCSP responder.
