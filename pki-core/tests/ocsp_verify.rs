//! OCSP client checks (RFC 6960 3.2, 4.2.2): requests, and responses from
//! the real response builder signed with test keys, accepted or refused
//! with the precise error.

mod ocsp_support;

use ocsp_support::{cert, time, Pki, Who};
use pki_core::ocsp::verify::{Nonce, OcspStatus, RequestOptions, ResponseSigner};
use pki_core::ocsp::{
    parse_request, verify_response, CertStatus, HashAlgorithm, IssuerHashes, OcspError,
    OcspRequest, RequestLimits, ResponseStatus, VerifyOptions,
};
use pki_core::revocation::{RevocationReason, RevocationStatus};
use pki_core::testing::{utc, KeyAlgorithm, SoftwareKey, TestCa};
use pki_core::{oid, UnixTime};

fn at(s: &str) -> VerifyOptions {
    VerifyOptions::at(time(s))
}

fn verify(pki: &Pki, der: &[u8], opts: &VerifyOptions) -> Result<OcspStatus, OcspError> {
    verify_response(der, &pki.leaf_cert(), &pki.ca_cert(), None, opts).map(|r| r.status)
}

#[test]
fn request_uses_a_sha256_cert_id_by_default_and_sha1_on_demand() {
    let pki = Pki::new();
    let (leaf, ca) = (pki.leaf_cert(), pki.ca_cert());
    let issuer = IssuerHashes::from_certificate_der(pki.ca.cert_der()).expect("hashes");
    let req = OcspRequest::new(&leaf, &ca, &RequestOptions::default()).expect("request");
    let parsed = parse_request(req.der(), &RequestLimits::default()).expect("parses");
    assert_eq!(parsed.certs.len(), 1);
    assert_eq!(parsed.certs[0].hash, HashAlgorithm::Sha256);
    assert_eq!(issuer.matches(req.cert_id()), Some(HashAlgorithm::Sha256));
    assert_eq!(req.cert_id().serial_number.as_bytes(), pki.leaf.serial());
    assert_eq!(parsed.nonce, None);

    let opts = RequestOptions {
        hash: HashAlgorithm::Sha1,
        nonce: Nonce::Random,
    };
    let req = OcspRequest::new(&leaf, &ca, &opts).expect("request");
    let parsed = parse_request(req.der(), &RequestLimits::default()).expect("parses");
    assert_eq!(parsed.certs[0].hash, HashAlgorithm::Sha1);
    assert_eq!(parsed.nonce.as_deref(), req.nonce());
    assert_eq!(req.nonce().map(<[u8]>::len), Some(32));
    let again = OcspRequest::new(&leaf, &ca, &opts).expect("request");
    assert_ne!(again.nonce(), req.nonce(), "random nonces differ");

    let too_long = RequestOptions {
        nonce: Nonce::Given(vec![1; 33]),
        ..RequestOptions::default()
    };
    assert!(matches!(
        OcspRequest::new(&leaf, &ca, &too_long),
        Err(OcspError::Request(_))
    ));
}

#[test]
fn response_signed_by_the_ca_is_accepted() {
    let pki = Pki::new();
    let der = pki.answer().signed();
    let r = verify_response(
        &der,
        &pki.leaf_cert(),
        &pki.ca_cert(),
        None,
        &at("2030-01-02T00:00:00Z"),
    )
    .expect("accepted");
    assert_eq!(r.status, OcspStatus::Good);
    assert_eq!(r.signer, ResponseSigner::Issuer);
    assert_eq!(r.hash, HashAlgorithm::Sha256);
    assert_eq!(r.this_update, time("2030-01-01T00:00:00Z"));
    assert_eq!(r.produced_at, time("2030-01-01T00:00:00Z"));
    assert_eq!(r.next_update, Some(time("2030-01-08T00:00:00Z")));
    assert_eq!(r.valid_until, time("2030-01-08T00:00:00Z"));
}

#[test]
fn response_signed_by_a_delegated_responder_is_accepted() {
    let pki = Pki::new();
    let mut a = pki.answer();
    a.signer = Who::Delegate(&pki.responder);
    a.cert_id = pki.cert_id(HashAlgorithm::Sha1);
    let r = verify_response(
        &a.signed(),
        &pki.leaf_cert(),
        &pki.ca_cert(),
        None,
        &at("2030-01-02T00:00:00Z"),
    )
    .expect("accepted");
    assert_eq!(r.hash, HashAlgorithm::Sha1);
    assert_eq!(
        r.signer,
        ResponseSigner::Delegated {
            fingerprint: *cert(&pki.responder).fingerprint(),
            subject: "CN=CNIE OCSP Responder,C=MA".into(),
        }
    );
}

