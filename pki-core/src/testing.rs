//! Software keys and a fluent test CA (feature `test-ca`), for tests, benches
//! and the demo's fixtures. Production keys live in the HSM (`hsm` crate).
//!
//! ```
//! # #[cfg(feature = "test-ca")] {
//! use pki_core::testing::TestCa;
//!
//! let root = TestCa::root("CN=Test Root,O=Example,C=MA");
//! let sub = root.intermediate("CN=Sub", |tpl| tpl.set_path_len(Some(0)));
//! let leaf = sub.leaf("CN=www.example.ma", |_| {});
//! let crl = sub.crl(|tpl| tpl.revoked.push(leaf.revocation()));
//! # let _ = crl;
//! # }
//! ```
//!
//! The fixture API panics, the way an assertion does, when a subject string
//! does not parse or signing fails; [`crate::builder`] has the fallible
//! functions underneath.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self as sig, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair as _, RsaKeyPair,
    VerificationAlgorithm,
};
use der::asn1::{PrintableStringRef, Utf8StringRef};
use der::{DateTime, Decode};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::ext::pkix::KeyUsages;
use x509_cert::name::Name;

use crate::builder::{
    build_certificate, build_crl, key_identifier, parse_name, random_serial, AuthorityKeyId,
    BasicConstraintsSpec, CertificateTemplate, CrlEntry, CrlTemplate, GeneralNameSpec,
    KeyUsageSpec,
};
use crate::oid;
use crate::signer::{SignError, Signer};

/// RSA modulus sizes the test CA generates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RsaSize {
    Rsa2048,
    Rsa3072,
    Rsa4096,
}

impl RsaSize {
    fn aws(self) -> KeySize {
        match self {
            Self::Rsa2048 => KeySize::Rsa2048,
            Self::Rsa3072 => KeySize::Rsa3072,
            Self::Rsa4096 => KeySize::Rsa4096,
        }
    }
}

/// Key type and signature algorithm of a [`SoftwareKey`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// ECDSA P-256 with SHA-256 (`ecdsa-with-SHA256`).
    EcdsaP256,
    /// ECDSA P-384 with SHA-384 (`ecdsa-with-SHA384`).
    EcdsaP384,
    /// ECDSA P-521 with SHA-512 (`ecdsa-with-SHA512`).
    EcdsaP521,
    /// Ed25519 (RFC 8410).
    Ed25519,
    /// RSA, PKCS#1 v1.5 with SHA-256 (`sha256WithRSAEncryption`).
    RsaPkcs1Sha256(RsaSize),
    /// RSA, RSASSA-PSS with SHA-256, MGF1-SHA-256, salt 32 (RFC 4055). The
    /// key itself is an `rsaEncryption` key.
    RsaPssSha256(RsaSize),
}

impl KeyAlgorithm {
    /// Every algorithm, for tests that cover them all.
    pub const ALL: [Self; 10] = [
        Self::EcdsaP256,
        Self::EcdsaP384,
        Self::EcdsaP521,
        Self::Ed25519,
        Self::RsaPkcs1Sha256(RsaSize::Rsa2048),
        Self::RsaPkcs1Sha256(RsaSize::Rsa3072),
        Self::RsaPkcs1Sha256(RsaSize::Rsa4096),
        Self::RsaPssSha256(RsaSize::Rsa2048),
        Self::RsaPssSha256(RsaSize::Rsa3072),
        Self::RsaPssSha256(RsaSize::Rsa4096),
    ];

    /// The `signatureAlgorithm` this key writes.
    pub fn signature_algorithm(self) -> AlgorithmIdentifierOwned {
        use crate::signature::SignatureAlgorithm as A;
        match self {
            Self::EcdsaP256 => A::EcdsaSha256,
            Self::EcdsaP384 => A::EcdsaSha384,
            Self::EcdsaP521 => A::EcdsaSha512,
            Self::Ed25519 => A::Ed25519,
            Self::RsaPkcs1Sha256(_) => A::RsaPkcs1Sha256,
            Self::RsaPssSha256(_) => A::RsaPssSha256,
        }
        .identifier()
    }

