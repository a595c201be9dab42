//! RFC 5280 section 6.3: is this certificate revoked, according to these
//! CRLs?
//!
//! For each distribution point of the certificate (or one implicit point
//! naming its issuer when it has no cRLDistributionPoints), every complete
//! CRL is checked in turn, and the reasons it covers are added to the
//! `reasons_mask` until all reasons are covered or the certificate is found:
//!
//! - (a) validity: `thisUpdate <= time <= nextUpdate`;
//! - (b)(1) issuer: the certificate's issuer, or, when the distribution
//!   point has a cRLIssuer, that name together with indirectCRL; entries of
//!   an indirect CRL belong to the certificateIssuer carried forward from
//!   the previous entry;
//! - (b)(2) scope: distribution point names, onlyContainsUserCerts,
//!   onlyContainsCACerts, onlyContainsAttributeCerts;
//! - (c), (h), (i) the newest usable delta CRL with the same issuer and
//!   scope, whose BaseCRLNumber is at most the complete CRL's number,
//!   signed by the same key, is consulted first; removeFromCRL in it
//!   releases a certificate;
//! - (d), (e) onlySomeReasons intersected with the point's reasons must add
//!   a reason not covered yet;
//! - (f), (g) the signer: the certificate's issuer, a certificate above it
//!   in the path, or another certificate with the CRL issuer's name whose
//!   own path the [`Validator`] builds to the same trust anchor (so CRL
//!   signing certificates and key-rollover certificates work); keyUsage, if
//!   present, must allow cRLSign; the signature algorithm and key are under
//!   the algorithm policy.
//!
//! A CRL with an unknown critical CRL or entry extension decides nothing
//! (5.2, 5.3); so does one without cRLNumber unless the set allows it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName, GeneralNames};
use x509_cert::ext::pkix::KeyUsages;
use x509_cert::name::Name;

use super::{cmp_number, Crl};
use crate::cert::{hex, Cert};
use crate::name::names_equal;
use crate::path::{ValidationOptions, Validator};
use crate::revocation::{RevocationReason, RevocationSource, RevocationStatus, StatusSource};
use crate::signature::AlgorithmPolicy;
use crate::time::UnixTime;
use crate::trust::{AssuranceLevel, Tier, TrustStore};

/// All eight ReasonFlags bits (keyCompromise .. aACompromise; bit 0,
/// `unused`, is not a reason).
pub const ALL_REASONS: u16 = 0x01fe;

/// How many trust anchors keep a CRL-signer validator (with its
/// verified-edge cache) alive.
const SIGNER_VALIDATORS: usize = 8;

/// Validators with one trust anchor each, for CRL-signer paths.
#[derive(Debug, Default)]
pub(crate) struct SignerValidators {
    slots: Mutex<Vec<([u8; 32], Arc<Validator>)>>,
}

impl SignerValidators {
    fn for_anchor(&self, anchor: &Cert) -> Option<Arc<Validator>> {
        if let Ok(slots) = self.slots.lock() {
            if let Some((_, v)) = slots.iter().find(|(fp, _)| fp == anchor.fingerprint()) {
                return Some(v.clone());
            }
        }
        let mut trust = TrustStore::new();
        trust
            .add_tier(Tier::new("crl-signer", AssuranceLevel::High))
            .ok()?;
        let anchor_copy = Arc::new(Cert::from_der(anchor.der()).ok()?);
        trust.add_anchor("crl-signer", anchor_copy).ok()?;
        let v = Arc::new(Validator::new(trust));
        if let Ok(mut slots) = self.slots.lock() {
            if slots.len() >= SIGNER_VALIDATORS {
                slots.remove(0);
            }
            slots.push((*anchor.fingerprint(), v.clone()));
        }
        Some(v)
    }
}