#[test]
fn revoked_status_carries_reason_and_date() {
    let pki = Pki::new();
    let der = pki
        .answer()
        .revoked(utc(2029, 12, 1), RevocationReason::KeyCompromise)
        .signed();
    let r = verify_response(
        &der,
        &pki.leaf_cert(),
        &pki.ca_cert(),
        None,
        &at("2030-01-02T00:00:00Z"),
    )
    .expect("accepted");
    assert_eq!(
        r.status,
        OcspStatus::Revoked {
            revoked_at: time("2029-12-01T00:00:00Z"),
            reason: RevocationReason::KeyCompromise,
        }
    );
    assert!(matches!(
        r.revocation_status(time("2030-01-02T00:00:00Z")),
        RevocationStatus::Revoked {
            reason: RevocationReason::KeyCompromise,
            ..
        }
    ));
}

#[test]
fn response_signed_by_an_unrelated_key_is_rejected() {
    let pki = Pki::new();
    let stranger = SoftwareKey::generate(KeyAlgorithm::EcdsaP256);
    let mut a = pki.answer();
    a.signer = Who::Key(&stranger);
    assert!(matches!(
        verify(&pki, &a.signed(), &at("2030-01-02T00:00:00Z")),
        Err(OcspError::UnknownResponder { responder }) if responder.starts_with("byKey ")
    ));
}

#[test]
fn delegate_of_another_ca_is_rejected() {
    let pki = Pki::new();
    // Same CA name, other key: the name matches, the signature cannot.
    let impostor_ca = TestCa::root("CN=CNIE CA,O=DGSN,C=MA");
    let impostor = impostor_ca.leaf("CN=CNIE OCSP Responder,C=MA", |t| {
        t.extended_key_usage = vec![oid::KP_OCSP_SIGNING];
    });
    let mut a = pki.answer();
    a.signer = Who::Delegate(&impostor);
    assert_eq!(
        verify(&pki, &a.signed(), &at("2030-01-02T00:00:00Z")),
        Err(OcspError::ResponderNotIssuedByCa {
            subject: "CN=CNIE OCSP Responder,C=MA".into(),
            reason: "its signature does not verify under the CA's key",
        })
    );

    let other_ca = TestCa::root("CN=Other CA,C=MA");
    let other = other_ca.leaf("CN=Other OCSP,C=MA", |t| {
        t.extended_key_usage = vec![oid::KP_OCSP_SIGNING];
    });
    let mut a = pki.answer();
    a.signer = Who::Delegate(&other);
    assert!(matches!(
        verify(&pki, &a.signed(), &at("2030-01-02T00:00:00Z")),
        Err(OcspError::ResponderNotIssuedByCa {
            reason: "its issuer name is not the CA's subject",
            ..
        })
    ));
}

#[test]
fn delegate_without_ocsp_signing_is_rejected() {
    let pki = Pki::new();
    // A perfectly valid TLS certificate of the same CA is not an OCSP signer.
    let mut a = pki.answer();
    let leaf = pki.leaf.clone();
    a.signer = Who::Delegate(&leaf);
    assert_eq!(
        verify(&pki, &a.signed(), &at("2030-01-02T00:00:00Z")),
        Err(OcspError::ResponderNotAuthorized {
            subject: "CN=citizen.example.ma".into()
        })
    );
}

#[test]
fn delegate_key_usage_and_validity_are_checked() {
    let pki = Pki::new();
    let no_sig = pki.ca.leaf("CN=OCSP NR,C=MA", |t| {
        t.extended_key_usage = vec![oid::KP_OCSP_SIGNING];
        t.key_usage = Some(pki_core::builder::KeyUsageSpec::new(
            x509_cert::ext::pkix::KeyUsages::NonRepudiation,
        ));
    });
    let mut a = pki.answer();
    a.signer = Who::Delegate(&no_sig);
    assert!(matches!(
        verify(&pki, &a.signed(), &at("2030-01-02T00:00:00Z")),
        Err(OcspError::ResponderKeyUsage { .. })
    ));

    let expired = pki.ca.leaf("CN=OCSP Old,C=MA", |t| {
        t.extended_key_usage = vec![oid::KP_OCSP_SIGNING];
        t.not_after = utc(2029, 1, 1);
    });
    let mut a = pki.answer();
    a.signer = Who::Delegate(&expired);
    assert_eq!(
        verify(&pki, &a.signed(), &at("2030-01-02T00:00:00Z")),
        Err(OcspError::ResponderNotValid {
            subject: "CN=OCSP Old,C=MA".into(),
            time: time("2030-01-02T00:00:00Z"),
            not_before: time("2020-01-01T00:00:00Z"),
            not_after: time("2029-01-01T00:00:00Z"),
        })
    );
}

