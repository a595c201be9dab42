//! Inputs the `make fuzz` targets crashed on (`tests/fuzz-regressions/`),
//! each checked for the refusal an officer sees instead.

use std::path::Path;

use ca_tools::config::{self, IntermediateCeremony, Loaded};

fn regression(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-regressions")
        .join(name)
}

/// A subject keyword of digits too long for an OID arc: refused as an
/// unknown attribute, where parsing it used to panic.
#[test]
fn ceremony_subject_keyword_too_big_for_an_oid_arc() {
    let file: Loaded<IntermediateCeremony> =
        config::load(&regression("ceremony_toml-251134cd.toml")).expect("the file parses");
    let err = config::name("certificate.subject", &file.value.certificate.subject)
        .expect_err("the subject is refused")
        .to_string();
    assert!(
        err.contains("certificate.subject") && err.contains("unknown attribute"),
        "{err}"
    );
}