/// What the 6.3 algorithm needs from a collection of CRLs.
pub(crate) trait CrlSource: Send + Sync {
    /// Complete and delta CRLs that might cover `cert` (by issuer name or
    /// the cRLIssuer of one of its distribution points), appended to `out`.
    fn candidates(&self, cert: &Cert, out: &mut Vec<Arc<Crl>>);
    /// Certificates that may sign CRLs without being in the path.
    fn signers(&self) -> Arc<[Arc<Cert>]>;
    fn validators(&self) -> &SignerValidators;
    fn policy(&self) -> AlgorithmPolicy;
    /// Whether CRLs without cRLNumber (v1 CRLs) may decide.
    fn allow_unnumbered(&self) -> bool;
}

/// Whether `names` contains a directoryName equal to `name`.
fn has_directory_name(names: &GeneralNames, name: &Name) -> bool {
    names
        .iter()
        .any(|n| matches!(n, GeneralName::DirectoryName(d) if names_equal(d, name)))
}

fn general_names_equal(a: &GeneralName, b: &GeneralName) -> bool {
    match (a, b) {
        (GeneralName::UniformResourceIdentifier(x), GeneralName::UniformResourceIdentifier(y)) => {
            x.as_str() == y.as_str()
        }
        (GeneralName::DirectoryName(x), GeneralName::DirectoryName(y)) => names_equal(x, y),
        _ => a == b,
    }
}

/// The full names of a DistributionPointName; a nameRelativeToCRLIssuer is
/// appended to `base` (RFC 5280 4.2.1.13, 5.2.5).
fn full_names(dpn: &DistributionPointName, base: &Name) -> Vec<GeneralName> {
    match dpn {
        DistributionPointName::FullName(names) => names.clone(),
        DistributionPointName::NameRelativeToCRLIssuer(rdn) => {
            let mut name = base.clone();
            name.0.push(rdn.clone());
            vec![GeneralName::DirectoryName(name)]
        }
    }
}

/// One distribution point of the certificate, or the implicit one.
struct Dp<'a> {
    name: Option<&'a DistributionPointName>,
    reasons: u16,
    crl_issuer: Option<&'a GeneralNames>,
}

impl<'a> Dp<'a> {
    fn from_ext(dp: &'a DistributionPoint) -> Self {
        Self {
            name: dp.distribution_point.as_ref(),
            reasons: dp.reasons.map_or(ALL_REASONS, |r| r.bits() & ALL_REASONS),
            crl_issuer: dp.crl_issuer.as_ref(),
        }
    }
}

fn short(crl: &Crl) -> String {
    hex(&crl.fingerprint()[..4])
}

/// The time window and extension checks that apply to complete and delta
/// CRLs alike.
fn basic_usable(crl: &Crl, time: UnixTime, allow_unnumbered: bool) -> Result<(), String> {
    if crl.this_update() > time {
        return Err(format!(
            "thisUpdate {} is after the validation time",
            crl.this_update()
        ));
    }
    if let Some(next) = crl.next_update() {
        if next < time {
            return Err(format!("expired at {next}"));
        }
    }
    if let Some((crate::oid::CE_CERTIFICATE_ISSUER, true)) = crl.unknown_critical() {
        return Err("certificateIssuer entries in a CRL that is not indirect".into());
    }
    if let Some((oid, entry)) = crl.unknown_critical() {
        let what = if entry {
            "entry extension"
        } else {
            "extension"
        };
        return Err(format!("unknown critical {what} {oid}"));
    }
    if crl.number().is_none() && !allow_unnumbered {
        return Err("cRLNumber extension missing (RFC 5280 5.2.3)".into());
    }
    Ok(())
}

/// The CRL's AKI, when present, names `cand`'s key.
fn aki_matches(crl: &Crl, cand: &Cert) -> bool {
    match (crl.authority_key_id(), &cand.extensions().subject_key_id) {
        (Some(aki), Some(ski)) => aki == ski.as_slice(),
        _ => true,
    }
}

struct Ctx<'a, S: ?Sized> {
    src: &'a S,
    path: &'a [&'a Cert],
    index: usize,
    time: UnixTime,
    /// Inside the validation of a CRL signer's own path: only
    /// certificates of that path may sign.
    nested: bool,
    signers: Arc<[Arc<Cert>]>,
}

