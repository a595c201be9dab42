//! RFC 5280 6.1 checks on a complete candidate path, plus the end-entity
//! checks done before building starts.

use std::sync::Arc;

use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::KeyUsages;

use super::policy::{process_policies, PolicyCert};
use super::profile::{self, Finding, Profile, Role};
use super::{Purpose, ValidatedPath, ValidationOptions, Validator};
use crate::cert::Cert;
use crate::revocation::RevocationStatus;
use crate::{oid, Error};

/// RFC 5280 section 6 checks shared by every certificate of the path, at
/// `index` (the relying party's rules: they hold under every profile).
fn check_common(
    cert: &Cert,
    index: usize,
    anchor: bool,
    opts: &ValidationOptions<'_>,
    legacy: &mut Vec<String>,
) -> Result<(), Error> {
    // RFC 5280 6.1.3 (a)(2): validity period, both ends inclusive (4.1.2.5).
    let t = opts.time;
    if cert.not_after() < cert.not_before() {
        return Err(Error::InvalidValidity { index });
    }
    if t < cert.not_before() {
        return Err(Error::CertNotYetValid {
            index,
            time: t,
            not_before: cert.not_before(),
        });
    }
    if t > cert.not_after() {
        return Err(Error::CertExpired {
            index,
            time: t,
            not_after: cert.not_after(),
        });
    }
    // RFC 5280 4.2: a critical extension we do not process; an extension
    // given twice, whose meaning is undecidable.
    let ext = cert.extensions();
    if let Some(oid) = ext.unknown_critical.first() {
        return Err(Error::UnknownCriticalExtension { index, oid: *oid });
    }
    if let Some(oid) = ext.duplicate {
        return Err(Error::DuplicateExtension { index, oid });
    }
    // RFC 5280 4.1.1.2: the signed algorithm identifier is the one the
    // signature is checked under; a different outer one is a substitution.
    if !anchor && cert.signature_algorithms_differ() {
        return Err(Error::SignatureAlgorithmMismatch { index });
    }
    match cert.public_key() {
        Ok(key) => {
            if let Some(note) = key.check_policy(opts.algorithm_policy)? {
                legacy.push(format!("certificate {index}: {note}"));
            }
        }
        // An end entity's key signs nothing in the path: it matters only
        // where the purpose signs with it (TLS, OCSP, code and documents).
        Err(Error::UnsupportedPublicKey(what))
            if index == 0 && matches!(opts.purpose, Purpose::Any | Purpose::Email) =>
        {
            legacy.push(format!(
                "certificate 0: subject key not checked ({what}); no signature of the path uses it"
            ));
        }
        Err(e) => return Err(e.at_index(index)),
    }
    Ok(())
}

/// Applies the issuance-profile rules to the certificate at `index`: adds
/// findings, or fails on the first one under the strict profile. Trust
/// anchors are judged only under the strict profile.
fn check_profile(
    cert: &Cert,
    index: usize,
    role: Role,
    purpose: Purpose,
    profile: Profile,
    findings: &mut Vec<Finding>,
) -> Result<(), Error> {
    let strict = profile == Profile::Strict;
    if role == Role::Anchor && !strict {
        return Ok(());
    }
    let before = findings.len();
    profile::check(cert, index, role, purpose, findings);
    if strict && findings.len() > before {
        return Err(findings.swap_remove(before).error);
    }
    Ok(())
}

/// What the end-entity checks learnt, carried into the path's result.
#[derive(Debug, Default)]
pub(super) struct EndEntityNotes {
    pub(super) findings: Vec<Finding>,
    pub(super) legacy: Vec<String>,
}

