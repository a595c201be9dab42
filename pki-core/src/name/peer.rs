//! Peer names and matching them against an end entity's subjectAltName
//! (RFC 6125 6 / RFC 9525 6, RFC 5280 4.2.1.6).

use std::fmt;
use std::net::IpAddr;

use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;

use super::dns::{self, PresentedDns, Wildcard};
use super::email::Mailbox;
use super::{general_name_text, NameError};

/// A name the caller expects the end-entity certificate to be valid for
/// (an RFC 6125 reference identifier).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PeerName {
    /// A DNS name: lower-case, no trailing dot, no wildcard, in preferred
    /// name syntax (A-labels for internationalised names).
    Dns(String),
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
    /// An RFC 5321 mailbox, domain lower-cased, local part as given.
    Email(String),
}

impl PeerName {
    /// A string with `@` is a mailbox; one that parses as an IPv4 or IPv6
    /// literal is an address; anything else must be a DNS name (one
    /// trailing dot is dropped, case is folded). Wildcards, underscores,
    /// dotted numbers that are not an IPv4 address ("1.2.3.4.5") and
    /// non-ASCII text are refused.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let invalid = || NameError::InvalidPeerName(s.to_owned());
        if s.contains('@') {
            return Mailbox::parse(s)
                .map(|m| Self::Email(m.to_string()))
                .ok_or_else(invalid);
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Self::Ip(ip));
        }
        let host = s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase();
        if dns::is_valid(&host, Wildcard::Deny) {
            Ok(Self::Dns(host))
        } else {
            Err(invalid())
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

/// A peer name checked and normalised for matching. `PeerName` is a plain
/// enum a caller can build without [`PeerName::parse`], so the syntax is
/// checked again here: a hand-made `Dns("*.example.com")` must not match
/// every wildcard certificate.
enum Reference {
    Dns(String),
    Ip(Vec<u8>),
    Email(Mailbox),
}

impl Reference {
    fn new(peer: &PeerName) -> Result<Self, NameError> {
        let invalid = || NameError::InvalidPeerName(peer.to_string());
        match peer {
            PeerName::Dns(d) => {
                let host = d.strip_suffix('.').unwrap_or(d).to_ascii_lowercase();
                if dns::is_valid(&host, Wildcard::Deny) {
                    Ok(Self::Dns(host))
                } else {
                    Err(invalid())
                }
            }
            PeerName::Ip(IpAddr::V4(a)) => Ok(Self::Ip(a.octets().to_vec())),
            PeerName::Ip(IpAddr::V6(a)) => Ok(Self::Ip(a.octets().to_vec())),
            PeerName::Email(e) => Mailbox::parse(e).map(Self::Email).ok_or_else(invalid),
        }
    }

    /// Whether one subjectAltName entry matches.
    fn matches(&self, entry: &GeneralName) -> bool {
        match (entry, self) {
            // RFC 6125 6.4: malformed presented identifiers never match.
            (GeneralName::DnsName(d), Self::Dns(host)) => {
                PresentedDns::parse(d.as_str()).is_some_and(|p| p.matches_reference(host))
            }
            // RFC 5280 4.2.1.6: 4 octets for IPv4, 16 for IPv6; exact
            // match, so an IPv4 address never matches its IPv4-mapped IPv6
            // form.
            (GeneralName::IpAddress(b), Self::Ip(ip)) => b.as_bytes() == ip.as_slice(),
            // RFC 5280 7.5: local part exact, domain case-insensitive.
            (GeneralName::Rfc822Name(m), Self::Email(reference)) => {
                Mailbox::parse(m.as_str()).is_some_and(|p| p.same_mailbox(reference))
            }
            _ => false,
        }
    }
}

/// RFC 6125 6 / RFC 9525 6 matching of `peer` against the end entity's
/// subjectAltName. Only the subjectAltName counts: dNSName entries for a DNS
/// name (a left-most `*` label matches exactly one label, and only with at
/// least two labels after it), iPAddress entries for an address (exact
/// octets), rfc822Name entries for a mailbox. The subject commonName is
/// never used (RFC 9525 6.3), so a certificate without subjectAltName is
/// valid for no name.
pub fn verify_peer_name(san: Option<&SubjectAltName>, peer: &PeerName) -> Result<(), NameError> {
    let san = san.ok_or(NameError::NoSubjectAltName)?;
    let reference = Reference::new(peer)?;
    if san.0.iter().any(|entry| reference.matches(entry)) {
        return Ok(());
    }
    Err(NameError::NotValidForName {
        expected: peer.to_string(),
        presented: san.0.iter().map(general_name_text).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::asn1::{Ia5String, OctetString};
    use std::str::FromStr;

    fn dns_name(s: &str) -> GeneralName {
        GeneralName::DnsName(Ia5String::new(s).unwrap())
    }

    fn ip(b: &[u8]) -> GeneralName {
        GeneralName::IpAddress(OctetString::new(b.to_vec()).unwrap())
    }

    fn email(s: &str) -> GeneralName {
        GeneralName::Rfc822Name(Ia5String::new(s).unwrap())
    }

    fn san(entries: Vec<GeneralName>) -> SubjectAltName {
        SubjectAltName(entries)
    }

    fn peer(s: &str) -> PeerName {
        PeerName::parse(s).unwrap()
    }

    fn ok(entries: Vec<GeneralName>, p: &str) -> bool {
        verify_peer_name(Some(&san(entries)), &peer(p)).is_ok()
    }

    #[test]
    fn parse_dns_names() {
        assert_eq!(peer("Example.COM."), PeerName::Dns("example.com".into()));
        assert_eq!(peer("localhost"), PeerName::Dns("localhost".into()));
        assert_eq!(peer("xn--n3h.com"), PeerName::Dns("xn--n3h.com".into()));
    }

    #[test]
    fn parse_ip_literals() {
        assert_eq!(
            peer("192.0.2.1"),
            PeerName::Ip("192.0.2.1".parse().unwrap())
        );
        assert_eq!(peer("::1"), PeerName::Ip("::1".parse().unwrap()));
        assert_eq!(peer("2001:DB8::1").to_string(), "2001:db8::1");
    }

    #[test]
    fn parse_mailboxes() {
        assert_eq!(
            peer("User@Example.COM"),
            PeerName::Email("User@example.com".into())
        );
        assert_eq!(peer("*@example.com").to_string(), "*@example.com");
    }

    #[test]
    fn parse_refuses_invalid_names() {
        for bad in [
            "",
            ".",
            "..",
            "example.com..",
            "*.example.com",
            "foo_bar.example.com",
            "-a.com",
            "a..b",
            "a@b@c.com",
            "@example.com",
            "a@",
            "1.2.3.4.5",
            "192.168.01.1",
            "0x7f.0.0.1",
            "[::1]",
            "fe80::1%eth0",
            "exa mple.com",
            "é.example.com",
            "http://example.com",
        ] {
            assert_eq!(
                PeerName::parse(bad),
                Err(NameError::InvalidPeerName(bad.to_owned())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn no_san_is_no_name() {
        assert_eq!(
            verify_peer_name(None, &peer("example.com")),
            Err(NameError::NoSubjectAltName)
        );
    }

    #[test]
    fn dns_exact_and_case_insensitive() {
        assert!(ok(vec![dns_name("example.com")], "example.com"));
        assert!(ok(vec![dns_name("EXAMPLE.Com")], "example.com"));
        assert!(ok(
            vec![dns_name("a.example"), dns_name("example.com")],
            "example.com"
        ));
        assert!(!ok(vec![dns_name("example.com")], "example2.com"));
        assert!(!ok(vec![dns_name("abc.example.com")], "def.example.com"));
        assert!(!ok(vec![dns_name("example.com")], "abc.example.com"));
        assert!(!ok(vec![dns_name("abc.example.com")], "example.com"));
    }

    #[test]
    fn dns_wildcards() {
        assert!(ok(vec![dns_name("*.example.com")], "foo.example.com"));
        assert!(ok(
            vec![dns_name("*.example.com")],
            "xn--bliss-1b3c148a.example.com"
        ));
        assert!(!ok(vec![dns_name("*.example.com")], "example.com"));
        assert!(!ok(vec![dns_name("*.example.com")], "foo.bar.example.com"));
        assert!(!ok(vec![dns_name("ba*.example.com")], "baz.example.com"));
        assert!(!ok(vec![dns_name("*z.example.com")], "baz.example.com"));
        assert!(!ok(
            vec![dns_name("foo.*.example.com")],
            "foo.bar.example.com"
        ));
        assert!(!ok(
            vec![dns_name("xn--*-1b3c148a.example.com")],
            "xn--bliss-1b3c148a.example.com"
        ));
        assert!(!ok(vec![dns_name("*.com")], "example.com"));
        assert!(!ok(vec![dns_name("*")], "com"));
        assert!(!ok(vec![dns_name("*")], "example.com"));
    }

    #[test]
    fn malformed_presented_names_are_skipped() {
        assert!(!ok(vec![dns_name("example.com.")], "example.com"));
        assert!(!ok(
            vec![dns_name("foo_bar.example.com")],
            "foo.example.com"
        ));
        assert!(!ok(vec![dns_name(".example.com")], "example.com"));
        assert!(ok(
            vec![dns_name("exa mple.com"), dns_name("example.com")],
            "example.com"
        ));
    }

    #[test]
    fn ip_addresses_match_exact_octets_only() {
        assert!(ok(vec![ip(&[127, 0, 0, 1])], "127.0.0.1"));
        assert!(!ok(vec![ip(&[127, 0, 0, 2])], "127.0.0.1"));
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        assert!(ok(vec![ip(&v6)], "::1"));
        assert!(!ok(vec![ip(&v6)], "127.0.0.1"));
        let mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1];
        assert!(!ok(vec![ip(&mapped)], "127.0.0.1"));
        assert!(!ok(vec![ip(&[127, 0, 0, 1])], "::ffff:127.0.0.1"));
        // A CIDR range is not an address.
        assert!(!ok(
            vec![ip(&[127, 0, 0, 1, 255, 255, 255, 255])],
            "127.0.0.1"
        ));
    }

    #[test]
    fn names_of_one_type_never_match_another() {
        assert!(!ok(vec![dns_name("8.8.8.8")], "8.8.8.8"));
        assert!(!ok(vec![dns_name("example.com")], "a@example.com"));
        assert!(!ok(vec![email("example.com")], "example.com"));
        assert!(!ok(vec![ip(&[127, 0, 0, 1])], "localhost"));
        assert!(!ok(vec![dns_name("*.example.com")], "192.0.2.1"));
        let dir =
            GeneralName::DirectoryName(x509_cert::name::Name::from_str("CN=example.com").unwrap());
        assert!(!ok(vec![dir], "example.com"));
    }

    #[test]
    fn mailboxes() {
        assert!(ok(vec![email("user@example.com")], "user@example.com"));
        assert!(ok(vec![email("user@EXAMPLE.com")], "user@example.com"));
        assert!(!ok(vec![email("User@example.com")], "user@example.com"));
        assert!(!ok(vec![email("user@sub.example.com")], "user@example.com"));
        assert!(!ok(vec![email("*@example.com")], "user@example.com"));
        assert!(!ok(
            vec![email("invalid@user@example.com")],
            "user@example.com"
        ));
    }

    #[test]
    fn hand_built_peer_names_are_checked_too() {
        let wild = PeerName::Dns("*.example.com".into());
        let s = san(vec![dns_name("*.example.com")]);
        assert_eq!(
            verify_peer_name(Some(&s), &wild),
            Err(NameError::InvalidPeerName("*.example.com".into()))
        );
        let upper = PeerName::Dns("Example.COM.".into());
        assert_eq!(
            verify_peer_name(Some(&san(vec![dns_name("example.com")])), &upper),
            Ok(())
        );
        let bad_mail = PeerName::Email("a@b@c.example".into());
        assert!(matches!(
            verify_peer_name(Some(&s), &bad_mail),
            Err(NameError::InvalidPeerName(_))
        ));
    }

    #[test]
    fn mismatch_lists_what_the_certificate_holds() {
        let err = verify_peer_name(
            Some(&san(vec![dns_name("a.example"), ip(&[10, 0, 0, 1])])),
            &peer("b.example"),
        )
        .unwrap_err();
        assert_eq!(
            err,
            NameError::NotValidForName {
                expected: "b.example".into(),
                presented: vec!["dNSName a.example".into(), "iPAddress 10.0.0.1".into()],
            }
        );
    }
}
