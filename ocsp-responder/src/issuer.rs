//! The CAs this responder answers for, each with the key that signs its
//! responses, and turning a status into ready-to-write response bytes.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::HeaderValue;
use pki_core::ocsp::{
    build_response_with, CertId, CertStatus, IssuerHashes, ResponderIdentity, ResponseError,
    ResponseExtensions, SingleStatus,
};
use pki_core::Signer;

/// One CA answered for.
pub struct Issuer {
    /// Position in the responder's issuer list (cache and status keys).
    pub index: u32,
    /// The CA's name in the store.
    pub name: String,
    pub ca: store::CaId,
    pub hashes: IssuerHashes,
    pub identity: ResponderIdentity,
    pub signer: Arc<dyn Signer>,
    /// notAfter of the CA and responder certificates (`/metrics`).
    pub expiry: crate::delegation::Expiry,
    /// DER of the delegated responder certificate (`None`: the CA key).
    pub responder_cert_der: Option<Vec<u8>>,
}

/// The issuers answered for, replaced whole on reload: a request or a
/// background round takes the list once ([`Issuers::current`]) and keeps
/// it to the end, whatever a reload swaps in meanwhile.
///
/// An issuer keeps its index across reloads (the same CA, the same index),
/// so the caches keyed by index stay right.
pub struct Issuers(std::sync::RwLock<Arc<Vec<Arc<Issuer>>>>);

impl Issuers {
    pub fn new(issuers: Vec<Arc<Issuer>>) -> Self {
        Self(std::sync::RwLock::new(Arc::new(issuers)))
    }

    /// The list now.
    pub fn current(&self) -> Arc<Vec<Arc<Issuer>>> {
        Arc::clone(
            &self
                .0
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Puts `issuers` in place of the current list; returns the old one.
    pub fn replace(&self, issuers: Vec<Arc<Issuer>>) -> Arc<Vec<Arc<Issuer>>> {
        let mut guard = self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::mem::replace(&mut *guard, Arc::new(issuers))
    }
}

impl fmt::Debug for Issuers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.current().iter()).finish()
    }
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("index", &self.index)
            .field("name", &self.name)
            .field("ca", &self.ca)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

/// The signer of a responder configured without an HSM (table mode): the
/// public key of its responder certificate, so that its identity is known,
/// and no private key: every signature fails as unavailable, which the
/// responder answers with `tryLater`.
#[derive(Debug, Clone)]
pub struct NoHsm {
    spki: spki::SubjectPublicKeyInfoOwned,
    algorithm: spki::AlgorithmIdentifierOwned,
}

impl NoHsm {
    /// From the certificate whose key would sign.
    pub fn for_certificate(der: &[u8]) -> Result<Self, der::Error> {
        let cert = <x509_cert::Certificate as der::Decode>::from_der(der)?;
        Ok(Self {
            spki: cert.tbs_certificate.subject_public_key_info,
            // Never used: nothing is signed.
            algorithm: cert.signature_algorithm,
        })
    }
}

impl pki_core::Signer for NoHsm {
    fn algorithm(&self) -> spki::AlgorithmIdentifierOwned {
        self.algorithm.clone()
    }

    fn public_key(&self) -> spki::SubjectPublicKeyInfoOwned {
        self.spki.clone()
    }

    fn sign(&self, _tbs: &[u8]) -> Result<Vec<u8>, pki_core::SignError> {
        Err(pki_core::SignError::Unavailable(
            "this responder has no HSM configured".into(),
        ))
    }
}

/// What goes into one signed response.
#[derive(Debug, Clone)]
pub struct Signing<'a> {
    pub entries: &'a [(CertId, CertStatus)],
    pub nonce: Option<&'a [u8]>,
    /// RFC 6960 4.4.8 extension (unissued serials answered `revoked`).
    pub extended_revoke: bool,
    pub validity: Duration,
    /// The response may be cached and served again (no nonce, one
    /// CertID); otherwise it is for one client and gets no ETag or Expires.
    pub cacheable: bool,
}

