//! Writes the fixtures and seed corpora of the `cargo fuzz` targets in
//! `fuzz/` (`make fuzz` runs it; nothing here is committed):
//!
//! ```text
//! cargo run -p pki-core --features test-ca --example fuzz_seeds -- fuzz
//! ```
//!
//! - `fuzz/fixtures/`: the hierarchy the targets validate against (root,
//!   CA, leaves, OCSP responder, the root's CRL). Its keys are drawn anew
//!   on every run, so the seeds and the fixtures are written together.
//! - `fuzz/seeds/<target>/`: certificates, chains, CRLs, OCSP requests and
//!   responses, API requests and CSRs made with [`pki_core::testing`], and
//!   the example ceremony files of `examples/ceremony/`.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use der::asn1::{BitString, SetOfVec};
use der::Encode;
use pki_core::builder::{
    CrlEntry, DistributionPointSpec, GeneralNameSpec, IssuingDistributionPointSpec,
    NameConstraintsSpec, PolicyConstraintsSpec,
};
use pki_core::ocsp::{
    build_request, build_response, CertStatus, HashAlgorithm, IssuerHashes, ResponderIdentity,
    SingleStatus,
};
use pki_core::revocation::RevocationReason;
use pki_core::testing::{utc, KeyAlgorithm, RsaSize, SoftwareKey, TestCa};
use pki_core::{oid, Signer};
use x509_cert::request::{CertReq, CertReqInfo, Version};

/// The policy the fixture CA and leaves assert.
const POLICY: &str = "2.16.504.99.1.1";
/// The nonce the OCSP response target also verifies with.
const NONCE: &[u8] = b"fuzz-nonce-0001";

