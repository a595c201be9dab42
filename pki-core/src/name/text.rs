//! Distinguished names as officers type and read them.
//!
//! - [`parse_dn`] reads RFC 4514 strings (`CN=Amina,O=DGSN,C=MA`, most
//!   specific first) and the OpenSSL slash form (`/C=MA/O=DGSN/CN=Amina`,
//!   most general first), with the attribute keywords OpenSSL knows, case
//!   insensitive, dotted OIDs, `+` for multi-valued RDNs, RFC 4514 escapes
//!   (`\,`, `\+`, `\\`, `\XX` hex octets) and UTF-8 values.
//! - [`format_dn`] writes RFC 4514 text with the same keywords (OpenSSL's
//!   `-nameopt RFC2253` spelling), so a name comes back as it was typed.
//!
//! Values are UTF8String, except those X.520 and PKCS #9 restrict:
//! PrintableString for countryName, serialNumber and dnQualifier (and the
//! jurisdiction country), IA5String for domainComponent and emailAddress.

use std::fmt::Write as _;

use const_oid::ObjectIdentifier;
use der::asn1::{Any, Ia5StringRef, PrintableStringRef, SetOfVec, Utf8StringRef};
use der::{Encode, Tag, Tagged};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::name::{Name, RelativeDistinguishedName};

/// The string type an attribute's value is written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Utf8,
    Printable,
    Ia5,
}

/// One attribute keyword: the spelling written back, the other spellings
/// accepted, the OID and the string type.
struct Keyword {
    name: &'static str,
    aliases: &'static [&'static str],
    oid: &'static str,
    kind: Kind,
}

/// The keywords, as OpenSSL names them (`openssl x509 -nameopt RFC2253`).
const KEYWORDS: &[Keyword] = &[
    Keyword {
        name: "CN",
        aliases: &["commonName"],
        oid: "2.5.4.3",
        kind: Kind::Utf8,
    },
    Keyword {
        name: "C",
        aliases: &["countryName"],
        oid: "2.5.4.6",
        kind: Kind::Printable,
    },
    Keyword {
        name: "L",
        aliases: &["localityName"],
        oid: "2.5.4.7",
        kind: Kind::Utf8,
    },
    Keyword {
        name: "ST",
        aliases: &["stateOrProvinceName", "S"],
        oid: "2.5.4.8",
        kind: Kind::Utf8,
    },
    Keyword {
        name: "street",
        aliases: &["streetAddress"],
        oid: "2.5.4.9",
        kind: Kind::Utf8,
    },
    Keyword {
        name: "O",
        aliases: &["organizationName"],
        oid: "2.5.4.10",
        kind: Kind::Utf8,
    },
    Keyword {
        name: "OU",
        aliases: &["organizationalUnitName"],
        oid: "2.5.4.11",
        kind: Kind::Utf8,
    },
    Keyword {
        name: "title",
        aliases: &["T"],
        oid: "2.5.4.12",
        kind: Kind::Utf8,
    },
    Keyword {
        name: "description",
        aliases: &[],
        oid: "2.5.4.13",
        kind: Kind::Utf8,
    },
    Keyword {
        name: "businessCategory",
        aliases: &[],
        oid: "2.5.4.15",
        kind: Kind::Utf8,
    },
    Keyword {
        name: "postalCode",
        aliases: &[],
        oid: "2.5.4.17",
        kind: Kind::Utf8,
    },
    Keyword {
        name: "SN",
        aliases: &["surname"],
        oid: "2.5.4.4",
        kind: Kind::Utf8,
    },
    Keyword {
        name: "serialNumber",
        aliases: &[],
        oid: "2.5.4.5",
        kind: Kind::Printable,
    },
    Keyword {
        name: "name",
        aliases: &[],
        oid: "2.5.4.41",
        kind: Kind::Utf8,
    },
    Keyword {
        name: "GN",
        aliases: &["givenName", "G"],
        oid: "2.5.4.42",
        kind: Kind::Utf8,
    },
    Keyword {
        name: "initials",
        aliases: &[],
        oid: "2.5.4.43",
        kind: Kind::Utf8,
    },
    Keyword {
        name: "generationQualifier",
        aliases: &[],
        oid: "2.5.4.44",
        kind: Kind::Utf8,
    },
    Keyword {
        name: "dnQualifier",
        aliases: &[],
        oid: "2.5.4.46",
        kind: Kind::Printable,
    },
    Keyword {
        name: "pseudonym",
        aliases: &[],
        oid: "2.5.4.65",
        kind: Kind::Utf8,
    },
    Keyword {
        name: "organizationIdentifier",
        aliases: &[],
        oid: "2.5.4.97",
        kind: Kind::Utf8,
    },
    Keyword {
        name: "UID",
        aliases: &["userId"],
        oid: "0.9.2342.19200300.100.1.1",
        kind: Kind::Utf8,
    },
    Keyword {
        name: "DC",
        aliases: &["domainComponent"],
        oid: "0.9.2342.19200300.100.1.25",
        kind: Kind::Ia5,
    },
    Keyword {
        name: "emailAddress",
        aliases: &["E", "email"],
        oid: "1.2.840.113549.1.9.1",
        kind: Kind::Ia5,
    },
    Keyword {
        name: "jurisdictionL",
        aliases: &["jurisdictionLocalityName"],
        oid: "1.3.6.1.4.1.311.60.2.1.1",
        kind: Kind::Utf8,
    },
    Keyword {
        name: "jurisdictionST",
        aliases: &["jurisdictionStateOrProvinceName"],
        oid: "1.3.6.1.4.1.311.60.2.1.2",
        kind: Kind::Utf8,
    },
    Keyword {
        name: "jurisdictionC",
        aliases: &["jurisdictionCountryName"],
        oid: "1.3.6.1.4.1.311.60.2.1.3",
        kind: Kind::Printable,
    },
];

