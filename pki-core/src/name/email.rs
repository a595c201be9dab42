//! rfc822Name mailboxes (RFC 5280 4.2.1.6: an RFC 5321 Mailbox) and
//! rfc822Name constraints (RFC 5280 4.2.1.10).

use std::fmt;

use super::dns::{self, Wildcard};

/// Longest local part (RFC 5321 4.5.3.1.1).
const MAX_LOCAL_LEN: usize = 64;

/// An RFC 5321 4.1.2 `Mailbox`: `Local-part "@" Domain`. The local part is
/// a Dot-string or a Quoted-string; the domain must be a host name in
/// preferred name syntax (address literals such as `[192.0.2.1]` are
/// refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Mailbox {
    /// The local part as written (quotes included), case preserved.
    local: String,
    /// The local part with quoting removed, for comparisons (RFC 5321
    /// 4.1.2: `"bob"` and `bob` are the same local part).
    canonical_local: String,
    /// The domain, lower-cased (domains compare case-insensitively, RFC 5280
    /// 7.5).
    domain: String,
}

impl Mailbox {
    pub(super) fn parse(s: &str) -> Option<Self> {
        // A Dot-string never contains '@' and a Quoted-string may, so the
        // domain starts after the last '@'.
        let (local, domain) = s.rsplit_once('@')?;
        let canonical_local = canonical_local_part(local)?;
        let domain = domain.to_ascii_lowercase();
        if !dns::is_valid(&domain, Wildcard::Deny) {
            return None;
        }
        Some(Self {
            local: local.to_owned(),
            canonical_local,
            domain,
        })
    }

    pub(super) fn domain(&self) -> &str {
        &self.domain
    }

    /// RFC 5280 7.5: local parts compare case-sensitively, domains not.
    pub(super) fn same_mailbox(&self, other: &Self) -> bool {
        self.canonical_local == other.canonical_local && self.domain == other.domain
    }

    /// Like [`Self::same_mailbox`], but local parts case-insensitively:
    /// most mail systems fold case, so an exclusion of `Bob@x` must also
    /// catch `bob@x`.
    fn same_mailbox_any_case(&self, other: &Self) -> bool {
        self.canonical_local
            .eq_ignore_ascii_case(&other.canonical_local)
            && self.domain == other.domain
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

/// RFC 5322 3.2.3 `atext`.
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// The local part with quoting undone, or `None` if it is neither an RFC
/// 5321 Dot-string nor a Quoted-string.
fn canonical_local_part(local: &str) -> Option<String> {
    if local.is_empty() || local.len() > MAX_LOCAL_LEN {
        return None;
    }
    if let Some(inner) = local.strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
        // Quoted-string: qtextSMTP (%d32-33 / %d35-91 / %d93-126) or a
        // quoted-pair ("\" followed by %d32-126).
        let mut out = String::with_capacity(inner.len());
        let mut bytes = inner.bytes();
        while let Some(b) = bytes.next() {
            match b {
                b'\\' => match bytes.next() {
                    Some(q @ 32..=126) => out.push(char::from(q)),
                    _ => return None,
                },
                32 | 33 | 35..=91 | 93..=126 => out.push(char::from(b)),
                _ => return None,
            }
        }
        return if out.is_empty() { None } else { Some(out) };
    }
    // Dot-string: Atom *("." Atom).
    local
        .split('.')
        .all(|atom| !atom.is_empty() && atom.bytes().all(is_atext))
        .then(|| local.to_owned())
}

/// An rfc822Name subtree (RFC 5280 4.2.1.10): a particular mailbox, all
/// mailboxes on one host, or all mailboxes in a domain (leading period:
/// hosts below it, not the domain itself). The empty string stands for
/// every mailbox, as for dNSName.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum EmailConstraint {
    Any,
    Mailbox(Mailbox),
    Host(String),
    Below(String),
}

impl EmailConstraint {
    pub(super) fn parse(raw: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "rfc822Name constraint \"{}\" is not a mailbox, host or .domain",
                super::printable(raw)
            )
        };
        if raw.is_empty() {
            return Ok(Self::Any);
        }
        if raw.contains('@') {
            return Mailbox::parse(raw).map(Self::Mailbox).ok_or_else(bad);
        }
        let lower = raw.to_ascii_lowercase();
        let (below, host) = match lower.strip_prefix('.') {
            Some(rest) => (true, rest.to_owned()),
            None => (false, lower),
        };
        if !dns::is_valid(&host, Wildcard::Deny) {
            return Err(bad());
        }
        Ok(if below {
            Self::Below(host)
        } else {
            Self::Host(host)
        })
    }

    fn domain_matches(&self, domain: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Mailbox(c) => c.domain == domain,
            Self::Host(h) => domain == h,
            Self::Below(d) => domain
                .strip_suffix(d.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
        }
    }

    /// For a permitted subtree. Characters are literal: `*@example.com`
    /// is the mailbox whose local part is `*`.
    pub(super) fn permits(&self, m: &Mailbox) -> bool {
        match self {
            Self::Mailbox(c) => c.same_mailbox(m),
            _ => self.domain_matches(m.domain()),
        }
    }

    /// For an excluded subtree: as [`Self::permits`], but a mailbox
    /// constraint also catches its case variants.
    pub(super) fn excludes(&self, m: &Mailbox) -> bool {
        match self {
            Self::Mailbox(c) => c.same_mailbox_any_case(m),
            _ => self.domain_matches(m.domain()),
        }
    }
}

