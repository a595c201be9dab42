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
use crate::der_reader::In;
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
    // tbsCertList is the first TLV after the outer header.
    let tbs_start = der.len() - list.len();
    let tbs: Range<usize> = tbs_start..tbs_start + tbs_tlv.len();

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
        signature: signature.to_vec(),
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

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BOOLEAN: u8 = 0x01;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;

/// RFC 5280 4.1.2.5 in DER, through the one time parser.
fn x509_time(tag: u8, s: &[u8]) -> Result<UnixTime, &'static str> {
    UnixTime::from_der_time(tag, s)
        .map_err(|_| "time is not a valid DER UTCTime or GeneralizedTime")
}

/// Scans `revokedCertificates` into the index.
fn scan_entries(crl: &mut Crl, content: &[u8]) -> Result<(), Error> {
    let entry_err = |i: usize, reason: &str| Error::BadDer {
        what: "CRL entry",
        reason: format!("entry {i}: {reason}"),
    };
    // A record is 12 bytes plus the serial, against 19 bytes plus the
    // serial (and usually 11 more for a reason code) in DER.
    let mut index = SerialIndex::with_capacity(content.len() * 2 / 3);
    let mut r = In::new(content);
    // Last revocationDate seen: consecutive entries often share one, and
    // comparing 15 bytes is cheaper than decoding a time.
    let mut date: (&[u8], UnixTime) = (&[], UnixTime(0));
    let mut group: u16 = 0;
    let mut groups_by_der: HashMap<Vec<u8>, u16> = HashMap::new();
    let mut i = 0usize;
    while !r.is_empty() {
        let entry = r.take(SEQUENCE).map_err(|e| entry_err(i, &e.to_string()))?;
        let mut er = In::new(entry);
        let serial = er.take(INTEGER).map_err(|e| entry_err(i, &e.to_string()))?;
        check_integer(serial).map_err(|why| entry_err(i, &format!("userCertificate {why}")))?;
        let (tag, time, time_tlv) = er.tlv().map_err(|e| entry_err(i, &e.to_string()))?;
        if time_tlv != date.0 {
            date = (time_tlv, x509_time(tag, time).map_err(|e| entry_err(i, e))?);
        }
        let mut value = RevokedEntry {
            reason: RevocationReason::Unspecified,
            revoked_at: date.1,
            invalidity_date: None,
        };
        if !er.is_empty() {
            if !crl.v2 {
                return Err(entry_err(i, "entry extensions in a v1 CRL"));
            }
            let exts = er
                .take(SEQUENCE)
                .map_err(|e| entry_err(i, &e.to_string()))?;
            entry_extensions(crl, exts, &mut value, &mut group, &mut groups_by_der)
                .map_err(|why| entry_err(i, &why))?;
            if !er.is_empty() {
                return Err(entry_err(i, "data after crlEntryExtensions"));
            }
        }
        index
            .push(group, serial, value)
            .map_err(|_| entry_err(i, "too many entries for the index"))?;
        i += 1;
    }
    index.finish().map_err(|e| match e {
        InsertError::Duplicate => bad("a serial number is listed twice for the same issuer"),
        InsertError::Full => bad("too many entries for the index"),
    })?;
    crl.index = index;
    Ok(())
}