/// End-entity checks that do not depend on the path: done once, before
/// building, so that a wrong name or purpose is reported as such.
pub(super) fn check_end_entity(
    leaf: &Cert,
    opts: &ValidationOptions<'_>,
) -> Result<EndEntityNotes, Error> {
    let mut notes = EndEntityNotes::default();
    check_common(leaf, 0, false, opts, &mut notes.legacy)?;
    // Collected now, judged once the path's tier (and so its profile) is
    // known; an explicit strict profile fails at once.
    profile::check(leaf, 0, Role::EndEntity, opts.purpose, &mut notes.findings);
    if let (Some(Profile::Strict), Some(f)) = (opts.profile, notes.findings.first()) {
        return Err(f.error.clone());
    }
    let ext = leaf.extensions();

    // RFC 5280 4.2.1.12: the EKU must allow the purpose (absent = any).
    if let Some(eku) = &ext.ext_key_usage {
        let wanted = opts.purpose.key_purposes();
        if !wanted.is_empty()
            && !eku
                .value
                .iter()
                .any(|p| wanted.contains(p) || *p == oid::KP_ANY)
        {
            return Err(Error::ExtendedKeyUsageNotAllowed {
                index: 0,
                purpose: opts.purpose.as_str(),
            });
        }
    }
    if let (Some((bits, names)), Some(ku)) = (opts.purpose.key_usages(), &ext.key_usage) {
        if !bits.iter().any(|b| ku.value.0.contains(*b)) {
            return Err(Error::KeyUsageNotAllowed {
                index: 0,
                needed: names,
            });
        }
    }
    for bit in &opts.required_key_usage {
        if !leaf.key_usage_allows(*bit) || ext.key_usage.is_none() {
            return Err(Error::KeyUsageNotAllowed {
                index: 0,
                needed: key_usage_name(*bit),
            });
        }
    }
    if let Some(peer) = &opts.peer_name {
        let san = ext.subject_alt_name.as_ref().map(|s| &s.value);
        crate::name::verify_peer_name(san, peer).map_err(Error::PeerName)?;
        if opts.purpose == Purpose::ServerAuth {
            if let Err(error) = check_wildcard_not_over_public_suffix(san, peer) {
                if opts.profile == Some(Profile::Strict) {
                    return Err(error);
                }
                notes.findings.push(Finding {
                    index: 0,
                    rule: "CA/B BR 3.2.2.6",
                    error,
                });
            }
        }
    }
    Ok(notes)
}

fn key_usage_name(bit: KeyUsages) -> &'static str {
    match bit {
        KeyUsages::DigitalSignature => "digitalSignature",
        KeyUsages::NonRepudiation => "nonRepudiation",
        KeyUsages::KeyEncipherment => "keyEncipherment",
        KeyUsages::DataEncipherment => "dataEncipherment",
        KeyUsages::KeyAgreement => "keyAgreement",
        KeyUsages::KeyCertSign => "keyCertSign",
        KeyUsages::CRLSign => "cRLSign",
        KeyUsages::EncipherOnly => "encipherOnly",
        KeyUsages::DecipherOnly => "decipherOnly",
    }
}

/// CA/B BR 3.2.2.6: a wildcard directly over a public suffix ("*.com",
/// "*.co.uk", "*.s3.amazonaws.com") must not vouch for a name. Only the
/// match matters: a certificate that also names the host exactly is fine.
fn check_wildcard_not_over_public_suffix(
    san: Option<&x509_cert::ext::pkix::SubjectAltName>,
    peer: &crate::name::PeerName,
) -> Result<(), Error> {
    let crate::name::PeerName::Dns(host) = peer else {
        return Ok(());
    };
    let exact = san.is_some_and(|san| {
        san.0.iter().any(|n| {
            matches!(n, GeneralName::DnsName(d)
                if d.as_str().trim_end_matches('.').eq_ignore_ascii_case(host))
        })
    });
    if exact {
        return Ok(());
    }
    let parent = host.split_once('.').map_or("", |(_, rest)| rest);
    let public = psl::suffix(parent.as_bytes())
        .is_some_and(|s| s.is_known() && s.as_bytes().len() == parent.len());
    if public {
        return Err(Error::PeerName(crate::name::NameError::NotValidForName {
            expected: host.clone(),
            presented: vec![format!("*.{parent} (wildcard over a public suffix)")],
        }));
    }
    Ok(())
}