    /// The aws-lc-rs algorithm that verifies this key's signatures, given
    /// the subjectPublicKey bits.
    pub fn verification_algorithm(self) -> &'static dyn VerificationAlgorithm {
        match self {
            Self::EcdsaP256 => &sig::ECDSA_P256_SHA256_ASN1,
            Self::EcdsaP384 => &sig::ECDSA_P384_SHA384_ASN1,
            Self::EcdsaP521 => &sig::ECDSA_P521_SHA512_ASN1,
            Self::Ed25519 => &sig::ED25519,
            Self::RsaPkcs1Sha256(_) => &sig::RSA_PKCS1_2048_8192_SHA256,
            Self::RsaPssSha256(_) => &sig::RSA_PSS_2048_8192_SHA256,
        }
    }

    fn family(self) -> Family {
        match self {
            Self::EcdsaP256 => Family::P256,
            Self::EcdsaP384 => Family::P384,
            Self::EcdsaP521 => Family::P521,
            Self::Ed25519 => Family::Ed25519,
            Self::RsaPkcs1Sha256(size) | Self::RsaPssSha256(size) => Family::Rsa(size),
        }
    }

    fn is_rsa(self) -> bool {
        matches!(self.family(), Family::Rsa(_))
    }
}

/// Key kinds that share key material: both RSA paddings use one RSA key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Family {
    P256,
    P384,
    P521,
    Ed25519,
    Rsa(RsaSize),
}

#[derive(Clone)]
enum Pair {
    Ec(Arc<EcdsaKeyPair>),
    Ed25519(Arc<Ed25519KeyPair>),
    Rsa(Arc<RsaKeyPair>),
}

impl Pair {
    fn generate(family: Family) -> Self {
        // Invariant: generation only fails if the system RNG does, and the
        // fixtures cannot do anything useful then.
        match family {
            Family::P256 | Family::P384 | Family::P521 => {
                let alg: &'static EcdsaSigningAlgorithm = match family {
                    Family::P256 => &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
                    Family::P384 => &sig::ECDSA_P384_SHA384_ASN1_SIGNING,
                    _ => &sig::ECDSA_P521_SHA512_ASN1_SIGNING,
                };
                Self::Ec(Arc::new(
                    EcdsaKeyPair::generate(alg).expect("ECDSA key generation"),
                ))
            }
            Family::Ed25519 => Self::Ed25519(Arc::new(
                Ed25519KeyPair::generate().expect("Ed25519 key generation"),
            )),
            Family::Rsa(size) => Self::Rsa(Arc::new(
                RsaKeyPair::generate(size.aws()).expect("RSA key generation"),
            )),
        }
    }

    fn spki_der(&self) -> Vec<u8> {
        // Invariant: aws-lc serialises the public half of keys it generated.
        let der: Result<PublicKeyX509Der<'static>, _> = match self {
            Self::Ec(k) => k.public_key().as_der(),
            Self::Ed25519(k) => k.public_key().as_der(),
            Self::Rsa(k) => k.public_key().as_der(),
        };
        der.expect("public key DER").as_ref().to_vec()
    }
}

/// A software private key implementing [`Signer`]: the test CA's stand-in
/// for an HSM key. Cheap to clone (the key pair is shared).
#[derive(Clone)]
pub struct SoftwareKey {
    algorithm: KeyAlgorithm,
    pair: Pair,
    spki: SubjectPublicKeyInfoOwned,
}

impl fmt::Debug for SoftwareKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the private half.
        f.debug_struct("SoftwareKey")
            .field("algorithm", &self.algorithm)
            .field("key_id", &hex(&key_identifier(&self.spki)))
            .finish_non_exhaustive()
    }
}

/// Process-wide keys by (family, label); one `OnceLock` per entry so that
/// slow RSA generation does not hold the map lock.
type KeyCache = Mutex<HashMap<(Family, String), Arc<OnceLock<Pair>>>>;

fn key_cache() -> &'static KeyCache {
    static CACHE: OnceLock<KeyCache> = OnceLock::new();
    CACHE.get_or_init(KeyCache::default)
}

impl SoftwareKey {
    /// A fresh key. RSA-4096 takes seconds: see [`SoftwareKey::cached`].
    pub fn generate(algorithm: KeyAlgorithm) -> Self {
        Self::from_pair(algorithm, Pair::generate(algorithm.family()))
    }

    /// The process-wide key for (`algorithm`'s key type, `label`), generated
    /// on first use: the same label always gives the same key in this
    /// process (both RSA paddings share the RSA key of a size).
    pub fn cached(algorithm: KeyAlgorithm, label: &str) -> Self {
        let family = algorithm.family();
        let cell = {
            let mut map = key_cache()
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(map.entry((family, label.to_owned())).or_default())
        };
        let pair = cell.get_or_init(|| Pair::generate(family)).clone();
        Self::from_pair(algorithm, pair)
    }

    fn from_pair(algorithm: KeyAlgorithm, pair: Pair) -> Self {
        // Invariant: aws-lc writes a valid SubjectPublicKeyInfo.
        let spki = SubjectPublicKeyInfoOwned::from_der(&pair.spki_der()).expect("aws-lc SPKI");
        Self {
            algorithm,
            pair,
            spki,
        }
    }

