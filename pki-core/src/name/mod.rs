//! Names: peer-name matching (RFC 6125 / RFC 9525), distinguished-name
//! comparison (RFC 5280 7.1) and name constraints (RFC 5280 4.2.1.10,
//! 6.1.3 (b)-(c)).
//!
//! - [`verify_peer_name`] matches the name a caller connected to against the
//!   end entity's subjectAltName; the subject commonName is never used.
//! - [`names_equal`] decides whether an issuer name and a subject name are
//!   the same for chaining.
//! - [`check_name_constraints`] checks one certificate's names against one
//!   CA's nameConstraints extension.
//!
//! Everything here is strict: a name or constraint whose syntax we do not
//! recognise is an error, never silently skipped, wherever skipping it could
//! let a certificate through.

mod constraints;
mod dn;
mod dns;
mod email;
pub mod general;
mod ip;
mod peer;
pub mod text;
mod uri;

pub use constraints::{check_name_constraints, MAX_CONSTRAINT_COMPARISONS};
pub use dn::names_equal;
pub(crate) use dn::raw_names_equal;

/// RFC 5280 7.1 comparison of two DER names: decided on the encodings when
/// they allow it, else on the decoded names. A name that does not decode
/// equals nothing but its own encoding.
pub fn names_der_equal(a: &[u8], b: &[u8]) -> bool {
    use der::Decode;
    a == b
        || raw_names_equal(a, b).unwrap_or_else(|| {
            match (
                x509_cert::name::Name::from_der(a),
                x509_cert::name::Name::from_der(b),
            ) {
                (Ok(x), Ok(y)) => names_equal(&x, &y),
                _ => false,
            }
        })
}
pub use peer::{verify_peer_name, PeerName};
pub use text::{format_dn, parse_dn, DnError};

/// A dNSName in the "preferred name syntax" RFC 5280 4.2.1.6 requires of
/// the issuing CA (RFC 1034 3.5, RFC 1123 2.1), a leftmost `*` label
/// allowed.
pub fn is_preferred_dns_name(name: &str) -> bool {
    dns::is_valid(name, dns::Wildcard::Allow)
}

use std::fmt::Write as _;

use x509_cert::ext::pkix::name::GeneralName;

/// Why a certificate is not valid for a peer name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The end entity has no subjectAltName extension (RFC 9525 6.3: the
    /// subject commonName is not a fallback).
    #[error("no subjectAltName extension (the subject commonName is not used for names)")]
    NoSubjectAltName,
    /// No subjectAltName entry matches the expected name.
    #[error("not valid for {expected}; valid for {presented:?}")]
    NotValidForName {
        /// The peer name asked for.
        expected: String,
        /// Every subjectAltName entry, as `"<type> <value>"`.
        presented: Vec<String>,
    },
    /// The string is not a DNS name, an IP address literal or a mailbox.
    #[error("{0:?} is not a valid DNS name, IP address or email address")]
    InvalidPeerName(String),
}

/// A name of a certificate that lies outside a CA's name constraints, or a
/// constraint that cannot be applied (RFC 5280 4.2.1.10).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameConstraintViolation {
    /// A name of a type with permitted subtrees lies in none of them.
    #[error("{name} is not within the permitted subtrees")]
    NotPermitted {
        /// The name, as `"<type> <value>"`.
        name: String,
    },
    /// A name lies in an excluded subtree.
    #[error("{name} is within the excluded subtree {subtree}")]
    Excluded {
        /// The name, as `"<type> <value>"`.
        name: String,
        /// The excluded subtree it falls in, as `"<type> <value>"`.
        subtree: String,
    },
    /// The CA constrains a name form we do not implement (otherName,
    /// x400Address, ediPartyName, registeredID) and the certificate has a
    /// name of that form (RFC 5280 4.2.1.10: process it or reject).
    #[error("constraints on {kind} names are not supported and the certificate has such a name")]
    UnsupportedConstraint {
        /// The name form, e.g. `"otherName"`.
        kind: String,
    },
    /// A name of a constrained type is not well formed, so it cannot be
    /// placed inside or outside any subtree.
    #[error("malformed name {name} under name constraints")]
    MalformedName {
        /// The name, as `"<type> <value>"`, with unprintable bytes escaped.
        name: String,
    },
    /// A URI under URI constraints has no domain-name host to compare (no
    /// authority, an empty host, or an IP address as host).
    #[error("{name} has no domain-name host to check against URI constraints")]
    UriWithoutHost {
        /// The name, as `"URI <value>"`.
        name: String,
    },
    /// The nameConstraints extension itself is malformed.
    #[error("malformed name constraint: {0}")]
    Malformed(String),
    /// Checking would take more than [`MAX_CONSTRAINT_COMPARISONS`]
    /// (name, subtree) comparisons.
    #[error("name constraint check exceeded {MAX_CONSTRAINT_COMPARISONS} comparisons")]
    BudgetExceeded,
}