/// Why a distinguished-name string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnError {
    #[error("{part:?} is not KEYWORD=value")]
    NotKeyValue { part: String },
    #[error("unknown attribute {keyword:?} (known: {known}; or a dotted OID such as 2.5.4.3)")]
    UnknownAttribute { keyword: String, known: String },
    #[error("{keyword}: {reason}")]
    BadValue { keyword: String, reason: String },
}

fn keyword_by_text(k: &str) -> Option<&'static Keyword> {
    KEYWORDS.iter().find(|w| {
        w.name.eq_ignore_ascii_case(k) || w.aliases.iter().any(|a| a.eq_ignore_ascii_case(k))
    })
}

fn keyword_by_oid(oid: &ObjectIdentifier) -> Option<&'static Keyword> {
    KEYWORDS.iter().find(|w| w.oid == oid.to_string())
}

/// Splits on `sep` where it is not escaped by a backslash.
fn split_unescaped(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut escaped) = (0, false);
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            parts.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&s[start..]);
    parts
}

/// RFC 4514 2.4 unescaping: `\` then a special character, or two hex
/// digits of an octet (UTF-8 sequences are written octet by octet).
fn unescape(keyword: &str, text: &str) -> Result<String, DnError> {
    let bad = |reason: &str| DnError::BadValue {
        keyword: keyword.to_owned(),
        reason: reason.to_owned(),
    };
    let mut out = Vec::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let hex = |c: u8| (c as char).to_digit(16);
        match (bytes.get(i + 1), bytes.get(i + 2)) {
            (Some(&hi), Some(&lo)) if hex(hi).is_some() && hex(lo).is_some() => {
                out.push(((hex(hi).unwrap_or(0) << 4) | hex(lo).unwrap_or(0)) as u8);
                i += 3;
            }
            (Some(&c), _) if b" \"#+,;<=>\\/".contains(&c) => {
                out.push(c);
                i += 2;
            }
            _ => {
                return Err(bad(
                    "a backslash must escape a special character or two hex digits",
                ))
            }
        }
    }
    String::from_utf8(out).map_err(|_| bad("escaped octets are not UTF-8"))
}

fn hex_der(keyword: &str, hex: &str) -> Result<Any, DnError> {
    let bad = |reason: String| DnError::BadValue {
        keyword: keyword.to_owned(),
        reason,
    };
    if hex.len() % 2 != 0 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad("#value must be hex digits of a DER encoding".into()));
    }
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0))
        .collect();
    der::Decode::from_der(&bytes).map_err(|e| bad(format!("#value is not DER: {e}")))
}

fn value(keyword: &str, kind: Kind, text: &str) -> Result<Any, DnError> {
    let bad = |reason: String| DnError::BadValue {
        keyword: keyword.to_owned(),
        reason,
    };
    if text.is_empty() {
        return Err(bad("empty value".into()));
    }
    let any = match kind {
        Kind::Utf8 => Utf8StringRef::new(text).and_then(|s| Any::encode_from(&s)),
        Kind::Printable => PrintableStringRef::new(text).and_then(|s| Any::encode_from(&s)),
        Kind::Ia5 => Ia5StringRef::new(text).and_then(|s| Any::encode_from(&s)),
    };
    let any = any.map_err(|_| {
        bad(match kind {
            Kind::Printable => format!(
                "{text:?} is not a PrintableString (letters, digits, space and '()+,-./:=?)"
            ),
            Kind::Ia5 => format!("{text:?} is not ASCII (IA5String)"),
            Kind::Utf8 => format!("{text:?} is not a valid UTF8String"),
        })
    })?;
    if keyword_is_country(keyword) && text.len() != 2 {
        return Err(bad(format!("{text:?} is not a two-letter ISO 3166 code")));
    }
    Ok(any)
}