/// A certificate whose key signs a usable CRL.
enum Signer<'a> {
    Path(&'a Cert),
    Other(Arc<Cert>),
}

impl Signer<'_> {
    fn cert(&self) -> &Cert {
        match self {
            Self::Path(c) => c,
            Self::Other(c) => c,
        }
    }
}

/// Runs the nested signer-path validation with restricted revocation.
struct Nested<'a, S: ?Sized>(&'a S);

impl<S: CrlSource + ?Sized> RevocationSource for Nested<'_, S> {
    fn status(&self, path: &[&Cert], index: usize, time: UnixTime) -> RevocationStatus {
        status(self.0, path, index, time, true)
    }
}

impl<'a, S: CrlSource + ?Sized> Ctx<'a, S> {
    fn cert(&self) -> &'a Cert {
        self.path[self.index]
    }

    /// RFC 5280 6.3.3 (f), (g): who signed `crl`.
    fn find_signer(&self, crl: &Crl) -> Result<Signer<'a>, String> {
        let policy = self.src.policy();
        let mut why: Option<String> = None;
        // The certificate's issuer, then the certificates above it, are
        // already validated to the anchor.
        for (k, cand) in self.path.iter().enumerate().skip(self.index + 1) {
            if !crl.issuer_is_subject_of(cand) || !aki_matches(crl, cand) {
                continue;
            }
            if !cand.key_usage_allows(KeyUsages::CRLSign) {
                why.get_or_insert_with(|| {
                    "the CRL issuer's keyUsage does not include cRLSign".into()
                });
                continue;
            }
            let checked = match crate::cert::inherited_key(self.path, k) {
                Some(key) => crl.verify_signed_by_key(cand, &key, policy),
                None => crl.verify_signed_by(cand, policy),
            };
            match checked {
                Ok(()) => return Ok(Signer::Path(cand)),
                Err(e) => {
                    why.get_or_insert_with(|| e.to_string());
                }
            }
        }
        if !self.nested {
            for cand in self.signers.iter() {
                if !crl.issuer_is_subject_of(cand)
                    || !aki_matches(crl, cand)
                    || self
                        .path
                        .iter()
                        .any(|p| p.fingerprint() == cand.fingerprint())
                {
                    continue;
                }
                if !cand.key_usage_allows(KeyUsages::CRLSign) {
                    why.get_or_insert_with(|| {
                        format!(
                            "CRL signer candidate {} lacks cRLSign",
                            cand.subject_string()
                        )
                    });
                    continue;
                }
                if crl.verify_signed_by(cand, policy).is_err() {
                    continue;
                }
                match self.validate_signer(cand) {
                    Ok(()) => return Ok(Signer::Other(cand.clone())),
                    Err(e) => why = Some(e),
                }
            }
        }
        Err(why.unwrap_or_else(|| {
            format!(
                "no certificate of {} with a key that signs this CRL",
                crl.issuer()
            )
        }))
    }

    /// The CRL signer's own path must end at the same anchor (6.3.3 (f)).
    fn validate_signer(&self, cand: &Arc<Cert>) -> Result<(), String> {
        let anchor = self.path[self.path.len() - 1];
        let validator = self
            .src
            .validators()
            .for_anchor(anchor)
            .ok_or("cannot set up the CRL signer's validation")?;
        let mut pool: Vec<Arc<Cert>> = self.signers.to_vec();
        for c in &self.path[1..self.path.len() - 1] {
            if let Ok(copy) = Cert::from_der(c.der()) {
                pool.push(Arc::new(copy));
            }
        }
        let nested = Nested(self.src);
        let mut opts = ValidationOptions::at(self.time);
        opts.algorithm_policy = self.src.policy();
        opts.revocation = Some(&nested);
        validator
            .validate(cand, &pool, &opts)
            .map(|_| ())
            .map_err(|e| format!("CRL signer {}: {e}", cand.subject_string()))
    }

    /// RFC 5280 6.3.3 (b), (d), (e), (f), (g) for a complete CRL.
    fn check_complete(
        &self,
        crl: &Crl,
        dp: &Dp<'_>,
        mask: u16,
    ) -> Result<(u16, Signer<'a>), String> {
        let cert = self.cert();
        basic_usable(crl, self.time, self.src.allow_unnumbered())?;
        // (b)(1)
        if let Some(crl_issuers) = dp.crl_issuer {
            if !crl.is_indirect() {
                return Err(
                    "the distribution point names a cRLIssuer but the CRL is not indirect".into(),
                );
            }
            if !has_directory_name(crl_issuers, crl.issuer()) {
                return Err("CRL issuer is not the distribution point's cRLIssuer".into());
            }
        } else if !crl.issued_by_crl_issuer(cert) {
            return Err("CRL issuer is not the certificate's issuer".into());
        }
        // (b)(2)
        if let Some(idp) = crl.issuing_distribution_point() {
            if let Some(idp_name) = &idp.distribution_point {
                let idp_names = full_names(idp_name, crl.issuer());
                let dp_names = match (dp.name, dp.crl_issuer) {
                    (Some(n), ci) => {
                        let base = ci
                            .and_then(|ci| {
                                ci.iter().find_map(|g| match g {
                                    GeneralName::DirectoryName(d) => Some(d),
                                    _ => None,
                                })
                            })
                            .unwrap_or(cert.issuer());
                        full_names(n, base)
                    }
                    (None, Some(ci)) => ci.clone(),
                    (None, None) => Vec::new(),
                };
                if !dp_names
                    .iter()
                    .any(|a| idp_names.iter().any(|b| general_names_equal(a, b)))
                {
                    return Err("CRL distribution point does not match the certificate's".into());
                }
            }
            if idp.only_contains_attribute_certs {
                return Err("CRL covers attribute certificates only".into());
            }
            if idp.only_contains_user_certs && cert.is_ca() {
                return Err("CRL covers end-entity certificates only".into());
            }
            if idp.only_contains_ca_certs && !cert.is_ca() {
                return Err("CRL covers CA certificates only".into());
            }
        }
        // (d), (e)
        let idp_reasons = crl
            .issuing_distribution_point()
            .and_then(|i| i.only_some_reasons)
            .map_or(ALL_REASONS, |r| r.bits() & ALL_REASONS);
        let interim = idp_reasons & dp.reasons;
        if interim & !mask == 0 {
            return Err("CRL covers no reason not already covered".into());
        }
        // (f), (g)
        let signer = self.find_signer(crl)?;
        Ok((interim, signer))
    }

    /// RFC 5280 6.3.3 (c), (h): the newest usable delta for `complete`.
    fn best_delta<'c>(
        &self,
        complete: &Crl,
        candidates: &'c [Arc<Crl>],
        signer: &Cert,
    ) -> Option<&'c Arc<Crl>> {
        let number = complete.number()?;
        candidates
            .iter()
            .filter(|d| {
                d.delta_base().is_some_and(|base| {
                    cmp_number(base, number).is_le()
                        && d.number().is_some_and(|n| cmp_number(n, number).is_gt())
                })
            })
            .filter(|d| {
                names_equal(d.issuer(), complete.issuer())
                    && d.scope_der() == complete.scope_der()
                    && basic_usable(d, self.time, false).is_ok()
                    && d.verify_signed_by(signer, self.src.policy()).is_ok()
            })
            .max_by(|a, b| {
                cmp_number(
                    a.number().unwrap_or_default(),
                    b.number().unwrap_or_default(),
                )
            })
    }
}