fn main() {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "fuzz".into()));
    let fixtures = out.join("fixtures");
    let seeds = out.join("seeds");
    let policy = POLICY.parse().expect("policy OID");

    let root = TestCa::root("CN=Fuzz Root,O=Example,C=MA");
    let ca = root.intermediate("CN=Fuzz CA,O=Example,C=MA", |t| {
        t.set_path_len(Some(0));
        t.certificate_policies = vec![policy];
        t.crl_distribution_points =
            vec![DistributionPointSpec::uri("http://crl.example.ma/root.crl")];
        t.name_constraints = Some(NameConstraintsSpec {
            permitted: vec![
                GeneralNameSpec::dns("example.ma"),
                GeneralNameSpec::email("example.ma"),
                GeneralNameSpec::IpSubnet(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)), 8),
            ],
            excluded: vec![GeneralNameSpec::dns("bad.example.ma")],
        });
    });
    let leaf_with = |cn: &str| {
        let cn = cn.to_owned();
        move |t: &mut pki_core::builder::CertificateTemplate| {
            t.subject_alt_names = vec![
                GeneralNameSpec::dns(cn),
                GeneralNameSpec::email("user@example.ma"),
                GeneralNameSpec::Ip(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3))),
            ];
            t.certificate_policies = vec![policy];
            t.crl_distribution_points =
                vec![DistributionPointSpec::uri("http://crl.example.ma/ca.crl")];
            t.ocsp_urls = vec!["http://ocsp.example.ma".into()];
        }
    };
    let leaf = ca.leaf(
        "CN=fuzz.example.ma,O=Example,C=MA",
        leaf_with("fuzz.example.ma"),
    );
    let revoked = ca.leaf(
        "CN=revoked.example.ma,O=Example,C=MA",
        leaf_with("revoked.example.ma"),
    );
    let responder = ca.leaf("CN=Fuzz OCSP Responder,O=Example,C=MA", |t| {
        t.extended_key_usage = vec![oid::KP_OCSP_SIGNING];
        t.ocsp_no_check = true;
    });
    let root_crl = root.crl(|_| {});
    let ca_crl = ca.crl(|t| {
        t.revoked.push(
            revoked
                .revocation()
                .with_reason(RevocationReason::KeyCompromise),
        );
        let mut held = CrlEntry::new(vec![0x01, 0x02, 0x03], utc(2021, 6, 1));
        held.reason = Some(RevocationReason::CertificateHold);
        held.invalidity_date = Some(utc(2021, 5, 1));
        t.revoked.push(held);
    });

    write(&fixtures, "root.der", root.cert_der());
    write(&fixtures, "ca.der", ca.cert_der());
    write(&fixtures, "leaf.der", leaf.cert_der());
    write(&fixtures, "revoked.der", revoked.cert_der());
    write(&fixtures, "responder.der", responder.cert_der());
    write(&fixtures, "root.crl", &root_crl);
    write(&fixtures, "ca.crl", &ca_crl);

    certificates(&seeds.join("cert_validate"), &root, &ca, &leaf, &revoked);
    crls(&seeds.join("crl"), &ca, &leaf, &revoked, &ca_crl);
    ocsp(&seeds, &ca, &leaf, &revoked, &responder);
    api(&seeds.join("api_request"), &ca, &leaf, &revoked);
    csrs(&seeds.join("csr"));
    ceremonies(&seeds.join("ceremony_toml"));
    println!("fuzz fixtures in {}", fixtures.display());
    println!("fuzz seeds in {}", seeds.display());
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Leaf first, then candidate issuers, concatenated DER.
fn certificates(dir: &Path, root: &TestCa, ca: &TestCa, leaf: &TestCa, revoked: &TestCa) {
    write(dir, "leaf", leaf.cert_der());
    write(dir, "revoked", revoked.cert_der());
    write(dir, "ca", ca.cert_der());
    write(dir, "root", root.cert_der());
    write(dir, "leaf-ca", concat(&[leaf.cert_der(), ca.cert_der()]));

    for (name, alg) in [
        ("p384", KeyAlgorithm::EcdsaP384),
        ("ed25519", KeyAlgorithm::Ed25519),
        ("rsa2048", KeyAlgorithm::RsaPkcs1Sha256(RsaSize::Rsa2048)),
    ] {
        let l = ca.leaf_with_key(
            &format!("CN={name}.example.ma"),
            SoftwareKey::generate(alg),
            |_| {},
        );
        write(dir, &format!("leaf-{name}"), l.cert_der());
    }

    // Signatures other than the fixture CA's ECDSA P-256: an RSA-PSS CA.
    let pss = root.intermediate_with_key(
        "CN=Fuzz PSS CA,C=MA",
        SoftwareKey::generate(KeyAlgorithm::RsaPssSha256(RsaSize::Rsa2048)),
        |_| {},
    );
    let pss_leaf = pss.leaf("CN=pss.example.ma", |_| {});
    write(
        dir,
        "chain-pss",
        concat(&[pss_leaf.cert_der(), pss.cert_der()]),
    );

    // Policy processing: mappings, constraints, inhibitAnyPolicy.
    let mapped: der::asn1::ObjectIdentifier = "2.16.504.99.2.1".parse().expect("OID");
    let policy_ca = root.intermediate("CN=Fuzz Policy CA,C=MA", |t| {
        t.certificate_policies = vec![oid::ANY_POLICY, POLICY.parse().expect("OID")];
        t.policy_mappings = vec![(POLICY.parse().expect("OID"), mapped)];
        t.policy_constraints = Some(PolicyConstraintsSpec {
            require_explicit_policy: Some(0),
            inhibit_policy_mapping: Some(1),
        });
        t.inhibit_any_policy = Some(0);
    });
    let policy_leaf = policy_ca.leaf("CN=policy.example.ma", |t| {
        t.certificate_policies = vec![mapped];
    });
    write(
        dir,
        "chain-policy",
        concat(&[policy_leaf.cert_der(), policy_ca.cert_der()]),
    );
}

