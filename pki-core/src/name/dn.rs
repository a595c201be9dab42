//! Distinguished-name comparison (RFC 5280 7.1) and directoryName subtrees
//! (RFC 5280 4.2.1.10).

use der::asn1::{Any, ObjectIdentifier};
use der::{Tag, Tagged};

use crate::der_reader::In;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::name::{Name, RelativeDistinguishedName};

/// The text of a string-typed attribute value, or `None` for any other type
/// or a value that does not decode. Strings are read as their content:
/// UTF8String as UTF-8; PrintableString, IA5String and VisibleString as
/// ASCII; TeletexString as ISO 8859-1 (as OpenSSL does); BMPString as
/// UTF-16BE. (der 0.7 cannot decode UniversalString at all.)
pub(super) fn directory_string(v: &Any) -> Option<String> {
    let raw = v.value();
    match v.tag() {
        Tag::Utf8String => std::str::from_utf8(raw).ok().map(str::to_owned),
        Tag::PrintableString | Tag::Ia5String | Tag::VisibleString => raw
            .is_ascii()
            .then(|| raw.iter().map(|&b| char::from(b)).collect()),
        Tag::TeletexString => Some(raw.iter().map(|&b| char::from(b)).collect()),
        Tag::BmpString => {
            if raw.len() % 2 != 0 {
                return None;
            }
            let units = raw
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()
        }
        _ => None,
    }
}

/// RFC 5280 7.1 (a simplification of the RFC 4518 LDAP StringPrep
/// profile): fold case, drop leading and trailing white space, and turn
/// every inner run of white space into one space.
fn normalise(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The comparison key of one attribute value: its normalised text for
/// string types, else its exact encoding. Text sorts before encodings, so
/// a text value never equals a non-text one.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum ValueKey<'a> {
    Text(String),
    Der(Tag, &'a [u8]),
}

fn ava_key(a: &AttributeTypeAndValue) -> (ObjectIdentifier, ValueKey<'_>) {
    let value = match directory_string(&a.value) {
        Some(s) => ValueKey::Text(normalise(&s)),
        None => ValueKey::Der(a.value.tag(), a.value.value()),
    };
    (a.oid, value)
}

/// White space as `str::split_whitespace` sees it, for ASCII.
fn ascii_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ')
}

/// The non-empty runs between white space.
fn words(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    s.split(|c| ascii_space(*c)).filter(|w| !w.is_empty())
}

/// The raw value of a string-typed attribute value whose text is its bytes
/// read as ASCII (the cases [`directory_string`] turns into the same
/// characters), else `None`.
fn ascii_text(v: &Any) -> Option<&[u8]> {
    let raw = v.value();
    let text_tag = matches!(
        v.tag(),
        Tag::Utf8String
            | Tag::PrintableString
            | Tag::Ia5String
            | Tag::VisibleString
            | Tag::TeletexString
    );
    (text_tag && raw.is_ascii()).then_some(raw)
}

/// Two attributes are equal: same type, and values equal under
/// [`ava_key`]. ASCII text compares word by word, ignoring ASCII case,
/// without building the normalised strings (the same answer: `normalise`
/// joins the words with one space and lower-cases them).
fn ava_equal(a: &AttributeTypeAndValue, b: &AttributeTypeAndValue) -> bool {
    if a.oid != b.oid {
        return false;
    }
    if a.value == b.value {
        return true;
    }
    if let (Some(x), Some(y)) = (ascii_text(&a.value), ascii_text(&b.value)) {
        let (mut wx, mut wy) = (words(x), words(y));
        loop {
            match (wx.next(), wy.next()) {
                (None, None) => return true,
                (Some(p), Some(q)) if p.eq_ignore_ascii_case(q) => {}
                _ => return false,
            }
        }
    }
    ava_key(a) == ava_key(b)
}

