//! The one strict DER reader over byte slices (X.690 DER as the `der` crate
//! decodes it), for the hot paths that cannot afford the generic decoder:
//! certificates ([`crate::cert`]), the SPKI and key fast paths of
//! [`crate::signature`], GeneralNames ([`crate::name::general`]) and the
//! CRL entry loop ([`crate::crl`]). Every method returns an error, never
//! panics: `take` reads the next TLV if it has the tag asked for.

use const_oid::ObjectIdentifier;
use der::Tag;

/// A strict DER reader over a byte slice, for the hot path of
/// [`crate::Cert::from_der`] and the key and algorithm fast paths of
/// [`crate::signature`]: no allocation, one pass. Each primitive applies the
/// same rules as the `der` crate's decoder for that type (tag bytes it
/// knows, minimal definite lengths, canonical INTEGER and BOOLEAN, BIT
/// STRING unused bits), so the two accept the same certificates.
#[derive(Clone, Copy)]
pub(crate) struct In<'a> {
    rest: &'a [u8],
}

fn der_err(kind: der::ErrorKind) -> der::Error {
    der::Error::new(kind, der::Length::ZERO)
}

/// Fewer octets left than a TLV needs.
fn truncated(needed: usize, left: usize) -> der::Error {
    let len = |n: usize| der::Length::try_from(n).unwrap_or(der::Length::MAX);
    der_err(der::ErrorKind::Incomplete {
        expected_len: len(needed),
        actual_len: len(left),
    })
}

impl<'a> In<'a> {
    #[inline]
    pub(crate) fn new(rest: &'a [u8]) -> Self {
        Self { rest }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// One TLV: its tag byte, its value, and the whole encoding.
    #[inline]
    pub(crate) fn tlv(&mut self) -> der::Result<(u8, &'a [u8], &'a [u8])> {
        let all = self.rest;
        let (&tag, after) = all.split_first().ok_or_else(|| truncated(2, 0))?;
        if !tag_known(tag) {
            Tag::try_from(tag)?;
            return Err(der_err(der::ErrorKind::TagUnknown { byte: tag }));
        }
        let (&first, mut after) = after.split_first().ok_or_else(|| truncated(1, 0))?;
        let len = match first {
            n if n < 0x80 => usize::from(n),
            0x80 => return Err(der_err(der::ErrorKind::IndefiniteLength)),
            0x81..=0x84 => {
                let n = usize::from(first - 0x80);
                if after.len() < n {
                    return Err(truncated(n, after.len()));
                }
                let (bytes, tail) = after.split_at(n);
                after = tail;
                let v = bytes.iter().fold(0usize, |v, b| (v << 8) | usize::from(*b));
                // Minimal: the value needs exactly n octets (X.690 10.1).
                let min = match n {
                    1 => 0x80,
                    2 => 0x100,
                    3 => 0x1_0000,
                    _ => 0x100_0000,
                };
                if v < min || v > 0x0FFF_FFFF {
                    return Err(der_err(der::ErrorKind::Overlength));
                }
                v
            }
            _ => return Err(der_err(der::ErrorKind::Overlength)),
        };
        if after.len() < len {
            return Err(truncated(len, after.len()));
        }
        let header_len = all.len() - after.len();
        let (value, tail) = after.split_at(len);
        self.rest = tail;
        Ok((tag, value, &all[..header_len + len]))
    }

    /// Reads the next TLV, which must have the tag byte `tag` (an error
    /// otherwise): its value and whole encoding.
    #[inline]
    pub(crate) fn take_tlv(&mut self, tag: u8) -> der::Result<(&'a [u8], &'a [u8])> {
        let (t, v, all) = self.tlv()?;
        if t == tag {
            Ok((v, all))
        } else {
            Err(Tag::try_from(t)?.unexpected_error(Tag::try_from(tag).ok()))
        }
    }

    /// Reads the next TLV, which must have the tag byte `tag` (an error
    /// otherwise): its value.
    #[inline]
    pub(crate) fn take(&mut self, tag: u8) -> der::Result<&'a [u8]> {
        self.take_tlv(tag).map(|(v, _)| v)
    }

