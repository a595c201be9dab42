//! Strict streaming decoder of a DER CRL (RFC 5280 5.1-5.3).
//!
//! The small header fields (signature algorithm, issuer, times, CRL
//! extensions) are decoded with `x509-cert` types; `revokedCertificates` is
//! scanned with `der`'s slice readers straight into the compact
//! [`SerialIndex`], without building an owned structure per entry.
//!
//! ```text
//! CertificateList  ::=  SEQUENCE  {
//!      tbsCertList          TBSCertList,
//!      signatureAlgorithm   AlgorithmIdentifier,
//!      signatureValue       BIT STRING  }
//!
//! TBSCertList  ::=  SEQUENCE  {
//!      version                 Version OPTIONAL, -- if present, MUST be v2
//!      signature               AlgorithmIdentifier,
//!      issuer                  Name,
//!      thisUpdate              Time,
//!      nextUpdate              Time OPTIONAL,
//!      revokedCertificates     SEQUENCE OF SEQUENCE  {
//!           userCertificate         CertificateSerialNumber,
//!           revocationDate          Time,
//!           crlEntryExtensions      Extensions OPTIONAL -- if present, version MUST be v2
//!                                }  OPTIONAL,
//!      crlExtensions           [0]  EXPLICIT Extensions OPTIONAL -- if present, version MUST be v2
//!                                }
//! ```

use std::collections::HashMap;
use std::ops::Range;

use const_oid::ObjectIdentifier;
use der::asn1::{BitStringRef, GeneralizedTime, UintRef};
use der::{Decode, Header, Reader, SliceReader, Tag, TagNumber};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::pkix::name::{GeneralName, GeneralNames};
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, IssuingDistributionPoint};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::time::Time;

use super::index::{InsertError, RevokedEntry, SerialIndex};
use super::{Crl, MAX_CRL_SIZE};
use crate::cert::sha256;
use crate::oid;
use crate::revocation::RevocationReason;
use crate::signature::SignatureAlgorithm;
use crate::time::UnixTime;
use crate::Error;

/// Most distinct certificateIssuer groups in one indirect CRL.
pub const MAX_ISSUER_GROUPS: usize = 1024;

/// Longest serial number accepted in an entry (RFC 5280 4.1.2.2 allows 20
/// octets; some CAs add a sign octet; anything longer is not a serial).
const MAX_SERIAL_LEN: usize = 32;

fn bad(reason: impl Into<String>) -> Error {
    Error::Crl(reason.into())
}

fn der_err(what: &'static str) -> impl Fn(der::Error) -> Error {
    move |e| Error::BadDer {
        what,
        reason: e.to_string(),
    }
}

/// Reads one TLV with tag `tag` and returns its content.
fn tlv<'a>(r: &mut SliceReader<'a>, tag: Tag) -> der::Result<&'a [u8]> {
    let h = Header::decode(r)?;
    h.tag.assert_eq(tag)?;
    r.read_slice(h.length)
}

/// Offset of `inner` inside `outer` (both slices of the same buffer).
fn offset_in(outer: &[u8], inner: &[u8]) -> usize {
    // Slices handed out by SliceReader borrow from `outer`.
    (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize)
}

/// RFC 5280 5.2.3 CRLNumber ::= INTEGER (0..MAX), at most 20 octets;
/// returned without leading zero octets.
fn crl_number(value: &[u8], what: &str) -> Result<Vec<u8>, Error> {
    let n = UintRef::from_der(value).map_err(|e| bad(format!("bad {what}: {e}")))?;
    let bytes = n.as_bytes();
    if bytes.len() > 20 {
        return Err(bad(format!("{what} longer than 20 octets")));
    }
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    Ok(bytes[start..].to_vec())
}