/// The issuer and subject Name TLVs inside a certificate's DER (RFC 5280
/// 4.1: after the optional version, the serial and the signature
/// algorithm; the validity between them), without re-encoding the names.
pub(super) fn cert_names_der(cert: &crate::cert::Cert) -> Option<(&[u8], &[u8])> {
    let mut outer = In::new(cert.tbs_der());
    let tbs = outer.take(SEQUENCE).ok()?;
    let mut r = In::new(tbs);
    if r.peek() == Some(0xa0) {
        r.tlv().ok()?;
    }
    r.take(INTEGER).ok()?;
    r.take(SEQUENCE).ok()?;
    let (SEQUENCE, _, issuer) = r.tlv().ok()? else {
        return None;
    };
    r.take(SEQUENCE).ok()?;
    let (SEQUENCE, _, subject) = r.tlv().ok()? else {
        return None;
    };
    Some((issuer, subject))
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
    let mut r = In::new(exts);
    if r.is_empty() {
        return Err("empty crlEntryExtensions sequence".into());
    }
    let (reason_oid, invalidity_oid, issuer_oid) = (
        oid::CE_CRL_REASON,
        oid::CE_INVALIDITY_DATE,
        oid::CE_CERTIFICATE_ISSUER,
    );
    let mut seen = [false; 3];
    let mut others: Vec<&[u8]> = Vec::new();
    while !r.is_empty() {
        let x = r.take(SEQUENCE).map_err(|e| e.to_string())?;
        let mut xr = In::new(x);
        let id = xr.take(OID).map_err(|e| e.to_string())?;
        let critical = if xr.peek() == Some(BOOLEAN) {
            match xr.take(BOOLEAN).map_err(|e| e.to_string())? {
                [0xff] => true,
                [0x00] => return Err("critical FALSE is encoded (DER omits the DEFAULT)".into()),
                _ => return Err("BOOLEAN is not DER".into()),
            }
        } else {
            false
        };
        let v = xr.take(OCTET_STRING).map_err(|e| e.to_string())?;
        if !xr.is_empty() {
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
                value.reason = match v {
                    [0x0a, 0x01, c] => RevocationReason::from_code(*c),
                    _ => None,
                }
                .ok_or("reasonCode is not a defined CRLReason")?;
            }
            Some(1) => {
                // InvalidityDate ::= GeneralizedTime.
                let d = GeneralizedTime::from_der(v).map_err(|e| format!("invalidityDate: {e}"))?;
                value.invalidity_date = Some(UnixTime::from_system(d.to_system_time()));
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
    fn the_der_reader_is_strict_for_crl_entries() {
        assert_eq!(
            In::new(&[0x02, 0x01, 0x05]).take(0x02).ok(),
            Some(&[5u8][..])
        );
        assert!(In::new(&[0x02, 0x80, 0x05, 0x00, 0x00]).tlv().is_err());
        assert!(In::new(&[0x02, 0x81, 0x01, 0x05]).tlv().is_err());
        assert!(In::new(&[0x02, 0x82, 0x00, 0x81]).tlv().is_err());
        assert!(In::new(&[0x02, 0x02, 0x05]).tlv().is_err());
        assert!(In::new(&[0x1f, 0x01, 0x00]).tlv().is_err());
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend([0u8; 0x80]);
        assert_eq!(In::new(&long).take(0x04).map(<[u8]>::len).ok(), Some(0x80));
    }

    const UTC_TIME: u8 = 0x17;
    const GENERALIZED_TIME: u8 = 0x18;

    #[test]
    fn times_follow_rfc_5280() {
        assert_eq!(
            x509_time(UTC_TIME, b"250601000000Z"),
            Ok(UnixTime(1_748_736_000))
        );
        assert_eq!(
            x509_time(UTC_TIME, b"900101000000Z"),
            Ok(UnixTime(631_152_000))
        );
        // UTCTime 50 is 1950 (RFC 5280 4.1.2.5.1).
        assert_eq!(
            x509_time(UTC_TIME, b"500101000000Z"),
            Ok(UnixTime(-631_152_000))
        );
        assert_eq!(
            x509_time(GENERALIZED_TIME, b"20500101000000Z"),
            Ok(UnixTime(2_524_608_000))
        );
        for bad in [
            &b"2506010000Z"[..],
            b"250601000000+0100",
            b"250631000000Z",
            b"25060100000aZ",
        ] {
            assert!(x509_time(UTC_TIME, bad).is_err(), "{bad:?}");
        }
        assert!(x509_time(0x04, b"250601000000Z").is_err());
    }

    #[cfg(feature = "test-ca")]
    #[test]
    fn names_are_found_inside_the_certificate() {
        use der::Encode;
        let root = crate::testing::TestCa::root("CN=Names Root,O=Example,C=MA");
        let leaf = root.leaf("CN=leaf.example.ma", |_| {});
        let cert = crate::cert::Cert::from_der(leaf.cert_der()).unwrap();
        let (issuer, subject) = cert_names_der(&cert).unwrap();
        assert_eq!(issuer, cert.issuer().to_der().unwrap().as_slice());
        assert_eq!(subject, cert.subject().to_der().unwrap().as_slice());
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