    #[inline]
    pub(crate) fn finish(&self) -> der::Result<()> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(der_err(der::ErrorKind::TrailingData {
                decoded: der::Length::ZERO,
                remaining: der::Length::try_from(self.rest.len()).unwrap_or(der::Length::MAX),
            }))
        }
    }

    #[inline]
    pub(crate) fn oid(&mut self) -> der::Result<&'a [u8]> {
        let v = self.take(0x06)?;
        check_oid(v)?;
        Ok(v)
    }

    /// `AlgorithmIdentifier ::= SEQUENCE { OID, ANY OPTIONAL }`; its TLV.
    #[inline]
    pub(crate) fn algorithm(&mut self) -> der::Result<&'a [u8]> {
        let (v, all) = self.take_tlv(0x30)?;
        let mut a = In::new(v);
        a.oid()?;
        if !a.is_empty() {
            a.tlv()?;
        }
        a.finish()?;
        Ok(all)
    }

    /// BIT STRING (tag `tag`); the bits after the unused-bits octet.
    #[inline]
    pub(crate) fn bit_string(&mut self, tag: u8) -> der::Result<&'a [u8]> {
        bits(self.take(tag)?)
    }

    /// The `der` crate's `ContextSpecific` look-ahead for optional field
    /// `[number]`: context-specific fields with a lower number are skipped,
    /// and anything else ends the search. Returns the field's tag and value.
    #[inline]
    pub(crate) fn context(&mut self, number: u8) -> der::Result<Option<(u8, &'a [u8])>> {
        while let Some(b) = self.peek() {
            if !(0x80..=0xBE).contains(&b) || (b & 0x1F) > number {
                break;
            }
            let (t, v, _) = self.tlv()?;
            if t & 0x1F == number {
                return Ok(Some((t, v)));
            }
        }
        Ok(None)
    }
}

/// The tag bytes the `der` crate decodes (`Tag::try_from`), inlined: the
/// universal types it knows, and application, context-specific and private
/// tags with a low tag number.
#[inline]
pub(crate) const fn tag_known(b: u8) -> bool {
    b & 0x1f != 0x1f
        && matches!(
            b,
            0x01..=0x06
                | 0x09
                | 0x0a
                | 0x0c
                | 0x12..=0x18
                | 0x1a
                | 0x1e
                | 0x30
                | 0x31
                | 0x40..=0x7e
                | 0x80..=0xbe
                | 0xc0..=0xfe
        )
}

/// An OBJECT IDENTIFIER's content as `const-oid` accepts it.
#[inline]
pub(crate) fn check_oid(v: &[u8]) -> der::Result<()> {
    if known_oid(v) {
        return Ok(());
    }
    ObjectIdentifier::from_bytes(v)
        .map(|_| ())
        .map_err(|_| Tag::ObjectIdentifier.value_error())
}

/// The OIDs nearly every certificate carries (name attributes, algorithms,
/// extensions), already known to be well formed.
#[inline]
fn known_oid(v: &[u8]) -> bool {
    match v {
        // 2.5.4.x attribute types, 2.5.29.x extensions.
        [0x55, 0x04 | 0x1d, b] => *b < 0x80,
        // 1.2.840.10045.2.1 ecPublicKey, .3.1.7 P-256, .4.3.x ecdsa-with-SHA*.
        [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]
        | [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]
        | [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02..=0x04]
        // 1.3.132.0.34 / .35 P-384, P-521.
        | [0x2b, 0x81, 0x04, 0x00, 0x22 | 0x23]
        // 1.2.840.113549.1.1.x RSA, 1.2.840.113549.1.9.1 emailAddress.
        | [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01..=0x0d]
        | [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]
        // 1.3.6.1.5.5.7.1.x private extensions (AIA, QC statements, ...).
        | [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01..=0x7f] => true,
        _ => false,
    }
}

/// The bits of a BIT STRING's content (after the unused-bits octet, which
/// must be at most 7, and 0 when no bits follow).
#[inline]
pub(crate) fn bits(v: &[u8]) -> der::Result<&[u8]> {
    match v.split_first() {
        Some((&unused, bits)) if unused <= 7 && (unused == 0 || !bits.is_empty()) => Ok(bits),
        _ => Err(Tag::BitString.value_error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_bytes_agree_with_der() {
        for b in 0..=255u8 {
            assert_eq!(tag_known(b), Tag::try_from(b).is_ok(), "{b:#04x}");
        }
    }

    #[test]
    fn lengths_are_minimal_and_bounded() {
        let tlv = |bytes: &[u8]| In::new(bytes).tlv().map(|(t, v, _)| (t, v.len()));
        assert_eq!(tlv(&[0x04, 0x01, 0xaa]).unwrap(), (0x04, 1));
        assert!(tlv(&[0x04, 0x81, 0x01, 0xaa]).is_err(), "long form for 1");
        assert!(tlv(&[0x04, 0x80]).is_err(), "indefinite");
        assert!(
            tlv(&[0x04, 0x85, 1, 1, 1, 1, 1]).is_err(),
            "five length octets"
        );
        assert!(tlv(&[0x04, 0x02, 0xaa]).is_err(), "truncated value");
        assert!(tlv(&[0x04]).is_err(), "no length");
        assert!(tlv(&[0x1f, 0x01, 0x00]).is_err(), "high tag number");
    }
}
