//! uniformResourceIdentifier names and constraints (RFC 5280 4.2.1.6,
//! 4.2.1.10; URI syntax from RFC 3986 3).

use std::fmt;

use super::dns::{self, Wildcard};

/// The host of a URI, as far as URI constraints are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum UriHost {
    /// A host name in preferred name syntax, lower-cased.
    Domain(String),
    /// No authority (`urn:`, `mailto:`), an empty host (`file:///`), or an
    /// IP address: nothing a host-name constraint can place.
    NotADomain,
    /// Not a URI we can read: no scheme, bad characters, a malformed
    /// authority or port, percent-encoding in the host, a trailing dot.
    Malformed,
}

/// RFC 3986 3.1: `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// Extracts the host of an absolute URI (RFC 3986 3: `scheme ":"
/// hier-part`, with `"//" authority` when there is a host;
/// `authority = [ userinfo "@" ] host [ ":" port ]`).
pub(super) fn host(uri: &str) -> UriHost {
    if uri
        .bytes()
        .any(|b| b.is_ascii_control() || b == b' ' || !b.is_ascii())
    {
        return UriHost::Malformed;
    }
    let Some((scheme, rest)) = uri.split_once(':') else {
        return UriHost::Malformed;
    };
    if !is_scheme(scheme) {
        return UriHost::Malformed;
    }
    let Some(after) = rest.strip_prefix("//") else {
        return UriHost::NotADomain;
    };
    let authority = after.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = match authority.split_once('@') {
        // userinfo cannot hold a raw '@' (RFC 3986 3.2.1).
        Some((_, h)) if h.contains('@') => return UriHost::Malformed,
        Some((_, h)) => h,
        None => authority,
    };
    if host_port.starts_with('[') {
        // IP-literal: an IPv6 address or IPvFuture, never a domain.
        return match host_port.split_once(']') {
            Some((_, port)) if valid_port_suffix(port) => UriHost::NotADomain,
            _ => UriHost::Malformed,
        };
    }
    let (host, port) = match host_port.split_once(':') {
        Some((h, p)) => (h, p),
        None => (host_port, ""),
    };
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return UriHost::Malformed;
    }
    if host.is_empty() || host.parse::<std::net::Ipv4Addr>().is_ok() {
        return UriHost::NotADomain;
    }
    let lower = host.to_ascii_lowercase();
    if dns::is_valid(&lower, Wildcard::Deny) {
        UriHost::Domain(lower)
    } else {
        UriHost::Malformed
    }
}

fn valid_port_suffix(s: &str) -> bool {
    s.is_empty()
        || s.strip_prefix(':')
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

/// A URI subtree (RFC 5280 4.2.1.10): "host.example.com" is that host,
/// ".example.com" any host below example.com. The empty string stands for
/// every host, as for dNSName.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum UriConstraint {
    Any,
    Host(String),
    Below(String),
}

impl UriConstraint {
    pub(super) fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() {
            return Ok(Self::Any);
        }
        let lower = raw.to_ascii_lowercase();
        let (below, host) = match lower.strip_prefix('.') {
            Some(rest) => (true, rest),
            None => (false, lower.as_str()),
        };
        if !dns::is_valid(host, Wildcard::Deny) {
            return Err(format!(
                "URI constraint \"{}\" is not a host or .domain",
                super::printable(raw)
            ));
        }
        Ok(if below {
            Self::Below(host.to_owned())
        } else {
            Self::Host(host.to_owned())
        })
    }

    fn below(domain: &str, host: &str) -> bool {
        host.strip_suffix(domain)
            .is_some_and(|head| head.len() > 1 && head.ends_with('.'))
    }

    /// For a permitted subtree, RFC 5280 to the letter: a host constraint
    /// is that host only.
    pub(super) fn permits(&self, host: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Host(h) => host == h,
            Self::Below(d) => Self::below(d, host),
        }
    }

    /// For an excluded subtree, the same reading (RFC 5280 4.2.1.10: "the
    /// constraint MUST be specified as a fully qualified domain name and
    /// MAY specify a host or a domain"; a host names that host only, and
    /// `.example.com` the hosts below it). NIST PKITS 4.13.36 relies on it.
    pub(super) fn excludes(&self, host: &str) -> bool {
        self.permits(host)
    }
}

