//! The certificate read in place (RFC 5280 4.1), with the `der` crate's
//! rules, so that whatever is accepted here also decodes with x509-cert.

use std::ops::Range;

use const_oid::ObjectIdentifier;
use der::{Decode, Tag};
use x509_cert::certificate::Version;
use x509_cert::name::Name;

use super::ext::{ExtId, RawExt};
use crate::der_reader::{self, In};
use crate::time::UnixTime;

/// Byte range of the `tbsCertificate` TLV inside a certificate's DER.
pub(crate) fn tbs_range(der: &[u8]) -> der::Result<Range<usize>> {
    let body = In::new(der).take(0x30)?;
    let (_, _, tbs) = In::new(body).tlv()?;
    Ok(range_in(der, tbs))
}

/// Where `part` (a sub-slice of `whole`) starts in `whole`.
fn offset_in(whole: &[u8], part: &[u8]) -> usize {
    let off = part.as_ptr() as usize - whole.as_ptr() as usize;
    debug_assert!(off + part.len() <= whole.len());
    off
}

fn range_in(whole: &[u8], part: &[u8]) -> Range<usize> {
    let start = offset_in(whole, part);
    start..start + part.len()
}

/// A name checked to decode as an x509-cert `Name`, located in the
/// certificate.
pub(super) struct RawName {
    pub(super) range: Range<usize>,
    pub(super) empty: bool,
}

/// A certificate read in place (RFC 5280 4.1), without allocating beyond
/// the extension list, in the order and with the rules that
/// `x509_cert::Certificate::from_der` applies, so that anything accepted
/// here also decodes there.
pub(super) struct RawCert<'a> {
    pub(super) tbs: Range<usize>,
    pub(super) version: Version,
    pub(super) serial: Range<usize>,
    pub(super) tbs_sig_alg: &'a [u8],
    pub(super) issuer: RawName,
    pub(super) not_before: UnixTime,
    pub(super) not_after: UnixTime,
    pub(super) subject: RawName,
    pub(super) spki: Range<usize>,
    pub(super) spki_bits: Range<usize>,
    pub(super) extensions: Option<RawExts<'a>>,
    pub(super) outer_sig_alg: &'a [u8],
    pub(super) signature: Range<usize>,
}

impl<'a> RawCert<'a> {
    pub(super) fn parse(der: &'a [u8]) -> der::Result<Self> {
        let mut top = In::new(der);
        let cert = top.take(0x30)?;
        top.finish()?;
        let mut outer = In::new(cert);
        let (tbs_value, tbs) = outer.take_tlv(0x30)?;
        let outer_sig_alg = outer.algorithm()?;
        let signature = outer.bit_string(0x03)?;
        outer.finish()?;

        let mut r = In::new(tbs_value);
        let version = match r.context(0)? {
            None => Version::V1,
            Some((0xa0, v)) => match v {
                [0x02, 0x01, 0x00] => Version::V1,
                [0x02, 0x01, 0x01] => Version::V2,
                [0x02, 0x01, 0x02] => Version::V3,
                _ => return Err(Tag::Integer.value_error()),
            },
            Some((t, _)) => return Err(Tag::try_from(t)?.non_canonical_error()),
        };
        let serial = r.take(0x02)?;
        // Canonical INTEGER; x509-cert's RFC 5280 profile allows 21 octets.
        match serial {
            [] | [0x00, 0x00..=0x7f, ..] | [0xff, 0x80..=0xff, ..] => {
                return Err(Tag::Integer.non_canonical_error())
            }
            _ if serial.len() > 21 => return Err(Tag::Integer.value_error()),
            _ => {}
        }
        let tbs_sig_alg = r.algorithm()?;
        let issuer = raw_name(der, &mut r)?;
        let validity = r.take(0x30)?;
        let mut times = In::new(validity);
        let (tag, value, _) = times.tlv()?;
        let not_before = UnixTime::from_der_time(tag, value)?;
        let (tag, value, _) = times.tlv()?;
        let not_after = UnixTime::from_der_time(tag, value)?;
        times.finish()?;
        let subject = raw_name(der, &mut r)?;
        let (spki_value, spki) = r.take_tlv(0x30)?;
        let mut key = In::new(spki_value);
        key.algorithm()?;
        let spki_bits = key.bit_string(0x03)?;
        key.finish()?;
        // issuerUniqueID [1] and subjectUniqueID [2], IMPLICIT BIT STRING.
        for n in [1u8, 2] {
            if let Some((t, v)) = r.context(n)? {
                if t != 0x80 | n {
                    return Err(Tag::try_from(t)?.non_canonical_error());
                }
                der_reader::bits(v)?;
            }
        }
        let extensions = match r.context(3)? {
            None => None,
            Some((0xa3, v)) => {
                let mut e = In::new(v);
                let list = e.take(0x30)?;
                e.finish()?;
                Some(raw_extensions(list)?)
            }
            Some((t, _)) => return Err(Tag::try_from(t)?.non_canonical_error()),
        };
        r.finish()?;
        Ok(RawCert {
            tbs: range_in(der, tbs),
            version,
            serial: range_in(der, serial),
            tbs_sig_alg,
            issuer,
            not_before,
            not_after,
            subject,
            spki: range_in(der, spki),
            spki_bits: range_in(der, spki_bits),
            extensions,
            outer_sig_alg,
            signature: range_in(der, signature),
        })
    }
}

