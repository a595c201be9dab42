//! RFC 5280 6.1 checks on a complete candidate path, plus the end-entity
//! checks done before building starts.

use std::sync::Arc;

use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::KeyUsages;

use super::policy::{process_policies, PolicyCert};
use super::{Purpose, ValidatedPath, ValidationOptions, Validator};
use crate::cert::Cert;
use crate::revocation::RevocationStatus;
use crate::{oid, Error};

fn bad(index: usize, extension: &'static str, reason: impl Into<String>) -> Error {
    Error::BadExtension {
        index,
        extension,
        reason: reason.into(),
    }
}

/// Checks shared by every certificate of the path, at `index`.
fn check_common(
    cert: &Cert,
    index: usize,
    anchor: bool,
    opts: &ValidationOptions<'_>,
    legacy: &mut Vec<String>,
) -> Result<(), Error> {
    if let (false, Some(e)) = (anchor, cert.serial_problem()) {
        return Err(e.clone().at_index(index));
    }
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
    // RFC 5280 4.2: a critical extension we do not process.
    if let Some(oid) = cert.extensions().unknown_critical.first() {
        return Err(Error::UnknownCriticalExtension { index, oid: *oid });
    }
    let key = cert.public_key().map_err(|e| e.at_index(index))?;
    if let Some(note) = key.check_policy(opts.algorithm_policy)? {
        legacy.push(format!("certificate {index}: {note}"));
    }
    // Under the Web PKI profile every certificate is v3 (CA/B BR 7.1.1).
    if opts.purpose == Purpose::ServerAuth && cert.version() != 3 {
        return Err(Error::InvalidVersion {
            index,
            version: cert.version(),
        });
    }
    // RFC 5280 4.2.1.1: every certificate but a self-signed one names its issuer's key.
    if !cert.is_self_issued()
        && cert
            .extensions()
            .authority_key_id
            .as_ref()
            .is_none_or(|a| a.key_identifier.is_none())
    {
        return Err(bad(
            index,
            "authorityKeyIdentifier",
            "keyIdentifier missing",
        ));
    }
    Ok(())
}

/// End-entity checks that do not depend on the path: done once, before
/// building, so that a wrong name or purpose is reported as such.
pub(super) fn check_end_entity(leaf: &Cert, opts: &ValidationOptions<'_>) -> Result<(), Error> {
    check_common(leaf, 0, false, opts, &mut Vec::new())?;
    let ext = leaf.extensions();
    // RFC 5280 4.2.1.10: name constraints only in CA certificates.
    if ext.name_constraints.is_some() && !leaf.is_ca() {
        return Err(bad(
            0,
            "nameConstraints",
            "present in an end-entity certificate",
        ));
    }

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
    if opts.purpose == Purpose::ServerAuth {
        check_tls_server_leaf(leaf)?;
    }
    if let Some(peer) = &opts.peer_name {
        let san = ext.subject_alt_name.as_ref().map(|s| &s.value);
        crate::name::verify_peer_name(san, peer).map_err(Error::PeerName)?;
        if opts.purpose == Purpose::ServerAuth {
            check_wildcard_not_over_public_suffix(san, peer)?;
        }
    }
    Ok(())
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

/// CA/Browser Forum Baseline Requirements 7.1.2.7 (subscriber certificates)
///, applied to TLS server end entities.
fn check_tls_server_leaf(leaf: &Cert) -> Result<(), Error> {
    let ext = leaf.extensions();
    if leaf.is_ca() {
        return Err(Error::CaUsedAsEndEntity { index: 0 });
    }
    let Some(eku) = &ext.ext_key_usage else {
        return Err(bad(0, "extKeyUsage", "required in TLS server certificates"));
    };
    if eku.critical {
        return Err(bad(
            0,
            "extKeyUsage",
            "must not be critical in TLS server certificates",
        ));
    }
    if eku.value.contains(&oid::KP_ANY) {
        return Err(bad(
            0,
            "extKeyUsage",
            "anyExtendedKeyUsage is not allowed in TLS server certificates",
        ));
    }
    let Some(san) = &ext.subject_alt_name else {
        return Err(Error::PeerName(crate::name::NameError::NoSubjectAltName));
    };
    if san.critical && !leaf.subject_is_empty() {
        return Err(bad(
            0,
            "subjectAltName",
            "critical although the subject is not empty",
        ));
    }
    // CA/B BR 7.1.4.3: a subject commonName that names a host must be one of
    // the subjectAltName values, byte for byte (IP addresses in canonical
    // RFC 5952 / dotted-quad text).
    for cn in common_names(leaf).iter().filter(|cn| looks_like_host(cn)) {
        let in_san = san.value.0.iter().any(|n| match n {
            GeneralName::DnsName(d) => d.as_str() == cn,
            GeneralName::IpAddress(ip) => ip_text(ip.as_bytes()).is_some_and(|t| &t == cn),
            _ => false,
        });
        if !in_san {
            return Err(bad(
                0,
                "subject commonName",
                format!("{cn:?} is not one of the subjectAltName values in canonical form"),
            ));
        }
    }
    Ok(())
}

/// Whether a commonName is meant as a host name or address (rather than a
/// label such as "EE" or "Jane Doe").
fn looks_like_host(cn: &str) -> bool {
    !cn.contains(' ')
        && (cn.contains('.') || cn.contains(':') || cn.starts_with("0x") || cn.starts_with("0X"))
}

/// Text of the subject's commonName attributes.
fn common_names(cert: &Cert) -> Vec<String> {
    cert.subject()
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| atv.oid == oid::AT_COMMON_NAME)
        .map(|atv| String::from_utf8_lossy(atv.value.value()).into_owned())
        .collect()
}