/// The RFC 5280 6.3 status of `path[index]`.
pub(crate) fn status<S: CrlSource + ?Sized>(
    src: &S,
    path: &[&Cert],
    index: usize,
    time: UnixTime,
    nested: bool,
) -> RevocationStatus {
    if index + 1 >= path.len() {
        return RevocationStatus::Unknown {
            detail: "no issuer in the path".into(),
        };
    }
    let ctx = Ctx {
        src,
        path,
        index,
        time,
        nested,
        signers: if nested {
            Arc::from(Vec::new())
        } else {
            src.signers()
        },
    };
    let cert = path[index];
    let mut candidates = Vec::new();
    src.candidates(cert, &mut candidates);
    if candidates.is_empty() {
        return RevocationStatus::Unknown {
            detail: "no CRL from this certificate's issuer".into(),
        };
    }
    let implicit = [Dp {
        name: None,
        reasons: ALL_REASONS,
        crl_issuer: None,
    }];
    let from_ext: Vec<Dp<'_>>;
    let dps: &[Dp<'_>] = match &cert.extensions().crl_distribution_points {
        Some(cdp) => {
            from_ext = cdp.0.iter().map(Dp::from_ext).collect();
            &from_ext
        }
        None => &implicit,
    };

    let mut mask = 0u16;
    let mut notes: Vec<String> = Vec::new();
    let mut decided: Option<StatusSource> = None;
    'points: for dp in dps {
        for crl in candidates.iter().filter(|c| !c.is_delta()) {
            if mask == ALL_REASONS {
                break 'points;
            }
            let (interim, signer) = match ctx.check_complete(crl, dp, mask) {
                Ok(ok) => ok,
                Err(why) => {
                    notes.push(format!("CRL {}: {why}", short(crl)));
                    continue;
                }
            };
            let delta = ctx.best_delta(crl, &candidates, signer.cert());
            let found = delta
                .and_then(|d| d.entry_for(cert).map(|e| (e, d.as_ref())))
                .or_else(|| crl.entry_for(cert).map(|e| (e, crl.as_ref())));
            if let Some((e, from)) = found {
                // (k) removeFromCRL: unrevoked. An entry dated after the
                // validation time did not apply yet, except a hold.
                if e.reason != RevocationReason::RemoveFromCrl
                    && (e.revoked_at <= time || e.reason == RevocationReason::CertificateHold)
                {
                    return RevocationStatus::Revoked {
                        reason: e.reason,
                        revoked_at: e.revoked_at,
                        invalidity_date: e.invalidity_date,
                        source: from.source(),
                    };
                }
            }
            mask |= interim;
            let used = delta.map_or(crl.as_ref(), AsRef::as_ref);
            let earlier = match (&decided, used.next_update()) {
                (
                    Some(StatusSource::Crl {
                        next_update: Some(a),
                        ..
                    }),
                    Some(b),
                ) => b < *a,
                (Some(_), None) => false,
                _ => true,
            };
            if earlier {
                decided = Some(used.source());
            }
        }
    }
    match decided {
        Some(source) if mask == ALL_REASONS => RevocationStatus::Good { source },
        Some(_) => {
            notes.insert(
                0,
                format!("usable CRLs cover only reason bits {mask:#06x} of {ALL_REASONS:#06x}"),
            );
            RevocationStatus::Unknown {
                detail: notes.join("; "),
            }
        }
        None if notes.is_empty() => RevocationStatus::Unknown {
            detail: "no complete CRL from this certificate's issuer (a delta CRL applies only on top of its base)".into(),
        },
        None => RevocationStatus::Unknown {
            detail: notes.join("; "),
        },
    }
}

