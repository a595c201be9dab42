//! Key generation, lookup, protection and signing against SoftHSM2.

// Test helpers outside #[test] functions unwrap too.
#![allow(clippy::unwrap_used)]

mod common;

use cryptoki::object::{Attribute, AttributeInfo, AttributeType, ObjectClass};
use cryptoki::session::UserType;
use der::{Decode, Encode};
use hsm::{
    cryptoki, HsmError, KeyId, KeyLabel, KeyType, Pin, PoolConfig, SessionPool, SignatureAlgorithm,
};
use pki_core::Signer;
use spki::SubjectPublicKeyInfoOwned;

fn label(s: &str) -> KeyLabel {
    KeyLabel::new(s).unwrap()
}

#[test]
fn every_key_type_signs_and_aws_lc_verifies() {
    let pool = common::pool("every-type", 1);
    let tbs = b"to-be-signed: the DER of a TBSCertificate would go here";
    for key_type in KeyType::ALL {
        let key = pool
            .generate_key(&label(&format!("key-{key_type}")), key_type)
            .unwrap();
        assert_eq!(key.key_type, key_type);
        // CKA_ID is the RFC 5280 method (1) key identifier.
        assert_eq!(key.id, key.subject_key_identifier());
        assert_eq!(key.id.as_bytes().len(), 20);
        // The exported SPKI is valid DER that round-trips.
        let spki = SubjectPublicKeyInfoOwned::from_der(&key.spki_der()).unwrap();
        assert_eq!(spki.to_der().unwrap(), key.spki_der());
        pki_core::signature::PublicKey::from_spki(&spki).unwrap();

        for algorithm in common::algorithms(key_type) {
            let signer = pool.signer_with(key.clone(), algorithm).unwrap();
            assert_eq!(Signer::algorithm(&signer), algorithm.identifier());
            assert_eq!(Signer::public_key(&signer), key.spki);
            let signature = Signer::sign(&signer, tbs).unwrap();
            common::verify(&key.spki, key_type, algorithm, tbs, &signature);
        }
        // The default algorithm fits the key.
        let signer = pool.signer(key.clone()).unwrap();
        let signature = signer.try_sign(tbs).unwrap();
        common::verify(
            &key.spki,
            key_type,
            SignatureAlgorithm::default_for(key_type),
            tbs,
            &signature,
        );
    }
}

#[test]
fn keys_are_found_by_label_and_by_id() {
    let pool = common::pool("lookup", 1);
    let made = pool.generate_key(&label("ocsp"), KeyType::EcP256).unwrap();
    assert_eq!(pool.find_key(&label("ocsp")).unwrap(), made);
    assert_eq!(pool.find_key_by_id(&made.id).unwrap(), made);
    assert!(matches!(
        pool.find_key(&label("absent")),
        Err(HsmError::KeyNotFound { .. })
    ));
    assert!(matches!(
        pool.find_key_by_id(&KeyId::new([1, 2, 3])),
        Err(HsmError::KeyNotFound { .. })
    ));
    // A second pool (another process would be the same) sees the token key.
    let again = SessionPool::new(
        pool.hsm(),
        pool.token().clone(),
        common::user_pin(),
        PoolConfig::default(),
    )
    .unwrap();
    assert_eq!(again.find_key(&label("ocsp")).unwrap(), made);
}

#[test]
fn duplicate_labels_are_refused() {
    let pool = common::pool("duplicates", 1);
    pool.generate_key(&label("root-2025"), KeyType::EcP384)
        .unwrap();
    let err = pool
        .generate_key(&label("root-2025"), KeyType::Ed25519)
        .unwrap_err();
    assert!(
        matches!(&err, HsmError::KeyLabelExists { label, .. } if label.as_str() == "root-2025"),
        "{err:?}"
    );
    assert!(pool.find_key(&label("root-2025")).is_ok());
}

#[test]
fn private_key_cannot_be_read_out() {
    let pool = common::pool("non-extractable", 1);
    for key_type in [KeyType::EcP256, KeyType::Rsa3072, KeyType::Ed25519] {
        let key = pool
            .generate_key(&label(&format!("secret-{key_type}")), key_type)
            .unwrap();
        let protection = pool.key_protection(&key).unwrap();
        assert!(protection.sensitive, "{key_type}: {protection:?}");
        assert!(!protection.extractable, "{key_type}: {protection:?}");
        assert!(protection.always_sensitive, "{key_type}: {protection:?}");
        assert!(protection.never_extractable, "{key_type}: {protection:?}");
        assert!(!protection.value_readable, "{key_type}: {protection:?}");
    }

    // The same through raw PKCS#11, bypassing the crate's own reading.
    let hsm = pool.hsm();
    let pkcs11 = hsm.pkcs11();
    let slot = pkcs11
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| pkcs11.get_token_info(*s).unwrap().label() == "non-extractable")
        .unwrap();
    let session = pkcs11.open_ro_session(slot).unwrap();
    match session.login(UserType::User, Some(&common::user_pin_auth())) {
        Ok(())
        | Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::UserAlreadyLoggedIn, _)) => {
        }
        Err(e) => panic!("{e}"),
    }
    let keys = session
        .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
        .unwrap();
    assert_eq!(keys.len(), 3);
    for key in keys {
        // C_GetAttributeValue on the secret answers CKR_ATTRIBUTE_SENSITIVE.
        let info = session
            .get_attribute_info(key, &[AttributeType::Value, AttributeType::PrivateExponent])
            .unwrap();
        assert!(
            info.iter()
                .all(|i| matches!(i, AttributeInfo::Sensitive | AttributeInfo::TypeInvalid)),
            "{info:?}"
        );
        // EC and EdDSA keys hold CKA_VALUE, RSA keys CKA_PRIVATE_EXPONENT.
        assert!(
            info.iter().any(|i| matches!(i, AttributeInfo::Sensitive)),
            "{info:?}"
        );
        let attrs = session
            .get_attributes(key, &[AttributeType::Extractable, AttributeType::Value])
            .unwrap();
        assert_eq!(attrs.len(), 1, "only CKA_EXTRACTABLE comes back: {attrs:?}");
        assert!(matches!(attrs[0], Attribute::Extractable(false)));
    }
}

