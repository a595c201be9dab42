//! Certificate revocation lists (RFC 5280 section 5), decoded once and
//! indexed by serial number, and a [`CrlSet`] that answers revocation
//! questions for the path validator (RFC 5280 section 6.3).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use const_oid::ObjectIdentifier;
use der::Decode;
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BaseCrlNumber, CrlNumber, CrlReason, IssuingDistributionPoint,
    KeyUsages,
};
use x509_cert::name::Name;

use crate::cert::{sha256, tbs_range, Cert};
use crate::oid;
use crate::revocation::{RevocationReason, RevocationSource, RevocationStatus, StatusSource};
use crate::signature::{self, AlgorithmPolicy, SignatureAlgorithm};
use crate::time::UnixTime;
use crate::Error;

/// Largest CRL accepted: a 1,000,000-entry CRL is about 28.4 MB.
pub const MAX_CRL_SIZE: usize = 64 * 1024 * 1024;

/// One revoked certificate entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevokedEntry {
    pub reason: RevocationReason,
    pub revoked_at: UnixTime,
    pub invalidity_date: Option<UnixTime>,
}

/// A decoded CRL with its revoked serials indexed for O(1) lookup.
#[derive(Debug)]
pub struct Crl {
    fingerprint: [u8; 32],
    der: Vec<u8>,
    tbs: std::ops::Range<usize>,
    signature_algorithm: Result<SignatureAlgorithm, Error>,
    signature: Vec<u8>,
    issuer: Name,
    this_update: UnixTime,
    next_update: Option<UnixTime>,
    number: Vec<u8>,
    delta_base: Option<Vec<u8>>,
    authority_key_id: Option<Vec<u8>>,
    idp: Option<IssuingDistributionPoint>,
    unknown_critical: Option<ObjectIdentifier>,
    entries: HashMap<Box<[u8]>, RevokedEntry>,
    /// Issuer SPKI hashes whose signature over this CRL has been verified.
    verified_by: Mutex<Vec<[u8; 32]>>,
}

fn crl_err(reason: impl Into<String>) -> Error {
    Error::Crl(reason.into())
}