/// The extensions of a certificate as read: on the stack for the usual
/// count, on the heap beyond. (Short-lived, so its size does not matter;
/// boxing the array would defeat its purpose.)
#[allow(clippy::large_enum_variant)]
pub(super) enum RawExts<'a> {
    Few([RawExt<'a>; 16], usize),
    Many(Vec<RawExt<'a>>),
}

impl<'a> RawExts<'a> {
    fn push(&mut self, x: RawExt<'a>) {
        match self {
            Self::Few(arr, n) if *n < arr.len() => {
                arr[*n] = x;
                *n += 1;
            }
            Self::Few(arr, n) => {
                let mut v = arr[..*n].to_vec();
                v.push(x);
                *self = Self::Many(v);
            }
            Self::Many(v) => v.push(x),
        }
    }

    pub(super) fn as_slice(&self) -> &[RawExt<'a>] {
        match self {
            Self::Few(arr, n) => &arr[..*n],
            Self::Many(v) => v,
        }
    }
}

/// `Extensions ::= SEQUENCE OF Extension`, each
/// `SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }`.
fn raw_extensions(list: &[u8]) -> der::Result<RawExts<'_>> {
    let mut r = In::new(list);
    let empty = RawExt {
        id: ExtId::Other,
        oid: &[],
        critical: false,
        value: &[],
    };
    let mut out = RawExts::Few([empty; 16], 0);
    while !r.is_empty() {
        let mut e = In::new(r.take(0x30)?);
        // Checked below: a handled OID, or one `from_bytes` accepts.
        let oid = e.take(0x06)?;
        let critical = if e.peek() == Some(0x01) {
            match e.take(0x01)? {
                [0x00] => false,
                [0xff] => true,
                _ => return Err(Tag::Boolean.non_canonical_error()),
            }
        } else {
            false
        };
        let value = e.take(0x04)?;
        e.finish()?;
        let id = ExtId::of(oid);
        if id == ExtId::Other {
            ObjectIdentifier::from_bytes(oid).map_err(|_| Tag::ObjectIdentifier.value_error())?;
        }
        out.push(RawExt {
            id,
            oid,
            critical,
            value,
        });
    }
    Ok(out)
}

/// Reads a `Name` (`SEQUENCE OF SET OF AttributeTypeAndValue`) and checks
/// it decodes as an x509-cert `Name`. Single-valued RDNs are checked in
/// place; a multi-valued one (rare) goes through x509-cert itself, which
/// also refuses duplicate values in a SET.
fn raw_name(der: &[u8], r: &mut In<'_>) -> der::Result<RawName> {
    let (value, tlv) = r.take_tlv(0x30)?;
    let mut seq = In::new(value);
    let mut multi = false;
    while !seq.is_empty() {
        let mut set = In::new(seq.take(0x31)?);
        let mut n = 0usize;
        while !set.is_empty() {
            let mut atv = In::new(set.take(0x30)?);
            atv.oid()?;
            atv.tlv()?;
            atv.finish()?;
            n += 1;
        }
        multi |= n > 1;
    }
    if multi {
        Name::from_der(tlv)?;
    }
    Ok(RawName {
        range: range_in(der, tlv),
        empty: value.is_empty(),
    })
}

/// Decodes a name that [`raw_name`] accepted.
pub(super) fn decode_checked_name(tlv: &[u8]) -> Name {
    // Invariant: `raw_name` checked exactly what this decode needs (see
    // `RawCert`); `Cert::from_der` asserts it in debug builds.
    #[allow(clippy::expect_used)]
    Name::from_der(tlv).expect("name checked by Cert::from_der")
}