/// A signed response, ready to write with its HTTP cache headers.
///
/// One buffer holds it all: the DER, then thisUpdate and nextUpdate (Unix
/// seconds) and the ETag as the 16 digest octets it prints. Cloning shares
/// the buffer; the headers are formatted when a response is written (a
/// fraction of a microsecond). A cached response is then one allocation
/// beside its cache slot: at a million responses, hundreds of megabytes
/// less than keeping three header values and two `Arc`s (issue 17).
#[derive(Clone)]
pub struct Ready {
    buf: Bytes,
}

/// Offsets in the trailer after the DER in [`Ready`]'s buffer.
const THIS_UPDATE: usize = 0;
const NEXT_UPDATE: usize = 8;
const HAS_ETAG: usize = 16;
const ETAG: usize = 17;
const TRAILER: usize = 33;

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ready")
            .field("der_len", &(self.buf.len() - TRAILER))
            .field("this_update", &self.this_update())
            .field("next_update", &self.next_update())
            .finish_non_exhaustive()
    }
}

impl Ready {
    /// Still usable at `now` (before nextUpdate).
    pub fn fresh_at(&self, now: SystemTime) -> bool {
        now < self.next_update()
    }

    fn trailer(&self) -> &[u8] {
        &self.buf[self.buf.len() - TRAILER..]
    }

    /// The response's thisUpdate (whole seconds).
    pub fn this_update(&self) -> SystemTime {
        packed_time(&self.buf, THIS_UPDATE)
    }

    /// The response's nextUpdate (whole seconds).
    pub fn next_update(&self) -> SystemTime {
        packed_time(&self.buf, NEXT_UPDATE)
    }

    /// The one buffer: DER, then the trailer. A cache may keep it in a
    /// form of its own and give it back with [`Ready::from_packed`].
    pub fn packed(&self) -> &[u8] {
        &self.buf
    }

    /// A response from the buffer [`Ready::packed`] gave (shared, not
    /// copied). Anything else is refused: None.
    pub fn from_packed(buf: Bytes) -> Option<Self> {
        (buf.len() >= TRAILER && buf[buf.len() - TRAILER + HAS_ETAG] <= 1).then_some(Self { buf })
    }

    /// thisUpdate and nextUpdate of a [`Ready::packed`] buffer, without
    /// rebuilding the response.
    pub fn packed_times(packed: &[u8]) -> (SystemTime, SystemTime) {
        (
            packed_time(packed, THIS_UPDATE),
            packed_time(packed, NEXT_UPDATE),
        )
    }
}

