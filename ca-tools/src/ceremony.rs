//! `pki ceremony root|intermediate|ocsp-signer`: key pair generated in the
//! HSM, certificate built, linted, signed by the parent's HSM key, checked
//! again, written out and recorded in the store with its audit entry.
//!
//! Nothing is overwritten: the CA name, the key label and the certificate
//! file are checked before the key is generated, and again where they are
//! written (the token refuses a duplicate label, the store a duplicate CA,
//! the file system an existing file). `--dry-run` runs every check up to
//! key generation, lints the certificate with a stand-in key, prints the
//! plan and changes nothing.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use const_oid::ObjectIdentifier;
use der::Encode;
use hsm::{HsmSigner, KeyInfo, KeyLabel, SessionPool};
use pki_core::builder::{
    build_certificate, BasicConstraintsSpec, CertificateTemplate, GeneralNameSpec, KeyUsageSpec,
    NameConstraintsSpec,
};
use pki_core::cert::hex;
use pki_core::{Cert, SignError, Signer};
use serde_json::json;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use store::{AuditContext, NewCa, NewCertificate, Serial, Store};
use time::OffsetDateTime;
use x509_cert::ext::pkix::KeyUsages;
use x509_cert::name::Name;

use crate::config::{
    self, CaCertificateSpec, GlobalArgs, HsmSection, IntermediateCeremony, KeySpec, Loaded,
    OcspSignerCeremony, RootCeremony,
};
use crate::error::{invalid, CliError, Result};
use crate::keystore;
use crate::lint::{self, CertKind, Expect};
use crate::profile::{distribution_points, oids};
use crate::publish;

/// Arguments of each `pki ceremony` subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The ceremony file (strict TOML; see examples/ceremony/).
    #[arg(value_name = "CEREMONY.toml")]
    pub file: PathBuf,
    /// Check everything and print what would happen; generate, sign, write
    /// and record nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// What a finished ceremony produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub certificate: PathBuf,
    pub der: Vec<u8>,
    pub key_label: String,
    /// `None` after a dry run.
    pub audit_seq: Option<u64>,
}

/// The self-signer of a root before its key exists: it names an algorithm
/// and a public key, and never signs.
struct Placeholder(SubjectPublicKeyInfoOwned);

impl Signer for Placeholder {
    fn algorithm(&self) -> AlgorithmIdentifierOwned {
        pki_core::signature::SignatureAlgorithm::EcdsaSha256.identifier()
    }
    fn public_key(&self) -> SubjectPublicKeyInfoOwned {
        self.0.clone()
    }
    fn sign(&self, _tbs: &[u8]) -> Result<Vec<u8>, SignError> {
        Err(SignError::Failed("placeholder key cannot sign".into()))
    }
}

/// The settings a ceremony resolved, for the plan print-out.
struct Resolved {
    store_url: String,
    hsm: config::HsmSettings,
}

fn resolve(
    g: &GlobalArgs,
    store: &config::StoreSection,
    hsm: &HsmSection,
) -> Result<(Resolved, Option<Loaded<config::OpsConfig>>)> {
    let ops = g.ops_config()?;
    let default_store = config::StoreSection::default();
    let default_hsm = HsmSection::default();
    let (ops_store, ops_hsm) = ops.as_ref().map_or((&default_store, &default_hsm), |o| {
        (&o.value.store, &o.value.hsm)
    });
    Ok((
        Resolved {
            store_url: g.store_url(&[store, ops_store]),
            hsm: g.hsm(&[hsm, ops_hsm])?,
        },
        ops,
    ))
}

