//! Name constraints (RFC 5280 4.2.1.10, applied per RFC 5280 6.1.3 (b)-(c)).
//!
//! ```text
//! NameConstraints ::= SEQUENCE {
//!      permittedSubtrees       [0]     GeneralSubtrees OPTIONAL,
//!      excludedSubtrees        [1]     GeneralSubtrees OPTIONAL }
//! GeneralSubtrees ::= SEQUENCE SIZE (1..MAX) OF GeneralSubtree
//! GeneralSubtree ::= SEQUENCE {
//!      base                    GeneralName,
//!      minimum         [0]     BaseDistance DEFAULT 0,
//!      maximum         [1]     BaseDistance OPTIONAL }
//! ```

use std::fmt;
use std::net::IpAddr;

use x509_cert::ext::pkix::constraints::name::{GeneralSubtree, NameConstraints};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::name::Name;

use super::dn::{directory_string, within};
use super::dns::{DnsConstraint, PresentedDns};
use super::email::{EmailConstraint, Mailbox};
use super::ip::{alternate_form, IpConstraint};
use super::uri::{self, UriConstraint, UriHost};
use super::{general_name_text, ip_text, printable, NameConstraintViolation as Violation};
use crate::oid;

/// Most (name, subtree) comparisons one [`check_name_constraints`] call may
/// make; past it the certificate is rejected with
/// [`Violation::BudgetExceeded`]. rustls-webpki allows the same number for a
/// whole path; x509-limbo's `pathological::nc-dos-*` cases (2048 names
/// against 2048 subtrees) must stay far cheaper than a full comparison.
pub const MAX_CONSTRAINT_COMPARISONS: usize = 250_000;

/// Name forms we do not implement constraints for. x400Address is absent
/// because x509-cert does not decode it at all (such a certificate fails to
/// parse before it gets here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OtherKind {
    OtherName,
    EdiPartyName,
    RegisteredId,
}

impl OtherKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::OtherName => "otherName",
            Self::EdiPartyName => "ediPartyName",
            Self::RegisteredId => "registeredID",
        }
    }
}

/// A directoryName subtree.
struct DnConstraint<'a>(&'a Name);

impl fmt::Display for DnConstraint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "directoryName \"{}\"", printable(&self.0.to_string()))
    }
}

/// One list of subtrees (permitted or excluded), parsed and sorted by
/// name form.
#[derive(Default)]
struct Subtrees<'a> {
    dns: Vec<DnsConstraint>,
    ip: Vec<IpConstraint>,
    email: Vec<EmailConstraint>,
    uri: Vec<UriConstraint>,
    dn: Vec<DnConstraint<'a>>,
    other: Vec<OtherKind>,
}

impl<'a> Subtrees<'a> {
    /// Parses every subtree up front: a malformed constraint of any form
    /// rejects the extension, whether or not the certificate has a name of
    /// that form.
    fn parse(list: Option<&'a [GeneralSubtree]>, which: &str) -> Result<Self, Violation> {
        let mut out = Self::default();
        let Some(list) = list else {
            return Ok(out);
        };
        if list.is_empty() {
            return Err(Violation::Malformed(format!(
                "{which}Subtrees is present but empty (SIZE (1..MAX))"
            )));
        }
        for st in list {
            // RFC 5280 4.2.1.10: "the minimum MUST be zero, and maximum
            // MUST be absent".
            if st.minimum != 0 || st.maximum.is_some() {
                return Err(Violation::Malformed(format!(
                    "{which} subtree {} has minimum {} and maximum {:?} (0 and absent required)",
                    general_name_text(&st.base),
                    st.minimum,
                    st.maximum
                )));
            }
            match &st.base {
                GeneralName::DnsName(d) => out
                    .dns
                    .push(DnsConstraint::parse(d.as_str()).map_err(Violation::Malformed)?),
                GeneralName::IpAddress(b) => out
                    .ip
                    .push(IpConstraint::parse(b.as_bytes()).map_err(Violation::Malformed)?),
                GeneralName::Rfc822Name(m) => out
                    .email
                    .push(EmailConstraint::parse(m.as_str()).map_err(Violation::Malformed)?),
                GeneralName::UniformResourceIdentifier(u) => out
                    .uri
                    .push(UriConstraint::parse(u.as_str()).map_err(Violation::Malformed)?),
                GeneralName::DirectoryName(n) => out.dn.push(DnConstraint(n)),
                GeneralName::OtherName(_) => out.other.push(OtherKind::OtherName),
                GeneralName::EdiPartyName(_) => out.other.push(OtherKind::EdiPartyName),
                GeneralName::RegisteredId(_) => out.other.push(OtherKind::RegisteredId),
            }
        }
        Ok(out)
    }
}

/// The parsed extension.
struct Constraints<'a> {
    permitted: Subtrees<'a>,
    excluded: Subtrees<'a>,
}

impl<'a> Constraints<'a> {
    fn parse(nc: &'a NameConstraints) -> Result<Self, Violation> {
        let permitted = Subtrees::parse(nc.permitted_subtrees.as_deref(), "permitted")?;
        let excluded = Subtrees::parse(nc.excluded_subtrees.as_deref(), "excluded")?;
        // Neither field present constrains nothing here (RFC 5280 4.2.1.10
        // forbids it to the issuing CA: a finding, see `path::profile`).
        Ok(Self {
            permitted,
            excluded,
        })
    }

    fn on_dns(&self) -> bool {
        !self.permitted.dns.is_empty() || !self.excluded.dns.is_empty()
    }

    fn on_ip(&self) -> bool {
        !self.permitted.ip.is_empty() || !self.excluded.ip.is_empty()
    }

    fn on_email(&self) -> bool {
        !self.permitted.email.is_empty() || !self.excluded.email.is_empty()
    }