/// RFC 5280 6.1.4 checks for a certificate that issues others
/// (intermediates and anchor).
fn check_issuer(cert: &Cert, index: usize, opts: &ValidationOptions<'_>) -> Result<(), Error> {
    let ext = cert.extensions();
    // RFC 5280 6.1.4 (k): basicConstraints present with cA TRUE.
    let Some(bc) = &ext.basic_constraints else {
        return Err(Error::NotCa { index });
    };
    if !bc.value.ca {
        return Err(Error::NotCa { index });
    }
    // RFC 5280 6.1.4 (n).
    if !cert.key_usage_allows(KeyUsages::KeyCertSign) {
        return Err(Error::KeyUsageNotAllowed {
            index,
            needed: "keyCertSign",
        });
    }
    // EKU chaining (as Windows, Chrome and rustls-webpki do): a CA that
    // restricts its extended key usages must allow the purpose.
    if let Some(eku) = &ext.ext_key_usage {
        let wanted = opts.purpose.key_purposes();
        if !wanted.is_empty()
            && !eku
                .value
                .iter()
                .any(|p| wanted.contains(p) || *p == oid::KP_ANY)
        {
            return Err(Error::ExtendedKeyUsageNotAllowed {
                index,
                purpose: opts.purpose.as_str(),
            });
        }
    }
    Ok(())
}