/// The time at `at` in the trailer of a packed buffer (the epoch if the
/// buffer is too short to hold one: never for a buffer `Ready` made).
fn packed_time(packed: &[u8], at: usize) -> SystemTime {
    let start = packed.len().saturating_sub(TRAILER) + at;
    let secs = packed
        .get(start..start + 8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, u64::from_be_bytes);
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

impl Issuer {
    /// Builds and signs one response (blocking: the signer may be an HSM).
    pub fn sign(&self, what: &Signing<'_>) -> Result<Ready, ResponseError> {
        let now = whole_seconds(SystemTime::now());
        let next = now + what.validity;
        let singles: Vec<SingleStatus> = what
            .entries
            .iter()
            .map(|(id, status)| SingleStatus {
                cert_id: id.clone(),
                status: *status,
                this_update: now,
                next_update: Some(next),
            })
            .collect();
        let der = build_response_with(
            &self.identity,
            &singles,
            now,
            ResponseExtensions {
                nonce: what.nonce,
                extended_revoke: what.extended_revoke,
            },
            self.signer.as_ref(),
        )?;
        Ok(if what.cacheable {
            Ready::new(der, now, next)
        } else {
            Ready::for_one_client(der, now, next)
        })
    }
}

impl Ready {
    pub fn new(der: Vec<u8>, this_update: SystemTime, next_update: SystemTime) -> Self {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &der);
        let mut etag = [0u8; 16];
        etag.copy_from_slice(&digest.as_ref()[..16]);
        Self::pack(der, Some(etag), this_update, next_update)
    }

    /// A response for one client (it answers a nonce): sent with
    /// `no-store`, so it needs no ETag or Expires.
    pub fn for_one_client(der: Vec<u8>, this_update: SystemTime, next_update: SystemTime) -> Self {
        Self::pack(der, None, this_update, next_update)
    }

    fn pack(
        mut buf: Vec<u8>,
        etag: Option<[u8; 16]>,
        this_update: SystemTime,
        next_update: SystemTime,
    ) -> Self {
        let secs = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        };
        // Exact, so that the buffer is one allocation of the DER's size
        // plus the trailer.
        buf.reserve_exact(TRAILER);
        buf.extend_from_slice(&secs(this_update).to_be_bytes());
        buf.extend_from_slice(&secs(next_update).to_be_bytes());
        buf.push(u8::from(etag.is_some()));
        buf.extend_from_slice(&etag.unwrap_or_default());
        // A Vec with spare room would cost `Bytes` a second allocation.
        buf.shrink_to_fit();
        Self {
            buf: Bytes::from(buf),
        }
    }

    fn etag_digest(&self) -> Option<&[u8]> {
        let trailer = self.trailer();
        (trailer[HAS_ETAG] == 1).then(|| &trailer[ETAG..TRAILER])
    }

    /// The DER of the OCSPResponse (shared, not copied).
    pub fn der(&self) -> Bytes {
        self.buf.slice(..self.buf.len() - TRAILER)
    }

    /// `"` + first 16 bytes of SHA-256 of the DER in hex + `"`; empty for
    /// a response for one client.
    pub fn etag(&self) -> HeaderValue {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let Some(digest) = self.etag_digest() else {
            return HeaderValue::from_static("");
        };
        let mut text = [b'"'; 34];
        for (i, b) in digest.iter().enumerate() {
            text[1 + 2 * i] = HEX[usize::from(b >> 4)];
            text[2 + 2 * i] = HEX[usize::from(b & 15)];
        }
        header(&text)
    }

    /// RFC 9110 Last-Modified: thisUpdate.
    pub fn last_modified(&self) -> HeaderValue {
        header(http_date(self.this_update()).as_bytes())
    }

    /// RFC 9110 Expires: nextUpdate; empty for a response for one client.
    pub fn expires(&self) -> HeaderValue {
        if self.etag_digest().is_none() {
            return HeaderValue::from_static("");
        }
        header(http_date(self.next_update()).as_bytes())
    }
}

fn header(bytes: &[u8]) -> HeaderValue {
    // Invariant: ETags and HTTP dates are made of visible ASCII.
    HeaderValue::from_bytes(bytes).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

/// RFC 9110 5.6.7 IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(
            http_date(SystemTime::UNIX_EPOCH),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_709_164_800);
        assert_eq!(http_date(t), "Thu, 29 Feb 2024 00:00:00 GMT");
    }

    #[test]
    fn ready_keeps_der_times_and_etag_in_one_buffer() {
        let this = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        let next = this + Duration::from_secs(3600);
        let mut der = Vec::with_capacity(100);
        der.extend_from_slice(&[0x30, 0x03, 0x0a, 0x01, 0x00]);
        let ready = Ready::new(der.clone(), this, next);
        assert_eq!(&ready.der()[..], &der[..]);
        assert_eq!((ready.this_update(), ready.next_update()), (this, next));
        assert!(ready.fresh_at(this) && !ready.fresh_at(next));
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &der);
        let hex = pki_core::cert::hex(&digest.as_ref()[..16]).to_ascii_lowercase();
        assert_eq!(ready.etag(), format!("\"{hex}\"").as_str());
        assert_eq!(ready.last_modified(), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(ready.expires(), "Sun, 06 Nov 1994 09:49:37 GMT");
        // One allocation: the buffer has no spare room for `Bytes` to track.
        assert_eq!(ready.buf.len(), der.len() + TRAILER);

        let one = Ready::for_one_client(der.clone(), this, next);
        assert_eq!(&one.der()[..], &der[..]);
        assert!(one.etag().is_empty() && one.expires().is_empty());
        assert_eq!(one.last_modified(), "Sun, 06 Nov 1994 08:49:37 GMT");
    }
}
