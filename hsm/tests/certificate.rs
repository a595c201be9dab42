//! Certificates signed through the HSM, checked by `openssl verify`.
//!
//! One chain is assembled by hand with `x509-cert` (so the test does not
//! depend on pki-core's builder), one with `pki_core::builder`; both are
//! signed through [`pki_core::Signer`].

// Test helpers outside #[test] functions unwrap too.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use const_oid::AssociatedOid;
use der::asn1::{BitString, OctetString};
use der::{Encode, EncodePem};
use hsm::{Hash, KeyInfo, KeyLabel, KeyType, SignatureAlgorithm};
use pki_core::Signer;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};
use x509_cert::{Certificate, TbsCertificate, Version};

fn extension<T: Encode + AssociatedOid>(value: &T, critical: bool) -> Extension {
    Extension {
        extn_id: T::OID,
        critical,
        extn_value: OctetString::new(value.to_der().unwrap()).unwrap(),
    }
}

/// A certificate for `subject_key`, issued by `issuer` (a signer on the
/// issuer's HSM key) under `issuer_name`.
fn issue(
    serial: u8,
    subject: &str,
    subject_key: &KeyInfo,
    issuer_name: &str,
    issuer: &dyn Signer,
    issuer_key: &KeyInfo,
    ca: bool,
) -> Certificate {
    let now = SystemTime::now();
    let usage = if ca {
        KeyUsages::KeyCertSign | KeyUsages::CRLSign
    } else {
        KeyUsages::DigitalSignature.into()
    };
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&[serial]).unwrap(),
        signature: issuer.algorithm(),
        issuer: Name::from_str(issuer_name).unwrap(),
        validity: Validity {
            not_before: Time::try_from(now - Duration::from_secs(60)).unwrap(),
            not_after: Time::try_from(now + Duration::from_secs(86_400)).unwrap(),
        },
        subject: Name::from_str(subject).unwrap(),
        subject_public_key_info: subject_key.spki.clone(),
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(vec![
            extension(
                &BasicConstraints {
                    ca,
                    path_len_constraint: None,
                },
                true,
            ),
            extension(&KeyUsage(usage), true),
            // The SKI extension carries the key's CKA_ID.
            extension(
                &SubjectKeyIdentifier(OctetString::new(subject_key.id.as_bytes()).unwrap()),
                false,
            ),
            extension(
                &AuthorityKeyIdentifier {
                    key_identifier: Some(OctetString::new(issuer_key.id.as_bytes()).unwrap()),
                    authority_cert_issuer: None,
                    authority_cert_serial_number: None,
                },
                false,
            ),
        ]),
    };
    let signature = issuer.sign(&tbs.to_der().unwrap()).unwrap();
    Certificate {
        tbs_certificate: tbs,
        signature_algorithm: issuer.algorithm(),
        signature: BitString::from_bytes(&signature).unwrap(),
    }
}

fn write_pem(dir: &std::path::Path, name: &str, cert: &Certificate) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, cert.to_pem(der::pem::LineEnding::LF).unwrap()).unwrap();
    path
}

