//! Decoding of GeneralNames and NameConstraints that keeps every name
//! form (RFC 5280 4.2.1.6, 4.2.1.10).
//!
//! ```text
//! GeneralName ::= CHOICE {
//!      otherName                 [0]  OtherName,
//!      rfc822Name                [1]  IA5String,
//!      dNSName                   [2]  IA5String,
//!      x400Address               [3]  ORAddress,
//!      directoryName             [4]  Name,
//!      ediPartyName              [5]  EDIPartyName,
//!      uniformResourceIdentifier [6]  IA5String,
//!      iPAddress                 [7]  OCTET STRING,
//!      registeredID              [8]  OBJECT IDENTIFIER }
//! ```
//!
//! x509-cert decodes every form but x400Address, and ediPartyName only in
//! one of its encodings. Both forms are legal, and a relying party may
//! refuse them only where a name constraint needs to judge them: they are
//! kept here as opaque values (their DER), and the other forms go through
//! x509-cert.

use der::{Decode, Tag};
use x509_cert::ext::pkix::constraints::name::{GeneralSubtree, NameConstraints};
use x509_cert::ext::pkix::name::GeneralName;

use crate::der_reader::In;

/// A name form we keep without interpreting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpaqueForm {
    /// `x400Address [3] ORAddress`.
    X400Address,
    /// `ediPartyName [5] EDIPartyName`.
    EdiPartyName,
}

impl OpaqueForm {
    /// The form of a GeneralName by its tag octet (both are constructed
    /// context-specific tags).
    fn of(tag: u8) -> Option<Self> {
        match tag {
            0xa3 => Some(Self::X400Address),
            0xa5 => Some(Self::EdiPartyName),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::X400Address => "x400Address",
            Self::EdiPartyName => "ediPartyName",
        }
    }
}

/// A name of an [`OpaqueForm`], with its DER (tag included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpaqueName {
    pub form: OpaqueForm,
    pub der: Vec<u8>,
}

/// The subtrees of opaque forms in a nameConstraints extension.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpaqueSubtrees {
    pub permitted: Vec<OpaqueForm>,
    pub excluded: Vec<OpaqueForm>,
}

impl OpaqueSubtrees {
    /// Whether a subtree of `form` is present in either list.
    pub fn restricts(&self, form: OpaqueForm) -> bool {
        self.permitted.contains(&form) || self.excluded.contains(&form)
    }

    pub fn is_empty(&self) -> bool {
        self.permitted.is_empty() && self.excluded.is_empty()
    }
}

/// `GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName` (the value of a
/// subjectAltName or issuerAltName extension): the names x509-cert reads,
/// and the opaque ones.
pub fn decode_general_names(v: &[u8]) -> der::Result<(Vec<GeneralName>, Vec<OpaqueName>)> {
    let mut outer = In::new(v);
    let mut r = In::new(outer.take(0x30)?);
    outer.finish()?;
    let (mut names, mut opaque) = (Vec::new(), Vec::new());
    while !r.is_empty() {
        let (tag, _, whole) = r.tlv()?;
        match OpaqueForm::of(tag) {
            Some(form) => opaque.push(OpaqueName {
                form,
                der: whole.to_vec(),
            }),
            None => names.push(GeneralName::from_der(whole)?),
        }
    }
    Ok((names, opaque))
}

