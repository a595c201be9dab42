//! Certificate revocation lists (RFC 5280 section 5), decoded once into a
//! compact serial index, and the RFC 5280 section 6.3 algorithm that turns
//! them into a revocation status.
//!
//! - [`Crl`]: one decoded CRL. The signature is verified over the TBS bytes
//!   once per signing key and remembered; entries are looked up in O(1).
//! - [`CrlSet`]: a fixed set of CRLs (the offline validator, conformance
//!   runs) as a [`RevocationSource`](crate::revocation::RevocationSource).
//! - [`CrlCache`]: the bounded, atomically refreshed in-memory cache the
//!   services keep, also a `RevocationSource`.
//!
//! Both sources run the same [`scope`] code: CRL issuer and separate CRL
//! signers (validated to the same anchor), indirect CRLs, distribution
//! point scope, reason masks accumulated over several CRLs, delta CRLs,
//! unknown critical extensions, validity window and algorithm policy.

mod cache;
mod index;
mod parse;
pub mod scope;

use std::ops::Range;
use std::sync::RwLock;

use const_oid::ObjectIdentifier;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::IssuingDistributionPoint;
use x509_cert::name::Name;

pub use cache::{CacheKey, CrlCache, EntryInfo, OfferError, Offered};
pub use index::RevokedEntry;
pub use parse::MAX_ISSUER_GROUPS;
pub use scope::CrlSet;

use crate::cert::Cert;
use crate::revocation::StatusSource;
use crate::signature::{self, AlgorithmPolicy, SignatureAlgorithm};
use crate::time::UnixTime;
use crate::Error;

/// Largest CRL accepted: a 1,000,000-entry CRL is about 28.4 MB.
pub const MAX_CRL_SIZE: usize = 64 * 1024 * 1024;

/// Signing keys remembered per CRL (a CRL is signed by one key; a few
/// slots cover the same key reached through several certificates).
const VERIFIED_SLOTS: usize = 8;

/// A signing key (SHA-256 of its SPKI) under an algorithm policy.
type KeyPolicy = ([u8; 32], AlgorithmPolicy);

/// A decoded CRL with its revoked serials indexed for O(1) lookup.
#[derive(Debug)]
pub struct Crl {
    fingerprint: [u8; 32],
    der: Vec<u8>,
    tbs: Range<usize>,
    signature: Vec<u8>,
    signature_algorithm: Result<SignatureAlgorithm, Error>,
    issuer: Name,
    issuer_der: Vec<u8>,
    v2: bool,
    this_update: UnixTime,
    next_update: Option<UnixTime>,
    number: Option<Vec<u8>>,
    delta_base: Option<Vec<u8>>,
    authority_key_id: Option<Vec<u8>>,
    idp: Option<IssuingDistributionPoint>,
    idp_der: Option<Vec<u8>>,
    /// First critical extension not understood, and whether it was an
    /// entry extension.
    unknown_critical: Option<(ObjectIdentifier, bool)>,
    /// certificateIssuer groups of an indirect CRL; group 0 is the CRL
    /// issuer itself (RFC 5280 5.3.3).
    groups: Vec<Vec<GeneralName>>,
    index: index::SerialIndex,
    /// Verdicts of signature checks per (SPKI hash, policy): checked once.
    verified_by: RwLock<Vec<(KeyPolicy, bool)>>,
}