/// RFC 5952 / dotted-quad text of a SAN iPAddress.
fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes)
            .ok()
            .map(|b| std::net::Ipv4Addr::from(b).to_string()),
        16 => <[u8; 16]>::try_from(bytes)
            .ok()
            .map(|b| std::net::Ipv6Addr::from(b).to_string()),
        _ => None,
    }
}

/// Checks for a certificate that issues others (intermediates and anchor).
fn check_issuer(
    cert: &Cert,
    index: usize,
    anchor: bool,
    opts: &ValidationOptions<'_>,
) -> Result<(), Error> {
    let ext = cert.extensions();
    // RFC 5280 6.1.4 (k): basicConstraints present with cA TRUE; 4.2.1.9: critical in CA certificates.
    let Some(bc) = &ext.basic_constraints else {
        return Err(Error::NotCa { index });
    };
    if !bc.value.ca {
        return Err(Error::NotCa { index });
    }
    if !bc.critical {
        return Err(bad(
            index,
            "basicConstraints",
            "must be critical in a CA certificate",
        ));
    }
    // RFC 5280 6.1.4 (n).
    if !cert.key_usage_allows(KeyUsages::KeyCertSign) {
        return Err(Error::KeyUsageNotAllowed {
            index,
            needed: "keyCertSign",
        });
    }
    // RFC 5280 4.2.1.2: CA certificates MUST carry a subjectKeyIdentifier.
    if ext.subject_key_id.is_none() {
        return Err(bad(
            index,
            "subjectKeyIdentifier",
            "missing in a CA certificate",
        ));
    }
    // RFC 5280 4.1.2.6: a CA's subject is not empty.
    if cert.subject_is_empty() {
        return Err(bad(index, "subject", "empty in a CA certificate"));
    }
    if let Some(nc) = &ext.name_constraints {
        // RFC 5280 4.2.1.10: conforming CAs MUST mark it critical.
        if !nc.critical {
            return Err(bad(index, "nameConstraints", "must be critical"));
        }
    }
    // EKU chaining (as Windows, Chrome and rustls-webpki do): a CA that
    // restricts its extended key usages must allow the purpose.
    if let Some(eku) = &ext.ext_key_usage {
        if anchor && opts.purpose == Purpose::ServerAuth {
            return Err(bad(
                index,
                "extKeyUsage",
                "not allowed in a root CA (CA/B BR 7.1.2.1.2)",
            ));
        }
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
    if anchor && cert.is_self_issued() && opts.purpose == Purpose::ServerAuth {
        // CA/B BR 7.1.2.1.3: a root's AKI, if present, is keyIdentifier only, equal to its SKI.
        if let Some(aki) = &ext.authority_key_id {
            let ok = aki.authority_cert_issuer.is_none()
                && aki.authority_cert_serial_number.is_none()
                && aki
                    .key_identifier
                    .as_ref()
                    .is_some_and(|k| Some(k.as_bytes()) == ext.subject_key_id.as_deref());
            if !ok {
                return Err(bad(
                    index,
                    "authorityKeyIdentifier",
                    "root AKI must be keyIdentifier only, equal to the SKI",
                ));
            }
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
) -> Result<ValidatedPath, Error> {
    let n = chain.len();
    let mut legacy = Vec::new();
    let mut warnings = Vec::new();
    for (i, cert) in chain.iter().enumerate() {
        if i > 0 {
            check_common(cert, i, i == n - 1, opts, &mut legacy)?;
            check_issuer(cert, i, i == n - 1, opts)?;
        }
        if i + 1 < n {
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

    let tier_def = validator.trust.tier(tier);
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
    })
}
