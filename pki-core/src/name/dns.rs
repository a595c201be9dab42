//! DNS names: syntax (RFC 1034 3.5 as profiled by RFC 5280 4.2.1.6),
//! matching a presented identifier against a reference identifier (RFC 6125
//! 6.4), and dNSName name constraints (RFC 5280 4.2.1.10).

use std::fmt;

/// Longest name in text form without a trailing dot (RFC 1035 2.3.4: 255
/// octets on the wire).
const MAX_NAME_LEN: usize = 253;
/// Longest label (RFC 1035 2.3.4).
const MAX_LABEL_LEN: usize = 63;

/// Whether a left-most `*` label is acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wildcard {
    Deny,
    Allow,
}

/// RFC 1034 3.5 "preferred name syntax", as RFC 5280 4.2.1.6 requires for
/// dNSName: labels of 1-63 letters, digits and hyphens, not starting or
/// ending with a hyphen, at most 253 characters, no trailing dot. The last
/// label must not be all digits, so a dotted IPv4 address is never a DNS
/// name (RFC 1123 2.1). Underscores are refused.
///
/// With [`Wildcard::Allow`] the left-most label may be exactly `*` (RFC 6125
/// 6.4.3), and then at least two labels must follow it, so `*.com` is not a
/// valid pattern.
pub(super) fn is_valid(name: &str, wildcard: Wildcard) -> bool {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return false;
    }
    let rest = match (wildcard, name.strip_prefix("*.")) {
        (Wildcard::Allow, Some(rest)) => {
            if rest.split('.').count() < 2 {
                return false;
            }
            rest
        }
        _ => name,
    };
    let mut last_all_digits = false;
    for label in rest.split('.') {
        if label.is_empty()
            || label.len() > MAX_LABEL_LEN
            || label.starts_with('-')
            || label.ends_with('-')
            || !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return false;
        }
        last_all_digits = label.bytes().all(|b| b.is_ascii_digit());
    }
    !last_all_digits
}

/// A dNSName as presented in a certificate: lower-cased, syntactically
/// valid, possibly a `*.rest` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PresentedDns(String);

impl PresentedDns {
    /// Parses a presented dNSName; `None` when it is not in preferred name
    /// syntax (a trailing dot included: RFC 5280 4.2.1.6 wants the
    /// preferred syntax, and rustls-webpki refuses it too).
    pub(super) fn parse(raw: &str) -> Option<Self> {
        let lower = raw.to_ascii_lowercase();
        is_valid(&lower, Wildcard::Allow).then_some(Self(lower))
    }

    /// The part after `*.` for a wildcard pattern.
    fn wildcard_base(&self) -> Option<&str> {
        self.0.strip_prefix("*.")
    }

    /// RFC 6125 6.4.1 / 6.4.3: label-by-label equality, except that a `*`
    /// left-most label stands for exactly one non-empty label. `reference`
    /// is a lower-cased, valid, non-wildcard name.
    pub(super) fn matches_reference(&self, reference: &str) -> bool {
        match self.wildcard_base() {
            Some(base) => reference
                .split_once('.')
                .is_some_and(|(first, tail)| !first.is_empty() && tail == base),
            None => self.0 == reference,
        }
    }

    pub(super) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PresentedDns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A dNSName subtree (RFC 5280 4.2.1.10): the empty string is every name;
/// otherwise a host name, which covers itself and every name below it
/// ("host.example.com" covers "host.example.com" and "a.host.example.com").
///
/// Refused as malformed: a leading period (RFC 5280 gives it no meaning for
/// dNSName, x509-limbo `rfc5280::nc::invalid-dnsname-leading-period`), a
/// trailing dot, a wildcard, and anything else outside preferred name syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DnsConstraint(String);

impl DnsConstraint {
    pub(super) fn parse(raw: &str) -> Result<Self, String> {
        let lower = raw.to_ascii_lowercase();
        if lower.is_empty() || is_valid(&lower, Wildcard::Deny) {
            Ok(Self(lower))
        } else {
            Err(format!(
                "dNSName constraint \"{}\" is not a host name",
                super::printable(raw)
            ))
        }
    }

    /// Whether the (non-wildcard) `host` is `self` or below it.
    fn covers(&self, host: &str) -> bool {
        let c = self.0.as_str();
        if c.is_empty() || host == c {
            return true;
        }
        host.strip_suffix(c)
            .is_some_and(|head| head.len() > 1 && head.ends_with('.'))
    }

    /// For a permitted subtree: every name `name` can stand for is inside.
    /// A pattern `*.base` stands for `x.base` for any label `x`, which are
    /// all inside exactly when `base` is.
    pub(super) fn permits(&self, name: &PresentedDns) -> bool {
        match name.wildcard_base() {
            Some(base) => self.covers(base),
            None => self.covers(name.as_str()),
        }
    }

    /// For an excluded subtree: some name `name` can stand for is inside.
    /// `*.example.com` meets the subtree `bar.example.com` through
    /// `bar.example.com` itself (CVE-2025-61727: a pattern that may match an
    /// excluded name is excluded).
    pub(super) fn excludes(&self, name: &PresentedDns) -> bool {
        match name.wildcard_base() {
            Some(base) => {
                self.covers(base)
                    || self
                        .0
                        .split_once('.')
                        .is_some_and(|(_, parent)| parent == base)
            }
            None => self.covers(name.as_str()),
        }
    }
}

impl fmt::Display for DnsConstraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dNSName \"{}\"", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PresentedDns {
        PresentedDns::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    fn c(s: &str) -> DnsConstraint {
        DnsConstraint::parse(s).unwrap()
    }

