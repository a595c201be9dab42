//! OCSP fixtures shared by the OCSP, revocation-policy and result-cache
//! tests: a CA, a leaf, a delegated responder, and responses signed through
//! the responder code (`pki_core::ocsp::build_response`) with test keys.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::SystemTime;

use pki_core::ocsp::{
    build_response, CertId, CertStatus, HashAlgorithm, IssuerHashes, ResponderIdentity,
    SingleStatus,
};
use pki_core::revocation::RevocationReason;
use pki_core::testing::{utc, TestCa};
use pki_core::{oid, Cert, Signer, UnixTime};

pub fn cert(ca: &TestCa) -> Arc<Cert> {
    Arc::new(Cert::from_der(ca.cert_der()).expect("test CA output decodes"))
}

pub fn time(s: &str) -> UnixTime {
    UnixTime::parse_rfc3339(s).expect("time")
}

pub struct Pki {
    pub ca: TestCa,
    pub leaf: TestCa,
    /// Issued by `ca` with id-kp-OCSPSigning.
    pub responder: TestCa,
}

impl Pki {
    pub fn new() -> Self {
        let ca = TestCa::root("CN=CNIE CA,O=DGSN,C=MA");
        let leaf = ca.leaf("CN=citizen.example.ma", |_| {});
        let responder = ca.leaf("CN=CNIE OCSP Responder,C=MA", |t| {
            t.extended_key_usage = vec![oid::KP_OCSP_SIGNING];
        });
        Self {
            ca,
            leaf,
            responder,
        }
    }

    pub fn ca_cert(&self) -> Arc<Cert> {
        cert(&self.ca)
    }

    pub fn leaf_cert(&self) -> Arc<Cert> {
        cert(&self.leaf)
    }

    pub fn cert_id(&self, alg: HashAlgorithm) -> CertId {
        self.cert_id_of(&self.leaf, alg)
    }

    pub fn cert_id_of(&self, subject: &TestCa, alg: HashAlgorithm) -> CertId {
        IssuerHashes::from_certificate_der(self.ca.cert_der())
            .expect("issuer hashes")
            .cert_id(alg, subject.serial())
            .expect("CertID")
    }

    /// What to answer; defaults: good, thisUpdate = producedAt =
    /// 2030-01-01, nextUpdate 2030-01-08, no nonce, signed by the CA.
    pub fn answer(&self) -> Answer<'_> {
        Answer {
            pki: self,
            cert_id: self.cert_id(HashAlgorithm::Sha256),
            status: CertStatus::Good,
            this_update: utc(2030, 1, 1),
            next_update: Some(utc(2030, 1, 8)),
            produced_at: utc(2030, 1, 1),
            nonce: None,
            signer: Who::Ca,
        }
    }
}

/// Who signs a response.
pub enum Who<'a> {
    /// The CA's own key, responderID = its key hash.
    Ca,
    /// The responder certificate (sent in `certs`) and its key.
    Delegate(&'a TestCa),
    /// Any key, naming itself by key hash, no certificate.
    Key(&'a dyn Signer),
}

pub struct Answer<'a> {
    pki: &'a Pki,
    pub cert_id: CertId,
    pub status: CertStatus,
    pub this_update: SystemTime,
    pub next_update: Option<SystemTime>,
    pub produced_at: SystemTime,
    pub nonce: Option<Vec<u8>>,
    pub signer: Who<'a>,
}

impl Answer<'_> {
    pub fn revoked(mut self, at: SystemTime, reason: RevocationReason) -> Self {
        self.status = CertStatus::Revoked {
            revoked_at: at,
            reason: Some(reason),
        };
        self
    }

    pub fn signed(self) -> Vec<u8> {
        let (identity, key): (ResponderIdentity, &dyn Signer) = match self.signer {
            Who::Ca => (
                ResponderIdentity::issuer_key(self.pki.ca.key()),
                self.pki.ca.key(),
            ),
            Who::Delegate(d) => (
                ResponderIdentity::delegated(d.cert_der(), d.key()).expect("identity"),
                d.key(),
            ),
            Who::Key(k) => (ResponderIdentity::issuer_key(k), k),
        };
        build_response(
            &identity,
            &[SingleStatus {
                cert_id: self.cert_id,
                status: self.status,
                this_update: self.this_update,
                next_update: self.next_update,
            }],
            self.produced_at,
            self.nonce.as_deref(),
            key,
        )
        .expect("response builds")
    }
}