/// A fixed set of CRLs consulted by the path validator.
///
/// ```
/// # #[cfg(feature = "test-ca")] {
/// use std::sync::Arc;
/// use pki_core::crl::{Crl, CrlSet};
/// use pki_core::testing::TestCa;
/// use pki_core::AlgorithmPolicy;
///
/// let root = TestCa::root("CN=Root,C=MA");
/// let crl = Crl::from_der(&root.crl(|_| {})).unwrap();
/// let set = CrlSet::new(vec![Arc::new(crl)], AlgorithmPolicy::Default);
/// assert_eq!(set.crls().len(), 1);
/// # }
/// ```
#[derive(Debug)]
pub struct CrlSet {
    crls: Vec<Arc<Crl>>,
    /// CRL positions by issuer name bytes.
    by_issuer: HashMap<Vec<u8>, Vec<usize>>,
    policy: AlgorithmPolicy,
    signers: Arc<[Arc<Cert>]>,
    validators: SignerValidators,
    allow_unnumbered: bool,
}

impl Clone for CrlSet {
    fn clone(&self) -> Self {
        Self {
            crls: self.crls.clone(),
            by_issuer: self.by_issuer.clone(),
            policy: self.policy,
            signers: self.signers.clone(),
            validators: SignerValidators::default(),
            allow_unnumbered: self.allow_unnumbered,
        }
    }
}