impl fmt::Display for UriConstraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("URI \"\""),
            Self::Host(h) => write!(f, "URI \"{h}\""),
            Self::Below(d) => write!(f, "URI \".{d}\""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(s: &str) -> UriHost {
        UriHost::Domain(s.to_owned())
    }

    #[test]
    fn hosts_of_common_uris() {
        assert_eq!(host("https://Example.COM/path"), domain("example.com"));
        assert_eq!(host("https://example.com"), domain("example.com"));
        assert_eq!(
            host("https://user:pw@www.example.com:8443/x?q#f"),
            domain("www.example.com")
        );
        assert_eq!(
            host("spiffe://test.localhost/workload"),
            domain("test.localhost")
        );
        assert_eq!(
            host("ldap://ldap.example.com?cn"),
            domain("ldap.example.com")
        );
        assert_eq!(host("http://example.com:/"), domain("example.com"));
    }

    #[test]
    fn uris_without_a_domain_host() {
        assert_eq!(host("urn:isbn:0451450523"), UriHost::NotADomain);
        assert_eq!(host("mailto:a@example.com"), UriHost::NotADomain);
        assert_eq!(host("file:///etc/passwd"), UriHost::NotADomain);
        assert_eq!(host("http://192.0.2.1/"), UriHost::NotADomain);
        assert_eq!(host("http://[2001:db8::1]:80/"), UriHost::NotADomain);
    }

    #[test]
    fn malformed_uris() {
        for bad in [
            "",
            "test.localhost",
            "127.0.0.1",
            "//example.com/",
            "1http://example.com",
            "http://exa mple.com",
            "http://example.com\0.evil.com",
            "http://a@b@example.com",
            "http://example.com:80x/",
            "http://ex%41mple.com/",
            "http://example.com./",
            "http://foo_bar.example.com/",
            "http://[::1/",
            "http://[::1]x/",
            "http://bad.example.com, DNS:test.localhost",
            "\u{7f}\0\0\u{1}",
        ] {
            assert_eq!(host(bad), UriHost::Malformed, "{bad:?}");
        }
    }

    #[test]
    fn constraint_forms() {
        assert_eq!(UriConstraint::parse("").unwrap(), UriConstraint::Any);
        assert_eq!(
            UriConstraint::parse("Host.Example.com").unwrap(),
            UriConstraint::Host("host.example.com".into())
        );
        assert_eq!(
            UriConstraint::parse(".example.com").unwrap(),
            UriConstraint::Below("example.com".into())
        );
        for bad in [
            "http://example.com",
            "..example.com",
            "example.com.",
            "*.example.com",
            "a b",
        ] {
            assert!(UriConstraint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn permitted_host_is_exact_and_domain_is_below() {
        let h = UriConstraint::parse("example.com").unwrap();
        assert!(h.permits("example.com"));
        assert!(!h.permits("www.example.com"));
        let d = UriConstraint::parse(".example.com").unwrap();
        assert!(d.permits("www.example.com"));
        assert!(d.permits("a.b.example.com"));
        assert!(!d.permits("example.com"));
        assert!(!d.permits("notexample.com"));
        assert!(UriConstraint::Any.permits("anything.example"));
    }

    #[test]
    fn excluded_host_is_that_host_only() {
        let h = UriConstraint::parse("example.com").unwrap();
        assert!(h.excludes("example.com"));
        assert!(!h.excludes("www.example.com"));
        assert!(!h.excludes("notexample.com"));
        let d = UriConstraint::parse(".example.com").unwrap();
        assert!(d.excludes("www.example.com"));
        assert!(!d.excludes("example.com"));
    }
}