    #[test]
    fn syntax_accepts_preferred_names() {
        for ok in [
            "a",
            "localhost",
            "example.com",
            "a-b.example.com",
            "xn--n3h.example",
            "1.example.com",
            "example.123a",
            &format!("{}.com", "a".repeat(63)),
        ] {
            assert!(is_valid(ok, Wildcard::Deny), "{ok}");
        }
        let long = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61),
        ]
        .join(".");
        assert_eq!(long.len(), 253);
        assert!(is_valid(&long, Wildcard::Deny));
        assert!(!is_valid(&format!("{long}e"), Wildcard::Deny));
    }

    #[test]
    fn syntax_refuses_everything_else() {
        for bad in [
            "",
            ".",
            ".example.com",
            "example.com.",
            "example..com",
            "-a.example.com",
            "a-.example.com",
            "foo_bar.example.com",
            "a b.example.com",
            "a\0.example.com",
            "é.example.com",
            "1.2.3.4",
            "example.123",
            "http://example.com",
            "example.com:443",
            &format!("{}.com", "a".repeat(64)),
        ] {
            assert!(!is_valid(bad, Wildcard::Deny), "{bad:?}");
            assert!(!is_valid(bad, Wildcard::Allow), "{bad:?}");
        }
    }

    #[test]
    fn wildcards_are_a_whole_left_most_label_over_two_labels() {
        assert!(is_valid("*.example.com", Wildcard::Allow));
        assert!(!is_valid("*.example.com", Wildcard::Deny));
        for bad in [
            "*",
            "*.",
            "*.com",
            "*.*.example.com",
            "f*.example.com",
            "*f.example.com",
            "foo.*.example.com",
            "xn--*-1b3c148a.example.com",
            "**.example.com",
        ] {
            assert!(!is_valid(bad, Wildcard::Allow), "{bad}");
        }
    }

    #[test]
    fn presented_names_are_lower_cased() {
        assert_eq!(p("Example.COM").as_str(), "example.com");
        assert_eq!(p("*.Example.com").to_string(), "*.example.com");
        assert!(PresentedDns::parse("example.com.").is_none());
    }

    #[test]
    fn exact_matching_is_label_by_label() {
        assert!(p("example.com").matches_reference("example.com"));
        assert!(p("EXAMPLE.com").matches_reference("example.com"));
        assert!(!p("example.com").matches_reference("example2.com"));
        assert!(!p("abc.example.com").matches_reference("def.example.com"));
        assert!(!p("example.com").matches_reference("abc.example.com"));
        assert!(!p("abc.example.com").matches_reference("example.com"));
    }

    #[test]
    fn wildcard_matches_exactly_one_label() {
        let w = p("*.example.com");
        assert!(w.matches_reference("foo.example.com"));
        assert!(w.matches_reference("xn--bliss-1b3c148a.example.com"));
        assert!(!w.matches_reference("example.com"));
        assert!(!w.matches_reference("foo.bar.example.com"));
        assert!(!w.matches_reference("fooexample.com"));
        assert!(!w.matches_reference("foo.example.org"));
    }

    #[test]
    fn constraint_syntax() {
        assert_eq!(c("Example.COM"), DnsConstraint("example.com".into()));
        assert_eq!(c(""), DnsConstraint(String::new()));
        for bad in [
            ".example.com",
            "example.com.",
            "*.example.com",
            "foo_bar.com",
            "1.2.3.4",
            "a..b",
            "http://example.com",
        ] {
            assert!(DnsConstraint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn constraint_covers_host_and_subdomains_on_label_boundaries() {
        let k = c("example.com");
        assert!(k.permits(&p("example.com")));
        assert!(k.permits(&p("foo.example.com")));
        assert!(k.permits(&p("foo.bar.example.com")));
        assert!(k.permits(&p("FOO.Example.Com")));
        assert!(!k.permits(&p("fooexample.com")));
        assert!(!k.permits(&p("not-example.com")));
        assert!(!k.permits(&p("example.com.au")));
        assert!(!k.permits(&p("com")));
        assert!(k.excludes(&p("foo.example.com")));
        assert!(!k.excludes(&p("fooexample.com")));
    }

    #[test]
    fn empty_constraint_covers_every_name() {
        let all = c("");
        assert!(all.permits(&p("anything.example")));
        assert!(all.permits(&p("*.example.com")));
        assert!(all.excludes(&p("localhost")));
    }

    #[test]
    fn wildcard_is_permitted_only_when_every_match_is() {
        assert!(c("example.com").permits(&p("*.example.com")));
        assert!(c("com").permits(&p("*.example.com")));
        assert!(!c("foo.example.com").permits(&p("*.example.com")));
        assert!(!c("example.org").permits(&p("*.example.com")));
        assert!(c("foo.com").permits(&p("*.foo.com")));
    }

    #[test]
    fn wildcard_is_excluded_when_any_match_is() {
        assert!(c("bar.example.com").excludes(&p("*.example.com")));
        assert!(c("example.com").excludes(&p("*.example.com")));
        assert!(c("com").excludes(&p("*.example.com")));
        assert!(!c("a.bar.example.com").excludes(&p("*.example.com")));
        assert!(!c("bar.example.org").excludes(&p("*.example.com")));
        assert!(!c("example.com").excludes(&p("*.foo.org")));
    }
}