/// Full checks of `chain` (end entity first, anchor last, signatures already
/// verified) against RFC 5280 6.1.3-6.1.5, then tier and revocation.
pub(super) fn check_path(
    validator: &Validator,
    chain: &[Arc<Cert>],
    tier: usize,
    opts: &ValidationOptions<'_>,
    end_entity: &EndEntityNotes,
) -> Result<ValidatedPath, Error> {
    let n = chain.len();
    let tier_def = validator.trust.tier(tier);
    let profile = opts.profile_for(tier_def);
    if let (Profile::Strict, Some(f)) = (profile, end_entity.findings.first()) {
        return Err(f.error.clone());
    }
    let mut legacy = end_entity.legacy.clone();
    let mut findings = end_entity.findings.clone();
    let mut warnings = Vec::new();
    for (i, cert) in chain.iter().enumerate() {
        if i > 0 {
            let anchor = i == n - 1;
            check_common(cert, i, anchor, opts, &mut legacy)?;
            check_issuer(cert, i, opts)?;
            let role = if anchor {
                Role::Anchor
            } else {
                Role::Intermediate
            };
            check_profile(cert, i, role, opts.purpose, profile, &mut findings)?;
        }
        if i + 1 < n {
            // RFC 3279 2.3.2: an edge whose issuer inherits its DSA
            // parameters was left to this point by the builder.
            if chain[i + 1]
                .public_key()
                .is_ok_and(crate::signature::PublicKey::inherits_dsa_params)
            {
                let key = crate::cert::inherited_key(chain, i + 1).ok_or_else(|| {
                    Error::UnsupportedPublicKey(format!(
                        "certificate {}: DSA key without parameters and none to inherit above it",
                        i + 1
                    ))
                })?;
                cert.verify_signed_by_key(&key, opts.algorithm_policy)
                    .map_err(|e| e.at_index(i))?;
            }
            let alg = cert.signature_algorithm().map_err(|e| e.at_index(i))?;
            if alg.is_legacy() {
                legacy.push(format!("certificate {i}: signed with {}", alg.name()));
            }
        }
    }

    // RFC 5280 6.1.4 (l)-(m): pathLenConstraint, counting the non-self-issued
    // intermediates below each CA (the end entity is not counted).
    for i in 1..n {
        if let Some(max) = chain[i]
            .extensions()
            .basic_constraints
            .as_ref()
            .and_then(|bc| bc.value.path_len_constraint)
        {
            let below = chain[1..i].iter().filter(|c| !c.is_self_issued()).count();
            if below > usize::from(max) {
                return Err(Error::PathLenExceeded { index: i });
            }
        }
    }

    // RFC 5280 6.1.3 (b)-(c): every name below a constraining CA, except in
    // self-issued intermediates, lies within its constraints. The anchor's
    // constraints apply too (RFC 5937).
    for i in 1..n {
        let Some(nc) = &chain[i].extensions().name_constraints else {
            continue;
        };
        for (j, sub) in chain.iter().enumerate().take(i) {
            if j > 0 && sub.is_self_issued() {
                continue;
            }
            // RFC 5280 4.2.1.10: a form the constraint restricts but that
            // we keep opaque (x400Address, ediPartyName) cannot be judged.
            let opaque = &chain[i].extensions().nc_opaque;
            if let Some(n) = sub
                .extensions()
                .san_opaque
                .iter()
                .find(|n| opaque.restricts(n.form))
            {
                return Err(Error::NameConstraints {
                    index: j,
                    constrained_by: i,
                    violation: crate::name::NameConstraintViolation::UnsupportedConstraint {
                        kind: n.form.as_str().to_owned(),
                    },
                });
            }
            let san = sub.extensions().subject_alt_name.as_ref().map(|s| &s.value);
            crate::name::check_name_constraints(&nc.value, sub.subject(), san, j == 0).map_err(
                |violation| Error::NameConstraints {
                    index: j,
                    constrained_by: i,
                    violation,
                },
            )?;
        }
    }

    // RFC 5280 6.1.3 (d)-(f), 6.1.4 (a)-(b), (g)-(j), 6.1.5: policies, from the
    // certificate issued by the anchor down to the end entity.
    let policy_path: Vec<PolicyCert<'_>> = chain[..n - 1]
        .iter()
        .rev()
        .map(|c| {
            let e = c.extensions();
            PolicyCert {
                policies: e.certificate_policies.as_ref().map(|x| &x.value),
                mappings: e.policy_mappings.as_ref().map(|x| &x.value),
                constraints: e.policy_constraints.as_ref().map(|x| &x.value),
                inhibit_any_policy: e.inhibit_any_policy.as_ref().map(|x| x.value),
                self_issued: c.is_self_issued(),
            }
        })
        .collect();
    let policies = process_policies(&opts.policy, &policy_path).map_err(Error::Policy)?;

    let level = tier_def
        .level_for(&policies.valid_policies)
        .ok_or_else(|| Error::NoAssurancePolicy {
            tier: tier_def.name.clone(),
        })?;
    if let Some(required) = opts.required_level {
        if level < required {
            return Err(Error::AssuranceLevelTooLow {
                reached: level,
                required,
            });
        }
    }

    // RFC 5280 6.1.3 (a)(3): revocation status of every certificate but the
    // anchor, under the reached tier's revocation policy.
    let mut revocation = Vec::new();
    let tier_policy = &tier_def.revocation;
    let hard_fail = opts.require_revocation || tier_policy.is_hard_fail();
    if let Some(source) = opts
        .revocation
        .filter(|_| tier_policy.checks() || opts.require_revocation)
    {
        let refs: Vec<&Cert> = chain.iter().map(AsRef::as_ref).collect();
        revocation.reserve_exact(n - 1);
        for i in 0..n - 1 {
            let status = source.status_under(&refs, i, opts.time, tier_policy);
            match &status {
                RevocationStatus::Revoked {
                    reason, revoked_at, ..
                } => {
                    return Err(Error::Revoked {
                        index: i,
                        reason: *reason,
                        revoked_at: *revoked_at,
                    })
                }
                RevocationStatus::Unknown { detail } if hard_fail => {
                    return Err(Error::RevocationStatusUnavailable {
                        index: i,
                        detail: detail.clone(),
                    })
                }
                RevocationStatus::Unknown { detail } => {
                    warnings.push(format!(
                        "certificate {i}: revocation unchecked, accepted under soft-fail ({detail})"
                    ));
                }
                RevocationStatus::Good { .. } => {}
            }
            revocation.push(status);
        }
    } else if opts.revocation.is_none() && hard_fail {
        return Err(Error::RevocationStatusUnavailable {
            index: 0,
            detail: "no revocation source configured".into(),
        });
    }

    Ok(ValidatedPath {
        certs: chain.to_vec(),
        tier,
        tier_name: tier_def.name.clone(),
        level,
        policies,
        revocation,
        legacy,
        warnings,
        findings,
        profile,
    })
}