    pub fn key_algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The public key as it goes into a certificate.
    pub fn spki(&self) -> &SubjectPublicKeyInfoOwned {
        &self.spki
    }

    /// The private key as PKCS#8 v1 DER (`PrivateKeyInfo`, RFC 5208), for
    /// tests that hand it to openssl.
    pub fn pkcs8_der(&self) -> Vec<u8> {
        // Invariant: aws-lc serialises keys it generated.
        match &self.pair {
            Pair::Ec(k) => k.to_pkcs8v1().expect("PKCS#8").as_ref().to_vec(),
            Pair::Ed25519(k) => k.to_pkcs8v1().expect("PKCS#8").as_ref().to_vec(),
            Pair::Rsa(k) => {
                let der: Pkcs8V1Der<'static> = k.as_der().expect("PKCS#8");
                der.as_ref().to_vec()
            }
        }
    }

    /// [`SoftwareKey::pkcs8_der`] as a `PRIVATE KEY` PEM block.
    pub fn pkcs8_pem(&self) -> String {
        pem("PRIVATE KEY", &self.pkcs8_der())
    }
}

impl Signer for SoftwareKey {
    fn algorithm(&self) -> AlgorithmIdentifierOwned {
        self.algorithm.signature_algorithm()
    }

    fn public_key(&self) -> SubjectPublicKeyInfoOwned {
        self.spki.clone()
    }

    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, SignError> {
        let failed = |what: &str| SignError::Failed(format!("{what} signing failed"));
        match (&self.pair, self.algorithm) {
            (Pair::Ec(k), _) => Ok(k
                .sign(&SystemRandom::new(), tbs)
                .map_err(|_| failed("ECDSA"))?
                .as_ref()
                .to_vec()),
            (Pair::Ed25519(k), _) => Ok(k.sign(tbs).as_ref().to_vec()),
            (Pair::Rsa(k), alg) => {
                let padding: &'static dyn sig::RsaEncoding = match alg {
                    KeyAlgorithm::RsaPssSha256(_) => &sig::RSA_PSS_SHA256,
                    _ => &sig::RSA_PKCS1_SHA256,
                };
                let mut out = vec![0; k.public_modulus_len()];
                k.sign(padding, &SystemRandom::new(), tbs, &mut out)
                    .map_err(|_| failed("RSA"))?;
                Ok(out)
            }
        }
    }
}

/// PEM text of `der` under `label` (`CERTIFICATE`, `X509 CRL`, ...), LF line
/// endings.
pub fn pem(label: &str, der: &[u8]) -> String {
    // Invariant: the labels used here are ASCII and the output is unbounded.
    der::pem::encode_string(label, der::pem::LineEnding::LF, der).expect("PEM encoding")
}

/// Midnight UTC on the given date.
///
/// # Panics
/// If the date does not exist or precedes 1970.
pub fn utc(year: u16, month: u8, day: u8) -> SystemTime {
    DateTime::new(year, month, day, 0, 0, 0)
        .unwrap_or_else(|e| panic!("invalid date {year}-{month}-{day}: {e}"))
        .to_system_time()
}

/// Defaults the test CA applies to everything it issues; children inherit
/// their issuer's options.
#[derive(Clone, Debug)]
pub struct TestCaOptions {
    /// Key algorithm of new subjects (default ECDSA P-256).
    pub key_algorithm: KeyAlgorithm,
    /// Default 2020-01-01T00:00:00Z; also the CRLs' thisUpdate.
    pub not_before: SystemTime,
    /// Default 2040-01-01T00:00:00Z; also the CRLs' nextUpdate.
    pub not_after: SystemTime,
    /// RSA keys are generated once per (size, subject string) per process
    /// ([`SoftwareKey::cached`]) because RSA-4096 generation takes seconds.
    /// Two RSA subjects with the same DN string then share a key; use the
    /// `*_with_key` methods or turn this off when a test needs them apart.
    pub reuse_rsa_keys: bool,
    /// Leaves get a subjectAltName dNSName equal to their CN when the CN is
    /// made of hostname characters (default true).
    pub leaf_dns_from_cn: bool,
}

impl Default for TestCaOptions {
    fn default() -> Self {
        Self {
            key_algorithm: KeyAlgorithm::EcdsaP256,
            not_before: utc(2020, 1, 1),
            not_after: utc(2040, 1, 1),
            reuse_rsa_keys: true,
            leaf_dns_from_cn: true,
        }
    }
}