    fn on_uri(&self) -> bool {
        !self.permitted.uri.is_empty() || !self.excluded.uri.is_empty()
    }

    fn on_dn(&self) -> bool {
        !self.permitted.dn.is_empty() || !self.excluded.dn.is_empty()
    }

    fn on_other(&self, kind: OtherKind) -> bool {
        self.permitted.other.contains(&kind) || self.excluded.other.contains(&kind)
    }
}

/// A name of the subordinate certificate, in the form its constraints
/// compare, with its text for error messages.
enum CertName<'a> {
    Dns(PresentedDns),
    Ip(Vec<u8>),
    Email(Mailbox),
    UriHost(String),
    Dn(&'a Name),
}

struct Named<'a> {
    name: CertName<'a>,
    text: String,
}

/// Where a name outside the SAN came from, for messages.
#[derive(Clone, Copy)]
enum Source {
    SubjectEmail,
    SubjectCn,
}

impl Source {
    fn suffix(self) -> &'static str {
        match self {
            Self::SubjectEmail => " (subject emailAddress)",
            Self::SubjectCn => " (subject commonName)",
        }
    }
}

fn malformed(text: String) -> Violation {
    Violation::MalformedName { name: text }
}

/// Gathers the names that constraints of some present form apply to. A
/// name whose form is constrained but which does not parse is an error
/// here; names of unconstrained forms are not looked at.
fn collect<'a>(
    c: &Constraints<'_>,
    subject: &'a Name,
    san: Option<&'a SubjectAltName>,
    is_leaf: bool,
) -> Result<Vec<Named<'a>>, Violation> {
    let mut out = Vec::new();

    // RFC 5280 4.2.1.10: directoryName constraints apply to the subject
    // (when not empty) and to directoryName entries of the SAN.
    if c.on_dn() && !subject.0.is_empty() {
        out.push(Named {
            name: CertName::Dn(subject),
            text: format!("directoryName \"{}\"", printable(&subject.to_string())),
        });
    }

    // RFC 5280 4.2.1.10: rfc822Name constraints apply to emailAddress
    // attributes of the subject. We apply them whether or not a SAN exists.
    if c.on_email() {
        for atv in subject.0.iter().flat_map(|rdn| rdn.0.iter()) {
            if atv.oid != oid::AT_EMAIL_ADDRESS {
                continue;
            }
            let text = directory_string(&atv.value);
            let shown = format!(
                "rfc822Name {}{}",
                printable(text.as_deref().unwrap_or("(not a string)")),
                Source::SubjectEmail.suffix()
            );
            match text.as_deref().and_then(Mailbox::parse) {
                Some(m) => out.push(Named {
                    name: CertName::Email(m),
                    text: shown,
                }),
                None => return Err(malformed(shown)),
            }
        }
    }

    let mut san_has_host_names = false;
    for entry in san.map(|s| s.0.as_slice()).unwrap_or_default() {
        let text = general_name_text(entry);
        match entry {
            GeneralName::DnsName(d) => {
                san_has_host_names = true;
                if c.on_dns() {
                    let d =
                        PresentedDns::parse(d.as_str()).ok_or_else(|| malformed(text.clone()))?;
                    out.push(Named {
                        name: CertName::Dns(d),
                        text,
                    });
                }
            }
            GeneralName::IpAddress(b) => {
                san_has_host_names = true;
                if c.on_ip() {
                    let b = b.as_bytes();
                    if b.len() != 4 && b.len() != 16 {
                        return Err(malformed(text));
                    }
                    out.push(Named {
                        name: CertName::Ip(b.to_vec()),
                        text,
                    });
                }
            }
            GeneralName::Rfc822Name(m) if c.on_email() => {
                let m = Mailbox::parse(m.as_str()).ok_or_else(|| malformed(text.clone()))?;
                out.push(Named {
                    name: CertName::Email(m),
                    text,
                });
            }
            GeneralName::UniformResourceIdentifier(u) if c.on_uri() => {
                match uri::host(u.as_str()) {
                    UriHost::Domain(h) => out.push(Named {
                        name: CertName::UriHost(h),
                        text,
                    }),
                    UriHost::NotADomain => return Err(Violation::UriWithoutHost { name: text }),
                    UriHost::Malformed => return Err(malformed(text)),
                }
            }
            GeneralName::DirectoryName(n) if c.on_dn() => out.push(Named {
                name: CertName::Dn(n),
                text,
            }),
            GeneralName::OtherName(_) => unsupported(c, OtherKind::OtherName)?,
            GeneralName::EdiPartyName(_) => unsupported(c, OtherKind::EdiPartyName)?,
            GeneralName::RegisteredId(_) => unsupported(c, OtherKind::RegisteredId)?,
            _ => {}
        }
    }

    // A leaf whose SAN carries no dNSName or iPAddress (or that has no SAN)
    // may still be accepted by legacy clients on its commonName: constrain
    // each host-like CN as a dNSName or iPAddress (as rustls-webpki,
    // mozilla::pkix and BetterTLS expect).
    if is_leaf && !san_has_host_names && (c.on_dns() || c.on_ip()) {
        for atv in subject.0.iter().flat_map(|rdn| rdn.0.iter()) {
            if atv.oid != oid::AT_COMMON_NAME {
                continue;
            }
            let Some(cn) = directory_string(&atv.value) else {
                continue;
            };
            if let Some(named) = common_name_as_host(c, &cn)? {
                out.push(named);
            }
        }
    }
    Ok(out)
}

fn unsupported(c: &Constraints<'_>, kind: OtherKind) -> Result<(), Violation> {
    if c.on_other(kind) {
        Err(Violation::UnsupportedConstraint {
            kind: kind.as_str().to_owned(),
        })
    } else {
        Ok(())
    }
}