#[test]
fn tampered_response_fails_the_signature_check() {
    let pki = Pki::new();
    let der = pki.answer().signed();
    // Flip the last octet: the signature value's.
    let mut bad = der.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    let err = verify(&pki, &bad, &at("2030-01-02T00:00:00Z")).expect_err("refused");
    assert!(
        matches!(
            err,
            OcspError::SignatureInvalid { .. } | OcspError::Malformed(_)
        ),
        "{err:?}"
    );
    // Flip an octet inside producedAt: DER stays valid, the signature does not.
    let produced = b"20300101000000Z";
    let pos = der
        .windows(produced.len())
        .position(|w| w == produced)
        .expect("producedAt in the DER");
    let mut bad = der;
    bad[pos + 3] = b'1'; // 2031
    assert_eq!(
        verify(&pki, &bad, &at("2032-01-02T00:00:00Z")),
        Err(OcspError::SignatureInvalid {
            signer: "CN=CNIE CA,O=DGSN,C=MA".into()
        })
    );
}

#[test]
fn stale_response_is_refused() {
    let pki = Pki::new();
    let der = pki.answer().signed();
    let next = time("2030-01-08T00:00:00Z");
    let mut opts = VerifyOptions::at(UnixTime(next.0 + 86_400));
    assert_eq!(
        verify(&pki, &der, &opts),
        Err(OcspError::Stale {
            next_update: next,
            time: opts.time,
            skew: 300,
        })
    );
    // Within the clock-skew tolerance it still passes; one second past, not.
    opts.time = UnixTime(next.0 + 300);
    assert_eq!(verify(&pki, &der, &opts), Ok(OcspStatus::Good));
    opts.time = UnixTime(next.0 + 301);
    assert!(matches!(
        verify(&pki, &der, &opts),
        Err(OcspError::Stale { .. })
    ));
    opts.clock_skew = 0;
    opts.time = UnixTime(next.0 + 1);
    assert!(matches!(
        verify(&pki, &der, &opts),
        Err(OcspError::Stale { .. })
    ));
}

#[test]
fn response_from_the_future_is_refused_beyond_the_skew() {
    let pki = Pki::new();
    let der = pki.answer().signed();
    let this = time("2030-01-01T00:00:00Z");
    let mut opts = VerifyOptions::at(UnixTime(this.0 - 300));
    assert_eq!(verify(&pki, &der, &opts), Ok(OcspStatus::Good));
    opts.time = UnixTime(this.0 - 301);
    assert_eq!(
        verify(&pki, &der, &opts),
        Err(OcspError::NotYetValid {
            field: "thisUpdate",
            value: this,
            time: opts.time,
            skew: 300,
        })
    );
    // producedAt in the future, thisUpdate not.
    let mut a = pki.answer();
    a.produced_at = utc(2030, 1, 5);
    assert!(matches!(
        verify(&pki, &a.signed(), &at("2030-01-02T00:00:00Z")),
        Err(OcspError::NotYetValid {
            field: "producedAt",
            ..
        })
    ));
}

#[test]
fn response_without_next_update_needs_a_maximum_age() {
    let pki = Pki::new();
    let mut a = pki.answer();
    a.next_update = None;
    let der = a.signed();
    let mut opts = at("2030-01-01T01:00:00Z");
    assert_eq!(verify(&pki, &der, &opts), Err(OcspError::NoNextUpdate));
    opts.max_age = Some(3600);
    let r = verify_response(&der, &pki.leaf_cert(), &pki.ca_cert(), None, &opts).expect("ok");
    assert_eq!(r.valid_until, time("2030-01-01T01:00:00Z"));
    opts.time = time("2030-01-01T01:00:01Z");
    assert_eq!(
        verify(&pki, &der, &opts),
        Err(OcspError::TooOld {
            this_update: time("2030-01-01T00:00:00Z"),
            max_age: 3600,
            time: opts.time,
        })
    );
}

#[test]
fn nonce_must_be_echoed() {
    let pki = Pki::new();
    let (leaf, ca) = (pki.leaf_cert(), pki.ca_cert());
    let req = OcspRequest::new(
        &leaf,
        &ca,
        &RequestOptions {
            nonce: Nonce::Given(vec![0x5a; 16]),
            ..RequestOptions::default()
        },
    )
    .expect("request");
    let opts = at("2030-01-02T00:00:00Z");

    let mut a = pki.answer();
    a.nonce = Some(vec![0x5a; 16]);
    assert!(req.verify_response(&a.signed(), &leaf, &ca, &opts).is_ok());

    let mut a = pki.answer();
    a.nonce = Some(vec![0x5b; 16]);
    assert_eq!(
        req.verify_response(&a.signed(), &leaf, &ca, &opts),
        Err(OcspError::NonceMismatch)
    );
    assert_eq!(
        req.verify_response(&pki.answer().signed(), &leaf, &ca, &opts),
        Err(OcspError::NonceMissing)
    );
}