#[test]
fn wrong_pin_is_a_clear_error() {
    let label = common::token("wrong-pin");
    let hsm = common::softhsm().hsm();
    let err = SessionPool::new(
        hsm,
        label.clone(),
        Pin::new("not-the-pin").unwrap(),
        PoolConfig::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, HsmError::WrongPin { label: l } if *l == label),
        "{err:?}"
    );
    let message = err.to_string();
    assert_eq!(message, "wrong user PIN for token \"wrong-pin\"");
    assert!(!format!("{err:?}").contains("not-the-pin"));
    // The right PIN still works afterwards.
    SessionPool::new(hsm, label, common::user_pin(), PoolConfig::default()).unwrap();
}

#[test]
fn unknown_token_is_a_clear_error() {
    let hsm = common::softhsm().hsm();
    let err = SessionPool::new(
        hsm,
        hsm::TokenLabel::new("no-such-token").unwrap(),
        common::user_pin(),
        PoolConfig::default(),
    )
    .unwrap_err();
    assert!(matches!(err, HsmError::TokenNotFound { .. }), "{err:?}");
}

#[test]
fn algorithm_must_fit_the_key() {
    let pool = common::pool("mismatch", 1);
    let key = pool.generate_key(&label("ec"), KeyType::EcP256).unwrap();
    let err = pool
        .signer_with(key, SignatureAlgorithm::RsaPss(hsm::Hash::Sha256))
        .unwrap_err();
    assert!(matches!(err, HsmError::AlgorithmMismatch { .. }), "{err:?}");
}

#[test]
fn two_keys_with_one_label_are_refused_never_picked() {
    let pool = common::pool("ambiguous", 1);
    let first = pool.generate_key(&label("ocsp"), KeyType::EcP256).unwrap();
    let second = pool.generate_key(&label("spare"), KeyType::EcP256).unwrap();
    assert_eq!(pool.find_key(&label("ocsp")).unwrap(), first);
    // Someone relabels the spare key with raw PKCS#11 (generate_key itself
    // refuses a taken label): two private keys now answer to "ocsp".
    let pkcs11 = pool.hsm().pkcs11();
    let session = pkcs11
        .open_rw_session(common::slot_of("ambiguous"))
        .unwrap();
    match session.login(UserType::User, Some(&common::user_pin_auth())) {
        Ok(())
        | Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::UserAlreadyLoggedIn, _)) => {
        }
        Err(e) => panic!("{e}"),
    }
    let spare = session
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(second.id.as_bytes().to_vec()),
        ])
        .unwrap();
    assert_eq!(spare.len(), 1);
    session
        .update_attributes(spare[0], &[Attribute::Label(b"ocsp".to_vec())])
        .unwrap();

    let err = pool.find_key(&label("ocsp")).unwrap_err();
    assert!(
        matches!(
            &err,
            HsmError::KeyLabelAmbiguous { token, label }
                if token.as_str() == "ambiguous" && label.as_str() == "ocsp"
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "several keys labelled \"ocsp\" on token \"ambiguous\""
    );
    // By id each key is still found, and is itself.
    assert_eq!(pool.find_key_by_id(&first.id).unwrap().id, first.id);
    assert_eq!(pool.find_key_by_id(&second.id).unwrap().id, second.id);
}

/// Every `tracing` event, fields and all, as text.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<String>>);

impl tracing::field::Visit for &Captured {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write as _;
        let mut text = self.0.lock().unwrap();
        write!(text, " {}={value:?}", field.name()).unwrap();
    }
}

impl tracing::Subscriber for Captured {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        span.record(&mut &*self);
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        values.record(&mut &*self);
    }

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        event.record(&mut &*self);
        self.0.lock().unwrap().push('\n');
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

/// SoftHSM 2.6 never locks a PIN (30 wrong logins in a row, then the right
/// PIN still works; checked by hand), so `CKR_PIN_LOCKED` cannot be
/// provoked here: the pool's unit tests map it. What can be shown: every
/// refusal names the token, the PIN is in no error and no log line, and
/// the right PIN still works afterwards.
#[test]
fn repeated_wrong_pins_name_the_token_and_never_log_the_pin() {
    let token = common::token("pin-refused");
    let hsm = common::softhsm().hsm();
    let secret = "wrong-pin-31337";
    let logs = Captured::default();
    tracing::subscriber::with_default(logs.clone(), || {
        tracing::info!("capturing");
        for _ in 0..5 {
            let err = SessionPool::new(
                hsm,
                token.clone(),
                Pin::new(secret).unwrap(),
                PoolConfig::default(),
            )
            .unwrap_err();
            assert!(
                matches!(&err, HsmError::WrongPin { label } if *label == token),
                "{err:?}"
            );
            assert_eq!(err.to_string(), "wrong user PIN for token \"pin-refused\"");
            assert!(!format!("{err:?}").contains(secret));
        }
        SessionPool::new(
            hsm,
            token.clone(),
            common::user_pin(),
            PoolConfig::default(),
        )
        .unwrap();
    });
    let logs = logs.0.lock().unwrap().clone();
    assert!(logs.contains("capturing"), "the capture works: {logs}");
    assert!(!logs.contains(secret), "the PIN was logged: {logs}");
    assert!(
        !logs.contains(common::USER_PIN),
        "the PIN was logged: {logs}"
    );
}
