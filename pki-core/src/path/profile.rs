//! Issuance-profile rules: what RFC 5280 and the CA/Browser Forum Baseline
//! Requirements ask of the CA that *issued* a certificate, as opposed to
//! the relying party's algorithm of RFC 5280 section 6, which alone decides
//! validity.
//!
//! A broken rule is a [`Finding`]: reported with the rule it cites, and an
//! error only under [`Profile::Strict`]. Under [`Profile::Rfc5280`] the
//! validator accepts what RFC 5280 section 6 accepts and lists the findings
//! beside the verdict, as OpenSSL without `-x509_strict`, Go and
//! rustls-webpki treat these deviations.
//!
//! Trust anchors are inputs (RFC 5280 6.1.1 (d), RFC 5937): under `rfc5280`
//! no rule is applied to them. Under `strict` they are held to the root
//! profile too, since a strict domain is one whose roots we (or the CA/B
//! root programs) vet.

use std::fmt;

use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::KeyUsages;

use super::Purpose;
use crate::cert::Cert;
use crate::{oid, Error};

/// Which rules beyond RFC 5280 section 6 make a path invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Profile {
    /// RFC 5280 section 6 decides; issuance-profile findings are warnings.
    /// For third-party CAs that follow RFC 5280 but not our profile.
    #[default]
    Rfc5280,
    /// Findings are errors: for TLS server certificates (CA/B BR) and for
    /// our own CNIE domain, where any deviation is an alarm.
    Strict,
}

impl Profile {
    pub const ALL: [Self; 2] = [Self::Rfc5280, Self::Strict];

    /// The default for a purpose: `strict` for server-auth, `rfc5280`
    /// otherwise.
    pub fn default_for(purpose: Purpose) -> Self {
        match purpose {
            Purpose::ServerAuth => Self::Strict,
            _ => Self::Rfc5280,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rfc5280 => "rfc5280",
            Self::Strict => "strict",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown profile {s:?} (expected rfc5280 or strict)"))
    }
}

/// A rule addressed to the issuing CA that a certificate of the path
/// breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Position in the path (0 = end entity).
    pub index: usize,
    /// The rule, as cited: `RFC 5280 4.2.1.9`, `CA/B BR 7.1.2.7.10`.
    pub rule: &'static str,
    /// What is wrong, as the error it becomes under [`Profile::Strict`].
    pub error: Error,
}

impl Finding {
    /// The stable code of the underlying error.
    pub fn code(&self) -> &'static str {
        self.error.code()
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]", self.error, self.rule)
    }
}

/// Where a certificate sits in the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    EndEntity,
    Intermediate,
    Anchor,
}

/// One rule: its citation, the purposes it is about (`None`: every one),
/// and the check, which returns the problem with index 0.
struct Rule {
    cite: &'static str,
    only_for: Option<Purpose>,
    check: fn(&Cert, Role) -> Option<Error>,
}

fn bad(extension: &'static str, reason: &str) -> Error {
    Error::BadExtension {
        index: 0,
        extension,
        reason: reason.to_owned(),
    }
}

fn is_ca_role(role: Role) -> bool {
    role != Role::EndEntity
}

