//! RFC 6960 4.2.2.2 Authorized Responders: the checks a responder's signing
//! identity passes before it signs anything, at start and on every reload.
//!
//! A relying party accepts a response signed by a delegate only when the
//! delegate's certificate was issued by the CA the response is about and
//! carries id-kp-OCSPSigning; it must also be valid, and its key must be the
//! one the HSM signs with. A responder that signed with anything else would
//! report ready and then fail every client ("Response Verify Failure"), so
//! each check that fails refuses the start or the reload, named.

use std::fmt;

use der::Encode as _;
use pki_core::signature::{self, PublicKey, SignatureAlgorithm};
use pki_core::{AlgorithmPolicy, Cert, SignError, Signer, UnixTime};

/// What the probe signature is made over (never sent anywhere).
const PROBE: &[u8] = b"ocsp-responder key probe";

/// The check a responder certificate (or the CA key) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponderCheck {
    /// A certificate does not decode as X.509.
    Decode { what: &'static str, reason: String },
    /// RFC 6960 4.2.2.2: its issuer name is not the CA's subject.
    IssuerName { issuer: String, ca_subject: String },
    /// RFC 6960 4.2.2.2: its signature does not verify under the CA
    /// certificate's key.
    NotSignedByCa,
    /// RFC 6960 4.2.2.2: no id-kp-OCSPSigning in extendedKeyUsage.
    NoOcspSigning,
    /// RFC 5280 4.1.2.5: now is outside notBefore..notAfter.
    Validity {
        now: UnixTime,
        not_before: UnixTime,
        not_after: UnixTime,
    },
    /// The HSM key's public half is not the certificate's.
    KeyMismatch,
    /// A probe signed by the HSM key does not verify under the
    /// certificate's public key.
    ProbeFailed { reason: String },
}

impl fmt::Display for ResponderCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Decode { what, reason } => write!(f, "{what} does not decode: {reason}"),
            Self::IssuerName { issuer, ca_subject } => write!(
                f,
                "issuer check failed: the responder certificate's issuer {issuer:?} is not the CA {ca_subject:?}"
            ),
            Self::NotSignedByCa => f.write_str(
                "issuer check failed: the responder certificate's signature does not verify under the CA certificate",
            ),
            Self::NoOcspSigning => f.write_str(
                "extended key usage check failed: the responder certificate lacks id-kp-OCSPSigning",
            ),
            Self::Validity {
                now,
                not_before,
                not_after,
            } => write!(
                f,
                "validity check failed: the responder certificate is valid from {} to {}, it is {} now",
                not_before.0, not_after.0, now.0
            ),
            Self::KeyMismatch => f.write_str(
                "key check failed: the HSM key's public key is not the certificate's",
            ),
            Self::ProbeFailed { reason } => write!(
                f,
                "key check failed: a probe signed by the HSM key does not verify under the certificate's key: {reason}"
            ),
        }
    }
}

/// What the checks found about a valid identity: what `/metrics` exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    /// notAfter of the CA certificate.
    pub ca_not_after: UnixTime,
    /// notAfter of the delegated responder certificate, if any.
    pub responder_not_after: Option<UnixTime>,
}

/// Whether the sign-and-verify probe ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Verified,
    /// The signer cannot sign now (no HSM configured, or the HSM is
    /// unavailable); the public keys were compared only.
    Skipped(String),
}

/// Checks the identity that signs for the CA `ca_der`: the delegated
/// `responder_der` when given, else the CA certificate itself, against the
/// key `signer` holds, at `now`: [`check_certificate`], then
/// [`probe_key`].
pub fn check_identity(
    ca_der: &[u8],
    responder_der: Option<&[u8]>,
    signer: &dyn Signer,
    now: UnixTime,
) -> Result<(Expiry, Probe), ResponderCheck> {
    let expiry = check_certificate(ca_der, responder_der, signer, now)?;
    let probe = probe_key(ca_der, responder_der, signer)?;
    Ok((expiry, probe))
}

