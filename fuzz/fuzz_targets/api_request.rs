//! The validation API's JSON request, from the body bytes to the verdict:
//! the input is a `POST /v1/validate` or `/v1/validate/batch` body, parsed
//! as the HTTP layer does (serde_json, strict fields), decoded and
//! validated by a `Service` configured with the fixture hierarchy (CRLs
//! from files, no downloads, no OCSP), and the error rendered as the HTTP
//! layer would.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pki_fuzz::fixtures;
use validation_api::request::{BatchRequest, ValidateRequest};
use validation_api::{ApiError, Config, Service};

/// Batch items validated per input (the server's limit is its config's).
const BATCH_ITEMS: usize = 4;

const CONFIG: &str = r#"
listen = "127.0.0.1:0"

[auth]
allow_anonymous = true

[cache]
results = 16
edges = 64
intermediates = 16
crls = 8

[crl_refresh]
enabled = false

[ocsp]
enabled = false

[[tiers]]
name = "fuzz"
level = "high"
anchors = ["root.der"]
intermediates = ["ca.der"]
crls = ["ca.crl", "root.crl"]
policy_levels = { "2.16.504.99.1.1" = "high" }
revocation = { methods = ["crl"], unavailable = "soft-fail" }
"#;

fn service() -> &'static Service {
    static SERVICE: OnceLock<Service> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let dir = &fixtures().dir;
        let config = Config::from_toml(CONFIG, Path::new("fuzz.toml"), dir)
            .unwrap_or_else(|e| panic!("fuzz API config: {e}"));
        Service::new(config).unwrap_or_else(|e| panic!("fuzz API service: {e}"))
    })
}

fn answer(svc: &Service, req: &ValidateRequest) {
    if let Err(e) = svc.validate(req) {
        rendered(&e);
    }
}

fn rendered(e: &ApiError) {
    let _ = e.status();
    let _ = serde_json::to_vec(&e.body());
}

fuzz_target!(|data: &[u8]| {
    let svc = service();
    if let Ok(req) = serde_json::from_slice::<ValidateRequest>(data) {
        answer(svc, &req);
    }
    if let Ok(batch) = serde_json::from_slice::<BatchRequest>(data) {
        for item in batch.items.iter().take(BATCH_ITEMS) {
            answer(svc, item);
        }
    }
});