/// Compares two unsigned big-endian integers without leading zeros.
pub(crate) fn cmp_number(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

impl Crl {
    /// Decodes a DER CRL, strictly (RFC 5280 5.1, 5.2, 5.3): non-DER
    /// encodings, trailing data, duplicate extensions, malformed known
    /// extensions and duplicate entries are errors. v1 CRLs (no version
    /// field, no extensions) decode too; whether they can decide is up to
    /// the [`scope`] rules.
    pub fn from_der(der: &[u8]) -> Result<Self, Error> {
        parse::decode(der)
    }

    /// Decodes PEM (`X509 CRL` blocks) or one DER CRL.
    pub fn parse_many(input: &[u8]) -> Result<Vec<Self>, Error> {
        crate::pem::decode_all(input, "X509 CRL")?
            .iter()
            .map(|d| Self::from_der(d))
            .collect()
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The `tbsCertList` bytes covered by the signature.
    pub fn tbs_der(&self) -> &[u8] {
        &self.der[self.tbs.clone()]
    }

    /// SHA-256 of the DER: the identity reported as the deciding CRL.
    pub fn fingerprint(&self) -> &[u8; 32] {
        &self.fingerprint
    }

    pub fn issuer(&self) -> &Name {
        &self.issuer
    }

    /// The issuer name as encoded in the CRL.
    pub fn issuer_der(&self) -> &[u8] {
        &self.issuer_der
    }

    /// 2 for v2, 1 when the version field is absent.
    pub fn version(&self) -> u8 {
        if self.v2 {
            2
        } else {
            1
        }
    }

    pub fn this_update(&self) -> UnixTime {
        self.this_update
    }

    pub fn next_update(&self) -> Option<UnixTime> {
        self.next_update
    }

    /// The cRLNumber, big-endian without leading zeros (RFC 5280 5.2.3).
    pub fn number(&self) -> Option<&[u8]> {
        self.number.as_deref()
    }

    /// The BaseCRLNumber when this is a delta CRL (RFC 5280 5.2.4).
    pub fn delta_base(&self) -> Option<&[u8]> {
        self.delta_base.as_deref()
    }

    pub fn is_delta(&self) -> bool {
        self.delta_base.is_some()
    }

    /// The authorityKeyIdentifier keyIdentifier.
    pub fn authority_key_id(&self) -> Option<&[u8]> {
        self.authority_key_id.as_deref()
    }

    pub fn issuing_distribution_point(&self) -> Option<&IssuingDistributionPoint> {
        self.idp.as_ref()
    }

    /// The DER of the issuingDistributionPoint value: two CRLs have the
    /// same scope when these are equal (or both absent).
    pub fn scope_der(&self) -> Option<&[u8]> {
        self.idp_der.as_deref()
    }

    /// issuingDistributionPoint asserts indirectCRL.
    pub fn is_indirect(&self) -> bool {
        self.idp.as_ref().is_some_and(|i| i.indirect_crl)
    }

    /// A critical CRL or entry extension this validator cannot process
    /// (`true` for an entry extension): such a CRL decides nothing.
    pub fn unknown_critical(&self) -> Option<(ObjectIdentifier, bool)> {
        self.unknown_critical
    }

    /// The signature algorithm, when supported.
    pub fn signature_algorithm(&self) -> Result<SignatureAlgorithm, Error> {
        self.signature_algorithm.clone()
    }

    /// Number of revoked entries.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.len() == 0
    }

    /// Heap bytes of the serial index (not counting the kept DER).
    pub fn index_heap_bytes(&self) -> usize {
        self.index.heap_bytes()
    }

    /// The entry for a serial number (content octets as in the
    /// certificate) issued by the CRL issuer itself.
    pub fn lookup(&self, serial: &[u8]) -> Option<RevokedEntry> {
        self.index.get(0, serial)
    }

    /// The entry for `cert`: in a direct CRL by serial; in an indirect CRL
    /// by serial within the entries whose certificate issuer (RFC 5280
    /// 5.3.3, carried forward from the previous entry) is `cert`'s issuer.
    pub fn entry_for(&self, cert: &Cert) -> Option<RevokedEntry> {
        let serial = cert.serial();
        if self.groups.len() == 1 && !self.is_indirect() {
            return self.index.get(0, serial);
        }
        if self.issued_by_crl_issuer(cert) {
            if let Some(e) = self.index.get(0, serial) {
                return Some(e);
            }
        }
        self.groups.iter().enumerate().skip(1).find_map(|(g, names)| {
            let matches = names.iter().any(|n| {
                matches!(n, GeneralName::DirectoryName(d) if crate::name::names_equal(d, cert.issuer()))
            });
            // Group numbers fit u16 (MAX_ISSUER_GROUPS).
            let g = u16::try_from(g).ok()?;
            matches.then(|| self.index.get(g, serial)).flatten()
        })
    }

    /// `cert`'s issuer is this CRL's issuer (exact bytes first, then RFC
    /// 5280 7.1 comparison).
    pub fn issued_by_crl_issuer(&self, cert: &Cert) -> bool {
        parse::cert_names_der(cert).is_some_and(|(issuer, _)| issuer == self.issuer_der.as_slice())
            || crate::name::names_equal(cert.issuer(), &self.issuer)
    }

    /// `cert`'s subject is this CRL's issuer (exact bytes first, then RFC
    /// 5280 7.1 comparison).
    pub fn issuer_is_subject_of(&self, cert: &Cert) -> bool {
        parse::cert_names_der(cert)
            .is_some_and(|(_, subject)| subject == self.issuer_der.as_slice())
            || crate::name::names_equal(cert.subject(), &self.issuer)
    }

    /// Whether the entries name other certificate issuers (certificateIssuer).
    pub fn has_certificate_issuers(&self) -> bool {
        self.groups.len() > 1
    }

    /// Verifies the signature over the TBS bytes with `signer`'s key under
    /// `policy`. Done once per key: the verdict is remembered per (key,
    /// policy), so neither a good nor a forged CRL costs a signature check
    /// on every validation.
    pub fn verify_signed_by(&self, signer: &Cert, policy: AlgorithmPolicy) -> Result<(), Error> {
        let key_id = (*signer.spki_hash(), policy);
        let known = self
            .verified_by
            .read()
            .ok()
            .and_then(|v| v.iter().find(|(k, _)| *k == key_id).map(|(_, ok)| *ok));
        match known {
            Some(true) => return Ok(()),
            Some(false) => {
                return Err(Error::Crl(format!(
                    "signature does not verify under the key of {}",
                    signer.subject_string()
                )))
            }
            None => {}
        }
        let alg = self.signature_algorithm.clone()?;
        let result = signature::verify(
            alg,
            signer.public_key()?,
            None,
            policy,
            self.tbs_der(),
            &self.signature,
        );
        // Remember the verdict of a real signature check (not of an
        // algorithm the policy refuses, which costs nothing to repeat).
        if matches!(result, Ok(()) | Err(Error::SignatureInvalid { .. })) {
            if let Ok(mut v) = self.verified_by.write() {
                if v.len() >= VERIFIED_SLOTS {
                    v.remove(0);
                }
                v.push((key_id, result.is_ok()));
            }
        }
        result.map_err(|e| match e {
            Error::SignatureInvalid { .. } => Error::Crl(format!(
                "signature does not verify under the key of {}",
                signer.subject_string()
            )),
            other => other,
        })
    }

    /// Verifies the signature with `key`, the signer's key completed with
    /// inherited DSA parameters (RFC 3279 2.3.2); not remembered, since the
    /// parameters come from the path.
    pub fn verify_signed_by_key(
        &self,
        signer: &Cert,
        key: &crate::signature::PublicKey,
        policy: AlgorithmPolicy,
    ) -> Result<(), Error> {
        let alg = self.signature_algorithm.clone()?;
        signature::verify(alg, key, None, policy, self.tbs_der(), &self.signature).map_err(|e| {
            match e {
                Error::SignatureInvalid { .. } => Error::Crl(format!(
                    "signature does not verify under the key of {}",
                    signer.subject_string()
                )),
                other => other,
            }
        })
    }

    /// The status source naming this CRL.
    pub fn source(&self) -> StatusSource {
        StatusSource::Crl {
            fingerprint: self.fingerprint,
            this_update: self.this_update,
            next_update: self.next_update,
        }
    }
}