fn crls(dir: &Path, ca: &TestCa, leaf: &TestCa, revoked: &TestCa, ca_crl: &[u8]) {
    write(dir, "ca", ca_crl);
    write(dir, "empty", ca.crl(|_| {}));
    write(
        dir,
        "delta",
        ca.crl(|t| {
            t.crl_number = Some(2);
            t.delta_crl_indicator = Some(1);
            t.revoked.push(
                leaf.revocation()
                    .with_reason(RevocationReason::CertificateHold),
            );
        }),
    );
    write(
        dir,
        "idp",
        ca.crl(|t| {
            t.issuing_distribution_point = Some(IssuingDistributionPointSpec {
                full_name: vec![GeneralNameSpec::uri("http://crl.example.ma/ca.crl")],
                only_contains_user_certs: true,
                ..IssuingDistributionPointSpec::default()
            });
            t.revoked.push(revoked.revocation());
        }),
    );
    write(
        dir,
        "indirect",
        ca.crl(|t| {
            t.issuing_distribution_point = Some(IssuingDistributionPointSpec {
                indirect_crl: true,
                ..IssuingDistributionPointSpec::default()
            });
            let mut other = CrlEntry::new(vec![0x42; 16], utc(2022, 1, 1));
            other.certificate_issuer = vec![GeneralNameSpec::Directory(
                pki_core::builder::parse_name("CN=Other CA,C=MA").expect("name"),
            )];
            t.revoked.push(revoked.revocation());
            t.revoked.push(other);
        }),
    );
    write(
        dir,
        "many",
        ca.crl(|t| {
            for i in 1..200u64 {
                t.revoked.push(
                    CrlEntry::new(pki_core::builder::serial_from_u64(i), utc(2021, 1, 1))
                        .with_reason(RevocationReason::Superseded),
                );
            }
        }),
    );
}

fn ocsp(seeds: &Path, ca: &TestCa, leaf: &TestCa, revoked: &TestCa, responder: &TestCa) {
    let hashes = IssuerHashes::from_certificate_der(ca.cert_der()).expect("issuer hashes");
    let id = |subject: &TestCa, alg| hashes.cert_id(alg, subject.serial()).expect("CertID");

    let dir = seeds.join("ocsp_request");
    let one = [id(leaf, HashAlgorithm::Sha256)];
    let sha1 = [id(leaf, HashAlgorithm::Sha1)];
    let two = [
        id(leaf, HashAlgorithm::Sha256),
        id(revoked, HashAlgorithm::Sha1),
    ];
    write(&dir, "sha256", build_request(&one, None).expect("request"));
    write(
        &dir,
        "sha1-nonce",
        build_request(&sha1, Some(NONCE)).expect("request"),
    );
    write(
        &dir,
        "two-nonce32",
        build_request(&two, Some(&[7; 32])).expect("request"),
    );

    let dir = seeds.join("ocsp_response");
    let at = utc(2030, 1, 1);
    let single = |subject: &TestCa, status| SingleStatus {
        cert_id: id(subject, HashAlgorithm::Sha256),
        status,
        this_update: at,
        next_update: Some(at + Duration::from_secs(7 * 86_400)),
    };
    let by_ca = ResponderIdentity::issuer_key(ca.key());
    let delegated =
        ResponderIdentity::delegated(responder.cert_der(), responder.key()).expect("identity");
    let revoked_status = CertStatus::Revoked {
        revoked_at: utc(2025, 1, 1),
        reason: Some(RevocationReason::KeyCompromise),
    };
    let responses: [(&str, &ResponderIdentity, &dyn Signer, Vec<SingleStatus>, _); 5] = [
        (
            "good",
            &by_ca,
            ca.key(),
            vec![single(leaf, CertStatus::Good)],
            None,
        ),
        (
            "good-nonce",
            &by_ca,
            ca.key(),
            vec![single(leaf, CertStatus::Good)],
            Some(NONCE),
        ),
        (
            "revoked",
            &by_ca,
            ca.key(),
            vec![single(leaf, revoked_status)],
            None,
        ),
        (
            "delegated-unknown",
            &delegated,
            responder.key(),
            vec![single(leaf, CertStatus::Unknown)],
            None,
        ),
        (
            "delegated-two",
            &delegated,
            responder.key(),
            vec![
                single(revoked, revoked_status),
                single(leaf, CertStatus::Good),
            ],
            Some(NONCE),
        ),
    ];
    for (name, identity, key, singles, nonce) in responses {
        let der = build_response(identity, &singles, at, nonce, key).expect("response");
        write(&dir, name, der);
    }
    // Unsuccessful statuses are a bare OCSPResponse.
    write(
        &dir,
        "try-later",
        pki_core::ocsp::ResponseStatus::TryLater.unsigned_response(),
    );
}

