//! Ceremony and operations TOML, as `pki ceremony ...` and `pki --config`
//! read them: the input is a file's bytes, parsed (UTF-8, strict TOML, no
//! unknown keys) as each ceremony kind and as the operations config. What
//! parses goes through the same value parsers (names, OIDs, general names,
//! key labels) and, for CA ceremonies and issuance profiles, the template
//! and the pre-signing lint of a dry run, with a stand-in key.
#![no_main]

use ca_tools::config::{
    self, CaPolicy, IntermediateCeremony, OcspSignerCeremony, OpsConfig, ProfileConfig,
    ProfileKind, RootCeremony,
};
use ca_tools::lint::{self, CertKind, Expect};
use ca_tools::{ceremony, profile};
use libfuzzer_sys::fuzz_target;
use pki_core::builder::{CertificateTemplate, GeneralNameSpec};
use pki_core::signature::SignatureAlgorithm;
use pki_core::{Cert, SignError, Signer};
use pki_fuzz::fixtures;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

/// Names a key and an algorithm for the TBS; never signs (the ceremony's
/// placeholder).
struct StandIn(SubjectPublicKeyInfoOwned);

impl Signer for StandIn {
    fn algorithm(&self) -> AlgorithmIdentifierOwned {
        SignatureAlgorithm::EcdsaSha256.identifier()
    }
    fn public_key(&self) -> SubjectPublicKeyInfoOwned {
        self.0.clone()
    }
    fn sign(&self, _tbs: &[u8]) -> Result<Vec<u8>, SignError> {
        Err(SignError::Failed("stand-in key".into()))
    }
}

fn spki_of(cert: &Cert) -> SubjectPublicKeyInfoOwned {
    cert.x509()
        .expect("fixture certificate")
        .tbs_certificate
        .subject_public_key_info
        .clone()
}

/// Builds the TBS as the ceremony would sign it and lints it.
fn lint_template(tpl: &CertificateTemplate, signer: &StandIn, expect: &Expect<'_>) {
    if let Ok(tbs) = tpl.tbs_certificate(signer) {
        let _ = lint::before_signing(&tbs, expect, "fuzzed certificate");
    }
}

fn key_label(label: &str) {
    let _ = hsm::KeyLabel::new(label.to_owned());
}

fn name_constraints(spec: &config::CaCertificateSpec) {
    if let Some(nc) = &spec.name_constraints {
        for n in nc.permitted.iter().chain(&nc.excluded) {
            let _ = config::general_name("name_constraints", n);
        }
    }
}

fn root(c: &RootCeremony) {
    key_label(&c.key.label);
    name_constraints(&c.certificate);
    let Ok(subject) = config::name("certificate.subject", &c.certificate.subject) else {
        return;
    };
    let Ok(policies) = profile::oids("certificate.policies", &c.certificate.policies) else {
        return;
    };
    let stand_in = StandIn(lint::stand_in_key());
    let Ok(tpl) = ceremony::ca_template(
        &c.certificate,
        subject.clone(),
        subject,
        lint::stand_in_key(),
        &[0x42; 16],
    ) else {
        return;
    };
    let expect = Expect {
        kind: CertKind::Root {
            path_len: c.certificate.path_len,
        },
        issuer: None,
        policies: &policies,
    };
    lint_template(&tpl, &stand_in, &expect);
}

fn intermediate(c: &IntermediateCeremony) {
    key_label(&c.key.label);
    name_constraints(&c.certificate);
    let Ok(subject) = config::name("certificate.subject", &c.certificate.subject) else {
        return;
    };
    let Ok(policies) = profile::oids("certificate.policies", &c.certificate.policies) else {
        return;
    };
    let parent = &fixtures().root;
    let Ok(tpl) = ceremony::ca_template(
        &c.certificate,
        subject,
        parent.subject().clone(),
        lint::stand_in_key(),
        &[0x42; 16],
    ) else {
        return;
    };
    let expect = Expect {
        kind: CertKind::Intermediate {
            path_len: c.certificate.path_len,
        },
        issuer: Some(parent),
        policies: &policies,
    };
    lint_template(&tpl, &StandIn(spki_of(parent)), &expect);
}

fn ocsp_signer(c: &OcspSignerCeremony) {
    key_label(&c.key.label);
    let _ = config::name("certificate.subject", &c.certificate.subject);
}

fn end_entity(profile: &ProfileConfig, policy: &CaPolicy) {
    let issuer = &fixtures().ca;
    let Ok(policies) = profile::oids("policies", &profile.policies) else {
        return;
    };
    let Ok(subject) = config::name(
        "subject",
        "CN=Fuzz Citizen,serialNumber=ID-1,O=Example,C=MA",
    ) else {
        return;
    };
    let sans = match profile.kind {
        ProfileKind::TlsServer => vec![GeneralNameSpec::dns("fuzz.example.ma")],
        _ => Vec::new(),
    };
    let Ok(mut tpl) = profile::end_entity_template(
        profile,
        policy,
        issuer.subject(),
        subject,
        lint::stand_in_key(),
        sans,
    ) else {
        return;
    };
    tpl.serial = vec![0x42; 16];
    let expect = Expect {
        kind: CertKind::EndEntity {
            kind: profile.kind,
            qualified: profile.qualified,
        },
        issuer: Some(issuer),
        policies: &policies,
    };
    lint_template(&tpl, &StandIn(spki_of(issuer)), &expect);
}

fn ops(c: &OpsConfig) {
    for policy in c.ca.values() {
        for name in &policy.profiles {
            if let Some(p) = c.profile.get(name) {
                end_entity(p, policy);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = toml::from_str::<RootCeremony>(text) {
        root(&c);
    }
    if let Ok(c) = toml::from_str::<IntermediateCeremony>(text) {
        intermediate(&c);
    }
    if let Ok(c) = toml::from_str::<OcspSignerCeremony>(text) {
        ocsp_signer(&c);
    }
    if let Ok(c) = toml::from_str::<OpsConfig>(text) {
        ops(&c);
    }
});