/// `NameConstraints` (RFC 5280 4.2.1.10), with the subtrees of opaque
/// forms apart. A list made only of opaque subtrees comes back as `None`
/// in the x509-cert value (its forms are in [`OpaqueSubtrees`]); an empty
/// list stays `Some(empty)`.
pub fn decode_name_constraints(v: &[u8]) -> der::Result<(NameConstraints, OpaqueSubtrees)> {
    let mut outer = In::new(v);
    let mut r = In::new(outer.take(0x30)?);
    outer.finish()?;
    let mut nc = NameConstraints {
        permitted_subtrees: None,
        excluded_subtrees: None,
    };
    let mut opaque = OpaqueSubtrees::default();
    for (number, tag) in [(0u8, 0xa0u8), (1, 0xa1)] {
        let Some((t, list)) = r.context(number)? else {
            continue;
        };
        if t != tag {
            return Err(Tag::try_from(t)?.non_canonical_error());
        }
        let (mut subtrees, mut any) = (Vec::new(), false);
        let mut lr = In::new(list);
        while !lr.is_empty() {
            any = true;
            let (content, whole) = lr.take_tlv(0x30)?;
            let (base_tag, _, _) = In::new(content).tlv()?;
            match OpaqueForm::of(base_tag) {
                Some(form) if number == 0 => opaque.permitted.push(form),
                Some(form) => opaque.excluded.push(form),
                None => subtrees.push(GeneralSubtree::from_der(whole)?),
            }
        }
        let value = (!any || !subtrees.is_empty()).then_some(subtrees);
        if number == 0 {
            nc.permitted_subtrees = value;
        } else {
            nc.excluded_subtrees = value;
        }
    }
    r.finish()?;
    Ok((nc, opaque))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_forms_are_kept_and_others_decoded() {
        // SEQUENCE { [2] "a.example", [3] { SEQUENCE {} }, [5] { [1] { UTF8String "p" } } }
        let v = [
            0x30, 0x16, 0x82, 0x09, b'a', b'.', b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0xa3,
            0x02, 0x30, 0x00, 0xa5, 0x05, 0xa1, 0x03, 0x0c, 0x01, b'p',
        ];
        let (names, opaque) = decode_general_names(&v).unwrap();
        assert_eq!(names.len(), 1);
        assert!(matches!(&names[0], GeneralName::DnsName(d) if d.as_str() == "a.example"));
        assert_eq!(opaque.len(), 2);
        assert_eq!(opaque[0].form, OpaqueForm::X400Address);
        assert_eq!(opaque[0].der, [0xa3, 0x02, 0x30, 0x00]);
        assert_eq!(opaque[1].form, OpaqueForm::EdiPartyName);
    }

    #[test]
    fn malformed_general_names_are_der_errors() {
        for bad in [
            &[0x30, 0x03, 0x82, 0x05, b'a'][..],
            &[0x31, 0x00],
            &[0x30, 0x00, 0x00],
            &[0x30, 0x02, 0x89, 0x00],
        ] {
            assert!(decode_general_names(bad).is_err(), "{bad:02x?}");
        }
    }

    #[test]
    fn name_constraints_with_an_x400_subtree() {
        // SEQUENCE { [0] { SEQUENCE { [3] { SEQUENCE {} } } , SEQUENCE { [2] "ok.ma" } } }
        let v = [
            0x30, 0x11, 0xa0, 0x0f, 0x30, 0x04, 0xa3, 0x02, 0x30, 0x00, 0x30, 0x07, 0x82, 0x05,
            b'o', b'k', b'.', b'm', b'a',
        ];
        let (nc, opaque) = decode_name_constraints(&v).unwrap();
        assert_eq!(nc.permitted_subtrees.as_ref().map(Vec::len), Some(1));
        assert!(nc.excluded_subtrees.is_none());
        assert_eq!(opaque.permitted, vec![OpaqueForm::X400Address]);
        assert!(opaque.restricts(OpaqueForm::X400Address));
        assert!(!opaque.restricts(OpaqueForm::EdiPartyName));
        // The same through x509-cert's own types when no opaque form is there.
        let plain = [
            0x30, 0x0b, 0xa1, 0x09, 0x30, 0x07, 0x82, 0x05, b'o', b'k', b'.', b'm', b'a',
        ];
        let (nc, opaque) = decode_name_constraints(&plain).unwrap();
        assert_eq!(nc, NameConstraints::from_der(&plain).unwrap());
        assert!(opaque.is_empty());
    }
}