fn base64(der: &[u8]) -> String {
    pki_core::pem::encode("X", der)
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect()
}

fn api(dir: &Path, ca: &TestCa, leaf: &TestCa, revoked: &TestCa) {
    use serde_json::json;
    let leaf_b64 = base64(leaf.cert_der());
    let ca_b64 = base64(ca.cert_der());
    let items = [
        (
            "minimal",
            json!({ "leaf": leaf_b64, "intermediates": [ca_b64] }),
        ),
        (
            "full",
            json!({
                "leaf": leaf_b64,
                "intermediates": [ca_b64],
                "at": "2030-01-02T00:00:00Z",
                "purpose": "serverAuth",
                "peer_name": "fuzz.example.ma",
                "required_level": "high",
                "policy": {
                    "initial_policy_set": [POLICY],
                    "explicit_policy": true,
                    "inhibit_policy_mapping": true,
                    "inhibit_any_policy": true
                },
                "max_intermediates": 2
            }),
        ),
        (
            "pem",
            json!({
                "leaf": leaf.cert_pem(),
                "intermediates": [format!("{}{}", ca.cert_pem(), leaf.cert_pem())],
                "at": "2030-01-02T00:00:00Z",
                "purpose": "email",
                "peer_name": "user@example.ma"
            }),
        ),
        (
            "revoked",
            json!({
                "leaf": base64(revoked.cert_der()),
                "intermediates": [ca_b64],
                "at": "2030-01-02T00:00:00Z",
                "purpose": "client-auth",
                "peer_name": "10.1.2.3"
            }),
        ),
        (
            "batch",
            json!({ "items": [
                { "leaf": leaf_b64, "intermediates": [ca_b64] },
                { "leaf": base64(revoked.cert_der()), "at": "2030-01-02T00:00:00Z" }
            ] }),
        ),
    ];
    for (name, value) in items {
        write(dir, name, value.to_string());
    }
}

fn csr(key: &SoftwareKey, subject: &str) -> Vec<u8> {
    let info = CertReqInfo {
        version: Version::V1,
        subject: pki_core::builder::parse_name(subject).expect("subject"),
        public_key: key.spki().clone(),
        attributes: SetOfVec::new(),
    };
    let signature = key
        .sign(&info.to_der().expect("CertificationRequestInfo"))
        .expect("signature");
    CertReq {
        info,
        algorithm: key.algorithm(),
        signature: BitString::from_bytes(&signature).expect("BIT STRING"),
    }
    .to_der()
    .expect("CertificationRequest")
}

fn csrs(dir: &Path) {
    for (name, alg) in [
        ("p256", KeyAlgorithm::EcdsaP256),
        ("p384", KeyAlgorithm::EcdsaP384),
        ("ed25519", KeyAlgorithm::Ed25519),
        ("rsa2048", KeyAlgorithm::RsaPkcs1Sha256(RsaSize::Rsa2048)),
        ("rsa-pss", KeyAlgorithm::RsaPssSha256(RsaSize::Rsa2048)),
    ] {
        let der = csr(
            &SoftwareKey::generate(alg),
            &format!("CN=Citizen {name},serialNumber=ID-{name},C=MA"),
        );
        write(dir, &format!("{name}.der"), &der);
        write(
            dir,
            &format!("{name}.pem"),
            pki_core::pem::encode("CERTIFICATE REQUEST", &der),
        );
    }
}

/// The example ceremony and operations files, as officers write them.
fn ceremonies(dir: &Path) {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/ceremony");
    let entries =
        std::fs::read_dir(&examples).unwrap_or_else(|e| panic!("{}: {e}", examples.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let name = path.file_name().expect("file name").to_string_lossy();
            write(dir, &name, text);
        }
    }
}