impl fmt::Display for EmailConstraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("rfc822Name \"\""),
            Self::Mailbox(m) => write!(f, "rfc822Name \"{}\"", super::printable(&m.to_string())),
            Self::Host(h) => write!(f, "rfc822Name \"{h}\""),
            Self::Below(d) => write!(f, "rfc822Name \".{d}\""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Mailbox {
        Mailbox::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    fn c(s: &str) -> EmailConstraint {
        EmailConstraint::parse(s).unwrap()
    }

    #[test]
    fn mailbox_syntax() {
        for ok in [
            "a@example.com",
            "first.last@example.com",
            "user+tag@sub.example.com",
            "*@example.com",
            "**@example.com",
            "\"a b\"@example.com",
            "\"a@b\"@example.com",
            "\"a\\\"b\"@example.com",
            "A@EXAMPLE.COM",
        ] {
            assert!(Mailbox::parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "",
            "@example.com",
            "a@",
            "example.com",
            "invalid@invalid@example.com",
            ".a@example.com",
            "a.@example.com",
            "a..b@example.com",
            "a b@example.com",
            "a@[192.0.2.1]",
            "a@example.com.",
            "a@-example.com",
            "\"\"@example.com",
            "\"a\0\"@example.com",
            "\u{7f}\0\0\u{1}",
            "127.0.0.1",
            "http://test.localhost",
            &format!("{}@example.com", "a".repeat(65)),
        ] {
            assert!(Mailbox::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn mailbox_equality_local_exact_domain_folded() {
        assert!(m("a@Example.COM").same_mailbox(&m("a@example.com")));
        assert!(!m("A@example.com").same_mailbox(&m("a@example.com")));
        assert!(m("\"bob\"@example.com").same_mailbox(&m("bob@example.com")));
        assert_eq!(m("Bob@Example.COM").to_string(), "Bob@example.com");
    }

    #[test]
    fn constraint_forms() {
        assert_eq!(c(""), EmailConstraint::Any);
        assert!(matches!(c("foo@example.com"), EmailConstraint::Mailbox(_)));
        assert_eq!(
            c("Example.com"),
            EmailConstraint::Host("example.com".into())
        );
        assert_eq!(
            c(".example.com"),
            EmailConstraint::Below("example.com".into())
        );
        for bad in [
            "invalid@invalid@example.com",
            "@example.com",
            "..example.com",
            "example.com.",
            "*.example.com",
            "a b",
        ] {
            assert!(EmailConstraint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mailbox_constraint_is_exact_and_literal() {
        let k = c("foo@example.com");
        assert!(k.permits(&m("foo@example.com")));
        assert!(k.permits(&m("foo@EXAMPLE.com")));
        assert!(!k.permits(&m("Foo@example.com")));
        assert!(!k.permits(&m("bar@example.com")));
        assert!(!k.permits(&m("foo@sub.example.com")));
        let star = c("*@example.com");
        assert!(star.permits(&m("*@example.com")));
        assert!(!star.permits(&m("user@example.com")));
        assert!(!star.permits(&m("*@subdomain.example.com")));
        let stars = c("**@example.com");
        assert!(stars.permits(&m("**@example.com")));
        assert!(!stars.permits(&m("*@example.com")));
    }

    #[test]
    fn excluded_mailbox_catches_case_variants() {
        let k = c("Bob@example.com");
        assert!(k.excludes(&m("bob@example.com")));
        assert!(k.excludes(&m("BOB@Example.com")));
        assert!(!k.excludes(&m("alice@example.com")));
    }

    #[test]
    fn host_constraint_is_that_host_only() {
        let k = c("example.com");
        assert!(k.permits(&m("bar@example.com")));
        assert!(k.permits(&m("bar@EXAMPLE.COM")));
        assert!(!k.permits(&m("bar@sub.example.com")));
        assert!(!k.permits(&m("bar@notexample.com")));
        assert!(k.excludes(&m("bar@example.com")));
    }

    #[test]
    fn domain_constraint_is_hosts_below() {
        let k = c(".example.com");
        assert!(k.permits(&m("bar@sub.example.com")));
        assert!(k.permits(&m("bar@a.b.example.com")));
        assert!(!k.permits(&m("bar@example.com")));
        assert!(!k.permits(&m("bar@notexample.com")));
        assert!(k.excludes(&m("bar@sub.example.com")));
    }

    #[test]
    fn empty_constraint_is_every_mailbox() {
        assert!(c("").permits(&m("a@example.com")));
        assert!(c("").excludes(&m("a@example.com")));
    }
}