pub(super) fn decode(der: &[u8]) -> Result<Crl, Error> {
    if der.len() > MAX_CRL_SIZE {
        return Err(Error::TooLarge {
            what: "CRL",
            size: der.len(),
            limit: MAX_CRL_SIZE,
        });
    }
    let e = der_err("CRL");
    let mut outer = SliceReader::new(der).map_err(&e)?;
    let list = tlv(&mut outer, Tag::Sequence).map_err(&e)?;
    if !outer.is_finished() {
        return Err(Error::BadDer {
            what: "CRL",
            reason: "trailing data after the CertificateList".into(),
        });
    }
    let mut r = SliceReader::new(list).map_err(&e)?;
    let tbs_tlv = r.tlv_bytes().map_err(&e)?;
    let alg_tlv = r.tlv_bytes().map_err(&e)?;
    let sig = BitStringRef::decode(&mut r).map_err(&e)?;
    if !r.is_finished() {
        return Err(Error::BadDer {
            what: "CRL",
            reason: "trailing data inside the CertificateList".into(),
        });
    }
    let signature = sig
        .as_bytes()
        .ok_or_else(|| bad("signatureValue has unused bits"))?;
    let tbs_start = offset_in(der, tbs_tlv);
    let tbs: Range<usize> = tbs_start..tbs_start + tbs_tlv.len();
    let sig_start = offset_in(der, signature);
    let signature_range = sig_start..sig_start + signature.len();

    // TBSCertList.
    let mut t = SliceReader::new(tbs_tlv).map_err(&e)?;
    let tbs_content = tlv(&mut t, Tag::Sequence).map_err(&e)?;
    let mut t = SliceReader::new(tbs_content).map_err(&e)?;
    let v2 = if t.peek_tag().map_err(&e)? == Tag::Integer {
        let v = u8::decode(&mut t).map_err(&e)?;
        if v != 1 {
            return Err(bad(format!("version {} (only v2 may be encoded)", v + 1)));
        }
        true
    } else {
        false
    };
    let inner_alg = t.tlv_bytes().map_err(&e)?;
    // RFC 5280 5.1.1.2: signatureAlgorithm MUST equal tbsCertList.signature.
    if inner_alg != alg_tlv {
        return Err(bad(
            "signatureAlgorithm does not match tbsCertList.signature",
        ));
    }
    let algorithm = AlgorithmIdentifierOwned::from_der(alg_tlv).map_err(&e)?;
    let issuer_tlv = t.tlv_bytes().map_err(&e)?;
    let issuer = Name::from_der(issuer_tlv).map_err(&e)?;
    // RFC 5280 5.1.2.3: the issuer field MUST contain a non-empty name.
    if issuer.0.is_empty() {
        return Err(bad("issuer name is empty"));
    }
    let this_update = UnixTime::from_x509(&Time::decode(&mut t).map_err(&e)?);
    let next_update = match t.peek_tag() {
        Ok(Tag::UtcTime | Tag::GeneralizedTime) => {
            Some(UnixTime::from_x509(&Time::decode(&mut t).map_err(&e)?))
        }
        _ => None,
    };
    if next_update.is_some_and(|n| n < this_update) {
        return Err(bad("nextUpdate precedes thisUpdate"));
    }
    let revoked = if !t.is_finished() && t.peek_tag().map_err(&e)? == Tag::Sequence {
        Some(tlv(&mut t, Tag::Sequence).map_err(&e)?)
    } else {
        None
    };
    let exts_tag = Tag::ContextSpecific {
        constructed: true,
        number: TagNumber::N0,
    };
    let extensions = if t.is_finished() {
        None
    } else {
        let content = tlv(&mut t, exts_tag).map_err(&e)?;
        Some(Vec::<Extension>::from_der(content).map_err(&e)?)
    };
    if !t.is_finished() {
        return Err(Error::BadDer {
            what: "CRL",
            reason: "unexpected field after crlExtensions".into(),
        });
    }
    if extensions.is_some() && !v2 {
        return Err(bad("extensions present but version is not v2"));
    }

    let mut crl = Crl {
        fingerprint: sha256(der),
        der: der.to_vec(),
        tbs,
        signature: signature_range,
        signature_algorithm: SignatureAlgorithm::from_identifier(&algorithm),
        issuer_der: issuer_tlv.to_vec(),
        issuer,
        v2,
        this_update,
        next_update,
        number: None,
        delta_base: None,
        authority_key_id: None,
        idp: None,
        idp_der: None,
        unknown_critical: None,
        groups: vec![Vec::new()],
        index: SerialIndex::default(),
        verified_by: std::sync::RwLock::new(Vec::new()),
    };
    if let Some(list) = &extensions {
        crl_extensions(&mut crl, list)?;
    }
    if let Some(content) = revoked {
        scan_entries(&mut crl, content)?;
    }
    if crl.groups.len() > 1 && !crl.is_indirect() {
        // RFC 5280 5.3.3: certificateIssuer only appears in indirect CRLs.
        crl.unknown_critical
            .get_or_insert((oid::CE_CERTIFICATE_ISSUER, true));
    }
    Ok(crl)
}

