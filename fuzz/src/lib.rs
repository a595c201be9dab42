//! What the fuzz targets share: the fixed hierarchy their seeds were made
//! with, read from `fuzz/fixtures/` (written by
//! `pki-core/examples/fuzz_seeds.rs`, which `make fuzz` runs first), and
//! the framing of inputs that carry several certificates.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use der::{Reader, SliceReader};
use pki_core::trust::Tier;
use pki_core::{AssuranceLevel, Cert, TrustStore, UnixTime};

/// Validation time of every target: inside the fixtures' validity
/// (2020 to 2040) and the seed OCSP responses' (2030-01-01 to -08).
pub const TIME: UnixTime = UnixTime(1_893_542_400); // 2030-01-02T00:00:00Z

/// Nonce of the `*-nonce` OCSP seeds.
pub const NONCE: &[u8] = b"fuzz-nonce-0001";

/// The fixture hierarchy: root -> CA -> leaves and the delegated OCSP
/// responder.
#[derive(Debug)]
pub struct Fixtures {
    pub dir: PathBuf,
    pub root: Arc<Cert>,
    pub ca: Arc<Cert>,
    pub leaf: Arc<Cert>,
    /// Listed on `ca.crl` (keyCompromise).
    pub revoked: Arc<Cert>,
    pub responder: Arc<Cert>,
    /// The root's CRL (nothing revoked): the CA's status in CRL runs.
    pub root_crl: Vec<u8>,
    /// One tier, `fuzz` (high), anchored at `root`.
    pub trust: TrustStore,
}

/// The fixtures, read once per process.
///
/// # Panics
/// If `fuzz/fixtures/` is missing or unreadable: run `make fuzz`, or the
/// seed generator named above.
pub fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let read = |name: &str| {
            std::fs::read(dir.join(name)).unwrap_or_else(|e| {
                panic!(
                    "fuzz fixture {}: {e}; `make fuzz` generates them",
                    dir.join(name).display()
                )
            })
        };
        let cert = |name: &str| {
            Arc::new(
                Cert::from_der(&read(name)).unwrap_or_else(|e| panic!("fuzz fixture {name}: {e}")),
            )
        };
        let root = cert("root.der");
        let mut trust = TrustStore::new();
        trust
            .add_tier(Tier::new("fuzz", AssuranceLevel::High))
            .expect("one tier");
        trust.add_anchor("fuzz", root.clone()).expect("one anchor");
        Fixtures {
            root,
            ca: cert("ca.der"),
            leaf: cert("leaf.der"),
            revoked: cert("revoked.der"),
            responder: cert("responder.der"),
            root_crl: read("root.crl"),
            trust,
            dir,
        }
    })
}

/// Splits concatenated DER TLVs; whatever does not frame as one (the rest
/// after a bad header, or a length past the end) is the last part, so
/// garbage still reaches the decoders.
pub fn split_der(data: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let Ok(mut reader) = SliceReader::new(rest) else {
            break;
        };
        match reader.tlv_bytes() {
            Ok(tlv) if !tlv.is_empty() => {
                parts.push(tlv);
                rest = &rest[tlv.len()..];
            }
            _ => break,
        }
    }
    if !rest.is_empty() {
        parts.push(rest);
    }
    parts
}