fn openssl_verify(args: &[&std::path::Path], flags: &[&str]) {
    let output = Command::new("openssl")
        .arg("verify")
        .args(flags)
        .args(args)
        .output()
        .expect("openssl on PATH");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.trim_end().ends_with(": OK"),
        "openssl verify failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn chain_signed_in_the_hsm_passes_openssl_verify() {
    let pool = common::pool("certificates", 1);
    let gen = |label: &str, key_type| {
        pool.generate_key(&KeyLabel::new(label).unwrap(), key_type)
            .unwrap()
    };
    let root_key = gen("root", KeyType::EcP384);
    let sub_key = gen("sub-ca", KeyType::Rsa3072);
    let ed_key = gen("leaf-ed25519", KeyType::Ed25519);
    let ec_key = gen("leaf-p256", KeyType::EcP256);

    let root = pool.signer(root_key.clone()).unwrap();
    let sub_pss = pool
        .signer_with(sub_key.clone(), SignatureAlgorithm::RsaPss(Hash::Sha256))
        .unwrap();
    let sub_pkcs1 = pool.signer(sub_key.clone()).unwrap();
    let ed = pool.signer(ed_key.clone()).unwrap();

    let root_name = "CN=HSM Test Root,O=National PKI test,C=MA";
    let sub_name = "CN=HSM Test Sub CA,O=National PKI test,C=MA";
    let root_cert = issue(1, root_name, &root_key, root_name, &root, &root_key, true);
    let sub_cert = issue(2, sub_name, &sub_key, root_name, &root, &root_key, true);
    let ed_leaf = issue(
        3,
        "CN=Ed25519 leaf,C=MA",
        &ed_key,
        sub_name,
        &sub_pss,
        &sub_key,
        false,
    );
    let ec_leaf = issue(
        4,
        "CN=P-256 leaf,C=MA",
        &ec_key,
        sub_name,
        &sub_pkcs1,
        &sub_key,
        false,
    );
    // A self-signed Ed25519 root, to cover the last signer in openssl too.
    let ed_name = "CN=HSM Ed25519 Root,C=MA";
    let ed_root = issue(5, ed_name, &ed_key, ed_name, &ed, &ed_key, true);

    let dir = tempfile::tempdir().unwrap();
    let root_pem = write_pem(dir.path(), "root.pem", &root_cert);
    let sub_pem = write_pem(dir.path(), "sub.pem", &sub_cert);
    let ed_pem = write_pem(dir.path(), "leaf-ed25519.pem", &ed_leaf);
    let ec_pem = write_pem(dir.path(), "leaf-p256.pem", &ec_leaf);
    let ed_root_pem = write_pem(dir.path(), "ed-root.pem", &ed_root);

    let ca = root_pem.to_str().unwrap();
    let untrusted = sub_pem.to_str().unwrap();
    // -check_ss_sig makes openssl check the root's own signature as well.
    let chain = [
        "-x509_strict",
        "-check_ss_sig",
        "-CAfile",
        ca,
        "-untrusted",
        untrusted,
    ];
    openssl_verify(&[&ed_pem], &chain);
    openssl_verify(&[&ec_pem], &chain);
    let ed_ca = ed_root_pem.to_str().unwrap();
    openssl_verify(
        &[&ed_root_pem],
        &["-x509_strict", "-check_ss_sig", "-CAfile", ed_ca],
    );

    // And a tampered certificate fails: flip a bit in the signature.
    let mut bad = ec_leaf.clone();
    let mut sig = bad.signature.raw_bytes().to_vec();
    let last = sig.len() - 1;
    sig[last] ^= 1;
    bad.signature = BitString::from_bytes(&sig).unwrap();
    let bad_pem = write_pem(dir.path(), "bad.pem", &bad);
    let output = Command::new("openssl")
        .arg("verify")
        .args(chain)
        .arg(&bad_pem)
        .output()
        .unwrap();
    assert!(!output.status.success(), "tampered certificate verified");
}

#[test]
fn pki_core_builder_signs_through_the_hsm() {
    use pki_core::builder::{
        build_certificate, parse_name, serial_from_u64, BasicConstraintsSpec, CertificateTemplate,
        KeyUsageSpec,
    };

    let pool = common::pool("builder", 1);
    let root_key = pool
        .generate_key(&KeyLabel::new("root-rsa").unwrap(), KeyType::Rsa4096)
        .unwrap();
    let ocsp_key = pool
        .generate_key(&KeyLabel::new("ocsp").unwrap(), KeyType::EcP256)
        .unwrap();
    // The builder's method-1 key identifier is the key's CKA_ID.
    assert_eq!(
        pki_core::builder::key_identifier(&root_key.spki),
        root_key.id.as_bytes()
    );
    let root = pool
        .signer_with(root_key.clone(), SignatureAlgorithm::RsaPss(Hash::Sha384))
        .unwrap();

    let root_name = parse_name("CN=HSM Builder Root,C=MA").unwrap();
    let mut tpl = CertificateTemplate::new(root_name.clone(), root_key.spki.clone());
    tpl.serial = serial_from_u64(1);
    tpl.basic_constraints = Some(BasicConstraintsSpec::ca(None));
    tpl.key_usage = Some(KeyUsageSpec::new(
        KeyUsages::KeyCertSign | KeyUsages::CRLSign,
    ));
    let root_der = build_certificate(&tpl, &root).unwrap();

    let mut tpl = CertificateTemplate::new(
        parse_name("CN=HSM OCSP signer,C=MA").unwrap(),
        ocsp_key.spki.clone(),
    );
    tpl.serial = serial_from_u64(2);
    tpl.issuer = root_name;
    tpl.basic_constraints = Some(BasicConstraintsSpec::end_entity());
    tpl.key_usage = Some(KeyUsageSpec::new(KeyUsages::DigitalSignature));
    let leaf_der = build_certificate(&tpl, &root).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let pem = |name: &str, der: &[u8]| {
        let cert = <Certificate as der::Decode>::from_der(der).unwrap();
        write_pem(dir.path(), name, &cert)
    };
    let root_pem = pem("root.pem", &root_der);
    let leaf_pem = pem("leaf.pem", &leaf_der);
    let ca = root_pem.to_str().unwrap();
    openssl_verify(
        &[&leaf_pem],
        &["-x509_strict", "-check_ss_sig", "-CAfile", ca],
    );
}
