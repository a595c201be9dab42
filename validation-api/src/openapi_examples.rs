//! Examples in the OpenAPI document (`/openapi.json`): requests and
//! answers captured from the demo API (`make demo`, scripts/demo-api.sh)
//! and kept as the JSON files beside this module, in
//! `openapi_examples/`. docs/api.md shows the same exchanges.
//!
//! The tests below keep them honest: each request example is accepted by
//! the request types, and each answer has exactly the fields a real
//! answer of this build has (tests/api.rs compares against the server).

use serde_json::Value;

macro_rules! examples {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        $(
            $(#[$doc])*
            pub fn $name() -> Value {
                // A file of this crate; `every_example_parses` checks it.
                serde_json::from_str(include_str!(concat!(
                    "openapi_examples/",
                    stringify!($name),
                    ".json"
                )))
                .unwrap_or(Value::Null)
            }
        )*
        /// Every example, by name.
        pub fn all() -> Vec<(&'static str, Value)> {
            vec![$((stringify!($name), $name())),*]
        }
    };
}

examples! {
    /// `POST /v1/validate` body: Amina's certificate and the CNIE CA.
    validate_request,
    /// `POST /v1/validate/batch` body: Amina, then Youssef (revoked).
    batch_request,
    /// The verdict for `validate_request`.
    verdict_valid,
    /// The verdict for Youssef's certificate.
    verdict_revoked,
    /// The answer to `batch_request`.
    batch_response,
    /// `GET /v1/tiers` of the demo configuration.
    tiers_response,
    /// `GET /health` when ready.
    health_ok,
    /// `GET /health` (503) when the CNIE CA's CRL is past its nextUpdate.
    health_not_ready,
    /// 401 without a (known) bearer token.
    error_unauthorized,
    /// 400 for a leaf that is not DER.
    error_bad_der,
    /// 400 for a misspelt field.
    error_bad_json,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{BatchRequest, ValidateRequest};

    #[test]
    fn every_example_parses() {
        for (name, v) in all() {
            assert!(
                v.is_object(),
                "openapi_examples/{name}.json is not a JSON object"
            );
        }
    }

    #[test]
    fn request_examples_are_accepted() {
        let one: ValidateRequest = serde_json::from_value(validate_request()).unwrap();
        one.decode().unwrap();
        let batch: BatchRequest = serde_json::from_value(batch_request()).unwrap();
        assert_eq!(batch.items.len(), 2);
        for item in &batch.items {
            item.decode().unwrap();
        }
    }

    #[test]
    fn answers_say_what_they_show() {
        assert_eq!(verdict_valid()["valid"], true);
        assert_eq!(verdict_revoked()["error"]["code"], "revoked");
        assert_eq!(batch_response()["results"][1]["error"]["code"], "revoked");
        assert_eq!(health_not_ready()["status"], "not_ready");
        assert_eq!(error_unauthorized()["error"]["code"], "unauthorized");
        assert_eq!(error_bad_der()["error"]["code"], "bad_der");
        assert_eq!(error_bad_json()["error"]["code"], "bad_json");
    }
}