fn decode<'a>(what: &'static str) -> impl FnOnce(pki_core::Error) -> ResponderCheck + 'a {
    move |e| ResponderCheck::Decode {
        what,
        reason: e.to_string(),
    }
}

/// The certificate responses are signed under: the delegate, or the CA's.
fn signing_cert(ca_der: &[u8], responder_der: Option<&[u8]>) -> Result<Cert, ResponderCheck> {
    match responder_der {
        Some(der) => Cert::from_der(der).map_err(decode("the responder certificate")),
        None => Cert::from_der(ca_der).map_err(decode("the CA certificate")),
    }
}

/// Every check that needs no signature: issuer, extended key usage,
/// validity of the delegate, and the signer's public key against the
/// certificate's.
pub fn check_certificate(
    ca_der: &[u8],
    responder_der: Option<&[u8]>,
    signer: &dyn Signer,
    now: UnixTime,
) -> Result<Expiry, ResponderCheck> {
    let ca = Cert::from_der(ca_der).map_err(decode("the CA certificate"))?;
    let Some(der) = responder_der else {
        same_key(&ca, signer)?;
        return Ok(Expiry {
            ca_not_after: ca.not_after(),
            responder_not_after: None,
        });
    };
    let delegate = Cert::from_der(der).map_err(decode("the responder certificate"))?;
    if delegate.issuer_der() != ca.subject_der() {
        return Err(ResponderCheck::IssuerName {
            issuer: delegate.issuer_string(),
            ca_subject: ca.subject_string(),
        });
    }
    if delegate
        .verify_signed_by(&ca, AlgorithmPolicy::Default)
        .is_err()
    {
        return Err(ResponderCheck::NotSignedByCa);
    }
    let ocsp_signing = delegate
        .extensions()
        .ext_key_usage
        .as_ref()
        .is_some_and(|e| e.value.contains(&pki_core::oid::KP_OCSP_SIGNING));
    if !ocsp_signing {
        return Err(ResponderCheck::NoOcspSigning);
    }
    if now < delegate.not_before() || now > delegate.not_after() {
        return Err(ResponderCheck::Validity {
            now,
            not_before: delegate.not_before(),
            not_after: delegate.not_after(),
        });
    }
    same_key(&delegate, signer)?;
    Ok(Expiry {
        ca_not_after: ca.not_after(),
        responder_not_after: Some(delegate.not_after()),
    })
}

/// The signer's public key is `cert`'s.
fn same_key(cert: &Cert, signer: &dyn Signer) -> Result<(), ResponderCheck> {
    let spki = signer
        .public_key()
        .to_der()
        .map_err(|e| ResponderCheck::ProbeFailed {
            reason: format!("the signer's public key does not encode: {e}"),
        })?;
    if spki == cert.spki_der() {
        Ok(())
    } else {
        Err(ResponderCheck::KeyMismatch)
    }
}

/// Signs a probe with `signer` (through the HSM: blocking) and verifies it
/// under the key of the certificate responses are signed under.
pub fn probe_key(
    ca_der: &[u8],
    responder_der: Option<&[u8]>,
    signer: &dyn Signer,
) -> Result<Probe, ResponderCheck> {
    let cert = signing_cert(ca_der, responder_der)?;
    let signed = match signer.sign(PROBE) {
        Ok(s) => s,
        Err(SignError::Unavailable(reason)) => return Ok(Probe::Skipped(reason)),
        Err(e) => {
            return Err(ResponderCheck::ProbeFailed {
                reason: e.to_string(),
            })
        }
    };
    let failed = |e: pki_core::Error| ResponderCheck::ProbeFailed {
        reason: e.to_string(),
    };
    let alg = SignatureAlgorithm::from_identifier(&signer.algorithm()).map_err(failed)?;
    let key = PublicKey::from_spki_der(cert.spki_der()).map_err(failed)?;
    signature::verify(alg, &key, None, AlgorithmPolicy::Default, PROBE, &signed).map_err(failed)?;
    Ok(Probe::Verified)
}