/// Text for error messages: printable ASCII as is, anything else escaped,
/// so a hostile name cannot forge log lines.
pub(crate) fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_graphic() || c == ' ' {
            out.push(c);
        } else {
            out.extend(c.escape_default());
        }
    }
    out
}

/// Text of an IP address of 4 or 16 octets; other lengths in hex.
fn ip_text(b: &[u8]) -> String {
    if let Ok(a) = <[u8; 4]>::try_from(b) {
        return std::net::Ipv4Addr::from(a).to_string();
    }
    if let Ok(a) = <[u8; 16]>::try_from(b) {
        return std::net::Ipv6Addr::from(a).to_string();
    }
    let mut hex = String::with_capacity(2 * b.len());
    for x in b {
        let _ = write!(hex, "{x:02x}");
    }
    format!("(malformed, {} octets: {hex})", b.len())
}

/// `"<type> <value>"` text of a GeneralName (RFC 5280 4.2.1.6 type names).
fn general_name_text(n: &GeneralName) -> String {
    match n {
        GeneralName::DnsName(d) => format!("dNSName {}", printable(d.as_str())),
        GeneralName::Rfc822Name(m) => format!("rfc822Name {}", printable(m.as_str())),
        GeneralName::UniformResourceIdentifier(u) => format!("URI {}", printable(u.as_str())),
        GeneralName::IpAddress(b) => format!("iPAddress {}", ip_text(b.as_bytes())),
        GeneralName::DirectoryName(d) => format!("directoryName {}", printable(&d.to_string())),
        GeneralName::OtherName(o) => format!("otherName {}", o.type_id),
        GeneralName::RegisteredId(o) => format!("registeredID {o}"),
        GeneralName::EdiPartyName(_) => "ediPartyName".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::asn1::{Ia5String, OctetString};

    #[test]
    fn printable_escapes_control_and_non_ascii() {
        assert_eq!(printable("a.example.com"), "a.example.com");
        assert_eq!(printable("a\nb"), "a\\nb");
        assert_eq!(printable("\u{7f}\0"), "\\u{7f}\\u{0}");
        assert_eq!(printable("é"), "\\u{e9}");
    }

    #[test]
    fn ip_text_formats_both_families_and_flags_bad_lengths() {
        assert_eq!(ip_text(&[192, 0, 2, 1]), "192.0.2.1");
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        assert_eq!(ip_text(&v6), "::1");
        assert_eq!(ip_text(&[1, 2, 3]), "(malformed, 3 octets: 010203)");
    }

    #[test]
    fn general_names_describe_themselves() {
        let d = GeneralName::DnsName(Ia5String::new("a.example").unwrap());
        assert_eq!(general_name_text(&d), "dNSName a.example");
        let ip = GeneralName::IpAddress(OctetString::new(vec![10, 0, 0, 1]).unwrap());
        assert_eq!(general_name_text(&ip), "iPAddress 10.0.0.1");
        let m = GeneralName::Rfc822Name(Ia5String::new("a@b.example").unwrap());
        assert_eq!(general_name_text(&m), "rfc822Name a@b.example");
    }

    #[test]
    fn errors_carry_their_context() {
        let e = NameConstraintViolation::Excluded {
            name: "dNSName a.example.com".into(),
            subtree: "dNSName example.com".into(),
        };
        assert_eq!(
            e.to_string(),
            "dNSName a.example.com is within the excluded subtree dNSName example.com"
        );
        let e = NameError::NotValidForName {
            expected: "a.example".into(),
            presented: vec!["dNSName b.example".into()],
        };
        assert_eq!(
            e.to_string(),
            "not valid for a.example; valid for [\"dNSName b.example\"]"
        );
    }
}