/// The parts of a CA certificate common to roots and intermediates.
fn ca_template(
    spec: &CaCertificateSpec,
    subject: Name,
    issuer: Name,
    spki: SubjectPublicKeyInfoOwned,
    serial: &[u8],
) -> Result<CertificateTemplate> {
    if spec.validity_days == 0 {
        return Err(invalid("certificate.validity_days", "must be at least 1"));
    }
    let now = SystemTime::now();
    let mut tpl = CertificateTemplate::new(subject, spki);
    tpl.issuer = issuer;
    tpl.serial = serial.to_vec();
    tpl.not_before = now;
    tpl.not_after = now + Duration::from_secs(u64::from(spec.validity_days) * 86_400);
    tpl.basic_constraints = Some(BasicConstraintsSpec::ca(spec.path_len));
    tpl.key_usage = Some(KeyUsageSpec::new(
        KeyUsages::KeyCertSign | KeyUsages::CRLSign,
    ));
    tpl.certificate_policies = oids("certificate.policies", &spec.policies)?;
    if let Some(nc) = &spec.name_constraints {
        let list = |field: &str, names: &[String]| {
            names
                .iter()
                .map(|n| config::general_name(field, n))
                .collect::<Result<Vec<_>>>()
        };
        tpl.name_constraints = Some(NameConstraintsSpec {
            permitted: list("name_constraints.permitted", &nc.permitted)?,
            excluded: list("name_constraints.excluded", &nc.excluded)?,
        });
    }
    tpl.crl_distribution_points = distribution_points(&spec.crl_distribution_points);
    tpl.ocsp_urls.clone_from(&spec.ocsp_urls);
    tpl.ca_issuers_urls.clone_from(&spec.ca_issuers_urls);
    Ok(tpl)
}

/// Refuses an existing key label.
fn key_label_free(pool: &SessionPool, spec: &KeySpec) -> Result<KeyLabel> {
    let label = KeyLabel::new(spec.label.clone())?;
    if keystore::key_exists(pool, &label)? {
        return Err(CliError::AlreadyExists {
            what: "HSM key label",
            name: format!("{:?} on token {}", spec.label, pool.token()),
        });
    }
    Ok(label)
}

async fn ca_name_free(store: &Store, name: &str) -> Result<()> {
    if store.ca(name).await?.is_some() {
        return Err(CliError::AlreadyExists {
            what: "CA record",
            name: format!("{name:?} in the store"),
        });
    }
    Ok(())
}

/// The issuing CA, its certificate and its signer.
async fn issuer_parts(
    store: &Store,
    pool: &SessionPool,
    name: &str,
) -> Result<(store::Ca, Cert, HsmSigner)> {
    let ca = store.require_ca(name).await?;
    let cert = keystore::ca_certificate(&ca)?;
    let signer = keystore::ca_signer(pool, &ca, &cert)?;
    if !cert.is_ca() || !cert.key_usage_allows(KeyUsages::KeyCertSign) {
        return Err(CliError::IssuerUnfit {
            ca: name.into(),
            reason: "its certificate is not a CA certificate with keyCertSign".into(),
        });
    }
    Ok((ca, cert, signer))
}

fn print_plan(kind: &str, name: &str, resolved: &Resolved, key: &KeySpec, dry_run: bool) {
    if dry_run {
        println!(
            "ceremony {kind} {name:?}: DRY RUN, nothing is generated, signed, written or recorded"
        );
    } else {
        println!("ceremony {kind} {name:?}");
    }
    println!("  store     {}", redact(&resolved.store_url));
    println!(
        "  token     {} (PIN from {}), module {}",
        resolved.hsm.token,
        resolved.hsm.pin,
        resolved.hsm.module.display()
    );
    println!(
        "  key       {:?} {} (label free)",
        key.label, key.key_type.0
    );
}

