//! Shared fixtures for the criterion benches and load drivers.
//!
//! Chains are made with the `openssl` command line (P-256 or RSA-2048), so
//! the benches measure pki-core against certificates from an independent
//! encoder. The OCSP load drivers share their requests and the bare-server
//! ceiling ([`load`]), the raw HSM rate ([`sign`]) and CPU accounting
//! ([`cpu`]).

pub mod cpu;
pub mod load;
pub mod sign;

use std::path::Path;
use std::process::Command;

/// DER certificates of a three-level hierarchy with many leaves.
#[derive(Debug)]
pub struct Chain {
    pub root: Vec<u8>,
    pub intermediate: Vec<u8>,
    pub leaves: Vec<Vec<u8>>,
    /// The intermediate's private key, PKCS#8 DER (as openssl wrote it), for
    /// [`more_leaves`].
    pub intermediate_key: Vec<u8>,
}

/// Key type of a generated hierarchy.
#[derive(Debug, Clone, Copy)]
pub enum KeyType {
    P256,
    Rsa2048,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const CA_EXT: &str = "[v3]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n";
const LEAF_EXT: &str = "[v3]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName=email:citizen@example.ma\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n";

/// Generates root -> intermediate -> `leaves` end entities.
pub fn generate(key: KeyType, leaves: usize) -> Chain {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    std::fs::write(d.join("ca.ext"), CA_EXT).expect("write");
    std::fs::write(d.join("leaf.ext"), LEAF_EXT).expect("write");
    let newkey: &[&str] = match key {
        KeyType::P256 => &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        KeyType::Rsa2048 => &["-newkey", "rsa:2048"],
    };
    let req = |name: &str, subj: &str| {
        let mut a = vec!["req", "-new", "-nodes", "-subj", subj];
        a.extend_from_slice(newkey);
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        a.extend(["-keyout", &key, "-out", &csr]);
        openssl(d, &a);
    };
    let sign = |name: &str, issuer: Option<&str>, ext: &str, serial: usize| {
        let csr = format!("{name}.csr");
        let out = format!("{name}.der");
        let serial = format!("0x{:x}", 0x1000 + serial);
        let mut a = vec![
            "x509",
            "-req",
            "-in",
            &csr,
            "-days",
            "3650",
            "-sha256",
            "-extfile",
            ext,
            "-extensions",
            "v3",
            "-set_serial",
            &serial,
            "-outform",
            "DER",
            "-out",
            &out,
        ];
        let (ic, ik, own);
        if let Some(i) = issuer {
            ic = format!("{i}.pem");
            ik = format!("{i}.key");
            a.extend(["-CA", &ic, "-CAkey", &ik]);
        } else {
            own = format!("{name}.key");
            a.extend(["-signkey", &own]);
        }
        openssl(d, &a);
        let pem = format!("{name}.pem");
        openssl(d, &["x509", "-inform", "DER", "-in", &out, "-out", &pem]);
        std::fs::read(d.join(&out)).expect("read cert")
    };
    req("root", "/C=MA/O=Bench/CN=Bench Root");
    let root = sign("root", None, "ca.ext", 0);
    req("ica", "/C=MA/O=Bench/CN=Bench CNIE CA");
    let intermediate = sign("ica", Some("root"), "ca.ext", 1);
    let key_pem = std::fs::read(d.join("ica.key")).expect("read key");
    let intermediate_key = pki_core::pem::decode_all(&key_pem, "PRIVATE KEY")
        .expect("openssl writes PKCS#8 PEM")
        .remove(0);
    let mut out = Vec::with_capacity(leaves);
    for i in 0..leaves {
        let name = format!("leaf{i}");
        req(&name, &format!("/C=MA/CN=Citizen {i}"));
        out.push(sign(&name, Some("ica"), "leaf.ext", 2 + i));
    }
    Chain {
        root,
        intermediate,
        leaves: out,
        intermediate_key,
    }
}

/// The intermediate of a P-256 [`Chain`] as a [`pki_core::Signer`].
struct IcaSigner {
    key: aws_lc_rs::signature::EcdsaKeyPair,
    spki: spki::SubjectPublicKeyInfoOwned,
}

impl pki_core::Signer for IcaSigner {
    fn algorithm(&self) -> spki::AlgorithmIdentifierOwned {
        pki_core::signature::SignatureAlgorithm::EcdsaSha256.identifier()
    }
    fn public_key(&self) -> spki::SubjectPublicKeyInfoOwned {
        self.spki.clone()
    }
    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, pki_core::SignError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.key
            .sign(&rng, tbs)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| pki_core::SignError::Failed("ECDSA signing failed".into()))
    }
}