impl TestCaOptions {
    fn key_for(&self, subject: &str) -> SoftwareKey {
        if self.reuse_rsa_keys && self.key_algorithm.is_rsa() {
            SoftwareKey::cached(self.key_algorithm, subject)
        } else {
            SoftwareKey::generate(self.key_algorithm)
        }
    }
}

#[derive(Clone, Copy)]
enum Profile {
    Ca,
    Leaf,
}

/// A certificate issued by the test CA together with its key: a root, an
/// intermediate or a leaf. Any of them can issue (a leaf too, for tests of
/// end-entity certificates misused as issuers).
#[derive(Clone, Debug)]
pub struct TestCa {
    key: SoftwareKey,
    cert_der: Vec<u8>,
    template: CertificateTemplate,
    key_id: Vec<u8>,
    options: TestCaOptions,
}

impl TestCa {
    /// A self-signed root with the default options: `cA` TRUE and keyUsage
    /// keyCertSign|cRLSign, both critical, SKI and AKI.
    pub fn root(subject: &str) -> Self {
        Self::root_with(subject, TestCaOptions::default(), |_| {})
    }

    /// A self-signed root with these options; `edit` changes the template
    /// last, before signing.
    pub fn root_with(
        subject: &str,
        options: TestCaOptions,
        edit: impl FnOnce(&mut CertificateTemplate),
    ) -> Self {
        let key = options.key_for(subject);
        Self::root_with_key(subject, key, options, edit)
    }

    /// A self-signed root with this key.
    pub fn root_with_key(
        subject: &str,
        key: SoftwareKey,
        options: TestCaOptions,
        edit: impl FnOnce(&mut CertificateTemplate),
    ) -> Self {
        let mut tpl = template(subject, &key, Profile::Ca, &options);
        edit(&mut tpl);
        let der = build_certificate(&tpl, &key)
            .unwrap_or_else(|e| panic!("test CA: cannot build {subject:?}: {e}"));
        Self::new(key, der, tpl, options)
    }

    fn new(
        key: SoftwareKey,
        cert_der: Vec<u8>,
        template: CertificateTemplate,
        options: TestCaOptions,
    ) -> Self {
        let key_id = template
            .subject_key_identifier()
            .unwrap_or_else(|| key_identifier(&template.subject_public_key));
        Self {
            key,
            cert_der,
            template,
            key_id,
            options,
        }
    }

    /// A CA certificate issued by `self` (same defaults as a root, AKI =
    /// this issuer's SKI); `edit` changes the template last.
    #[must_use]
    pub fn intermediate(&self, subject: &str, edit: impl FnOnce(&mut CertificateTemplate)) -> Self {
        self.issue(subject, self.options.key_for(subject), Profile::Ca, edit)
    }

    /// [`TestCa::intermediate`] with this key.
    #[must_use]
    pub fn intermediate_with_key(
        &self,
        subject: &str,
        key: SoftwareKey,
        edit: impl FnOnce(&mut CertificateTemplate),
    ) -> Self {
        self.issue(subject, key, Profile::Ca, edit)
    }

    /// An end-entity certificate issued by `self`: keyUsage digitalSignature
    /// (critical), extendedKeyUsage serverAuth+clientAuth, no
    /// basicConstraints, and a dNSName equal to the CN (see
    /// [`TestCaOptions::leaf_dns_from_cn`]); `edit` changes the template last.
    #[must_use]
    pub fn leaf(&self, subject: &str, edit: impl FnOnce(&mut CertificateTemplate)) -> Self {
        self.issue(subject, self.options.key_for(subject), Profile::Leaf, edit)
    }

    /// [`TestCa::leaf`] with this key.
    #[must_use]
    pub fn leaf_with_key(
        &self,
        subject: &str,
        key: SoftwareKey,
        edit: impl FnOnce(&mut CertificateTemplate),
    ) -> Self {
        self.issue(subject, key, Profile::Leaf, edit)
    }

    fn issue(
        &self,
        subject: &str,
        key: SoftwareKey,
        profile: Profile,
        edit: impl FnOnce(&mut CertificateTemplate),
    ) -> Self {
        let mut tpl = template(subject, &key, profile, &self.options);
        tpl.issuer = self.name().clone();
        tpl.authority_key_id = AuthorityKeyId::Explicit(self.key_id.clone());
        edit(&mut tpl);
        let der = self.sign_template(&tpl);
        Self::new(key, der, tpl, self.options.clone())
    }

    /// Signs any template with this CA's key (cross-certificates, odd
    /// certificates built from scratch).
    pub fn sign_template(&self, tpl: &CertificateTemplate) -> Vec<u8> {
        build_certificate(tpl, &self.key)
            .unwrap_or_else(|e| panic!("test CA: cannot build certificate: {e}"))
    }