impl Crl {
    /// Decodes a DER CRL, strictly (RFC 5280 5.1, 5.2, 5.3).
    pub fn from_der(der: &[u8]) -> Result<Self, Error> {
        if der.len() > MAX_CRL_SIZE {
            return Err(Error::TooLarge {
                what: "CRL",
                size: der.len(),
                limit: MAX_CRL_SIZE,
            });
        }
        let list = CertificateList::from_der(der).map_err(|e| Error::der("CRL", &e))?;
        let tbs = tbs_range(der).map_err(|e| Error::der("CRL", &e))?;
        let t = &list.tbs_cert_list;
        if list.signature_algorithm != t.signature {
            return Err(crl_err(
                "signatureAlgorithm does not match tbsCertList.signature",
            ));
        }
        if t.issuer.0.is_empty() {
            return Err(crl_err("issuer name is empty"));
        }
        let mut number = None;
        let mut delta_base = None;
        let mut authority_key_id = None;
        let mut idp = None;
        let mut unknown_critical = None;
        let mut seen = Vec::new();
        for x in t.crl_extensions.iter().flatten() {
            if seen.contains(&x.extn_id) {
                return Err(crl_err(format!("extension {} appears twice", x.extn_id)));
            }
            seen.push(x.extn_id);
            let v = x.extn_value.as_bytes();
            match x.extn_id {
                oid::CE_CRL_NUMBER => {
                    // RFC 5280 5.2.3: non-critical, at most 20 octets.
                    if x.critical {
                        return Err(crl_err("cRLNumber must not be critical"));
                    }
                    let n = CrlNumber::from_der(v)
                        .map_err(|e| crl_err(format!("bad cRLNumber: {e}")))?;
                    if n.0.as_bytes().len() > 21 {
                        return Err(crl_err("cRLNumber longer than 20 octets"));
                    }
                    number = Some(n.0.as_bytes().to_vec());
                }
                oid::CE_DELTA_CRL_INDICATOR => {
                    // RFC 5280 5.2.4: critical.
                    if !x.critical {
                        return Err(crl_err("deltaCRLIndicator must be critical"));
                    }
                    let n = BaseCrlNumber::from_der(v)
                        .map_err(|e| crl_err(format!("bad deltaCRLIndicator: {e}")))?;
                    delta_base = Some(n.0.as_bytes().to_vec());
                }
                oid::CE_AUTHORITY_KEY_IDENTIFIER => {
                    let aki = AuthorityKeyIdentifier::from_der(v)
                        .map_err(|e| crl_err(format!("bad authorityKeyIdentifier: {e}")))?;
                    authority_key_id = aki.key_identifier.map(|k| k.as_bytes().to_vec());
                }
                oid::CE_ISSUING_DISTRIBUTION_POINT => {
                    // RFC 5280 5.2.5: critical.
                    if !x.critical {
                        return Err(crl_err("issuingDistributionPoint must be critical"));
                    }
                    let p = IssuingDistributionPoint::from_der(v)
                        .map_err(|e| crl_err(format!("bad issuingDistributionPoint: {e}")))?;
                    let exclusive = [
                        p.only_contains_user_certs,
                        p.only_contains_ca_certs,
                        p.only_contains_attribute_certs,
                    ]
                    .iter()
                    .filter(|b| **b)
                    .count();
                    if exclusive > 1 {
                        return Err(crl_err(
                            "issuingDistributionPoint asserts more than one onlyContains* flag",
                        ));
                    }
                    idp = Some(p);
                }
                other if x.critical => unknown_critical = Some(other),
                _ => {}
            }
        }
        // RFC 5280 5.2.3: conforming CRL issuers MUST include the CRL number.
        let number = number.ok_or_else(|| crl_err("cRLNumber extension missing"))?;
        if t.crl_extensions.is_some() && t.version != x509_cert::Version::V2 {
            return Err(crl_err("extensions present but version is not v2"));
        }
        let this_update = UnixTime::from_x509(&t.this_update);
        let next_update = t.next_update.as_ref().map(UnixTime::from_x509);
        if next_update.is_some_and(|n| n < this_update) {
            return Err(crl_err("nextUpdate precedes thisUpdate"));
        }

        let revoked = t.revoked_certificates.as_deref().unwrap_or_default();
        let mut entries = HashMap::with_capacity(revoked.len());
        for r in revoked {
            let mut reason = RevocationReason::Unspecified;
            let mut invalidity_date = None;
            for x in r.crl_entry_extensions.iter().flatten() {
                match x.extn_id {
                    oid::CE_CRL_REASON => {
                        let cr = CrlReason::from_der(x.extn_value.as_bytes())
                            .map_err(|e| crl_err(format!("bad reasonCode: {e}")))?;
                        reason = RevocationReason::from_code(cr as u8)
                            .ok_or_else(|| crl_err("reasonCode 7 is not defined"))?;
                    }
                    oid::CE_INVALIDITY_DATE => {
                        let d = der::asn1::GeneralizedTime::from_der(x.extn_value.as_bytes())
                            .map_err(|e| crl_err(format!("bad invalidityDate: {e}")))?;
                        invalidity_date = Some(UnixTime(d.to_unix_duration().as_secs()));
                    }
                    other if x.critical => {
                        // An entry we cannot fully interpret: the CRL cannot decide (RFC 5280 5.3).
                        unknown_critical.get_or_insert(other);
                    }
                    _ => {}
                }
            }
            entries.insert(
                r.serial_number.as_bytes().into(),
                RevokedEntry {
                    reason,
                    revoked_at: UnixTime::from_x509(&r.revocation_date),
                    invalidity_date,
                },
            );
        }

        Ok(Self {
            fingerprint: sha256(der),
            der: der.to_vec(),
            tbs,
            signature_algorithm: SignatureAlgorithm::from_identifier(&list.signature_algorithm),
            signature: list.signature.raw_bytes().to_vec(),
            issuer: t.issuer.clone(),
            this_update,
            next_update,
            number,
            delta_base,
            authority_key_id,
            idp,
            unknown_critical,
            entries,
            verified_by: Mutex::new(Vec::new()),
        })
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

    pub fn fingerprint(&self) -> &[u8; 32] {
        &self.fingerprint
    }

    pub fn issuer(&self) -> &Name {
        &self.issuer
    }

    pub fn this_update(&self) -> UnixTime {
        self.this_update
    }

    pub fn next_update(&self) -> Option<UnixTime> {
        self.next_update
    }

    /// The cRLNumber content octets.
    pub fn number(&self) -> &[u8] {
        &self.number
    }

    /// The BaseCRLNumber when this is a delta CRL.
    pub fn delta_base(&self) -> Option<&[u8]> {
        self.delta_base.as_deref()
    }

    pub fn issuing_distribution_point(&self) -> Option<&IssuingDistributionPoint> {
        self.idp.as_ref()
    }

    /// Number of revoked entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry for a serial number (content octets as in the certificate).
    pub fn lookup(&self, serial: &[u8]) -> Option<&RevokedEntry> {
        self.entries.get(serial)
    }

    /// Verifies the CRL signature with `issuer`'s key (once per key: the
    /// result is remembered).
    pub fn verify_signed_by(&self, issuer: &Cert, policy: AlgorithmPolicy) -> Result<(), Error> {
        if self
            .verified_by
            .lock()
            .is_ok_and(|v| v.contains(issuer.spki_hash()))
        {
            return Ok(());
        }
        let alg = self.signature_algorithm.clone()?;
        signature::verify(
            alg,
            issuer.public_key()?,
            None,
            policy,
            &self.der[self.tbs.clone()],
            &self.signature,
        )
        .map_err(|_| crl_err("signature does not verify under the issuer's key"))?;
        if let Ok(mut v) = self.verified_by.lock() {
            v.push(*issuer.spki_hash());
        }
        Ok(())
    }

    /// Why this CRL cannot decide the status of `cert` (issued by `issuer`)
    /// at `time`, or `None` when it can (RFC 5280 6.3.3 (a)-(g)).
    fn unusable_for(
        &self,
        cert: &Cert,
        issuer: &Cert,
        time: UnixTime,
        policy: AlgorithmPolicy,
    ) -> Option<String> {
        if self.delta_base.is_some() {
            return Some("delta CRLs are applied only on top of a base CRL".into());
        }
        if self.this_update > time {
            return Some(format!(
                "CRL thisUpdate {} is after the validation time",
                self.this_update
            ));
        }
        if let Some(next) = self.next_update {
            if next < time {
                return Some(format!("CRL expired at {next}"));
            }
        }
        if let Some(oid) = self.unknown_critical {
            return Some(format!("CRL carries unknown critical extension {oid}"));
        }
        if let (Some(aki), Some(ski)) =
            (&self.authority_key_id, &issuer.extensions().subject_key_id)
        {
            if aki != ski {
                return Some("CRL authorityKeyIdentifier does not match the issuer's key".into());
            }
        }
        // RFC 5280 6.3.3 (f): the CRL issuer's keyUsage must allow cRLSign.
        if !issuer.key_usage_allows(KeyUsages::CRLSign) {
            return Some("the CRL issuer's keyUsage does not include cRLSign".into());
        }
        if let Err(e) = self.verify_signed_by(issuer, policy) {
            return Some(e.to_string());
        }
        if let Some(idp) = &self.idp {
            if idp.indirect_crl {
                return Some("indirect CRLs are not accepted".into());
            }
            if idp.only_contains_attribute_certs {
                return Some("CRL covers attribute certificates only".into());
            }
            if idp.only_contains_user_certs && cert.is_ca() {
                return Some("CRL covers end-entity certificates only".into());
            }
            if idp.only_contains_ca_certs && !cert.is_ca() {
                return Some("CRL covers CA certificates only".into());
            }
            if idp.only_some_reasons.is_some() {
                return Some("CRL covers only some reasons".into());
            }
            if let Some(dp) = &idp.distribution_point {
                if !distribution_point_matches(dp, cert) {
                    return Some("CRL distribution point does not match the certificate's".into());
                }
            }
        }
        None
    }

    fn source(&self) -> StatusSource {
        StatusSource::Crl {
            fingerprint: self.fingerprint,
            this_update: self.this_update,
            next_update: self.next_update,
        }
    }
}

/// RFC 5280 6.3.3 (b)(2)(i): one of the IDP names appears in one of the
/// certificate's distribution points.
fn distribution_point_matches(idp_name: &DistributionPointName, cert: &Cert) -> bool {
    let DistributionPointName::FullName(idp_names) = idp_name else {
        return false;
    };
    let Some(cdp) = &cert.extensions().crl_distribution_points else {
        return false;
    };
    cdp.0.iter().any(|dp| match &dp.distribution_point {
        Some(DistributionPointName::FullName(names)) => names
            .iter()
            .any(|n| idp_names.iter().any(|m| general_names_equal(n, m))),
        _ => false,
    })
}

fn general_names_equal(a: &GeneralName, b: &GeneralName) -> bool {
    match (a, b) {
        (GeneralName::UniformResourceIdentifier(x), GeneralName::UniformResourceIdentifier(y)) => {
            x.as_str() == y.as_str()
        }
        (GeneralName::DirectoryName(x), GeneralName::DirectoryName(y)) => {
            crate::name::names_equal(x, y)
        }
        _ => a == b,
    }
}

/// A set of CRLs consulted by the path validator.
#[derive(Debug, Clone)]
pub struct CrlSet {
    crls: Vec<Arc<Crl>>,
    policy: AlgorithmPolicy,
}

impl CrlSet {
    pub fn new(crls: Vec<Arc<Crl>>, policy: AlgorithmPolicy) -> Self {
        Self { crls, policy }
    }