#[test]
fn response_about_another_certificate_is_refused() {
    let pki = Pki::new();
    let other = pki.ca.leaf("CN=other.example.ma", |_| {});
    let mut a = pki.answer();
    a.cert_id = pki.cert_id_of(&other, HashAlgorithm::Sha256);
    assert!(matches!(
        verify(&pki, &a.signed(), &at("2030-01-02T00:00:00Z")),
        Err(OcspError::CertIdNotFound { .. })
    ));
    // The request remembers its certificate.
    let (leaf, ca) = (pki.leaf_cert(), pki.ca_cert());
    let req = OcspRequest::new(&leaf, &ca, &RequestOptions::default()).expect("request");
    assert!(matches!(
        req.verify_response(
            &pki.answer().signed(),
            &cert(&other),
            &ca,
            &at("2030-01-02T00:00:00Z")
        ),
        Err(OcspError::Request(_))
    ));
}

#[test]
fn unsuccessful_statuses_are_reported() {
    let pki = Pki::new();
    for s in [
        ResponseStatus::MalformedRequest,
        ResponseStatus::InternalError,
        ResponseStatus::TryLater,
        ResponseStatus::SigRequired,
        ResponseStatus::Unauthorized,
    ] {
        assert_eq!(
            verify(&pki, &s.unsigned_response(), &at("2030-01-02T00:00:00Z")),
            Err(OcspError::Unsuccessful(s))
        );
    }
}

#[test]
fn unknown_status_is_not_good() {
    let pki = Pki::new();
    let mut a = pki.answer();
    a.status = CertStatus::Unknown;
    let r = verify_response(
        &a.signed(),
        &pki.leaf_cert(),
        &pki.ca_cert(),
        None,
        &at("2030-01-02T00:00:00Z"),
    )
    .expect("verifies");
    assert_eq!(r.status, OcspStatus::Unknown);
    assert!(matches!(
        r.revocation_status(time("2030-01-02T00:00:00Z")),
        RevocationStatus::Unknown { .. }
    ));
}

#[test]
fn oversized_and_malformed_input_gets_an_error_not_a_panic() {
    let pki = Pki::new();
    let der = pki.answer().signed();
    let mut opts = at("2030-01-02T00:00:00Z");
    opts.max_size = der.len() - 1;
    assert_eq!(
        verify(&pki, &der, &opts),
        Err(OcspError::TooLarge {
            size: der.len(),
            limit: der.len() - 1,
        })
    );
    let opts = at("2030-01-02T00:00:00Z");
    for len in 0..der.len() {
        assert!(verify(&pki, &der[..len], &opts).is_err(), "prefix {len}");
    }
    let mut trailing = der.clone();
    trailing.push(0);
    assert!(matches!(
        verify(&pki, &trailing, &opts),
        Err(OcspError::Malformed(_))
    ));
    for garbage in [&b""[..], b"\x30", b"\x30\x80\x00\x00", &[0xff; 40]] {
        assert!(matches!(
            verify(&pki, garbage, &opts),
            Err(OcspError::Malformed(_))
        ));
    }
}

#[test]
fn mutated_responses_never_panic_and_never_change_the_answer() {
    // Every single-octet change of a delegated-responder response (the
    // largest kind: it carries a certificate). A mutation may leave it
    // acceptable only where the signature does not reach (the signer's
    // certificate encoding, the outer wrapping) and then the answer must
    // be the original one.
    let pki = Pki::new();
    let mut a = pki.answer();
    a.signer = Who::Delegate(&pki.responder);
    let der = a.signed();
    let opts = at("2030-01-02T00:00:00Z");
    let original = verify(&pki, &der, &opts).expect("original verifies");
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut accepted = 0usize;
    for i in 0..der.len() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut m = der.clone();
        m[i] ^= (state as u8) | 1;
        if let Ok(status) = verify(&pki, &m, &opts) {
            assert_eq!(status, original, "octet {i}");
            accepted += 1;
        }
    }
    assert!(
        accepted < der.len() / 4,
        "{accepted} of {} accepted",
        der.len()
    );
}

#[test]
fn responder_urls_come_from_the_aia() {
    let pki = Pki::new();
    assert!(pki_core::ocsp::verify::responder_urls(&pki.leaf_cert()).is_empty());
    let leaf = pki.ca.leaf("CN=aia.example.ma", |t| {
        t.ocsp_urls = vec![
            "http://ocsp.cnie.ma/".into(),
            "http://ocsp2.cnie.ma/".into(),
        ];
        t.ca_issuers_urls = vec!["http://pki.cnie.ma/ca.crt".into()];
    });
    assert_eq!(
        pki_core::ocsp::verify::responder_urls(&cert(&leaf)),
        ["http://ocsp.cnie.ma/", "http://ocsp2.cnie.ma/"]
    );
}