fn keyword_is_country(k: &str) -> bool {
    ["C", "jurisdictionC"].contains(&k)
}

/// One `KEYWORD=value` (or `OID=#hex`).
fn attribute(part: &str) -> Result<AttributeTypeAndValue, DnError> {
    let part = part.trim_start();
    let part = if part.ends_with("\\ ") {
        part
    } else {
        part.trim_end()
    };
    let Some((k, v)) = part.split_once('=') else {
        return Err(DnError::NotKeyValue {
            part: part.to_owned(),
        });
    };
    let k = k.trim();
    let (oid, keyword, kind) = match keyword_by_text(k) {
        Some(w) => (ObjectIdentifier::new_unwrap(w.oid), w.name, w.kind),
        None => match crate::oid::parse_dotted(k) {
            Ok(oid) if k.contains('.') => {
                let w = keyword_by_oid(&oid);
                (
                    oid,
                    w.map_or("", |w| w.name),
                    w.map_or(Kind::Utf8, |w| w.kind),
                )
            }
            _ => {
                return Err(DnError::UnknownAttribute {
                    keyword: k.to_owned(),
                    known: KEYWORDS
                        .iter()
                        .map(|w| w.name)
                        .collect::<Vec<_>>()
                        .join(", "),
                })
            }
        },
    };
    let shown = if keyword.is_empty() { k } else { keyword };
    let value = match v.strip_prefix('#') {
        Some(hex) => hex_der(shown, hex)?,
        None => self::value(shown, kind, &unescape(shown, v)?)?,
    };
    Ok(AttributeTypeAndValue { oid, value })
}

fn rdn(part: &str) -> Result<RelativeDistinguishedName, DnError> {
    let mut set = SetOfVec::new();
    for ava in split_unescaped(part, '+') {
        let a = attribute(ava)?;
        let keyword = keyword_by_oid(&a.oid).map_or_else(|| a.oid.to_string(), |w| w.name.into());
        set.insert(a).map_err(|_| DnError::BadValue {
            keyword,
            reason: "the same attribute twice in one RDN".into(),
        })?;
    }
    Ok(RelativeDistinguishedName(set))
}

/// Parses an RFC 4514 string (most specific RDN first) or an OpenSSL
/// slash form (`/C=MA/O=.../CN=...`, most general first) into a [`Name`].
/// The empty string is the empty name.
pub fn parse_dn(s: &str) -> Result<Name, DnError> {
    if s.trim().is_empty() {
        return Ok(Name::default());
    }
    let mut rdns = Vec::new();
    if let Some(rest) = s.trim_start().strip_prefix('/') {
        for part in split_unescaped(rest, '/') {
            if !part.trim().is_empty() {
                rdns.push(rdn(part)?);
            }
        }
    } else {
        for part in split_unescaped(s, ',') {
            rdns.push(rdn(part)?);
        }
        rdns.reverse();
    }
    Ok(Name::from(rdns))
}

/// RFC 4514 text of a value string: `,+"\<>;` escaped, a leading `#` or
/// space and a trailing space escaped, control characters as `\XX`.
fn escape(out: &mut String, v: &str) {
    let n = v.chars().count();
    for (i, c) in v.chars().enumerate() {
        match c {
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i + 1 == n => out.push_str("\\ "),
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\x00'..='\x1f' | '\x7f' => {
                let _ = write!(out, "\\{:02X}", c as u32);
            }
            _ => out.push(c),
        }
    }
}

/// A value as text, for the string types names use.
fn value_text(v: &Any) -> Option<&str> {
    match v.tag() {
        Tag::Utf8String => Utf8StringRef::try_from(v).ok().map(|s| s.as_str()),
        Tag::PrintableString => PrintableStringRef::try_from(v).ok().map(|s| s.as_str()),
        Tag::Ia5String => Ia5StringRef::try_from(v).ok().map(|s| s.as_str()),
        Tag::TeletexString => std::str::from_utf8(v.value()).ok(),
        _ => None,
    }
}