/// The rules, in the order RFC 5280 and the BRs state them.
const RULES: &[Rule] = &[
    Rule {
        cite: "RFC 5280 4.1.2.1",
        only_for: None,
        check: |c, _| {
            // Extensions only in v3; v2 adds only unique identifiers, which
            // conforming CAs MUST NOT generate (4.1.2.8).
            let v = c.version();
            (v == 2 || (c.has_extensions() && v != 3)).then_some(Error::InvalidVersion {
                index: 0,
                version: v,
            })
        },
    },
    Rule {
        cite: "RFC 5280 4.1.2.2",
        only_for: None,
        check: |c, role| {
            // Some long-lived roots have serial 0: not judged on anchors.
            c.serial_problem().filter(|_| role != Role::Anchor).cloned()
        },
    },
    Rule {
        cite: "RFC 5280 4.1.2.4",
        only_for: None,
        check: |c, _| {
            c.issuer_is_empty()
                .then(|| bad("issuer", "issuer name is empty"))
        },
    },
    Rule {
        cite: "RFC 5280 4.1.2.6",
        only_for: None,
        check: |c, role| {
            (is_ca_role(role) && c.subject_is_empty())
                .then(|| bad("subject", "empty in a CA certificate"))
        },
    },
    Rule {
        cite: "RFC 5280 4.1",
        only_for: None,
        check: |c, _| {
            c.extensions()
                .empty_list
                .then(|| bad("extensions", "empty extensions sequence (SIZE (1..MAX))"))
        },
    },
    Rule {
        cite: "RFC 5280 4.2.1.1",
        only_for: None,
        check: |c, role| {
            let e = c.extensions();
            if e.is_critical(oid::CE_AUTHORITY_KEY_IDENTIFIER) {
                return Some(bad("authorityKeyIdentifier", "must not be critical"));
            }
            if let Some(aki) = &e.authority_key_id {
                if aki.authority_cert_issuer.is_some() != aki.authority_cert_serial_number.is_some()
                {
                    return Some(bad(
                        "authorityKeyIdentifier",
                        "authorityCertIssuer and authorityCertSerialNumber must appear together",
                    ));
                }
            }
            // Every certificate but a self-signed one names its issuer's key.
            let names_key = e
                .authority_key_id
                .as_ref()
                .is_some_and(|a| a.key_identifier.is_some());
            let _ = role;
            if !c.is_self_issued() && !names_key {
                return Some(bad("authorityKeyIdentifier", "keyIdentifier missing"));
            }
            None
        },
    },
    Rule {
        cite: "RFC 5280 4.2.1.2",
        only_for: None,
        check: |c, role| {
            let e = c.extensions();
            if e.is_critical(oid::CE_SUBJECT_KEY_IDENTIFIER) {
                return Some(bad("subjectKeyIdentifier", "must not be critical"));
            }
            (is_ca_role(role) && e.subject_key_id.is_none())
                .then(|| bad("subjectKeyIdentifier", "missing in a CA certificate"))
        },
    },
    Rule {
        cite: "RFC 5280 4.2.1.3",
        only_for: None,
        check: |c, _| {
            c.extensions()
                .key_usage
                .as_ref()
                .is_some_and(|ku| ku.value.0.is_empty())
                .then(|| bad("keyUsage", "no bit set"))
        },
    },
    Rule {
        cite: "RFC 5280 4.2.1.6",
        only_for: None,
        check: |c, _| {
            let e = c.extensions();
            let san = e.subject_alt_name.as_ref()?;
            if san.value.0.is_empty() && e.san_opaque.is_empty() {
                return Some(bad("subjectAltName", "no names (SIZE (1..MAX))"));
            }
            if let Some(d) = san.value.0.iter().find_map(|n| match n {
                GeneralName::DnsName(d) if !crate::name::is_preferred_dns_name(d.as_str()) => {
                    Some(d.as_str())
                }
                _ => None,
            }) {
                return Some(Error::BadExtension {
                    index: 0,
                    extension: "subjectAltName",
                    reason: format!(
                        "dNSName {:?} is not in the preferred name syntax",
                        crate::name::printable(d)
                    ),
                });
            }
            (c.subject_is_empty() && !san.critical).then(|| {
                bad(
                    "subjectAltName",
                    "must be critical when the subject is empty",
                )
            })
        },
    },
    Rule {
        cite: "RFC 5280 4.2.1.9",
        only_for: None,
        check: |c, role| {
            let e = c.extensions();
            if let Some(bc) = &e.basic_constraints {
                if bc.value.path_len_constraint.is_some() && !bc.value.ca {
                    return Some(bad("basicConstraints", "pathLenConstraint without cA"));
                }
                if is_ca_role(role) && bc.value.ca && !bc.critical {
                    return Some(bad(
                        "basicConstraints",
                        "must be critical in a CA certificate",
                    ));
                }
            }
            let ku = e.key_usage.as_ref()?;
            (ku.value.0.contains(KeyUsages::KeyCertSign) && !c.is_ca()).then(|| {
                bad(
                    "keyUsage",
                    "keyCertSign asserted but basicConstraints cA is not",
                )
            })
        },
    },
    Rule {
        cite: "RFC 5280 4.2.1.10",
        only_for: None,
        check: |c, role| {
            let e = c.extensions();
            let nc = e.name_constraints.as_ref()?;
            if !c.is_ca() {
                return Some(bad(
                    "nameConstraints",
                    "present in an end-entity certificate",
                ));
            }
            if !nc.critical {
                return Some(bad("nameConstraints", "must be critical"));
            }
            let empty = |s: &Option<Vec<_>>| s.as_ref().is_none_or(Vec::is_empty);
            (empty(&nc.value.permitted_subtrees)
                && empty(&nc.value.excluded_subtrees)
                && e.nc_opaque.is_empty()
                && is_ca_role(role))
            .then(|| bad("nameConstraints", "neither permitted nor excluded subtrees"))
        },
    },
    Rule {
        cite: "RFC 5280 4.2.1.11",
        only_for: None,
        check: |c, _| {
            let pc = c.extensions().policy_constraints.as_ref()?;
            (!pc.critical).then(|| bad("policyConstraints", "must be critical"))
        },
    },
    Rule {
        cite: "RFC 5280 4.2.1.12",
        only_for: None,
        check: |c, _| {
            c.extensions()
                .ext_key_usage
                .as_ref()
                .is_some_and(|eku| eku.value.is_empty())
                .then(|| bad("extKeyUsage", "no key purpose listed (SIZE (1..MAX))"))
        },
    },
    Rule {
        cite: "RFC 5280 4.2.1.13",
        only_for: None,
        check: |c, _| {
            c.extensions()
                .crl_distribution_points
                .as_ref()
                .is_some_and(|cdp| cdp.0.is_empty())
                .then(|| bad("cRLDistributionPoints", "no distribution point"))
        },
    },
    Rule {
        cite: "RFC 5280 4.2.1.14",
        only_for: None,
        check: |c, _| {
            c.extensions()
                .inhibit_any_policy
                .as_ref()
                .is_some_and(|x| !x.critical)
                .then(|| bad("inhibitAnyPolicy", "must be critical"))
        },
    },
    Rule {
        cite: "RFC 5280 4.2.2.1",
        only_for: None,
        check: |c, _| {
            let e = c.extensions();
            let aia = e.authority_info_access.as_ref()?;
            if e.is_critical(oid::PE_AUTHORITY_INFO_ACCESS) {
                return Some(bad("authorityInfoAccess", "must not be critical"));
            }
            aia.0
                .is_empty()
                .then(|| bad("authorityInfoAccess", "no access description"))
        },
    },
    // CA/Browser Forum Baseline Requirements, TLS server certificates.
    Rule {
        cite: "CA/B BR 7.1.1",
        only_for: Some(Purpose::ServerAuth),
        check: |c, _| {
            (c.version() != 3).then_some(Error::InvalidVersion {
                index: 0,
                version: c.version(),
            })
        },
    },
    Rule {
        cite: "CA/B BR 7.1.2.1.2",
        only_for: Some(Purpose::ServerAuth),
        check: |c, role| {
            (role == Role::Anchor && c.extensions().ext_key_usage.is_some())
                .then(|| bad("extKeyUsage", "not allowed in a root CA"))
        },
    },
    Rule {
        cite: "CA/B BR 7.1.2.1.3",
        only_for: Some(Purpose::ServerAuth),
        check: |c, role| {
            if role != Role::Anchor || !c.is_self_issued() {
                return None;
            }
            // A root's AKI, if present, is keyIdentifier only, equal to its SKI.
            let e = c.extensions();
            let aki = e.authority_key_id.as_ref()?;
            let ok = aki.authority_cert_issuer.is_none()
                && aki.authority_cert_serial_number.is_none()
                && aki
                    .key_identifier
                    .as_ref()
                    .is_some_and(|k| Some(k.as_bytes()) == e.subject_key_id.as_deref());
            (!ok).then(|| {
                bad(
                    "authorityKeyIdentifier",
                    "root AKI must be keyIdentifier only, equal to the SKI",
                )
            })
        },
    },
    Rule {
        cite: "CA/B BR 7.1.2.7.8",
        only_for: Some(Purpose::ServerAuth),
        check: |c, role| {
            (role == Role::EndEntity && c.is_ca()).then_some(Error::CaUsedAsEndEntity { index: 0 })
        },
    },
    Rule {
        cite: "CA/B BR 7.1.2.7.10",
        only_for: Some(Purpose::ServerAuth),
        check: |c, role| {
            if role != Role::EndEntity {
                return None;
            }
            let Some(eku) = &c.extensions().ext_key_usage else {
                return Some(bad("extKeyUsage", "required in TLS server certificates"));
            };
            if eku.critical {
                return Some(bad(
                    "extKeyUsage",
                    "must not be critical in TLS server certificates",
                ));
            }
            eku.value.contains(&oid::KP_ANY).then(|| {
                bad(
                    "extKeyUsage",
                    "anyExtendedKeyUsage is not allowed in TLS server certificates",
                )
            })
        },
    },
    Rule {
        cite: "CA/B BR 7.1.2.7.12",
        only_for: Some(Purpose::ServerAuth),
        check: |c, role| {
            if role != Role::EndEntity {
                return None;
            }
            let Some(san) = &c.extensions().subject_alt_name else {
                return Some(Error::PeerName(crate::name::NameError::NoSubjectAltName));
            };
            (san.critical && !c.subject_is_empty()).then(|| {
                bad(
                    "subjectAltName",
                    "critical although the subject is not empty",
                )
            })
        },
    },
    Rule {
        cite: "CA/B BR 7.1.4.3",
        only_for: Some(Purpose::ServerAuth),
        check: |c, role| {
            if role != Role::EndEntity {
                return None;
            }
            let san = c.extensions().subject_alt_name.as_ref()?;
            // A subject commonName that names a host must be one of the
            // subjectAltName values, byte for byte (IP addresses in
            // canonical RFC 5952 / dotted-quad text).
            let cn = common_names(c)
                .into_iter()
                .filter(|cn| looks_like_host(cn))
                .find(|cn| {
                    !san.value.0.iter().any(|n| match n {
                        GeneralName::DnsName(d) => d.as_str() == cn,
                        GeneralName::IpAddress(ip) => {
                            ip_text(ip.as_bytes()).is_some_and(|t| &t == cn)
                        }
                        _ => false,
                    })
                })?;
            Some(Error::BadExtension {
                index: 0,
                extension: "subject commonName",
                reason: format!("{cn:?} is not one of the subjectAltName values in canonical form"),
            })
        },
    },
];

/// Applies the issuance rules to the certificate at `index` of a path
/// (in `role`), for `purpose`, and adds what it breaks to `out`.
pub(crate) fn check(
    cert: &Cert,
    index: usize,
    role: Role,
    purpose: Purpose,
    out: &mut Vec<Finding>,
) {
    for rule in RULES {
        if rule.only_for.is_some_and(|p| p != purpose) {
            continue;
        }
        if let Some(e) = (rule.check)(cert, role) {
            out.push(Finding {
                index,
                rule: rule.cite,
                error: e.at_index(index),
            });
        }
    }
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
