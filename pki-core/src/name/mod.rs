//! Names: peer-name matching (RFC 6125), distinguished-name comparison
//! (RFC 5280 7.1) and name constraints (RFC 5280 4.2.1.10, 6.1.3 (b)-(c)).

use std::fmt;
use std::net::IpAddr;

use der::asn1::Any;
use der::{Tag, Tagged};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::ext::pkix::constraints::name::{GeneralSubtree, NameConstraints};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::name::{Name, RelativeDistinguishedName};

use crate::oid;

/// Most (name, subtree) comparisons one certificate pair may cost; beyond
/// it the constraints are treated as violated (rustls-webpki uses the same
/// order of magnitude).
pub const MAX_CONSTRAINT_COMPARISONS: usize = 250_000;

/// A name the caller expects the end-entity certificate to be valid for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PeerName {
    /// A DNS name, lower-cased, without a trailing dot.
    Dns(String),
    Ip(IpAddr),
    /// An email address (RFC 5321 mailbox).
    Email(String),
}

impl PeerName {
    /// `@` makes an email address; an IPv4/IPv6 literal an address;
    /// anything else must be a valid DNS name (no wildcard).
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if s.contains('@') {
            return if valid_email(s) {
                Ok(Self::Email(s.to_owned()))
            } else {
                Err(NameError::InvalidPeerName(s.to_owned()))
            };
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Self::Ip(ip));
        }
        let d = s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase();
        if valid_dns(&d, false) {
            Ok(Self::Dns(d))
        } else {
            Err(NameError::InvalidPeerName(s.to_owned()))
        }
    }
}

impl fmt::Display for PeerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dns(d) => f.write_str(d),
            Self::Ip(ip) => write!(f, "{ip}"),
            Self::Email(e) => f.write_str(e),
        }
    }
}

/// Why a certificate is not valid for a peer name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    #[error("no subjectAltName extension (the subject CN is not used for names)")]
    NoSubjectAltName,
    #[error("not valid for {expected}; valid for {presented:?}")]
    NotValidForName {
        expected: String,
        presented: Vec<String>,
    },
    #[error("{0:?} is not a valid DNS name, IP address or email address")]
    InvalidPeerName(String),
}

/// A name that lies outside a CA's name constraints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameConstraintViolation {
    #[error("{name} is not within the permitted subtrees")]
    NotPermitted { name: String },
    #[error("{name} is within the excluded subtree {subtree}")]
    Excluded { name: String, subtree: String },
    #[error("constraints on {kind} names are not supported and the certificate has such a name")]
    UnsupportedConstraint { kind: String },
    #[error("malformed name {name} under name constraints")]
    MalformedName { name: String },
    #[error("malformed name constraint: {0}")]
    Malformed(String),
    #[error("name constraint check exceeded {MAX_CONSTRAINT_COMPARISONS} comparisons")]
    BudgetExceeded,
}

/// RFC 1034 / RFC 5280 4.2.1.6 DNS name syntax: letters, digits and hyphens,
/// labels of 1-63 characters not starting or ending with a hyphen, at most
/// 253 characters. `wildcard` allows a left-most "*" label.
pub fn valid_dns(name: &str, wildcard: bool) -> bool {
    let name = if wildcard {
        name.strip_prefix("*.").unwrap_or(name)
    } else {
        name
    };
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    name.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    })
}

fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !local.contains('@')
        && local.is_ascii()
        && !local.bytes().any(|b| b.is_ascii_control() || b == b' ')
        && valid_dns(&domain.to_ascii_lowercase(), false)
}