/// RFC 4514 text with OpenSSL's keywords, most specific RDN first: what
/// `openssl x509 -subject -nameopt RFC2253,-esc_msb` prints. An attribute
/// without a keyword, or a value that is not a string, is written
/// `OID=#hex` of its DER.
pub fn format_dn(name: &Name) -> String {
    let mut out = String::new();
    for (i, rdn) in name.0.iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // (Within a multi-valued RDN too, as OpenSSL's RFC 2253 output.)
        for (j, ava) in rdn.0.iter().rev().enumerate() {
            if j > 0 {
                out.push('+');
            }
            if let (Some(w), Some(text)) = (keyword_by_oid(&ava.oid), value_text(&ava.value)) {
                out.push_str(w.name);
                out.push('=');
                escape(&mut out, text);
            } else {
                let _ = write!(out, "{}=#", ava.oid);
                for b in ava.value.to_der().unwrap_or_default() {
                    let _ = write!(out, "{b:02X}");
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn officer_keywords_and_round_trip() {
        let s = "CN=Amina El Idrissi,GN=Amina,SN=El Idrissi,serialNumber=IDCMA-AB123456,organizationIdentifier=NTRMA-123,O=DGSN,C=MA";
        let n = parse_dn(s).unwrap();
        assert_eq!(n.0.len(), 7);
        assert_eq!(format_dn(&n), s);
        // Long names and any case give the same name.
        let long = parse_dn("commonName=Amina El Idrissi,givenName=Amina,surname=El Idrissi,SERIALNUMBER=IDCMA-AB123456,organizationidentifier=NTRMA-123,o=DGSN,c=MA").unwrap();
        assert_eq!(long, n);
        // The OpenSSL slash form, most general first.
        let slash = parse_dn("/C=MA/O=DGSN/organizationIdentifier=NTRMA-123/serialNumber=IDCMA-AB123456/SN=El Idrissi/GN=Amina/CN=Amina El Idrissi").unwrap();
        assert_eq!(slash, n);
    }

    #[test]
    fn string_types_follow_x520() {
        let n = parse_dn("emailAddress=a@b.ma,DC=ma,serialNumber=X1,C=MA,CN=é").unwrap();
        let tags: Vec<Tag> = n.0.iter().map(|r| r.0.as_slice()[0].value.tag()).collect();
        assert_eq!(
            tags,
            [
                Tag::Utf8String,
                Tag::PrintableString,
                Tag::PrintableString,
                Tag::Ia5String,
                Tag::Ia5String
            ]
        );
    }

    #[test]
    fn escapes_utf8_multi_valued_and_oids() {
        let n = parse_dn(r"CN=Doe\, John+UID=jdoe,O=Caf\C3\A9 \+ Co,C=MA").unwrap();
        assert_eq!(format_dn(&n), r"UID=jdoe+CN=Doe\, John,O=Café \+ Co,C=MA");
        let n = parse_dn("2.5.4.3=x,1.2.3.4=#0c0161").unwrap();
        assert_eq!(format_dn(&n), "CN=x,1.2.3.4=#0C0161");
        let n = parse_dn(r"CN=\ lead and trail\ ,O=\#hash").unwrap();
        assert_eq!(format_dn(&n), r"CN=\ lead and trail\ ,O=\#hash");
    }

    /// Found by the `ceremony_toml` fuzz target: a keyword of digits past
    /// `u32::MAX` overflowed in const-oid's OID parser.
    #[test]
    fn a_numeric_keyword_too_big_for_an_arc_is_refused() {
        for s in [
            "CN=CA,11111111111111111111111111O=Royaume du Maroc,C=MA",
            "1.2.4294967296=x",
        ] {
            assert!(
                matches!(parse_dn(s), Err(DnError::UnknownAttribute { .. })),
                "{s}"
            );
        }
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        let e = parse_dn("NOPE=x").unwrap_err().to_string();
        assert!(
            e.contains("unknown attribute \"NOPE\"") && e.contains("GN"),
            "{e}"
        );
        assert!(parse_dn("CN")
            .unwrap_err()
            .to_string()
            .contains("KEYWORD=value"));
        assert!(parse_dn("C=Morocco")
            .unwrap_err()
            .to_string()
            .contains("two-letter"));
        assert!(parse_dn("serialNumber=a_b")
            .unwrap_err()
            .to_string()
            .contains("PrintableString"));
        assert!(parse_dn(r"CN=bad\q").is_err());
        assert!(parse_dn(r"CN=\FF")
            .unwrap_err()
            .to_string()
            .contains("UTF-8"));
        assert!(parse_dn("CN=").is_err());
        assert!(parse_dn("CN=a+CN=a").is_err());
        assert!(parse_dn("").unwrap().0.is_empty());
    }
}