/// Two RDNs are equal when they hold the same multiset of attributes:
/// same count, and the attributes pair up one to one with equal types and
/// equal values (RFC 5280 7.1; the order inside the SET does not matter).
pub(super) fn rdn_equal(a: &RelativeDistinguishedName, b: &RelativeDistinguishedName) -> bool {
    if a.0.len() != b.0.len() {
        return false;
    }
    if a == b {
        return true;
    }
    if let ([x], [y]) = (a.0.as_slice(), b.0.as_slice()) {
        return ava_equal(x, y);
    }
    let mut ka: Vec<_> = a.0.iter().map(ava_key).collect();
    let mut kb: Vec<_> = b.0.iter().map(ava_key).collect();
    ka.sort();
    kb.sort();
    ka == kb
}

/// RFC 5280 7.1 name comparison, for chaining (issuer of one certificate
/// against subject of the next) and directoryName constraints.
///
/// Exact DER equality decides at once. Otherwise the names must have the
/// same number of RDNs, equal pairwise; within an RDN attributes are
/// matched as a set; string values (UTF8String, PrintableString, IA5String,
/// VisibleString, TeletexString, BMPString) compare after
/// case folding and white-space folding, whatever their string type; other
/// values compare by exact encoding.
pub fn names_equal(a: &Name, b: &Name) -> bool {
    a == b || (a.0.len() == b.0.len() && a.0.iter().zip(&b.0).all(|(x, y)| rdn_equal(x, y)))
}

/// Whether `name` lies in the directoryName subtree `base`: its RDN
/// sequence starts with `base`'s RDNs (RFC 5280 4.2.1.10, compared with
/// [`rdn_equal`]). The empty name is the root of every subtree.
pub(super) fn within(name: &Name, base: &Name) -> bool {
    base.0.len() <= name.0.len() && base.0.iter().zip(&name.0).all(|(b, n)| rdn_equal(b, n))
}