    /// A CRL signed by this CA: v2, issuer = this subject, thisUpdate and
    /// nextUpdate from the options, cRLNumber 1, AKI = this SKI, nothing
    /// revoked until `edit` adds entries (see [`TestCa::revocation`]).
    pub fn crl(&self, edit: impl FnOnce(&mut CrlTemplate)) -> Vec<u8> {
        let mut tpl = CrlTemplate::new(self.name().clone(), self.options.not_before, 1);
        tpl.next_update = Some(self.options.not_after);
        tpl.authority_key_id = AuthorityKeyId::Explicit(self.key_id.clone());
        edit(&mut tpl);
        build_crl(&tpl, &self.key).unwrap_or_else(|e| panic!("test CA: cannot build CRL: {e}"))
    }

    /// A CRL entry revoking this certificate at the options' notBefore, no
    /// reason code.
    pub fn revocation(&self) -> CrlEntry {
        CrlEntry::new(self.template.serial.clone(), self.options.not_before)
    }

    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    pub fn cert_pem(&self) -> String {
        pem("CERTIFICATE", &self.cert_der)
    }

    pub fn key(&self) -> &SoftwareKey {
        &self.key
    }

    /// The subject name.
    pub fn name(&self) -> &Name {
        &self.template.subject
    }

    /// The certified public key (as written, even if `edit` replaced it).
    pub fn spki(&self) -> &SubjectPublicKeyInfoOwned {
        &self.template.subject_public_key
    }

    /// The serial number's content octets.
    pub fn serial(&self) -> &[u8] {
        &self.template.serial
    }

    /// The SKI (or method-1 key identifier when the SKI was left out): what
    /// children put in their AKI.
    pub fn key_id(&self) -> &[u8] {
        &self.key_id
    }

    /// The template this certificate was built from.
    pub fn template(&self) -> &CertificateTemplate {
        &self.template
    }

    pub fn options(&self) -> &TestCaOptions {
        &self.options
    }

    /// The same CA with other options for what it issues from now on.
    #[must_use]
    pub fn with_options(mut self, options: TestCaOptions) -> Self {
        self.options = options;
        self
    }
}

fn template(
    subject: &str,
    key: &SoftwareKey,
    profile: Profile,
    options: &TestCaOptions,
) -> CertificateTemplate {
    let name = parse_name(subject).unwrap_or_else(|e| panic!("test CA: {e}"));
    let mut tpl = CertificateTemplate::new(name, key.spki().clone());
    tpl.serial = random_serial().unwrap_or_else(|e| panic!("test CA: {e}"));
    tpl.not_before = options.not_before;
    tpl.not_after = options.not_after;
    match profile {
        Profile::Ca => {
            tpl.basic_constraints = Some(BasicConstraintsSpec::ca(None));
            tpl.key_usage = Some(KeyUsageSpec::new(
                KeyUsages::KeyCertSign | KeyUsages::CRLSign,
            ));
        }
        Profile::Leaf => {
            tpl.key_usage = Some(KeyUsageSpec::new(KeyUsages::DigitalSignature));
            tpl.extended_key_usage = vec![oid::KP_SERVER_AUTH, oid::KP_CLIENT_AUTH];
            if options.leaf_dns_from_cn {
                if let Some(cn) = common_name(&tpl.subject).filter(|cn| is_hostname_like(cn)) {
                    tpl.subject_alt_names.push(GeneralNameSpec::Dns(cn));
                }
            }
        }
    }
    tpl
}