/// Whether a commonName looks meant as a host: only characters of host
/// names and address literals, with a dot or a colon.
fn looks_like_host(cn: &str) -> bool {
    (cn.contains('.') || cn.contains(':'))
        && cn
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_*:[]%".contains(&b))
}

/// Reads a subject commonName as an iPAddress (an IPv4 or IPv6 literal) or
/// a dNSName (preferred syntax, wildcard allowed). A CN that looks like a
/// host but is neither (`127.000.000.001`, `example.com.`, `a_b.example`)
/// is a malformed name, since some client may still read it as one.
fn common_name_as_host<'a>(c: &Constraints<'_>, cn: &str) -> Result<Option<Named<'a>>, Violation> {
    let suffix = Source::SubjectCn.suffix();
    if let Ok(ip) = cn.parse::<IpAddr>() {
        let octets = match ip {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        return Ok(c.on_ip().then(|| Named {
            text: format!("iPAddress {}{suffix}", ip_text(&octets)),
            name: CertName::Ip(octets),
        }));
    }
    if let Some(d) = PresentedDns::parse(cn) {
        return Ok(c.on_dns().then(|| Named {
            text: format!("dNSName {d}{suffix}"),
            name: CertName::Dns(d),
        }));
    }
    if looks_like_host(cn) {
        return Err(malformed(format!("commonName {}{suffix}", printable(cn))));
    }
    Ok(None)
}

/// Counts comparisons against [`MAX_CONSTRAINT_COMPARISONS`].
struct Budget(usize);

impl Budget {
    fn spend(&mut self) -> Result<(), Violation> {
        self.0 = self.0.checked_sub(1).ok_or(Violation::BudgetExceeded)?;
        Ok(())
    }
}

/// RFC 5280 4.2.1.10 for one name against the subtrees of its form: in no
/// excluded subtree, and in some permitted subtree if there are any.
fn check_form<T: fmt::Display>(
    permitted: &[T],
    excluded: &[T],
    permits: impl Fn(&T) -> bool,
    excludes: impl Fn(&T) -> bool,
    text: &str,
    budget: &mut Budget,
) -> Result<(), Violation> {
    for subtree in excluded {
        budget.spend()?;
        if excludes(subtree) {
            return Err(Violation::Excluded {
                name: text.to_owned(),
                subtree: subtree.to_string(),
            });
        }
    }
    if permitted.is_empty() {
        return Ok(());
    }
    for subtree in permitted {
        budget.spend()?;
        if permits(subtree) {
            return Ok(());
        }
    }
    Err(Violation::NotPermitted {
        name: text.to_owned(),
    })
}