/// RFC 5280 7.1 comparison of two encoded names (already checked by
/// [`raw_name`]) decided on the encodings alone, when that is possible:
/// different RDN counts or attribute types, or values that are all plain
/// ASCII text (no white space but single inner spaces), which compare
/// case-insensitively exactly as [`crate::name::names_equal`] would. `None`
/// means the decoded names must be compared.
pub(crate) fn raw_names_equal(a: &[u8], b: &[u8]) -> Option<bool> {
    /// Plain text: the string types `names_equal` reads as ASCII/Latin-1,
    /// all printable ASCII, no leading, trailing or doubled spaces.
    fn plain(tag: u8, v: &[u8]) -> bool {
        matches!(tag, 0x0c | 0x13 | 0x14 | 0x16 | 0x1a)
            && v.first() != Some(&b' ')
            && v.last() != Some(&b' ')
            && v.iter().all(|c| (0x20..0x7f).contains(c))
            && !v.windows(2).any(|w| w == b"  ")
    }
    let body = |tlv| In::new(tlv).take(0x30).ok();
    let (mut x, mut y) = (In::new(body(a)?), In::new(body(b)?));
    let mut all_plain = true;
    loop {
        match (x.is_empty(), y.is_empty()) {
            (true, true) => return all_plain.then_some(true),
            (false, false) => {}
            _ => return Some(false),
        }
        let (mut rx, mut ry) = (In::new(x.take(0x31).ok()?), In::new(y.take(0x31).ok()?));
        let (ax, ay) = (rx.take(0x30).ok()?, ry.take(0x30).ok()?);
        if !rx.is_empty() || !ry.is_empty() {
            return None; // multi-valued RDN: compare the decoded names
        }
        let (mut ax, mut ay) = (In::new(ax), In::new(ay));
        // (Both names were checked by `raw_name`: the OIDs are well formed.)
        if ax.tlv().ok()?.2 != ay.tlv().ok()?.2 {
            return Some(false);
        }
        let ((tx, vx, _), (ty, vy, _)) = (ax.tlv().ok()?, ay.tlv().ok()?);
        if !ax.is_empty() || !ay.is_empty() {
            return None;
        }
        if tx == ty && vx == vy {
            continue;
        }
        if plain(tx, vx) && plain(ty, vy) {
            if !vx.eq_ignore_ascii_case(vy) {
                return Some(false);
            }
        } else {
            all_plain = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    use der::asn1::SetOfVec;

    const CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
    const O: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
    const C: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");

    fn ava(oid: ObjectIdentifier, tag: Tag, value: &[u8]) -> AttributeTypeAndValue {
        AttributeTypeAndValue {
            oid,
            value: Any::new(tag, value).unwrap(),
        }
    }

    fn rdn(avas: Vec<AttributeTypeAndValue>) -> RelativeDistinguishedName {
        RelativeDistinguishedName(SetOfVec::try_from(avas).unwrap())
    }

    fn name(rdns: Vec<RelativeDistinguishedName>) -> Name {
        x509_cert::name::RdnSequence(rdns)
    }

    fn utf8(oid: ObjectIdentifier, s: &str) -> AttributeTypeAndValue {
        ava(oid, Tag::Utf8String, s.as_bytes())
    }

    fn printable(oid: ObjectIdentifier, s: &str) -> AttributeTypeAndValue {
        ava(oid, Tag::PrintableString, s.as_bytes())
    }

    fn bmp(oid: ObjectIdentifier, s: &str) -> AttributeTypeAndValue {
        let bytes: Vec<u8> = s.encode_utf16().flat_map(u16::to_be_bytes).collect();
        ava(oid, Tag::BmpString, &bytes)
    }

    #[test]
    fn ascii_fast_path_agrees_with_normalised_keys() {
        let texts: [&[u8]; 12] = [
            b"Test CA",
            b"test ca",
            b"  TEST\t\x0b\x0cCA \r\n",
            b"TestCA",
            b"Test CA ",
            b"Test  C A",
            b"",
            b"   ",
            b"Test\xc3\x89 CA",
            b"Test\xe9 CA",
            b"test\xc3\xa9 ca",
            b"x",
        ];
        let tags = [
            Tag::Utf8String,
            Tag::PrintableString,
            Tag::Ia5String,
            Tag::TeletexString,
            Tag::BmpString,
            Tag::OctetString,
        ];
        for ta in tags {
            for tb in tags {
                for a in texts {
                    for b in texts {
                        let (x, y) = (ava(CN, ta, a), ava(CN, tb, b));
                        assert_eq!(ava_equal(&x, &y), ava_key(&x) == ava_key(&y), "{x:?} {y:?}");
                    }
                }
            }
        }
        assert!(!ava_equal(&utf8(CN, "a"), &utf8(O, "a")));
    }

    #[test]
    fn identical_names_are_equal() {
        let a = Name::from_str("CN=Test CA,O=Example,C=FR").unwrap();
        assert!(names_equal(&a, &a.clone()));
        assert!(names_equal(&Name::default(), &Name::default()));
    }

    #[test]
    fn case_and_white_space_are_folded() {
        let a = name(vec![
            rdn(vec![printable(C, "FR")]),
            rdn(vec![utf8(CN, "Test  CA")]),
        ]);
        let b = name(vec![
            rdn(vec![printable(C, "fr")]),
            rdn(vec![utf8(CN, "  test ca ")]),
        ]);
        assert!(names_equal(&a, &b));
        let c = name(vec![
            rdn(vec![printable(C, "fr")]),
            rdn(vec![utf8(CN, "test\t\nca")]),
        ]);
        assert!(names_equal(&a, &c));
        let d = name(vec![
            rdn(vec![printable(C, "fr")]),
            rdn(vec![utf8(CN, "testca")]),
        ]);
        assert!(!names_equal(&a, &d));
    }

    #[test]
    fn unicode_case_is_folded() {
        let a = name(vec![rdn(vec![utf8(O, "ÉCOLE ÖFFENTLICH")])]);
        let b = name(vec![rdn(vec![utf8(O, "école öffentlich")])]);
        assert!(names_equal(&a, &b));
    }

    #[test]
    fn string_types_compare_by_content() {
        let a = name(vec![rdn(vec![utf8(CN, "Test CA")])]);
        for other in [
            printable(CN, "TEST CA"),
            ava(CN, Tag::Ia5String, b"test ca"),
            ava(CN, Tag::TeletexString, b"Test CA"),
            ava(CN, Tag::VisibleString, b"Test CA"),
            bmp(CN, "Test CA"),
        ] {
            assert!(
                names_equal(&a, &name(vec![rdn(vec![other.clone()])])),
                "{other:?}"
            );
        }
        // TeletexString is read as ISO 8859-1.
        let e = name(vec![rdn(vec![utf8(O, "Société")])]);
        let t = name(vec![rdn(vec![ava(
            O,
            Tag::TeletexString,
            b"Soci\xe9t\xe9",
        )])]);
        assert!(names_equal(&e, &t));
    }

    #[test]
    fn other_types_compare_by_encoding() {
        let a = name(vec![rdn(vec![ava(CN, Tag::OctetString, b"abc")])]);
        let b = name(vec![rdn(vec![ava(CN, Tag::OctetString, b"ABC")])]);
        assert!(!names_equal(&a, &b));
        assert!(names_equal(&a, &a.clone()));
        // An OCTET STRING never equals a text string with the same bytes.
        let c = name(vec![rdn(vec![utf8(CN, "abc")])]);
        assert!(!names_equal(&a, &c));
    }

    #[test]
    fn undecodable_strings_compare_by_encoding() {
        let bad = name(vec![rdn(vec![ava(CN, Tag::Utf8String, b"\xff")])]);
        let bad_upper = name(vec![rdn(vec![ava(CN, Tag::PrintableString, b"\xff")])]);
        assert!(names_equal(&bad, &bad.clone()));
        assert!(!names_equal(&bad, &bad_upper));
        let odd_bmp = name(vec![rdn(vec![ava(CN, Tag::BmpString, b"\0a\0")])]);
        assert!(!names_equal(
            &odd_bmp,
            &name(vec![rdn(vec![utf8(CN, "a")])])
        ));
    }

    #[test]
    fn types_must_match() {
        let a = name(vec![rdn(vec![utf8(CN, "x")])]);
        let b = name(vec![rdn(vec![utf8(O, "x")])]);
        assert!(!names_equal(&a, &b));
    }

    #[test]
    fn rdn_order_matters_but_ava_order_does_not() {
        let a = name(vec![rdn(vec![utf8(O, "x")]), rdn(vec![utf8(CN, "y")])]);
        let b = name(vec![rdn(vec![utf8(CN, "y")]), rdn(vec![utf8(O, "x")])]);
        assert!(!names_equal(&a, &b));
        // Multi-valued RDNs: same set, other case, any order.
        let m1 = name(vec![rdn(vec![utf8(CN, "A"), printable(O, "B")])]);
        let m2 = name(vec![rdn(vec![printable(O, "b"), utf8(CN, "a")])]);
        assert!(names_equal(&m1, &m2));
        let m3 = name(vec![rdn(vec![utf8(CN, "a")])]);
        assert!(!names_equal(&m1, &m3));
    }

    #[test]
    fn multi_valued_rdns_pair_one_to_one() {
        // {CN=a, CN=A} holds "a" twice; {CN=a, CN=b} does not.
        let twice = rdn(vec![utf8(CN, "a"), printable(CN, "A")]);
        let two = rdn(vec![utf8(CN, "a"), utf8(CN, "b")]);
        assert!(!rdn_equal(&twice, &two));
        assert!(!rdn_equal(&two, &twice));
    }

    #[test]
    fn different_lengths_differ() {
        let a = Name::from_str("CN=a,O=b").unwrap();
        let b = Name::from_str("O=b").unwrap();
        assert!(!names_equal(&a, &b));
        assert!(!names_equal(&a, &Name::default()));
    }

    #[test]
    fn subtrees_are_rdn_prefixes() {
        let base = Name::from_str("O=Example,C=FR").unwrap();
        let inside = Name::from_str("CN=host,OU=Unit,O=Example,C=FR").unwrap();
        let same = Name::from_str("O=EXAMPLE,C=fr").unwrap();
        let outside = Name::from_str("CN=host,O=Other,C=FR").unwrap();
        let above = Name::from_str("C=FR").unwrap();
        assert!(within(&inside, &base));
        assert!(within(&same, &base));
        assert!(!within(&outside, &base));
        assert!(!within(&above, &base));
        assert!(within(&inside, &Name::default()));
        // A suffix is not a prefix.
        let tail = Name::from_str("CN=host").unwrap();
        assert!(!within(&inside, &tail));
    }
}