impl CrlSet {
    pub fn new(crls: Vec<Arc<Crl>>, policy: AlgorithmPolicy) -> Self {
        // Each issuer encoding maps to every CRL whose issuer is the same
        // name under RFC 5280 7.1, so an exact-bytes hit is complete.
        let mut by_issuer: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
        for c in &crls {
            if by_issuer.contains_key(c.issuer_der()) {
                continue;
            }
            let same: Vec<usize> = crls
                .iter()
                .enumerate()
                .filter(|(_, o)| names_equal(o.issuer(), c.issuer()))
                .map(|(j, _)| j)
                .collect();
            by_issuer.insert(c.issuer_der().to_vec(), same);
        }
        Self {
            crls,
            by_issuer,
            policy,
            signers: Arc::from(Vec::new()),
            validators: SignerValidators::default(),
            allow_unnumbered: false,
        }
    }

    /// Certificates that may sign CRLs besides the path's own (separate
    /// CRL signers, new keys after a rollover) and the intermediates their
    /// paths need. Each is used only once its own path validates to the
    /// anchor of the path being checked.
    #[must_use]
    pub fn with_signers(mut self, certs: Vec<Arc<Cert>>) -> Self {
        self.signers = Arc::from(certs);
        self
    }

    /// Named leniency: let CRLs without cRLNumber (v1 CRLs) decide.
    #[must_use]
    pub fn allow_unnumbered(mut self, allow: bool) -> Self {
        self.allow_unnumbered = allow;
        self
    }

    pub fn crls(&self) -> &[Arc<Crl>] {
        &self.crls
    }
}

/// Whether `crl` may cover `cert`: same issuer, or one of the cRLIssuer
/// names of its distribution points.
pub(crate) fn may_cover(crl: &Crl, cert: &Cert) -> bool {
    crl.issued_by_crl_issuer(cert)
        || cert
            .extensions()
            .crl_distribution_points
            .as_ref()
            .is_some_and(|cdp| {
                cdp.0.iter().any(|dp| {
                    dp.crl_issuer
                        .as_ref()
                        .is_some_and(|ci| has_directory_name(ci, crl.issuer()))
                })
            })
}

impl CrlSource for CrlSet {
    fn candidates(&self, cert: &Cert, out: &mut Vec<Arc<Crl>>) {
        // Exact issuer bytes first; names equal only under RFC 5280 7.1,
        // or cRLIssuer names of indirect CRLs, through the full scan.
        let indirect = cert
            .extensions()
            .crl_distribution_points
            .as_ref()
            .is_some_and(|cdp| cdp.0.iter().any(|dp| dp.crl_issuer.is_some()));
        if !indirect {
            if let Some(hits) = super::parse::cert_names_der(cert)
                .and_then(|(issuer, _)| self.by_issuer.get(issuer))
            {
                out.extend(hits.iter().map(|i| self.crls[*i].clone()));
                return;
            }
        }
        out.extend(self.crls.iter().filter(|c| may_cover(c, cert)).cloned());
    }
    fn signers(&self) -> Arc<[Arc<Cert>]> {
        self.signers.clone()
    }
    fn validators(&self) -> &SignerValidators {
        &self.validators
    }
    fn policy(&self) -> AlgorithmPolicy {
        self.policy
    }
    fn allow_unnumbered(&self) -> bool {
        self.allow_unnumbered
    }
}

impl RevocationSource for CrlSet {
    fn status(&self, path: &[&Cert], index: usize, time: UnixTime) -> RevocationStatus {
        status(self, path, index, time, false)
    }
}