/// Checks one certificate's names against one CA's nameConstraints (RFC
/// 5280 4.2.1.10, 6.1.3 (b)-(c)). The caller calls it for every pair of a
/// CA with the extension and a certificate below it in the path, skipping
/// self-issued intermediates (RFC 5280 6.1.3 (b)); `subject` and `san` are
/// the lower certificate's, `is_leaf` whether it is the end entity.
///
/// Names checked, by form:
/// - dNSName: SAN dNSName entries; for a leaf whose SAN has no dNSName or
///   iPAddress, each subject commonName that reads as a host name. The
///   subtree `example.com` holds it and every name below; `""` holds all;
///   a wildcard is permitted only if all it can match is, and excluded if
///   anything it can match is.
/// - iPAddress: SAN iPAddress entries (and such a leaf's IP-literal
///   commonName); address and prefix mask, never across families, except
///   that an IPv4-mapped IPv6 address is also checked against IPv4
///   exclusions and the other way round.
/// - rfc822Name: SAN rfc822Name entries and subject emailAddress
///   attributes; a mailbox, a host, or `.domain` for hosts below it.
/// - URI: the host of SAN URIs; a URI without a domain-name host is
///   rejected.
/// - directoryName: the subject (if not empty) and SAN directoryName
///   entries; the subtree is an RDN prefix compared as in [`names_equal`].
///
/// Constraints on otherName, ediPartyName or registeredID reject a
/// certificate holding a name of that form. Malformed constraints, and
/// malformed names of a constrained form, are rejected.
///
/// [`names_equal`]: super::names_equal
pub fn check_name_constraints(
    nc: &NameConstraints,
    subject: &Name,
    san: Option<&SubjectAltName>,
    is_leaf: bool,
) -> Result<(), Violation> {
    let c = Constraints::parse(nc)?;
    let names = collect(&c, subject, san, is_leaf)?;
    let (p, e) = (&c.permitted, &c.excluded);
    let mut budget = Budget(MAX_CONSTRAINT_COMPARISONS);
    for Named { name, text } in &names {
        match name {
            CertName::Dns(d) => check_form(
                &p.dns,
                &e.dns,
                |k| k.permits(d),
                |k| k.excludes(d),
                text,
                &mut budget,
            )?,
            CertName::Ip(ip) => {
                let alternate = alternate_form(ip);
                check_form(
                    &p.ip,
                    &e.ip,
                    |k| k.contains(ip),
                    |k| k.contains(ip) || alternate.as_deref().is_some_and(|a| k.contains(a)),
                    text,
                    &mut budget,
                )?;
            }
            CertName::Email(m) => check_form(
                &p.email,
                &e.email,
                |k| k.permits(m),
                |k| k.excludes(m),
                text,
                &mut budget,
            )?,
            CertName::UriHost(h) => check_form(
                &p.uri,
                &e.uri,
                |k| k.permits(h),
                |k| k.excludes(h),
                text,
                &mut budget,
            )?,
            CertName::Dn(n) => check_form(
                &p.dn,
                &e.dn,
                |k| within(n, k.0),
                |k| within(n, k.0),
                text,
                &mut budget,
            )?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    use der::asn1::{Any, Ia5String, ObjectIdentifier, OctetString, SetOfVec};
    use der::Tag;
    use x509_cert::attr::AttributeTypeAndValue;
    use x509_cert::ext::pkix::name::{DirectoryString, EdiPartyName, OtherName};
    use x509_cert::name::{RdnSequence, RelativeDistinguishedName};

    fn dns(s: &str) -> GeneralName {
        GeneralName::DnsName(Ia5String::new(s).unwrap())
    }

    fn email(s: &str) -> GeneralName {
        GeneralName::Rfc822Name(Ia5String::new(s).unwrap())
    }

    fn uri(s: &str) -> GeneralName {
        GeneralName::UniformResourceIdentifier(Ia5String::new(s).unwrap())
    }

    fn ip(b: &[u8]) -> GeneralName {
        GeneralName::IpAddress(OctetString::new(b.to_vec()).unwrap())
    }

    fn dir(s: &str) -> GeneralName {
        GeneralName::DirectoryName(Name::from_str(s).unwrap())
    }

    fn other_name() -> GeneralName {
        GeneralName::OtherName(OtherName {
            type_id: ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.20.2.3"),
            value: Any::new(Tag::Utf8String, b"user@example.com".as_slice()).unwrap(),
        })
    }

    fn registered_id() -> GeneralName {
        GeneralName::RegisteredId(ObjectIdentifier::new_unwrap("1.2.3.4"))
    }

    fn edi_party() -> GeneralName {
        GeneralName::EdiPartyName(EdiPartyName {
            name_assigner: None,
            party_name: DirectoryString::Utf8String("party".into()),
        })
    }

    fn v4_net(a: [u8; 4], m: [u8; 4]) -> GeneralName {
        ip(&[a, m].concat())
    }

    fn v6(last: u8) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[15] = last;
        b
    }

    fn subtrees(list: Vec<GeneralName>) -> Option<Vec<GeneralSubtree>> {
        (!list.is_empty()).then(|| {
            list.into_iter()
                .map(|base| GeneralSubtree {
                    base,
                    minimum: 0,
                    maximum: None,
                })
                .collect()
        })
    }

    fn nc(permitted: Vec<GeneralName>, excluded: Vec<GeneralName>) -> NameConstraints {
        NameConstraints {
            permitted_subtrees: subtrees(permitted),
            excluded_subtrees: subtrees(excluded),
        }
    }

    fn san(entries: Vec<GeneralName>) -> SubjectAltName {
        SubjectAltName(entries)
    }

    fn subject(s: &str) -> Name {
        Name::from_str(s).unwrap()
    }

    fn with_email(mut n: Name, mailbox: &str) -> Name {
        let atv = AttributeTypeAndValue {
            oid: oid::AT_EMAIL_ADDRESS,
            value: Any::new(Tag::Ia5String, mailbox.as_bytes()).unwrap(),
        };
        n.0.push(RelativeDistinguishedName(
            SetOfVec::try_from(vec![atv]).unwrap(),
        ));
        n
    }

    /// A leaf with subject O=Test and the given SAN.
    fn leaf(c: &NameConstraints, entries: Vec<GeneralName>) -> Result<(), Violation> {
        check_name_constraints(c, &subject("O=Test"), Some(&san(entries)), true)
    }

    fn not_permitted(name: &str) -> Result<(), Violation> {
        Err(Violation::NotPermitted { name: name.into() })
    }

    fn excluded(name: &str, subtree: &str) -> Result<(), Violation> {
        Err(Violation::Excluded {
            name: name.into(),
            subtree: subtree.into(),
        })
    }

    fn malformed_name(name: &str) -> Result<(), Violation> {
        Err(Violation::MalformedName { name: name.into() })
    }

    fn is_malformed(r: &Result<(), Violation>) -> bool {
        matches!(r, Err(Violation::Malformed(_)))
    }

    // dNSName

    #[test]
    fn dns_permitted_covers_host_and_subdomains() {
        let c = nc(vec![dns("example.com")], vec![]);
        assert_eq!(leaf(&c, vec![dns("example.com")]), Ok(()));
        assert_eq!(leaf(&c, vec![dns("foo.bar.example.com")]), Ok(()));
        assert_eq!(leaf(&c, vec![dns("FOO.Example.COM")]), Ok(()));
        assert_eq!(
            leaf(&c, vec![dns("not-example.com")]),
            not_permitted("dNSName not-example.com")
        );
        assert_eq!(
            leaf(&c, vec![dns("example.com"), dns("example.org")]),
            not_permitted("dNSName example.org")
        );
    }

    #[test]
    fn dns_any_permitted_subtree_suffices() {
        let c = nc(vec![dns("example.com"), dns("example.org")], vec![]);
        assert_eq!(
            leaf(&c, vec![dns("a.example.org"), dns("b.example.com")]),
            Ok(())
        );
    }

    #[test]
    fn dns_excluded_on_any_entry() {
        let c = nc(vec![], vec![dns("not-allowed.example.com")]);
        assert_eq!(leaf(&c, vec![dns("example.com")]), Ok(()));
        assert_eq!(
            leaf(
                &c,
                vec![dns("example.com"), dns("x.not-allowed.example.com")]
            ),
            excluded(
                "dNSName x.not-allowed.example.com",
                "dNSName \"not-allowed.example.com\""
            )
        );
    }

    #[test]
    fn dns_exclusion_wins_over_permission() {
        let c = nc(vec![dns("example.com")], vec![dns("example.com")]);
        assert_eq!(
            leaf(&c, vec![dns("example.com")]),
            excluded("dNSName example.com", "dNSName \"example.com\"")
        );
    }

    #[test]
    fn dns_empty_constraint_is_everything() {
        assert_eq!(
            leaf(&nc(vec![dns("")], vec![]), vec![dns("anything.example")]),
            Ok(())
        );
        assert_eq!(
            leaf(&nc(vec![], vec![dns("")]), vec![dns("anything.example")]),
            excluded("dNSName anything.example", "dNSName \"\"")
        );
    }

    #[test]
    fn dns_wildcards_under_constraints() {
        // CVE-2025-61727 and its permitted variant.
        let c = nc(vec![], vec![dns("bar.example.com")]);
        assert_eq!(
            leaf(&c, vec![dns("*.example.com")]),
            excluded("dNSName *.example.com", "dNSName \"bar.example.com\"")
        );
        let c = nc(vec![dns("foo.example.com")], vec![]);
        assert_eq!(
            leaf(&c, vec![dns("*.example.com")]),
            not_permitted("dNSName *.example.com")
        );
        let c = nc(vec![dns("foo.com")], vec![]);
        assert_eq!(leaf(&c, vec![dns("*.foo.com")]), Ok(()));
    }

    #[test]
    fn dns_malformed_constraints() {
        for bad in [
            "*.example.com",
            ".example.com",
            "example.com.",
            "foo_bar.com",
            "1.2.3.4",
        ] {
            let r = leaf(&nc(vec![dns(bad)], vec![]), vec![dns("foo.example.com")]);
            assert!(is_malformed(&r), "{bad}: {r:?}");
            // Rejected even when the certificate has no dNSName.
            let r = leaf(&nc(vec![], vec![dns(bad)]), vec![ip(&[192, 0, 2, 1])]);
            assert!(is_malformed(&r), "{bad}: {r:?}");
        }
    }

    #[test]
    fn dns_malformed_names_rejected_only_under_dns_constraints() {
        let c = nc(vec![dns("example.com")], vec![]);
        for bad in [
            ".example.com",
            "example.com.",
            "foo_bar.example.com",
            "http://test.localhost",
            "127.0.0.1",
            "\u{7f}\0\0\u{1}",
        ] {
            let r = leaf(&c, vec![dns(bad)]);
            assert!(
                matches!(r, Err(Violation::MalformedName { .. })),
                "{bad:?}: {r:?}"
            );
        }
        assert_eq!(
            leaf(&c, vec![dns("a.example.com"), dns("a b")]),
            malformed_name("dNSName a b")
        );
        let ip_only = nc(vec![v4_net([192, 0, 2, 0], [255, 255, 255, 0])], vec![]);
        assert_eq!(leaf(&ip_only, vec![dns("foo_bar.example.com")]), Ok(()));
    }

    #[test]
    fn constraints_of_another_form_do_not_apply() {
        let net = v4_net([192, 0, 2, 0], [255, 255, 255, 0]);
        assert_eq!(
            leaf(&nc(vec![net.clone()], vec![]), vec![dns("example.com")]),
            Ok(())
        );
        assert_eq!(
            leaf(&nc(vec![], vec![net]), vec![dns("example.com")]),
            Ok(())
        );
        assert_eq!(
            leaf(
                &nc(vec![dns("example.com")], vec![]),
                vec![ip(&[8, 8, 8, 8])]
            ),
            Ok(())
        );
    }

    // iPAddress

    #[test]
    fn ip_permitted_and_excluded_networks() {
        let c = nc(vec![v4_net([192, 0, 2, 0], [255, 255, 255, 0])], vec![]);
        assert_eq!(leaf(&c, vec![ip(&[192, 0, 2, 1])]), Ok(()));
        assert_eq!(
            leaf(&c, vec![ip(&[192, 0, 3, 1])]),
            not_permitted("iPAddress 192.0.3.1")
        );
        let c = nc(vec![], vec![v4_net([192, 0, 2, 0], [255, 255, 255, 0])]);
        assert_eq!(
            leaf(&c, vec![ip(&[192, 0, 2, 1])]),
            excluded("iPAddress 192.0.2.1", "iPAddress 192.0.2.0/24")
        );
        let mut host6 = v6(1).to_vec();
        host6.extend([0xff; 16]);
        let c = nc(vec![], vec![ip(&host6)]);
        assert_eq!(
            leaf(&c, vec![ip(&v6(1))]),
            excluded("iPAddress ::1", "iPAddress ::1/128")
        );
        let c = nc(vec![ip(&host6)], vec![]);
        assert_eq!(leaf(&c, vec![ip(&v6(1))]), Ok(()));
    }

    #[test]
    fn ip_families_never_match_each_other_for_permission() {
        let c = nc(vec![v4_net([0, 0, 0, 0], [0, 0, 0, 0])], vec![]);
        assert_eq!(leaf(&c, vec![ip(&v6(1))]), not_permitted("iPAddress ::1"));
        let mut all6 = vec![0u8; 32];
        all6[..16].copy_from_slice(&v6(0));
        let c = nc(vec![ip(&all6)], vec![]);
        assert_eq!(
            leaf(&c, vec![ip(&[127, 0, 0, 1])]),
            not_permitted("iPAddress 127.0.0.1")
        );
    }

    #[test]
    fn ipv4_mapped_addresses_are_excluded_in_both_spellings() {
        let mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1];
        let c = nc(vec![], vec![v4_net([127, 0, 0, 0], [255, 0, 0, 0])]);
        assert_eq!(
            leaf(&c, vec![ip(&mapped)]),
            excluded("iPAddress ::ffff:127.0.0.1", "iPAddress 127.0.0.0/8")
        );
        let mut mapped_net = mapped.to_vec();
        mapped_net.extend([0xff; 16]);
        let c = nc(vec![], vec![ip(&mapped_net)]);
        assert_eq!(
            leaf(&c, vec![ip(&[127, 0, 0, 1])]),
            excluded("iPAddress 127.0.0.1", "iPAddress ::ffff:127.0.0.1/128")
        );
        // Permission still needs the address's own family.
        let c = nc(vec![v4_net([127, 0, 0, 0], [255, 0, 0, 0])], vec![]);
        assert_eq!(
            leaf(&c, vec![ip(&mapped)]),
            not_permitted("iPAddress ::ffff:127.0.0.1")
        );
    }

    #[test]
    fn ip_malformed_constraints_and_names() {
        for bad in [
            vec![127, 0, 0, 1],
            v6(1).to_vec(),
            vec![192, 0, 2, 0, 255, 0, 255, 0],
            vec![],
        ] {
            let r = leaf(&nc(vec![ip(&bad)], vec![]), vec![ip(&[127, 0, 0, 1])]);
            assert!(is_malformed(&r), "{bad:?}: {r:?}");
        }
        let c = nc(vec![v4_net([192, 0, 2, 0], [255, 255, 255, 0])], vec![]);
        assert_eq!(
            leaf(&c, vec![ip(&[192, 0, 2, 0, 255, 255, 255, 0])]),
            malformed_name("iPAddress (malformed, 8 octets: c0000200ffffff00)")
        );
        assert!(matches!(
            leaf(&c, vec![ip(&[192, 0, 2])]),
            Err(Violation::MalformedName { .. })
        ));
    }

    // rfc822Name

    #[test]
    fn email_mailbox_host_and_domain_constraints() {
        let c = nc(vec![email("foo@example.com")], vec![]);
        assert_eq!(leaf(&c, vec![email("foo@example.com")]), Ok(()));
        assert_eq!(
            leaf(&c, vec![email("bar@example.com")]),
            not_permitted("rfc822Name bar@example.com")
        );
        let c = nc(vec![email("example.com")], vec![]);
        assert_eq!(leaf(&c, vec![email("foo@example.com")]), Ok(()));
        assert_eq!(
            leaf(&c, vec![email("foo@sub.example.com")]),
            not_permitted("rfc822Name foo@sub.example.com")
        );
        let c = nc(vec![email(".example.com")], vec![]);
        assert_eq!(leaf(&c, vec![email("foo@sub.example.com")]), Ok(()));
        assert_eq!(
            leaf(&c, vec![email("foo@example.com")]),
            not_permitted("rfc822Name foo@example.com")
        );
        let c = nc(vec![], vec![email("example.com")]);
        assert_eq!(
            leaf(&c, vec![email("foo@EXAMPLE.com")]),
            excluded("rfc822Name foo@EXAMPLE.com", "rfc822Name \"example.com\"")
        );
    }

    #[test]
    fn email_asterisks_are_literal() {
        let c = nc(vec![email("*@example.com")], vec![]);
        assert_eq!(leaf(&c, vec![email("*@example.com")]), Ok(()));
        assert!(leaf(&c, vec![email("user@example.com")]).is_err());
        assert!(leaf(&c, vec![email("*@subdomain.example.com")]).is_err());
        let c = nc(vec![email("**@example.com")], vec![]);
        assert_eq!(leaf(&c, vec![email("**@example.com")]), Ok(()));
        assert!(leaf(&c, vec![email("*@example.com")]).is_err());
    }

    #[test]
    fn email_malformed_constraint_and_names() {
        let r = leaf(
            &nc(vec![email("invalid@invalid@example.com")], vec![]),
            vec![],
        );
        assert!(is_malformed(&r), "{r:?}");
        let c = nc(vec![email("example.com")], vec![]);
        assert_eq!(
            leaf(&c, vec![email("invalid@address@example.com")]),
            malformed_name("rfc822Name invalid@address@example.com")
        );
        for bad in ["test.localhost", "http://test.localhost", "127.0.0.1"] {
            assert!(matches!(
                leaf(&c, vec![email(bad)]),
                Err(Violation::MalformedName { .. })
            ));
        }
        // Not looked at without rfc822Name constraints.
        assert_eq!(
            leaf(
                &nc(vec![dns("example.com")], vec![]),
                vec![dns("example.com"), email("bad")]
            ),
            Ok(())
        );
    }

    #[test]
    fn subject_email_address_is_an_rfc822_name() {
        let c = nc(vec![email("example.com")], vec![]);
        let ok = with_email(subject("CN=Alice"), "alice@example.com");
        assert_eq!(check_name_constraints(&c, &ok, None, true), Ok(()));
        let other = with_email(subject("CN=Alice"), "alice@example.org");
        assert_eq!(
            check_name_constraints(&c, &other, None, true),
            not_permitted("rfc822Name alice@example.org (subject emailAddress)")
        );
        // Also with a SAN, and for intermediates.
        assert_eq!(
            check_name_constraints(&c, &other, Some(&san(vec![email("a@example.com")])), false),
            not_permitted("rfc822Name alice@example.org (subject emailAddress)")
        );
        let bad = with_email(subject("CN=Alice"), "not a mailbox");
        assert_eq!(
            check_name_constraints(&c, &bad, None, true),
            malformed_name("rfc822Name not a mailbox (subject emailAddress)")
        );
    }

    // uniformResourceIdentifier

    #[test]
    fn uri_constraints_apply_to_the_host() {
        let c = nc(vec![uri(".example.com")], vec![]);
        assert_eq!(leaf(&c, vec![uri("https://www.example.com/path")]), Ok(()));
        assert_eq!(
            leaf(&c, vec![uri("https://example.com/")]),
            not_permitted("URI https://example.com/")
        );
        let c = nc(vec![uri("example.com")], vec![]);
        assert_eq!(
            leaf(&c, vec![uri("https://user@EXAMPLE.com:443/x")]),
            Ok(())
        );
        assert_eq!(
            leaf(&c, vec![uri("https://www.example.com/")]),
            not_permitted("URI https://www.example.com/")
        );
        // RFC 5280 4.2.1.10: an excluded host is that host only; a leading
        // period excludes the hosts below.
        let c = nc(vec![], vec![uri("example.com")]);
        assert_eq!(
            leaf(&c, vec![uri("spiffe://example.com/w")]),
            excluded("URI spiffe://example.com/w", "URI \"example.com\"")
        );
        assert_eq!(leaf(&c, vec![uri("spiffe://www.example.com/w")]), Ok(()));
        let c = nc(vec![], vec![uri(".example.com")]);
        assert_eq!(
            leaf(&c, vec![uri("spiffe://www.example.com/w")]),
            excluded("URI spiffe://www.example.com/w", "URI \".example.com\"")
        );
        assert_eq!(leaf(&c, vec![uri("https://example.org/")]), Ok(()));
    }

    #[test]
    fn uri_without_a_domain_host_is_rejected_under_uri_constraints() {
        for permitted in [true, false] {
            let k = vec![uri(".example.com")];
            let c = if permitted {
                nc(k, vec![])
            } else {
                nc(vec![], k)
            };
            for u in [
                "urn:example:x",
                "http://192.0.2.1/",
                "http://[::1]/",
                "file:///x",
            ] {
                assert_eq!(
                    leaf(&c, vec![uri(u)]),
                    Err(Violation::UriWithoutHost {
                        name: format!("URI {u}")
                    })
                );
            }
            for u in ["test.localhost", "http://ex%61mple.com/", "http://a b/"] {
                assert!(matches!(
                    leaf(&c, vec![uri(u)]),
                    Err(Violation::MalformedName { .. })
                ));
            }
        }
        // Without URI constraints URIs are not looked at.
        assert_eq!(
            leaf(&nc(vec![dns("example.com")], vec![]), vec![uri("urn:x:y")]),
            Ok(())
        );
    }

    #[test]
    fn uri_malformed_constraint() {
        let r = leaf(&nc(vec![uri("https://example.com/")], vec![]), vec![]);
        assert!(is_malformed(&r), "{r:?}");
    }

    // directoryName

    #[test]
    fn dn_permitted_prefix_applies_to_subject() {
        let c = nc(vec![dir("O=Example,C=FR")], vec![]);
        let ok = subject("CN=host,O=Example,C=FR");
        assert_eq!(check_name_constraints(&c, &ok, None, true), Ok(()));
        let folded = subject("CN=host,O=EXAMPLE,C=fr");
        assert_eq!(check_name_constraints(&c, &folded, None, false), Ok(()));
        let other = subject("CN=host,O=Other,C=FR");
        assert_eq!(
            check_name_constraints(&c, &other, None, true),
            not_permitted("directoryName \"CN=host,O=Other,C=FR\"")
        );
    }

    #[test]
    fn dn_exact_cn_constraint() {
        let c = nc(vec![dir("CN=foo")], vec![]);
        assert_eq!(
            check_name_constraints(&c, &subject("CN=foo"), None, true),
            Ok(())
        );
        assert!(check_name_constraints(&c, &subject("CN=not-foo"), None, true).is_err());
    }

    #[test]
    fn dn_san_entries_and_subject_are_both_checked() {
        // The SAN directoryName matches but the subject does not.
        let c = nc(vec![dir("CN=foo")], vec![]);
        let r = check_name_constraints(
            &c,
            &subject("CN=bar"),
            Some(&san(vec![dir("CN=foo")])),
            true,
        );
        assert_eq!(r, not_permitted("directoryName \"CN=bar\""));
        // Excluded: the subject matches, the SAN does not.
        let c = nc(vec![], vec![dir("CN=foo")]);
        let r = check_name_constraints(
            &c,
            &subject("CN=foo"),
            Some(&san(vec![dns("example.com")])),
            true,
        );
        assert_eq!(
            r,
            excluded("directoryName \"CN=foo\"", "directoryName \"CN=foo\"")
        );
        // Excluded through the SAN only.
        let r = check_name_constraints(
            &c,
            &subject("CN=bar"),
            Some(&san(vec![dir("CN=foo")])),
            true,
        );
        assert_eq!(
            r,
            excluded("directoryName CN=foo", "directoryName \"CN=foo\"")
        );
    }

    #[test]
    fn empty_subject_is_not_checked() {
        let c = nc(vec![dir("O=Example")], vec![]);
        let r = check_name_constraints(
            &c,
            &Name::default(),
            Some(&san(vec![dns("example.com")])),
            true,
        );
        assert_eq!(r, Ok(()));
        // The empty directoryName is the root: it holds every non-empty subject.
        let c = nc(vec![], vec![GeneralName::DirectoryName(Name::default())]);
        assert!(check_name_constraints(&c, &subject("CN=x"), None, true).is_err());
        assert_eq!(
            check_name_constraints(&c, &RdnSequence(vec![]), None, true),
            Ok(())
        );
    }

    // Unsupported forms

    #[test]
    fn unsupported_forms_reject_only_certificates_holding_them() {
        for (constraint, name, kind) in [
            (other_name(), other_name(), "otherName"),
            (registered_id(), registered_id(), "registeredID"),
            (edi_party(), edi_party(), "ediPartyName"),
        ] {
            for c in [
                nc(vec![constraint.clone()], vec![]),
                nc(vec![], vec![constraint.clone()]),
            ] {
                assert_eq!(
                    leaf(&c, vec![dns("example.com"), name.clone()]),
                    Err(Violation::UnsupportedConstraint { kind: kind.into() })
                );
                assert_eq!(leaf(&c, vec![dns("example.com")]), Ok(()));
            }
        }
        let c = nc(vec![], vec![other_name()]);
        assert_eq!(leaf(&c, vec![registered_id()]), Ok(()));
    }

    // The extension itself

    #[test]
    fn minimum_and_maximum_must_be_default() {
        let mut c = nc(vec![dns("example.com")], vec![]);
        if let Some(list) = c.permitted_subtrees.as_mut() {
            list[0].minimum = 1;
        }
        assert!(is_malformed(&leaf(&c, vec![dns("example.com")])));
        let mut c = nc(vec![], vec![dns("example.com")]);
        if let Some(list) = c.excluded_subtrees.as_mut() {
            list[0].maximum = Some(0);
        }
        assert!(is_malformed(&leaf(&c, vec![dns("example.org")])));
    }

    #[test]
    fn empty_lists_are_malformed_and_an_empty_extension_constrains_nothing() {
        // Neither field: a finding against the issuing CA (path::profile),
        // nothing to apply here.
        assert_eq!(leaf(&nc(vec![], vec![]), vec![dns("a.example")]), Ok(()));
        let c = NameConstraints {
            permitted_subtrees: Some(vec![]),
            excluded_subtrees: subtrees(vec![dns("example.com")]),
        };
        assert!(is_malformed(&leaf(&c, vec![dns("a.example")])));
        let c = NameConstraints {
            permitted_subtrees: subtrees(vec![dns("example.com")]),
            excluded_subtrees: Some(vec![]),
        };
        assert!(is_malformed(&leaf(&c, vec![dns("a.example.com")])));
    }

    // commonName of a leaf without host names in its SAN

    #[test]
    fn leaf_without_san_has_its_host_cn_constrained() {
        let c = nc(vec![dns("localhost")], vec![dns("bad.example.com")]);
        let s = subject("CN=bad.example.com,O=Test");
        assert_eq!(
            check_name_constraints(&c, &s, None, true),
            excluded(
                "dNSName bad.example.com (subject commonName)",
                "dNSName \"bad.example.com\""
            )
        );
        let s = subject("CN=test.localhost,O=Test");
        assert_eq!(check_name_constraints(&c, &s, None, true), Ok(()));
        let s = subject("CN=other.example,O=Test");
        assert_eq!(
            check_name_constraints(&c, &s, None, true),
            not_permitted("dNSName other.example (subject commonName)")
        );
    }

    #[test]
    fn leaf_without_san_has_its_ip_cn_constrained() {
        let c = nc(
            vec![v4_net([1, 1, 1, 0], [255, 255, 255, 0])],
            vec![v4_net([127, 0, 0, 0], [255, 255, 255, 0])],
        );
        assert_eq!(
            check_name_constraints(&c, &subject("CN=127.0.0.1"), None, true),
            excluded(
                "iPAddress 127.0.0.1 (subject commonName)",
                "iPAddress 127.0.0.0/24"
            )
        );
        assert_eq!(
            check_name_constraints(&c, &subject("CN=1.1.1.1"), None, true),
            Ok(())
        );
        assert_eq!(
            check_name_constraints(&c, &subject("CN=::1"), None, true),
            not_permitted("iPAddress ::1 (subject commonName)")
        );
        // An IP-looking CN that is no canonical literal is refused.
        for cn in ["127.000.000.001", "0x7f.0.0.1", "127.1"] {
            assert_eq!(
                check_name_constraints(&c, &subject(&format!("CN={cn}")), None, true),
                malformed_name(&format!("commonName {cn} (subject commonName)")),
                "{cn}"
            );
        }
    }

    #[test]
    fn cn_is_ignored_when_the_san_names_hosts_or_for_intermediates() {
        let c = nc(vec![], vec![dns("bad.example.com")]);
        let s = subject("CN=bad.example.com");
        let good = san(vec![dns("good.example.org")]);
        assert_eq!(check_name_constraints(&c, &s, Some(&good), true), Ok(()));
        let ips = san(vec![ip(&[192, 0, 2, 1])]);
        assert_eq!(check_name_constraints(&c, &s, Some(&ips), true), Ok(()));
        assert_eq!(check_name_constraints(&c, &s, None, false), Ok(()));
        // A SAN with only a mailbox does not hide the CN.
        let mail = san(vec![email("a@example.org")]);
        assert!(check_name_constraints(&c, &s, Some(&mail), true).is_err());
    }

    #[test]
    fn cn_that_is_not_a_host_is_ignored() {
        let c = nc(vec![dns("example.com")], vec![]);
        for cn in ["Jane Doe", "Test CA 1", "12345678901", "user@example.org"] {
            let s = subject(&format!("CN={cn}"));
            assert_eq!(check_name_constraints(&c, &s, None, true), Ok(()), "{cn}");
        }
        // A single label reads as a host name.
        assert_eq!(
            check_name_constraints(&c, &subject("CN=alice"), None, true),
            not_permitted("dNSName alice (subject commonName)")
        );
        assert_eq!(
            check_name_constraints(&c, &subject("CN=example.com."), None, true),
            malformed_name("commonName example.com. (subject commonName)")
        );
    }

    // Budget

    fn many(n: usize, f: impl Fn(usize) -> String) -> Vec<GeneralName> {
        (0..n).map(|i| dns(&f(i))).collect()
    }

    #[test]
    fn comparisons_are_bounded() {
        let mut permitted = many(600, |i| format!("c{i}.example"));
        permitted.push(dns("example.com"));
        let c = nc(permitted, vec![]);
        // 100 names x 601 subtrees: within budget.
        let names = many(100, |i| format!("h{i}.example.com"));
        assert_eq!(leaf(&c, names), Ok(()));
        // 500 names x 601 subtrees: over it.
        let names = many(500, |i| format!("h{i}.example.com"));
        assert_eq!(leaf(&c, names), Err(Violation::BudgetExceeded));
    }

    #[test]
    fn excluded_comparisons_count_too() {
        let c = nc(vec![], many(1000, |i| format!("x{i}.example")));
        let names = many(300, |i| format!("h{i}.example.com"));
        assert_eq!(leaf(&c, names), Err(Violation::BudgetExceeded));
    }
}