/// RFC 5280 5.2: the CRL extensions this validator understands.
fn crl_extensions(crl: &mut Crl, list: &[Extension]) -> Result<(), Error> {
    if list.is_empty() {
        return Err(bad("empty crlExtensions sequence"));
    }
    let mut seen: Vec<ObjectIdentifier> = Vec::with_capacity(list.len());
    for x in list {
        if seen.contains(&x.extn_id) {
            return Err(bad(format!("extension {} appears twice", x.extn_id)));
        }
        seen.push(x.extn_id);
        let v = x.extn_value.as_bytes();
        match x.extn_id {
            oid::CE_CRL_NUMBER => {
                // RFC 5280 5.2.3: non-critical.
                if x.critical {
                    return Err(bad("cRLNumber must not be critical"));
                }
                crl.number = Some(crl_number(v, "cRLNumber")?);
            }
            oid::CE_DELTA_CRL_INDICATOR => {
                // RFC 5280 5.2.4: critical.
                if !x.critical {
                    return Err(bad("deltaCRLIndicator must be critical"));
                }
                crl.delta_base = Some(crl_number(v, "deltaCRLIndicator")?);
            }
            oid::CE_AUTHORITY_KEY_IDENTIFIER => {
                let aki = AuthorityKeyIdentifier::from_der(v)
                    .map_err(|e| bad(format!("bad authorityKeyIdentifier: {e}")))?;
                crl.authority_key_id = aki.key_identifier.map(|k| k.as_bytes().to_vec());
            }
            oid::CE_ISSUING_DISTRIBUTION_POINT => {
                // RFC 5280 5.2.5: critical; not an empty sequence; at most
                // one onlyContains* flag.
                if !x.critical {
                    return Err(bad("issuingDistributionPoint must be critical"));
                }
                let p = IssuingDistributionPoint::from_der(v)
                    .map_err(|e| bad(format!("bad issuingDistributionPoint: {e}")))?;
                let exclusive = [
                    p.only_contains_user_certs,
                    p.only_contains_ca_certs,
                    p.only_contains_attribute_certs,
                ]
                .iter()
                .filter(|b| **b)
                .count();
                if exclusive > 1 {
                    return Err(bad(
                        "issuingDistributionPoint asserts more than one onlyContains* flag",
                    ));
                }
                if v.len() <= 2 {
                    return Err(bad("issuingDistributionPoint is an empty sequence"));
                }
                crl.idp = Some(p);
                crl.idp_der = Some(v.to_vec());
            }
            // RFC 5280 5.2.6 freshestCRL and 5.2.7 authorityInfoAccess:
            // pointers for fetching, non-critical; the refresher reads them.
            oid::CE_FRESHEST_CRL | oid::PE_AUTHORITY_INFO_ACCESS | oid::CE_ISSUER_ALT_NAME => {}
            other if x.critical => {
                crl.unknown_critical.get_or_insert((other, false));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Last revocationDate seen: most CRLs repeat a handful of dates, and
/// comparing 15 bytes is cheaper than decoding a time.
struct DateCache<'a> {
    tlv: &'a [u8],
    value: UnixTime,
}

/// Scans `revokedCertificates` into the index.
fn scan_entries(crl: &mut Crl, content: &[u8]) -> Result<(), Error> {
    let entry_err = |i: usize, reason: String| Error::BadDer {
        what: "CRL entry",
        reason: format!("entry {i}: {reason}"),
    };
    // A typical entry with a reason code is 30-40 bytes.
    let mut index = SerialIndex::with_capacity(content.len() / 32, content.len() / 2);
    let mut r = SliceReader::new(content).map_err(der_err("CRL entries"))?;
    let mut date = DateCache {
        tlv: &[],
        value: UnixTime(0),
    };
    let mut group: u16 = 0;
    let mut groups_by_der: HashMap<Vec<u8>, u16> = HashMap::new();
    let mut i = 0usize;
    while !r.is_finished() {
        let entry = tlv(&mut r, Tag::Sequence).map_err(|e| entry_err(i, e.to_string()))?;
        let mut er = SliceReader::new(entry).map_err(|e| entry_err(i, e.to_string()))?;
        let serial = tlv(&mut er, Tag::Integer).map_err(|e| entry_err(i, e.to_string()))?;
        check_integer(serial).map_err(|why| entry_err(i, format!("userCertificate {why}")))?;
        let time_tlv = er.tlv_bytes().map_err(|e| entry_err(i, e.to_string()))?;
        if time_tlv != date.tlv {
            let t = Time::from_der(time_tlv).map_err(|e| entry_err(i, e.to_string()))?;
            date = DateCache {
                tlv: time_tlv,
                value: UnixTime::from_x509(&t),
            };
        }
        let mut value = RevokedEntry {
            reason: RevocationReason::Unspecified,
            revoked_at: date.value,
            invalidity_date: None,
        };
        if !er.is_finished() {
            if !crl.v2 {
                return Err(entry_err(i, "entry extensions in a v1 CRL".into()));
            }
            let exts = tlv(&mut er, Tag::Sequence).map_err(|e| entry_err(i, e.to_string()))?;
            entry_extensions(crl, exts, &mut value, &mut group, &mut groups_by_der)
                .map_err(|why| entry_err(i, why))?;
            if !er.is_finished() {
                return Err(entry_err(i, "data after crlEntryExtensions".into()));
            }
        }
        index.push(group, serial, value).map_err(|e| match e {
            InsertError::Full | InsertError::Duplicate => {
                entry_err(i, "too many entries for the index".into())
            }
        })?;
        i += 1;
    }
    index.finish().map_err(|e| match e {
        InsertError::Duplicate => bad("a serial number is listed twice for the same issuer"),
        InsertError::Full => bad("too many entries for the index"),
    })?;
    crl.index = index;
    Ok(())
}

/// RFC 5280 4.1.2.2 / X.690: a non-empty, minimally encoded INTEGER.
fn check_integer(content: &[u8]) -> Result<(), &'static str> {
    match content {
        [] => Err("is empty"),
        [0, b, ..] if b & 0x80 == 0 => Err("is not minimally encoded"),
        [0xff, b, ..] if b & 0x80 != 0 => Err("is not minimally encoded"),
        _ if content.len() > MAX_SERIAL_LEN => Err("is longer than 32 octets"),
        _ => Ok(()),
    }
}

/// RFC 5280 5.3: reasonCode, invalidityDate, certificateIssuer; anything
/// else critical makes the CRL unable to decide.
fn entry_extensions(
    crl: &mut Crl,
    exts: &[u8],
    value: &mut RevokedEntry,
    group: &mut u16,
    groups_by_der: &mut HashMap<Vec<u8>, u16>,
) -> Result<(), String> {
    let mut r = SliceReader::new(exts).map_err(|e| e.to_string())?;
    if r.is_finished() {
        return Err("empty crlEntryExtensions sequence".into());
    }
    let (reason_oid, invalidity_oid, issuer_oid) = (
        oid::CE_CRL_REASON,
        oid::CE_INVALIDITY_DATE,
        oid::CE_CERTIFICATE_ISSUER,
    );
    let mut seen = [false; 3];
    let mut others: Vec<&[u8]> = Vec::new();
    while !r.is_finished() {
        let x = tlv(&mut r, Tag::Sequence).map_err(|e| e.to_string())?;
        let mut xr = SliceReader::new(x).map_err(|e| e.to_string())?;
        let id = tlv(&mut xr, Tag::ObjectIdentifier).map_err(|e| e.to_string())?;
        let critical = if xr.peek_tag().map_err(|e| e.to_string())? == Tag::Boolean {
            let b = bool::decode(&mut xr).map_err(|e| e.to_string())?;
            if !b {
                return Err("critical FALSE is encoded (DER omits the DEFAULT)".into());
            }
            true
        } else {
            false
        };
        let v = tlv(&mut xr, Tag::OctetString).map_err(|e| e.to_string())?;
        if !xr.is_finished() {
            return Err("data after extnValue".into());
        }
        let slot = if id == reason_oid.as_bytes() {
            Some(0)
        } else if id == invalidity_oid.as_bytes() {
            Some(1)
        } else if id == issuer_oid.as_bytes() {
            Some(2)
        } else {
            None
        };
        match slot {
            Some(s) if seen[s] => return Err("an entry extension appears twice".into()),
            Some(s) => seen[s] = true,
            None if others.contains(&id) => return Err("an entry extension appears twice".into()),
            None => others.push(id),
        }
        match slot {
            Some(0) => {
                // CRLReason ::= ENUMERATED; 7 is not used.
                let mut vr = SliceReader::new(v).map_err(|e| e.to_string())?;
                let code = tlv(&mut vr, Tag::Enumerated).map_err(|e| e.to_string())?;
                let reason = match (code, vr.is_finished()) {
                    ([c], true) => RevocationReason::from_code(*c),
                    _ => None,
                }
                .ok_or("reasonCode is not a defined CRLReason")?;
                value.reason = reason;
            }
            Some(1) => {
                // InvalidityDate ::= GeneralizedTime.
                let d = GeneralizedTime::from_der(v).map_err(|e| format!("invalidityDate: {e}"))?;
                value.invalidity_date = Some(UnixTime(d.to_unix_duration().as_secs()));
            }
            Some(_) => {
                *group = issuer_group(&mut crl.groups, groups_by_der, v)?;
            }
            None if critical => {
                // RFC 5280 5.3: an entry extension we cannot process makes
                // the whole CRL unusable.
                let oid = ObjectIdentifier::from_bytes(id)
                    .map_err(|e| format!("malformed extnID: {e}"))?;
                crl.unknown_critical.get_or_insert((oid, true));
            }
            None => {}
        }
    }
    Ok(())
}

/// The group number of a certificateIssuer (RFC 5280 5.3.3) given its
/// DER, reusing the number of an identical earlier one.
fn issuer_group(
    groups: &mut Vec<Vec<GeneralName>>,
    by_der: &mut HashMap<Vec<u8>, u16>,
    der: &[u8],
) -> Result<u16, String> {
    if let Some(g) = by_der.get(der) {
        return Ok(*g);
    }
    if groups.len() >= MAX_ISSUER_GROUPS {
        return Err(format!(
            "more than {MAX_ISSUER_GROUPS} distinct certificateIssuer values"
        ));
    }
    let names = GeneralNames::from_der(der).map_err(|e| format!("certificateIssuer: {e}"))?;
    if names.is_empty() {
        return Err("certificateIssuer has no names".into());
    }
    groups.push(names);
    let g = u16::try_from(groups.len() - 1).map_err(|_| "too many certificate issuers")?;
    by_der.insert(der.to_vec(), g);
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_must_be_minimal() {
        assert!(check_integer(&[1]).is_ok());
        assert!(check_integer(&[0, 0x80]).is_ok());
        assert!(check_integer(&[0xff]).is_ok());
        assert!(check_integer(&[]).is_err());
        assert!(check_integer(&[0, 1]).is_err());
        assert!(check_integer(&[0xff, 0x80]).is_err());
        assert!(check_integer(&[1; 33]).is_err());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for input in [
            &b""[..],
            b"\x30",
            b"\x30\x00",
            b"\x30\x03\x02\x01\x01",
            b"\x30\x80\x00\x00",
            &[0xff; 64],
        ] {
            assert!(decode(input).is_err());
        }
    }
}