/// `n` distinct end-entity certificates (same profile as the openssl
/// leaves: clientAuth, email SAN, digitalSignature) issued by the P-256
/// chain's intermediate, signed in-process: thousands of openssl runs
/// would take minutes. They share the first leaf's public key.
pub fn more_leaves(chain: &Chain, n: usize) -> Vec<Vec<u8>> {
    use pki_core::builder::{
        build_certificate, parse_name, serial_from_u64, AuthorityKeyId, BasicConstraintsSpec,
        CertificateTemplate, GeneralNameSpec, KeyUsageSpec,
    };
    let ica = pki_core::Cert::from_der(&chain.intermediate).expect("intermediate");
    let leaf0 = pki_core::Cert::from_der(&chain.leaves[0]).expect("leaf");
    let signer = IcaSigner {
        key: aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &chain.intermediate_key,
        )
        .expect("P-256 PKCS#8 key (more_leaves needs a P-256 chain)"),
        spki: ica
            .x509()
            .expect("decoded")
            .tbs_certificate
            .subject_public_key_info
            .clone(),
    };
    let ski = ica
        .extensions()
        .subject_key_id
        .clone()
        .expect("openssl CA has an SKI");
    let spki = leaf0
        .x509()
        .expect("decoded")
        .tbs_certificate
        .subject_public_key_info
        .clone();
    (0..n)
        .map(|i| {
            let subject = parse_name(&format!("CN=Citizen B{i},C=MA")).expect("name");
            let mut t = CertificateTemplate::new(subject, spki.clone());
            t.issuer = ica.subject().clone();
            t.serial = serial_from_u64(0x10_0000 + i as u64);
            t.not_after =
                std::time::SystemTime::now() + std::time::Duration::from_secs(3650 * 86_400);
            t.basic_constraints = Some(BasicConstraintsSpec::end_entity());
            t.key_usage = Some(KeyUsageSpec::new(
                x509_cert::ext::pkix::KeyUsages::DigitalSignature,
            ));
            t.extended_key_usage = vec![pki_core::oid::KP_CLIENT_AUTH];
            t.subject_alt_names = vec![GeneralNameSpec::email(format!("b{i}@example.ma"))];
            t.authority_key_id = AuthorityKeyId::Explicit(ski.clone());
            build_certificate(&t, &signer).expect("leaf")
        })
        .collect()
}

/// The rustls-webpki side of the validation comparisons: `leaf` validated
/// for clientAuth up to `anchors` with `intermediate`, no revocation,
/// parsed from DER each time as webpki always does. Panics on a verdict
/// other than valid (the bench chains are valid).
pub fn webpki_client_auth(
    anchors: &[rustls_pki_types::TrustAnchor<'_>],
    leaf: &[u8],
    intermediate: &[u8],
    now: rustls_pki_types::UnixTime,
) {
    use rustls_pki_types::CertificateDer;
    let leaf = CertificateDer::from(leaf);
    let ica = [CertificateDer::from(intermediate)];
    webpki::EndEntityCert::try_from(&leaf)
        .expect("webpki parses the bench leaf")
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            anchors,
            &ica,
            now,
            webpki::KeyUsage::client_auth(),
            None,
            None,
        )
        .expect("webpki accepts the bench chain");
}