fn print_template(tpl: &CertificateTemplate, policies: &[ObjectIdentifier], output: &Path) {
    println!("  subject   {}", tpl.subject);
    println!("  issuer    {}", tpl.issuer);
    let days = tpl
        .not_after
        .duration_since(tpl.not_before)
        .map_or(0, |d| d.as_secs() / 86_400);
    println!("  validity  {days} days");
    if let Some(bc) = tpl.basic_constraints {
        println!("  cA        {} pathLen {:?}", bc.ca, bc.path_len);
    }
    if !policies.is_empty() {
        let list: Vec<String> = policies.iter().map(ToString::to_string).collect();
        println!("  policies  {}", list.join(", "));
    }
    if let Some(nc) = &tpl.name_constraints {
        let show = |list: &[GeneralNameSpec]| {
            list.iter()
                .map(general_name_text)
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "  names     permitted [{}] excluded [{}]",
            show(&nc.permitted),
            show(&nc.excluded)
        );
    }
    for dp in &tpl.crl_distribution_points {
        for name in &dp.full_name {
            println!("  CDP       {}", general_name_text(name));
        }
    }
    for u in &tpl.ocsp_urls {
        println!("  OCSP      {u}");
    }
    for u in &tpl.ca_issuers_urls {
        println!("  caIssuers {u}");
    }
    if tpl.ocsp_no_check {
        println!("  EKU       id-kp-OCSPSigning, id-pkix-ocsp-nocheck");
    }
    println!("  output    {} (file free)", output.display());
}

/// A general name as written in the config files.
fn general_name_text(name: &GeneralNameSpec) -> String {
    match name {
        GeneralNameSpec::Dns(s) => format!("dns:{s}"),
        GeneralNameSpec::Email(s) => format!("email:{s}"),
        GeneralNameSpec::Uri(s) => format!("uri:{s}"),
        GeneralNameSpec::Ip(ip) => format!("ip:{ip}"),
        GeneralNameSpec::IpSubnet(ip, prefix) => format!("ip:{ip}/{prefix}"),
        GeneralNameSpec::Directory(dn) => format!("dn:{dn}"),
        GeneralNameSpec::Raw(raw) => format!("{raw:?}"),
    }
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_owned(),
    }
}

fn unix(t: pki_core::UnixTime) -> Result<OffsetDateTime> {
    i64::try_from(t.0)
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .ok_or_else(|| invalid("certificate validity", "out of range"))
}

/// The store row of a signed certificate.
pub fn new_certificate(ca: store::CaId, cert: &Cert, profile: &str) -> Result<NewCertificate> {
    Ok(NewCertificate {
        ca,
        serial: Serial::from_der_content(cert.serial())?,
        subject_der: cert.subject().to_der()?,
        not_before: unix(cert.not_before())?,
        not_after: unix(cert.not_after())?,
        der: cert.der().to_vec(),
        profile: profile.into(),
    })
}

fn generated(key: &KeyInfo) {
    println!(
        "  generated {} key {:?} in the HSM, CKA_ID {}",
        key.key_type,
        key.label.as_str(),
        key.id
    );
}

fn signed(cert: &Cert) {
    println!(
        "  signed    serial {}, SHA-256 {}; re-parsed, signature verified, lint passed",
        hex(cert.serial()),
        hex(cert.fingerprint())
    );
}