fn common_name(name: &Name) -> Option<String> {
    name.0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| atv.oid == oid::AT_COMMON_NAME)
        .find_map(|atv| {
            Utf8StringRef::try_from(&atv.value)
                .map(|s| s.as_str().to_owned())
                .or_else(|_| {
                    PrintableStringRef::try_from(&atv.value).map(|s| s.as_str().to_owned())
                })
                .ok()
        })
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn is_hostname_like(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'*' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_lc_rs::signature::UnparsedPublicKey;
    use der::Encode;
    use x509_cert::Certificate;

    use crate::revocation::RevocationReason;

    /// A directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path =
                std::env::temp_dir().join(format!("pki-core-{tag}-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&path).unwrap();
            Self(path)
        }

        fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, contents).unwrap();
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Runs openssl in `dir`; returns (success, stdout + stderr).
    fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl on PATH");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    fn label(alg: KeyAlgorithm) -> String {
        format!("{alg:?}").replace(['(', ')'], "")
    }

    fn options(alg: KeyAlgorithm) -> TestCaOptions {
        TestCaOptions {
            key_algorithm: alg,
            ..TestCaOptions::default()
        }
    }

    fn openssl_name(alg: KeyAlgorithm) -> &'static str {
        match alg {
            KeyAlgorithm::EcdsaP256 => "ecdsa-with-SHA256",
            KeyAlgorithm::EcdsaP384 => "ecdsa-with-SHA384",
            KeyAlgorithm::EcdsaP521 => "ecdsa-with-SHA512",
            KeyAlgorithm::Ed25519 => "ED25519",
            KeyAlgorithm::RsaPkcs1Sha256(_) => "sha256WithRSAEncryption",
            KeyAlgorithm::RsaPssSha256(_) => "rsassaPss",
        }
    }

    #[test]
    fn every_key_type_signs_a_certificate_aws_lc_and_openssl_accept() {
        let dir = TempDir::new("sig");
        for alg in KeyAlgorithm::ALL {
            let root = TestCa::root_with(
                &format!("CN=Root {},O=Example,C=MA", label(alg)),
                options(alg),
                |_| {},
            );
            assert_eq!(root.key().key_algorithm(), alg);
            let cert = Certificate::from_der(root.cert_der()).unwrap();
            assert_eq!(cert.signature_algorithm, alg.signature_algorithm());
            assert_eq!(cert.tbs_certificate.signature, alg.signature_algorithm());
            assert_eq!(
                &cert.tbs_certificate.subject_public_key_info,
                root.key().spki()
            );

            let tbs = cert.tbs_certificate.to_der().unwrap();
            let public = UnparsedPublicKey::new(
                alg.verification_algorithm(),
                root.spki().subject_public_key.raw_bytes(),
            );
            public
                .verify(&tbs, cert.signature.raw_bytes())
                .unwrap_or_else(|_| panic!("{alg:?}: signature does not verify"));
            let mut tampered = tbs.clone();
            *tampered.last_mut().unwrap() ^= 1;
            assert!(public
                .verify(&tampered, cert.signature.raw_bytes())
                .is_err());

            let file = format!("{}.der", label(alg));
            dir.write(&file, root.cert_der());
            let (ok, text) = openssl(
                &dir.0,
                &["x509", "-inform", "DER", "-in", &file, "-noout", "-text"],
            );
            assert!(ok, "{alg:?}: {text}");
            assert!(text.contains(openssl_name(alg)), "{alg:?}: {text}");
            assert!(text.contains("CA:TRUE"), "{text}");
            assert!(text.contains("Certificate Sign, CRL Sign"), "{text}");
            assert!(
                text.contains("Not Before: Jan  1 00:00:00 2020 GMT"),
                "{text}"
            );
            if let KeyAlgorithm::RsaPssSha256(_) = alg {
                assert!(text.contains("Salt Length: 0x20"), "{text}");
                assert!(text.contains("Mask Algorithm: mgf1 with sha256"), "{text}");
            }
        }
    }

    #[test]
    fn openssl_verifies_a_three_level_chain_for_every_key_type() {
        let dir = TempDir::new("chain");
        for alg in KeyAlgorithm::ALL {
            let l = label(alg);
            let root =
                TestCa::root_with(&format!("CN=Root {l},O=Example,C=MA"), options(alg), |_| {});
            let sub = root.intermediate(&format!("CN=Sub {l},O=Example,C=MA"), |tpl| {
                tpl.set_path_len(Some(0));
            });
            let leaf = sub.leaf("CN=www.example.ma", |_| {});
            assert_eq!(leaf.key().key_algorithm(), alg);
            let root_pem = dir.write(&format!("root-{l}.pem"), root.cert_pem());
            let sub_pem = dir.write(&format!("sub-{l}.pem"), sub.cert_pem());
            let leaf_pem = dir.write(&format!("leaf-{l}.pem"), leaf.cert_pem());
            let (ok, text) = openssl(
                &dir.0,
                &[
                    "verify",
                    "-x509_strict",
                    "-purpose",
                    "sslserver",
                    "-verify_hostname",
                    "www.example.ma",
                    "-CAfile",
                    root_pem.to_str().unwrap(),
                    "-untrusted",
                    sub_pem.to_str().unwrap(),
                    leaf_pem.to_str().unwrap(),
                ],
            );
            assert!(ok && text.contains(": OK"), "{alg:?}: {text}");
        }
    }

    #[test]
    fn path_len_zero_intermediate_cannot_issue_another_ca() {
        let dir = TempDir::new("pathlen");
        let root = TestCa::root("CN=PathLen Root");
        let sub = root.intermediate("CN=PathLen Sub", |tpl| tpl.set_path_len(Some(0)));
        let sub2 = sub.intermediate("CN=PathLen Sub 2", |_| {});
        let leaf = sub2.leaf("CN=leaf.example.ma", |_| {});
        let root_pem = dir.write("root.pem", root.cert_pem());
        let chain = dir.write("untrusted.pem", sub.cert_pem() + &sub2.cert_pem());
        let leaf_pem = dir.write("leaf.pem", leaf.cert_pem());
        let args = |untrusted: &Path| {
            vec![
                "verify".to_owned(),
                "-CAfile".to_owned(),
                root_pem.to_str().unwrap().to_owned(),
                "-untrusted".to_owned(),
                untrusted.to_str().unwrap().to_owned(),
                leaf_pem.to_str().unwrap().to_owned(),
            ]
        };
        let a = args(&chain);
        let (ok, text) = openssl(&dir.0, &a.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(
            !ok && text.contains("path length constraint exceeded"),
            "{text}"
        );

        // The same chain without the constraint verifies.
        let sub = root.intermediate("CN=PathLen Sub", |_| {});
        let sub2 = sub.intermediate_with_key("CN=PathLen Sub 2", sub2.key().clone(), |_| {});
        let chain = dir.write("untrusted2.pem", sub.cert_pem() + &sub2.cert_pem());
        let a = args(&chain);
        let (ok, text) = openssl(&dir.0, &a.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(ok, "{text}");
    }

    #[test]
    fn openssl_accepts_the_crl_and_flags_the_revoked_leaf() {
        let dir = TempDir::new("crl");
        let root = TestCa::root("CN=CRL Root,O=Example,C=MA");
        let sub = root.intermediate("CN=CRL Sub,O=Example,C=MA", |_| {});
        let cdp = "http://crl.example.ma/sub.crl";
        let with_cdp = |tpl: &mut CertificateTemplate| {
            tpl.crl_distribution_points = vec![crate::builder::DistributionPointSpec::uri(cdp)];
        };
        let revoked = sub.leaf("CN=revoked.example.ma", with_cdp);
        let good = sub.leaf("CN=good.example.ma", with_cdp);
        let crl = sub.crl(|tpl| {
            tpl.crl_number = Some(42);
            tpl.issuing_distribution_point = Some(crate::builder::IssuingDistributionPointSpec {
                full_name: vec![GeneralNameSpec::uri(cdp)],
                only_contains_user_certs: true,
                ..Default::default()
            });
            let mut entry = revoked
                .revocation()
                .with_reason(RevocationReason::KeyCompromise);
            entry.invalidity_date = Some(utc(2021, 6, 1));
            tpl.revoked.push(entry);
            tpl.revoked.push(
                CrlEntry::new(vec![0x12, 0x34], utc(2021, 1, 1))
                    .with_reason(RevocationReason::Superseded),
            );
        });

        let crl_der = dir.write("sub.crl", &crl);
        let (ok, text) = openssl(
            &dir.0,
            &[
                "crl",
                "-inform",
                "DER",
                "-in",
                crl_der.to_str().unwrap(),
                "-noout",
                "-text",
            ],
        );
        assert!(ok, "{text}");
        assert!(text.contains("Key Compromise"), "{text}");
        assert!(text.contains("Superseded"), "{text}");
        assert!(
            text.contains("X509v3 CRL Number: \n                42"),
            "{text}"
        );
        assert!(text.contains("Only User Certificates"), "{text}");
        assert!(text.contains("Invalidity Date"), "{text}");
        let serial_hex = hex(revoked.serial()).to_uppercase();
        assert!(text.contains(&serial_hex), "{text}");

        let root_pem = dir.write("root.pem", root.cert_pem());
        let sub_pem = dir.write("sub.pem", sub.cert_pem());
        let crl_pem = dir.write("sub.crl.pem", pem("X509 CRL", &crl));
        let verify = |leaf: &TestCa, name: &str| {
            let leaf_pem = dir.write(name, leaf.cert_pem());
            openssl(
                &dir.0,
                &[
                    "verify",
                    "-crl_check",
                    "-CAfile",
                    root_pem.to_str().unwrap(),
                    "-untrusted",
                    sub_pem.to_str().unwrap(),
                    "-CRLfile",
                    crl_pem.to_str().unwrap(),
                    leaf_pem.to_str().unwrap(),
                ],
            )
        };
        let (ok, text) = verify(&revoked, "revoked.pem");
        assert!(!ok && text.contains("certificate revoked"), "{text}");
        let (ok, text) = verify(&good, "good.pem");
        assert!(ok, "{text}");
    }

    #[test]
    fn pkcs8_export_matches_the_public_key() {
        let dir = TempDir::new("pkcs8");
        for alg in [
            KeyAlgorithm::EcdsaP256,
            KeyAlgorithm::EcdsaP384,
            KeyAlgorithm::EcdsaP521,
            KeyAlgorithm::Ed25519,
            KeyAlgorithm::RsaPssSha256(RsaSize::Rsa2048),
        ] {
            let key = SoftwareKey::cached(alg, "pkcs8 test");
            let file = dir.write(&format!("{}.pem", label(alg)), key.pkcs8_pem());
            let (ok, text) = openssl(&dir.0, &["pkey", "-in", file.to_str().unwrap(), "-pubout"]);
            assert!(ok, "{text}");
            assert_eq!(
                text,
                pem("PUBLIC KEY", &key.spki().to_der().unwrap()),
                "{alg:?}"
            );
        }
    }

    #[test]
    fn pss_algorithm_identifier_is_the_baseline_requirements_encoding() {
        // CA/B Forum BR 7.1.3.2.1, RSASSA-PSS with SHA-256.
        let expected = [
            0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30,
            0x34, 0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,
            0x02, 0x01, 0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
            0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
            0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0xa2, 0x03, 0x02, 0x01, 0x20,
        ];
        let alg = KeyAlgorithm::RsaPssSha256(RsaSize::Rsa2048).signature_algorithm();
        assert_eq!(alg.to_der().unwrap(), expected);
        // sha256WithRSAEncryption with NULL parameters (RFC 4055 5).
        let alg = KeyAlgorithm::RsaPkcs1Sha256(RsaSize::Rsa2048).signature_algorithm();
        assert_eq!(alg.to_der().unwrap()[13..], [0x05, 0x00]);
        // ECDSA and Ed25519 without parameters (RFC 5758 3.2, RFC 8410 3).
        assert!(KeyAlgorithm::EcdsaP256
            .signature_algorithm()
            .parameters
            .is_none());
        assert!(KeyAlgorithm::Ed25519
            .signature_algorithm()
            .parameters
            .is_none());
    }

    #[test]
    fn defaults_follow_the_profile() {
        let root = TestCa::root("CN=Defaults Root");
        let sub = root.intermediate("CN=Defaults Sub", |_| {});
        let leaf = sub.leaf("CN=www.example.ma", |_| {});
        let plain = sub.leaf("CN=Jane Doe", |_| {});

        let ext = |ca: &TestCa, id| {
            Certificate::from_der(ca.cert_der())
                .unwrap()
                .tbs_certificate
                .extensions
                .unwrap()
                .into_iter()
                .find(|x| x.extn_id == id)
        };
        assert!(ext(&root, oid::CE_BASIC_CONSTRAINTS).unwrap().critical);
        assert!(ext(&sub, oid::CE_KEY_USAGE).unwrap().critical);
        assert!(ext(&leaf, oid::CE_BASIC_CONSTRAINTS).is_none());
        assert!(ext(&leaf, oid::CE_EXT_KEY_USAGE).is_some());
        assert!(ext(&leaf, oid::CE_SUBJECT_ALT_NAME).is_some());
        assert!(
            ext(&plain, oid::CE_SUBJECT_ALT_NAME).is_none(),
            "CN with a space is not a host name"
        );
        // AKI of each child is its issuer's SKI.
        let aki = |ca: &TestCa| {
            x509_cert::ext::pkix::AuthorityKeyIdentifier::from_der(
                ext(ca, oid::CE_AUTHORITY_KEY_IDENTIFIER)
                    .unwrap()
                    .extn_value
                    .as_bytes(),
            )
            .unwrap()
            .key_identifier
            .unwrap()
            .as_bytes()
            .to_vec()
        };
        assert_eq!(aki(&root), root.key_id());
        assert_eq!(aki(&sub), root.key_id());
        assert_eq!(aki(&leaf), sub.key_id());
        assert_eq!(
            sub.name(),
            &crate::builder::parse_name("CN=Defaults Sub").unwrap()
        );
        assert_eq!(leaf.spki(), leaf.key().spki());
        assert_ne!(leaf.key().spki(), sub.key().spki());

        // RSA keys are reused per subject, other keys are fresh.
        let rsa = TestCaOptions {
            key_algorithm: KeyAlgorithm::RsaPkcs1Sha256(RsaSize::Rsa2048),
            ..TestCaOptions::default()
        };
        let a = TestCa::root_with("CN=RSA Reuse", rsa.clone(), |_| {});
        let b = TestCa::root_with("CN=RSA Reuse", rsa, |_| {});
        assert_eq!(a.spki(), b.spki());
        assert_ne!(TestCa::root("CN=EC").spki(), TestCa::root("CN=EC").spki());
        assert!(!format!("{:?}", a.key()).contains("private"));
    }
}