    pub fn crls(&self) -> &[Arc<Crl>] {
        &self.crls
    }
}

impl RevocationSource for CrlSet {
    fn status(&self, path: &[&Cert], index: usize, time: UnixTime) -> RevocationStatus {
        let (Some(cert), Some(issuer)) = (path.get(index), path.get(index + 1)) else {
            return RevocationStatus::Unknown {
                detail: "no issuer in the path".into(),
            };
        };
        let mut reasons = Vec::new();
        for crl in self
            .crls
            .iter()
            .filter(|c| crate::name::names_equal(c.issuer(), cert.issuer()))
        {
            if let Some(why) = crl.unusable_for(cert, issuer, time, self.policy) {
                reasons.push(why);
                continue;
            }
            return match crl.lookup(cert.serial()) {
                Some(e)
                    if e.revoked_at <= time || e.reason == RevocationReason::CertificateHold =>
                {
                    RevocationStatus::Revoked {
                        reason: e.reason,
                        revoked_at: e.revoked_at,
                        invalidity_date: e.invalidity_date,
                        source: crl.source(),
                    }
                }
                _ => RevocationStatus::Good {
                    source: crl.source(),
                },
            };
        }
        RevocationStatus::Unknown {
            detail: if reasons.is_empty() {
                "no CRL from this certificate's issuer".into()
            } else {
                reasons.join("; ")
            },
        }
    }
}