fn details(kind: &str, file: &Path, key: &KeyInfo, extra: serde_json::Value) -> serde_json::Value {
    let more = match extra {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    let mut d = json!({
        "ceremony": kind,
        "file": file.display().to_string(),
        "key_label": key.label.as_str(),
        "key_id": key.id.to_string(),
        "key_type": key.key_type.name(),
        "lint": "passed before and after signing",
    });
    if let Some(map) = d.as_object_mut() {
        map.extend(more);
    }
    d
}

/// `pki ceremony root`
pub async fn root(args: &Args, g: &GlobalArgs) -> Result<Outcome> {
    let file: Loaded<RootCeremony> = config::load(&args.file)?;
    let c = &file.value;
    let (resolved, _) = resolve(g, &c.store, &c.hsm)?;
    let subject = config::name("certificate.subject", &c.certificate.subject)?;
    let kind = CertKind::Root {
        path_len: c.certificate.path_len,
    };
    let policies = oids("certificate.policies", &c.certificate.policies)?;

    // Pre-flight: nothing may exist yet.
    publish::ensure_absent(&c.output, "certificate file")?;
    let store = Store::open(&resolved.store_url).await?;
    ca_name_free(&store, &c.name).await?;
    let pool = keystore::open(&resolved.hsm)?;
    let label = key_label_free(&pool, &c.key)?;
    print_plan("root", &c.name, &resolved, &c.key, args.dry_run);

    let serial = Serial::random()?;
    let stand_in = Placeholder(lint::stand_in_key());
    let tpl = ca_template(
        &c.certificate,
        subject.clone(),
        subject.clone(),
        stand_in.0.clone(),
        serial.as_bytes(),
    )?;
    let expect = Expect {
        kind,
        issuer: None,
        policies: &policies,
    };
    let what = format!("root certificate of {:?}", c.name);
    lint::before_signing(&tpl.tbs_certificate(&stand_in)?, &expect, &what)?;
    print_template(&tpl, &policies, &c.output);
    if args.dry_run {
        println!("  lint      passed with a stand-in key; dry run ends here");
        return Ok(Outcome {
            certificate: c.output.clone(),
            der: Vec::new(),
            key_label: c.key.label.clone(),
            audit_seq: None,
        });
    }

    let key = pool.generate_key(&label, c.key.key_type.0)?;
    generated(&key);
    let signer = pool.signer(key.clone())?;
    let mut tpl = tpl;
    tpl.subject_public_key = key.spki.clone();
    lint::before_signing(&tpl.tbs_certificate(&signer)?, &expect, &what)?;
    let der = build_certificate(&tpl, &signer)?;
    let cert = lint::after_signing(&der, &expect, &what)?;
    signed(&cert);

    let staged = publish::stage(
        &c.output,
        pki_core::pem::encode("CERTIFICATE", &der).as_bytes(),
    )?;
    let audit = AuditContext::new(g.actor())
        .with_input(file.sha256)
        .with_details(details(
            "root",
            &file.path,
            &key,
            json!({ "level": c.level, "output": c.output.display().to_string() }),
        ));
    let mut tx = store.begin().await?;
    let ca = tx
        .insert_ca(
            &NewCa {
                name: c.name.clone(),
                subject_der: subject.to_der()?,
                cert_der: der.clone(),
                key_label: c.key.label.clone(),
                parent: None,
                tier: c.tier.clone(),
            },
            &audit,
        )
        .await?;
    // The root is its own issuer: its certificate is recorded under itself.
    let recorded = tx
        .record_certificate(&new_certificate(ca.record.id, &cert, "root-ca")?, &audit)
        .await?;
    tx.commit().await?;
    staged.publish_new()?;
    println!(
        "  recorded  CA {:?} ({}) in the store, audit entries {}..{}",
        c.name, ca.record.id, ca.audit_seq, recorded.audit_seq
    );
    println!("  wrote     {}", c.output.display());
    store.close().await;
    Ok(Outcome {
        certificate: c.output.clone(),
        der,
        key_label: c.key.label.clone(),
        audit_seq: Some(recorded.audit_seq),
    })
}

/// `pki ceremony intermediate`
pub async fn intermediate(args: &Args, g: &GlobalArgs) -> Result<Outcome> {
    let file: Loaded<IntermediateCeremony> = config::load(&args.file)?;
    let c = &file.value;
    let (resolved, ops) = resolve(g, &c.store, &c.hsm)?;
    let subject = config::name("certificate.subject", &c.certificate.subject)?;
    let kind = CertKind::Intermediate {
        path_len: c.certificate.path_len,
    };
    let policies = oids("certificate.policies", &c.certificate.policies)?;

    publish::ensure_absent(&c.output, "certificate file")?;
    let store = Store::open(&resolved.store_url).await?;
    ca_name_free(&store, &c.name).await?;
    let pool = keystore::open(&resolved.hsm)?;
    let label = key_label_free(&pool, &c.key)?;
    let parent_pool = match &c.parent_hsm {
        Some(section) => {
            let ops_hsm = ops
                .as_ref()
                .map(|o| o.value.hsm.clone())
                .unwrap_or_default();
            // The parent's token: [parent_hsm], then [hsm], then the
            // operations config; not the --token override, which names the
            // new key's token.
            let no_cli = GlobalArgs {
                token: None,
                pin_file: None,
                ..g.clone()
            };
            let settings = no_cli.hsm(&[section, &c.hsm, &ops_hsm])?;
            keystore::open(&settings)?
        }
        None => pool.clone(),
    };
    let (parent, parent_cert, parent_signer) =
        issuer_parts(&store, &parent_pool, &c.parent).await?;
    if let Some(bc) = &parent_cert.extensions().basic_constraints {
        if let Some(limit) = bc.value.path_len_constraint {
            let fits = limit > 0 && c.certificate.path_len.is_some_and(|p| p < limit);
            if !fits {
                return Err(CliError::IssuerUnfit {
                    ca: c.parent.clone(),
                    reason: format!(
                        "its pathLenConstraint {limit} leaves no room for a CA with pathLen {:?}",
                        c.certificate.path_len
                    ),
                });
            }
        }
    }
    print_plan("intermediate", &c.name, &resolved, &c.key, args.dry_run);
    println!(
        "  parent    {:?} ({}), key {:?}",
        parent.name, parent.id, parent.key_label
    );

    // A random serial stands in until the checks pass: neither a dry run
    // nor a refused ceremony uses one up.
    let serial = Serial::random()?;
    let mut tpl = ca_template(
        &c.certificate,
        subject.clone(),
        parent_cert.subject().clone(),
        lint::stand_in_key(),
        serial.as_bytes(),
    )?;
    let expect = Expect {
        kind,
        issuer: Some(&parent_cert),
        policies: &policies,
    };
    let what = format!("CA certificate of {:?}", c.name);
    lint::before_signing(&tpl.tbs_certificate(&parent_signer)?, &expect, &what)?;
    print_template(&tpl, &policies, &c.output);
    if args.dry_run {
        println!("  lint      passed with a stand-in key; dry run ends here");
        return Ok(Outcome {
            certificate: c.output.clone(),
            der: Vec::new(),
            key_label: c.key.label.clone(),
            audit_seq: None,
        });
    }

    tpl.serial = store.allocate_serial(parent.id).await?.as_bytes().to_vec();
    let key = pool.generate_key(&label, c.key.key_type.0)?;
    generated(&key);
    tpl.subject_public_key = key.spki.clone();
    lint::before_signing(&tpl.tbs_certificate(&parent_signer)?, &expect, &what)?;
    let der = build_certificate(&tpl, &parent_signer)?;
    let cert = lint::after_signing(&der, &expect, &what)?;
    signed(&cert);

    let staged = publish::stage(
        &c.output,
        pki_core::pem::encode("CERTIFICATE", &der).as_bytes(),
    )?;
    let audit = AuditContext::new(g.actor())
        .with_input(file.sha256)
        .with_details(details(
            "intermediate",
            &file.path,
            &key,
            json!({
                "parent": c.parent,
                "level": c.level,
                "output": c.output.display().to_string(),
            }),
        ));
    let mut tx = store.begin().await?;
    let issued = tx
        .record_certificate(
            &new_certificate(parent.id, &cert, "intermediate-ca")?,
            &audit,
        )
        .await?;
    let ca = tx
        .insert_ca(
            &NewCa {
                name: c.name.clone(),
                subject_der: subject.to_der()?,
                cert_der: der.clone(),
                key_label: c.key.label.clone(),
                parent: Some(parent.id),
                tier: c.tier.clone(),
            },
            &audit,
        )
        .await?;
    tx.commit().await?;
    staged.publish_new()?;
    println!(
        "  recorded  CA {:?} ({}) under {:?}, audit entries {}..{}",
        c.name, ca.record.id, parent.name, issued.audit_seq, ca.audit_seq
    );
    println!("  wrote     {}", c.output.display());
    store.close().await;
    Ok(Outcome {
        certificate: c.output.clone(),
        der,
        key_label: c.key.label.clone(),
        audit_seq: Some(ca.audit_seq),
    })
}

/// `pki ceremony ocsp-signer`
pub async fn ocsp_signer(args: &Args, g: &GlobalArgs) -> Result<Outcome> {
    let file: Loaded<OcspSignerCeremony> = config::load(&args.file)?;
    let c = &file.value;
    let (resolved, _) = resolve(g, &c.store, &c.hsm)?;
    let subject = config::name("certificate.subject", &c.certificate.subject)?;
    if c.certificate.validity_days == 0 {
        return Err(invalid("certificate.validity_days", "must be at least 1"));
    }

    publish::ensure_absent(&c.output, "certificate file")?;
    let store = Store::open(&resolved.store_url).await?;
    let pool = keystore::open(&resolved.hsm)?;
    let label = key_label_free(&pool, &c.key)?;
    let (issuer, issuer_cert, issuer_signer) = issuer_parts(&store, &pool, &c.issuer).await?;
    print_plan("ocsp-signer", &c.issuer, &resolved, &c.key, args.dry_run);

    // A random serial stands in until the checks pass: neither a dry run
    // nor a refused ceremony uses one up.
    let serial = Serial::random()?;
    let now = SystemTime::now();
    let mut tpl = CertificateTemplate::new(subject, lint::stand_in_key());
    tpl.issuer = issuer_cert.subject().clone();
    tpl.serial = serial.as_bytes().to_vec();
    tpl.not_before = now;
    tpl.not_after = now + Duration::from_secs(u64::from(c.certificate.validity_days) * 86_400);
    tpl.basic_constraints = Some(BasicConstraintsSpec {
        critical: true,
        ..BasicConstraintsSpec::end_entity()
    });
    tpl.key_usage = Some(KeyUsageSpec::new(KeyUsages::DigitalSignature));
    tpl.extended_key_usage = vec![pki_core::oid::KP_OCSP_SIGNING];
    tpl.ocsp_no_check = true;
    let expect = Expect {
        kind: CertKind::OcspSigner,
        issuer: Some(&issuer_cert),
        policies: &[],
    };
    let what = format!("OCSP signer certificate for {:?}", c.issuer);
    lint::before_signing(&tpl.tbs_certificate(&issuer_signer)?, &expect, &what)?;
    print_template(&tpl, &[], &c.output);
    if args.dry_run {
        println!("  lint      passed with a stand-in key; dry run ends here");
        return Ok(Outcome {
            certificate: c.output.clone(),
            der: Vec::new(),
            key_label: c.key.label.clone(),
            audit_seq: None,
        });
    }

    tpl.serial = store.allocate_serial(issuer.id).await?.as_bytes().to_vec();
    let key = pool.generate_key(&label, c.key.key_type.0)?;
    generated(&key);
    tpl.subject_public_key = key.spki.clone();
    lint::before_signing(&tpl.tbs_certificate(&issuer_signer)?, &expect, &what)?;
    let der = build_certificate(&tpl, &issuer_signer)?;
    let cert = lint::after_signing(&der, &expect, &what)?;
    signed(&cert);

    let staged = publish::stage(
        &c.output,
        pki_core::pem::encode("CERTIFICATE", &der).as_bytes(),
    )?;
    let audit = AuditContext::new(g.actor())
        .with_input(file.sha256)
        .with_details(details(
            "ocsp-signer",
            &file.path,
            &key,
            json!({ "issuer": c.issuer, "output": c.output.display().to_string() }),
        ));
    let recorded = store
        .record_certificate(&new_certificate(issuer.id, &cert, "ocsp-signer")?, &audit)
        .await?;
    staged.publish_new()?;
    println!(
        "  recorded  OCSP signer certificate under {:?}, audit entry {}",
        issuer.name, recorded.audit_seq
    );
    println!("  wrote     {}", c.output.display());
    store.close().await;
    Ok(Outcome {
        certificate: c.output.clone(),
        der,
        key_label: c.key.label.clone(),
        audit_seq: Some(recorded.audit_seq),
    })
}