fn ip_bytes(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// Whether a presented DNS identifier (possibly "*.rest") matches `host`
/// (RFC 6125 6.4.3: the wildcard is the whole left-most label and matches
/// exactly one label; at least two labels after it).
fn dns_matches(presented: &str, host: &str) -> bool {
    let p = presented
        .strip_suffix('.')
        .unwrap_or(presented)
        .to_ascii_lowercase();
    if !valid_dns(&p, true) {
        return false;
    }
    if let Some(rest) = p.strip_prefix("*.") {
        if !rest.contains('.') {
            return false;
        }
        return host
            .split_once('.')
            .is_some_and(|(first, tail)| !first.is_empty() && tail == rest);
    }
    p == host
}

/// RFC 6125 / RFC 5280 matching of `peer` against the subjectAltName only.
pub fn verify_peer_name(san: Option<&SubjectAltName>, peer: &PeerName) -> Result<(), NameError> {
    let san = san.ok_or(NameError::NoSubjectAltName)?;
    let mut presented = Vec::new();
    for n in &san.0 {
        let ok = match (n, peer) {
            (GeneralName::DnsName(d), PeerName::Dns(host)) => dns_matches(d.as_str(), host),
            (GeneralName::IpAddress(b), PeerName::Ip(ip)) => {
                b.as_bytes() == ip_bytes(ip).as_slice()
            }
            (GeneralName::Rfc822Name(m), PeerName::Email(e)) => email_equal(m.as_str(), e),
            _ => false,
        };
        if ok {
            return Ok(());
        }
        presented.push(general_name_text(n));
    }
    Err(NameError::NotValidForName {
        expected: peer.to_string(),
        presented,
    })
}

fn email_equal(a: &str, b: &str) -> bool {
    match (a.rsplit_once('@'), b.rsplit_once('@')) {
        (Some((la, da)), Some((lb, db))) => la == lb && da.eq_ignore_ascii_case(db),
        _ => false,
    }
}

fn general_name_text(n: &GeneralName) -> String {
    match n {
        GeneralName::DnsName(d) => format!("dNSName {}", d.as_str()),
        GeneralName::Rfc822Name(m) => format!("rfc822Name {}", m.as_str()),
        GeneralName::UniformResourceIdentifier(u) => format!("URI {}", u.as_str()),
        GeneralName::IpAddress(b) => match b.as_bytes().len() {
            4 | 16 => format!("iPAddress {}", ip_text(b.as_bytes())),
            _ => format!("iPAddress (malformed, {} bytes)", b.as_bytes().len()),
        },
        GeneralName::DirectoryName(d) => format!("directoryName {d}"),
        GeneralName::OtherName(o) => format!("otherName {}", o.type_id),
        GeneralName::RegisteredId(o) => format!("registeredID {o}"),
        GeneralName::EdiPartyName(_) => "ediPartyName".into(),
    }
}

fn ip_text(b: &[u8]) -> String {
    if let Ok(a) = <[u8; 4]>::try_from(b) {
        return std::net::Ipv4Addr::from(a).to_string();
    }
    if let Ok(a) = <[u8; 16]>::try_from(b) {
        return std::net::Ipv6Addr::from(a).to_string();
    }
    crate::cert::hex(b)
}

/// String-typed attribute values, normalised for RFC 5280 7.1 comparison
/// (case folded, outer whitespace trimmed, inner runs collapsed).
fn normalised_string(v: &Any) -> Option<String> {
    let raw = v.value();
    let s = match v.tag() {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::TeletexString
        | Tag::VisibleString => String::from_utf8(raw.to_vec()).ok()?,
        Tag::BmpString => {
            if raw.len() % 2 != 0 {
                return None;
            }
            let units: Vec<u16> = raw
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()?
        }
        _ => return None,
    };
    Some(
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase(),
    )
}

fn atv_equal(a: &AttributeTypeAndValue, b: &AttributeTypeAndValue) -> bool {
    if a.oid != b.oid {
        return false;
    }
    if a.value == b.value {
        return true;
    }
    match (normalised_string(&a.value), normalised_string(&b.value)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

fn rdn_equal(a: &RelativeDistinguishedName, b: &RelativeDistinguishedName) -> bool {
    a.0.len() == b.0.len() && a.0.iter().all(|x| b.0.iter().any(|y| atv_equal(x, y)))
}

/// RFC 5280 7.1 name comparison: exact DER first, then RDN by RDN with
/// string values compared case-insensitively with whitespace folded.
pub fn names_equal(a: &Name, b: &Name) -> bool {
    a == b || (a.0.len() == b.0.len() && a.0.iter().zip(b.0.iter()).all(|(x, y)| rdn_equal(x, y)))
}

/// Whether `prefix`'s RDN sequence begins `name`'s (directoryName subtree).
fn dn_within(name: &Name, prefix: &Name) -> bool {
    prefix.0.len() <= name.0.len()
        && prefix
            .0
            .iter()
            .zip(name.0.iter())
            .all(|(p, n)| rdn_equal(p, n))
}

/// A name of the subordinate certificate, in the form constraints compare.
enum Subject<'a> {
    Dns(String),
    Ip(&'a [u8]),
    Email(String),
    Uri(&'a str),
    Dn(&'a Name),
    Other(&'static str),
}

impl Subject<'_> {
    fn describe(&self) -> String {
        match self {
            Self::Dns(d) => format!("dNSName {d}"),
            Self::Ip(b) => format!("iPAddress {}", ip_text(b)),
            Self::Email(e) => format!("rfc822Name {e}"),
            Self::Uri(u) => format!("URI {u}"),
            Self::Dn(n) => format!("directoryName {n}"),
            Self::Other(k) => (*k).to_owned(),
        }
    }
}

fn constraint_kind(n: &GeneralName) -> &'static str {
    match n {
        GeneralName::DnsName(_) => "dNSName",
        GeneralName::IpAddress(_) => "iPAddress",
        GeneralName::Rfc822Name(_) => "rfc822Name",
        GeneralName::UniformResourceIdentifier(_) => "URI",
        GeneralName::DirectoryName(_) => "directoryName",
        GeneralName::OtherName(_) => "otherName",
        GeneralName::RegisteredId(_) => "registeredID",
        GeneralName::EdiPartyName(_) => "ediPartyName",
    }
}

fn subject_kind(s: &Subject<'_>) -> &'static str {
    match s {
        Subject::Dns(_) => "dNSName",
        Subject::Ip(_) => "iPAddress",
        Subject::Email(_) => "rfc822Name",
        Subject::Uri(_) => "URI",
        Subject::Dn(_) => "directoryName",
        Subject::Other(k) => k,
    }
}

/// DNS constraint (RFC 5280 4.2.1.10): empty matches everything; otherwise a
/// host name, matching itself and every subdomain. A leading period or a
/// wildcard is malformed.
fn dns_constraint(c: &str) -> Result<String, NameConstraintViolation> {
    let c = c.strip_suffix('.').unwrap_or(c).to_ascii_lowercase();
    if c.is_empty() || valid_dns(&c, false) {
        Ok(c)
    } else {
        Err(NameConstraintViolation::Malformed(format!(
            "dNSName constraint {c:?}"
        )))
    }
}

fn dns_within(name: &str, c: &str) -> bool {
    c.is_empty()
        || name == c
        || (name.len() > c.len()
            && name.ends_with(c)
            && name.as_bytes()[name.len() - c.len() - 1] == b'.')
}

/// Relation of a (possibly wildcard) DNS name to a constraint: `(within,
/// overlaps)`. A wildcard "*.r" is within c when every name it covers is,
/// and overlaps c when some name it covers is (CVE-2025-61727: the
/// defensive reading for exclusions).
fn dns_relation(name: &str, c: &str) -> (bool, bool) {
    if let Some(rest) = name.strip_prefix("*.") {
        let within = dns_within(rest, c);
        let parent = c.split_once('.').map_or("", |(_, p)| p);
        (within, within || (!c.is_empty() && parent == rest))
    } else {
        let w = dns_within(name, c);
        (w, w)
    }
}

/// rfc822Name constraint: a mailbox (exact), a host (all mailboxes there)
/// or ".domain" (mailboxes at any subdomain). Characters are literal.
fn email_within(mailbox: &str, c: &str) -> Result<bool, NameConstraintViolation> {
    let (local, domain) =
        mailbox
            .rsplit_once('@')
            .ok_or_else(|| NameConstraintViolation::MalformedName {
                name: format!("rfc822Name {mailbox}"),
            })?;
    let domain = domain.to_ascii_lowercase();
    if c.contains('@') {
        if c.matches('@').count() != 1 || !valid_email(c) {
            return Err(NameConstraintViolation::Malformed(format!(
                "rfc822Name constraint {c:?}"
            )));
        }
        return Ok(email_equal(&format!("{local}@{domain}"), c));
    }
    let c = c.to_ascii_lowercase();
    if let Some(d) = c.strip_prefix('.') {
        if !valid_dns(d, false) {
            return Err(NameConstraintViolation::Malformed(format!(
                "rfc822Name constraint {c:?}"
            )));
        }
        return Ok(domain.len() > d.len() && domain.ends_with(&c));
    }
    if !valid_dns(&c, false) {
        return Err(NameConstraintViolation::Malformed(format!(
            "rfc822Name constraint {c:?}"
        )));
    }
    Ok(domain == c)
}

/// The host of a URI ("scheme://[userinfo@]host[:port]/..."), lower-cased.
fn uri_host(uri: &str) -> Option<String> {
    let rest = uri.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        return None;
    } else {
        host_port.split(':').next()?
    };
    let host = host.to_ascii_lowercase();
    valid_dns(&host, false).then_some(host)
}

fn uri_within(host: &str, c: &str) -> Result<bool, NameConstraintViolation> {
    let c = c.to_ascii_lowercase();
    if let Some(d) = c.strip_prefix('.') {
        if !valid_dns(d, false) {
            return Err(NameConstraintViolation::Malformed(format!(
                "URI constraint {c:?}"
            )));
        }
        return Ok(host.len() > d.len() && host.ends_with(&c));
    }
    if !valid_dns(&c, false) {
        return Err(NameConstraintViolation::Malformed(format!(
            "URI constraint {c:?}"
        )));
    }
    Ok(host == c)
}

/// iPAddress constraint: address and a contiguous-prefix mask, 8 or 32 bytes.
fn ip_within(addr: &[u8], c: &[u8]) -> Result<bool, NameConstraintViolation> {
    if c.len() != 8 && c.len() != 32 {
        return Err(NameConstraintViolation::Malformed(format!(
            "iPAddress constraint of {} bytes",
            c.len()
        )));
    }
    let (net, mask) = c.split_at(c.len() / 2);
    let mut seen_zero = false;
    for m in mask {
        let ones = m.leading_ones();
        if (seen_zero && *m != 0) || m.count_ones() != ones {
            return Err(NameConstraintViolation::Malformed(
                "iPAddress mask is not a prefix".into(),
            ));
        }
        if ones < 8 {
            seen_zero = true;
        }
    }
    if addr.len() != net.len() {
        return Ok(false);
    }
    Ok(addr
        .iter()
        .zip(net)
        .zip(mask)
        .all(|((a, n), m)| a & m == n & m))
}

fn subtree_text(st: &GeneralSubtree) -> String {
    match &st.base {
        GeneralName::IpAddress(b) if b.as_bytes().len() == 8 || b.as_bytes().len() == 32 => {
            let (n, m) = b.as_bytes().split_at(b.as_bytes().len() / 2);
            let bits: u32 = m.iter().map(|x| x.count_ones()).sum();
            format!("iPAddress {}/{bits}", ip_text(n))
        }
        other => general_name_text(other),
    }
}

/// Outcome of comparing one subject name with one subtree.
fn matches(
    name: &Subject<'_>,
    st: &GeneralSubtree,
    excluded: bool,
) -> Result<Option<bool>, NameConstraintViolation> {
    if st.minimum != 0 || st.maximum.is_some() {
        return Err(NameConstraintViolation::Malformed(
            "minimum/maximum in a subtree".into(),
        ));
    }
    Ok(Some(match (name, &st.base) {
        (Subject::Dns(n), GeneralName::DnsName(c)) => {
            let c = dns_constraint(c.as_str())?;
            let (within, overlaps) = dns_relation(n, &c);
            if excluded {
                overlaps
            } else {
                within
            }
        }
        (Subject::Ip(a), GeneralName::IpAddress(c)) => ip_within(a, c.as_bytes())?,
        (Subject::Email(e), GeneralName::Rfc822Name(c)) => email_within(e, c.as_str())?,
        (Subject::Uri(u), GeneralName::UniformResourceIdentifier(c)) => match uri_host(u) {
            Some(h) => uri_within(&h, c.as_str())?,
            None => {
                return Err(NameConstraintViolation::MalformedName {
                    name: format!("URI {u}"),
                })
            }
        },
        (Subject::Dn(n), GeneralName::DirectoryName(c)) => dn_within(n, c),
        (s, c) if subject_kind(s) == constraint_kind(c) => {
            return Err(NameConstraintViolation::UnsupportedConstraint {
                kind: constraint_kind(c).to_owned(),
            })
        }
        _ => return Ok(None),
    }))
}

/// Collects the names of a subordinate certificate that constraints apply to.
fn subject_names<'a>(
    subject: &'a Name,
    san: Option<&'a SubjectAltName>,
    is_leaf: bool,
) -> Result<Vec<Subject<'a>>, NameConstraintViolation> {
    let mut out = Vec::new();
    if !subject.0.is_empty() {
        out.push(Subject::Dn(subject));
    }
    for atv in subject.0.iter().flat_map(|r| r.0.iter()) {
        if atv.oid == oid::AT_EMAIL_ADDRESS {
            let e = String::from_utf8_lossy(atv.value.value()).into_owned();
            out.push(Subject::Email(e));
        }
    }
    match san {
        Some(san) => {
            for n in &san.0 {
                out.push(match n {
                    GeneralName::DnsName(d) => {
                        let d = d
                            .as_str()
                            .strip_suffix('.')
                            .unwrap_or(d.as_str())
                            .to_ascii_lowercase();
                        if !valid_dns(&d, true) {
                            return Err(NameConstraintViolation::MalformedName {
                                name: format!("dNSName {d:?}"),
                            });
                        }
                        Subject::Dns(d)
                    }
                    GeneralName::IpAddress(b) => {
                        if b.as_bytes().len() != 4 && b.as_bytes().len() != 16 {
                            return Err(NameConstraintViolation::MalformedName {
                                name: general_name_text(n),
                            });
                        }
                        Subject::Ip(b.as_bytes())
                    }
                    GeneralName::Rfc822Name(m) => {
                        if !valid_email(m.as_str()) {
                            return Err(NameConstraintViolation::MalformedName {
                                name: format!("rfc822Name {:?}", m.as_str()),
                            });
                        }
                        Subject::Email(m.as_str().to_owned())
                    }
                    GeneralName::UniformResourceIdentifier(u) => Subject::Uri(u.as_str()),
                    GeneralName::DirectoryName(d) => Subject::Dn(d),
                    GeneralName::OtherName(_) => Subject::Other("otherName"),
                    GeneralName::RegisteredId(_) => Subject::Other("registeredID"),
                    GeneralName::EdiPartyName(_) => Subject::Other("ediPartyName"),
                });
            }
        }
        // Without a SAN, a leaf's host-like commonName is what TLS clients
        // historically matched: constrain it as a dNSName / iPAddress.
        None if is_leaf => {
            for atv in subject.0.iter().flat_map(|r| r.0.iter()) {
                if atv.oid != oid::AT_COMMON_NAME {
                    continue;
                }
                let cn = String::from_utf8_lossy(atv.value.value()).to_ascii_lowercase();
                if cn.parse::<IpAddr>().is_ok() {
                    out.push(Subject::Other("commonName IP address"));
                } else if valid_dns(&cn, true) && cn.contains('.') {
                    out.push(Subject::Dns(cn));
                }
            }
        }
        None => {}
    }
    Ok(out)
}

/// Checks the names of a certificate (subject DN, subject emailAddress,
/// subjectAltName, and for a leaf without SAN its host-like CN) against one
/// CA's nameConstraints.
pub fn check_name_constraints(
    nc: &NameConstraints,
    subject: &Name,
    san: Option<&SubjectAltName>,
    is_leaf: bool,
) -> Result<(), NameConstraintViolation> {
    let names = subject_names(subject, san, is_leaf)?;
    let permitted = nc.permitted_subtrees.as_deref().unwrap_or_default();
    let excluded = nc.excluded_subtrees.as_deref().unwrap_or_default();
    let mut budget = MAX_CONSTRAINT_COMPARISONS;
    for name in &names {
        let mut any_of_kind = false;
        let mut ok = false;
        for st in permitted {
            budget = budget
                .checked_sub(1)
                .ok_or(NameConstraintViolation::BudgetExceeded)?;
            if let Some(m) = matches(name, st, false)? {
                any_of_kind = true;
                if m {
                    ok = true;
                    break;
                }
            }
        }
        if any_of_kind && !ok {
            return Err(NameConstraintViolation::NotPermitted {
                name: name.describe(),
            });
        }
        for st in excluded {
            budget = budget
                .checked_sub(1)
                .ok_or(NameConstraintViolation::BudgetExceeded)?;
            if matches(name, st, true)? == Some(true) {
                return Err(NameConstraintViolation::Excluded {
                    name: name.describe(),
                    subtree: subtree_text(st),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_names_parse() {
        assert_eq!(
            PeerName::parse("Example.COM.").unwrap(),
            PeerName::Dns("example.com".into())
        );
        assert!(matches!(PeerName::parse("::1").unwrap(), PeerName::Ip(_)));
        assert!(matches!(
            PeerName::parse("a@example.com").unwrap(),
            PeerName::Email(_)
        ));
        for bad in [
            "",
            "foo_bar.example.com",
            "*.example.com",
            "-a.com",
            "a@b@c.com",
            "a..b",
        ] {
            assert!(PeerName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn wildcards_match_one_left_most_label() {
        assert!(dns_matches("*.example.com", "foo.example.com"));
        assert!(!dns_matches("*.example.com", "example.com"));
        assert!(!dns_matches("*.example.com", "a.b.example.com"));
        assert!(!dns_matches("f*.example.com", "foo.example.com"));
        assert!(!dns_matches("foo.*.example.com", "foo.bar.example.com"));
        assert!(!dns_matches("*.com", "example.com"));
        assert!(!dns_matches("*", "com"));
        assert!(dns_matches("EXAMPLE.com.", "example.com"));
    }

    #[test]
    fn dns_subtrees() {
        assert!(dns_within("example.com", "example.com"));
        assert!(dns_within("a.example.com", "example.com"));
        assert!(!dns_within("aexample.com", "example.com"));
        assert!(dns_within("anything", ""));
        assert_eq!(
            dns_relation("*.example.com", "bar.example.com"),
            (false, true)
        );
        assert_eq!(dns_relation("*.foo.com", "foo.com"), (true, true));
        assert!(dns_constraint(".example.com").is_err());
        assert!(dns_constraint("*.example.com").is_err());
    }

    #[test]
    fn ip_subtrees() {
        let c = [192, 0, 2, 0, 255, 255, 255, 0];
        assert!(ip_within(&[192, 0, 2, 7], &c).unwrap());
        assert!(!ip_within(&[192, 0, 3, 7], &c).unwrap());
        assert!(!ip_within(&[0; 16], &c).unwrap());
        assert!(ip_within(&[192, 0, 2, 7], &[192, 0, 2, 0, 255, 0, 255, 0]).is_err());
        assert!(ip_within(&[192, 0, 2, 7], &[192, 0, 2, 0]).is_err());
    }

    #[test]
    fn email_subtrees() {
        assert!(email_within("foo@example.com", "foo@example.com").unwrap());
        assert!(!email_within("bar@example.com", "foo@example.com").unwrap());
        assert!(email_within("bar@example.com", "example.com").unwrap());
        assert!(!email_within("bar@sub.example.com", "example.com").unwrap());
        assert!(email_within("bar@sub.example.com", ".example.com").unwrap());
        assert!(!email_within("user@example.com", "*@example.com").unwrap());
        assert!(email_within("*@example.com", "*@example.com").unwrap());
        assert!(email_within("a@example.com", "invalid@invalid@example.com").is_err());
    }

    #[test]
    fn uri_hosts() {
        assert_eq!(
            uri_host("https://User@Example.com:443/x").as_deref(),
            Some("example.com")
        );
        assert_eq!(uri_host("urn:isbn:123"), None);
        assert!(uri_within("a.example.com", ".example.com").unwrap());
        assert!(!uri_within("example.com", ".example.com").unwrap());
    }
}
