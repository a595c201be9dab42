//! `pki validate`: the offline validator used by auditors and conformance
//! runs. Interface fixed in ARCHITECTURE.md ("Interfaces other parts depend on").

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::ValueEnum;
use pki_core::cert::hex;
use pki_core::crl::{Crl, CrlSet};
use pki_core::name::PeerName;
use pki_core::path::{Finding, PolicyInputs, Profile};
use pki_core::revocation::{RevocationReason, RevocationStatus, StatusSource};
use pki_core::{
    AlgorithmPolicy, AssuranceLevel, Cert, Error, Purpose, Tier, TrustStore, UnixTime,
    ValidatedPath, ValidationOptions, Validator,
};
use serde_json::{json, Value};

use crate::report::say;

/// The tier given to anchors named on the command line.
pub const OFFLINE_TIER: &str = "offline";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PurposeArg {
    Any,
    ServerAuth,
    ClientAuth,
    Email,
    CodeSigning,
    OcspSigning,
    DocumentSigning,
}

impl From<PurposeArg> for Purpose {
    fn from(p: PurposeArg) -> Self {
        match p {
            PurposeArg::Any => Self::Any,
            PurposeArg::ServerAuth => Self::ServerAuth,
            PurposeArg::ClientAuth => Self::ClientAuth,
            PurposeArg::Email => Self::Email,
            PurposeArg::CodeSigning => Self::CodeSigning,
            PurposeArg::OcspSigning => Self::OcspSigning,
            PurposeArg::DocumentSigning => Self::DocumentSigning,
        }
    }
}

/// Which rules beyond RFC 5280 section 6 make the certificate invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProfileArg {
    /// RFC 5280 section 6 decides; rules addressed to the issuing CA are
    /// reported as findings (default, except for server-auth).
    Rfc5280,
    /// Findings are errors (default for server-auth: CA/B Baseline Requirements).
    Strict,
}

impl From<ProfileArg> for Profile {
    fn from(p: ProfileArg) -> Self {
        match p {
            ProfileArg::Rfc5280 => Self::Rfc5280,
            ProfileArg::Strict => Self::Strict,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AlgorithmPolicyArg {
    /// RSA >= 2048 with SHA-2, RSA-PSS, ECDSA P-256/384/521, Ed25519.
    Default,
    /// Also SHA-1 signatures and RSA keys from 1024 bits (archived material).
    Legacy,
}

/// Arguments of `pki validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Trust anchor certificate (PEM or DER). Repeat for several.
    #[arg(long = "anchor", value_name = "FILE", required = true)]
    pub anchors: Vec<PathBuf>,
    /// Untrusted intermediate certificate (PEM or DER), in any order. Repeat for several.
    #[arg(long = "intermediate", value_name = "FILE")]
    pub intermediates: Vec<PathBuf>,
    /// CRL (PEM or DER) to check revocation against. Repeat for several.
    #[arg(long = "crl", value_name = "FILE")]
    pub crls: Vec<PathBuf>,
    /// Validation time, RFC 3339 (e.g. 2026-01-01T00:00:00Z). Default: now.
    #[arg(long = "at", value_name = "RFC3339")]
    pub at: Option<String>,
    /// What the certificate will be used for; its extendedKeyUsage and keyUsage must allow it.
    #[arg(long, value_enum, default_value = "any")]
    pub purpose: PurposeArg,
    /// DNS name, IP address or email address the certificate must be valid for (matched against subjectAltName).
    #[arg(long = "peer-name", value_name = "NAME")]
    pub peer_name: Option<String>,
    /// At most N intermediate certificates between the certificate and the anchor
    /// (self-issued key-rollover certificates do not count).
    #[arg(long = "max-depth", value_name = "N", default_value_t = 8)]
    pub max_depth: usize,
    /// Which signature algorithms and key sizes are acceptable.
    #[arg(long = "algorithm-policy", value_enum, default_value = "default")]
    pub algorithm_policy: AlgorithmPolicyArg,
    /// Fail unless every certificate except the anchor has a current status from the CRLs given.
    #[arg(long = "require-revocation")]
    pub require_revocation: bool,
    /// Acceptable certificate policy OID (user-initial-policy-set). Repeat for several. Default: any policy.
    #[arg(long = "policy", value_name = "OID")]
    pub policies: Vec<String>,
    /// Require a valid certificate policy (RFC 5280 initial-explicit-policy).
    #[arg(long = "explicit-policy")]
    pub explicit_policy: bool,
    /// Do not follow policy mappings (RFC 5280 initial-policy-mapping-inhibit).
    #[arg(long = "inhibit-policy-mapping")]
    pub inhibit_policy_mapping: bool,
    /// Do not let anyPolicy match (RFC 5280 initial-any-policy-inhibit).
    #[arg(long = "inhibit-any-policy")]
    pub inhibit_any_policy: bool,
    /// rfc5280: issuance-profile findings are warnings; strict: they are errors.
    /// Default: strict for server-auth, rfc5280 otherwise.
    #[arg(long, value_enum)]
    pub profile: Option<ProfileArg>,
    /// Print the whole result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// The certificate to validate (PEM or DER).
    #[arg(value_name = "LEAF")]
    pub leaf: PathBuf,
}

/// Input that cannot be used at all (exit status 2).
#[derive(Debug)]
pub struct BadInput(pub String);

/// Reads an input file, refusing anything larger than the biggest PEM/DER
/// input pki-core accepts, before allocating for it.
fn read(path: &Path) -> Result<Vec<u8>, BadInput> {
    use std::io::Read;
    let limit = pki_core::pem::MAX_INPUT_SIZE as u64;
    let file = std::fs::File::open(path)
        .map_err(|e| BadInput(format!("cannot read {}: {e}", path.display())))?;
    let mut data = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut data)
        .map_err(|e| BadInput(format!("cannot read {}: {e}", path.display())))?;
    if data.len() as u64 > limit {
        return Err(BadInput(format!(
            "{} is larger than {limit} bytes",
            path.display()
        )));
    }
    Ok(data)
}

fn is_encoding_error(e: &Error) -> bool {
    matches!(
        e,
        Error::BadDer { .. } | Error::BadPem(_) | Error::TooLarge { .. }
    )
}

/// A CRL given with `--crl`, to name the one that decided a status.
#[derive(Debug, Clone)]
pub struct LoadedCrl {
    pub file: PathBuf,
    pub crl: Arc<Crl>,
}

/// An intermediate or CRL file that could not be used, and why.
#[derive(Debug, Clone)]
pub struct Unusable {
    pub kind: &'static str,
    pub file: PathBuf,
    pub reason: String,
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.kind, self.file.display(), self.reason)
    }
}

/// Outcome of a `pki validate` run.
#[derive(Debug)]
pub enum Outcome {
    Valid(Box<ValidatedPath>, Vec<LoadedCrl>),
    Invalid(Error),
    /// Some intermediates or CRLs could not be used: the path the caller
    /// described cannot be checked (exit status 1, naming the files).
    UnusableInputs(Vec<Unusable>),
}

/// Runs the validation described by `args`.
pub fn execute(args: &Args) -> Result<Outcome, BadInput> {
    let time = match &args.at {
        Some(t) => UnixTime::parse_rfc3339(t).map_err(|e| BadInput(e.to_string()))?,
        None => UnixTime::now(),
    };
    let mut trust = TrustStore::new();
    trust
        .add_tier(Tier::new(OFFLINE_TIER, AssuranceLevel::High))
        .map_err(|e| BadInput(e.to_string()))?;
    for path in &args.anchors {
        let certs = Cert::parse_many(&read(path)?)
            .map_err(|e| BadInput(format!("anchor {}: {e}", path.display())))?;
        for c in certs {
            trust
                .add_anchor(OFFLINE_TIER, Arc::new(c))
                .map_err(|e| BadInput(format!("anchor {}: {e}", path.display())))?;
        }
    }
    // Intermediates and CRLs are part of the path being judged: one that
    // cannot be used is a verdict naming it, not bad input.
    let mut unusable = Vec::new();
    let mut intermediates = Vec::new();
    for path in &args.intermediates {
        match read(path).and_then(|d| Cert::parse_many(&d).map_err(|e| BadInput(e.to_string()))) {
            Ok(certs) => intermediates.extend(certs.into_iter().map(Arc::new)),
            Err(BadInput(reason)) => unusable.push(Unusable {
                kind: "intermediate",
                file: path.clone(),
                reason,
            }),
        }
    }
    let mut loaded = Vec::new();
    for path in &args.crls {
        match read(path).and_then(|d| Crl::parse_many(&d).map_err(|e| BadInput(e.to_string()))) {
            Ok(list) => loaded.extend(list.into_iter().map(|c| LoadedCrl {
                file: path.clone(),
                crl: Arc::new(c),
            })),
            Err(BadInput(reason)) => unusable.push(Unusable {
                kind: "CRL",
                file: path.clone(),
                reason,
            }),
        }
    }
    let crls: Vec<Arc<Crl>> = loaded.iter().map(|l| l.crl.clone()).collect();
    let policy_set = args
        .policies
        .iter()
        .map(|s| {
            pki_core::oid::parse_dotted(s)
                .map_err(|_| BadInput(format!("--policy {s:?} is not an OID")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let peer_name = args
        .peer_name
        .as_deref()
        .map(PeerName::parse)
        .transpose()
        .map_err(|e| BadInput(format!("--peer-name: {e}")))?;

    let leaf = match Cert::parse_many(&read(&args.leaf)?) {
        Ok(mut v) if v.len() == 1 => Arc::new(v.remove(0)),
        Ok(v) => {
            return Err(BadInput(format!(
                "{}: expected one certificate, found {}",
                args.leaf.display(),
                v.len()
            )))
        }
        Err(e) if is_encoding_error(&e) => {
            return Err(BadInput(format!("{}: {e}", args.leaf.display())))
        }
        Err(e) => return Ok(Outcome::Invalid(e)),
    };
    if !unusable.is_empty() {
        return Ok(Outcome::UnusableInputs(unusable));
    }

    let algorithm_policy = match args.algorithm_policy {
        AlgorithmPolicyArg::Default => AlgorithmPolicy::Default,
        AlgorithmPolicyArg::Legacy => AlgorithmPolicy::Legacy,
    };
    // RFC 5280 6.3.3 (f): the intermediates given may also sign CRLs (a
    // separate CRL signer, a CA's new key after a rollover); each is used
    // only once its own path validates to the same anchor.
    let crl_set = CrlSet::new(crls, algorithm_policy).with_signers(intermediates.clone());
    let mut opts = ValidationOptions::at(time);
    opts.purpose = args.purpose.into();
    opts.peer_name = peer_name;
    opts.max_intermediates = args.max_depth;
    opts.algorithm_policy = algorithm_policy;
    opts.policy = PolicyInputs {
        initial_policy_set: policy_set,
        initial_explicit_policy: args.explicit_policy,
        initial_policy_mapping_inhibit: args.inhibit_policy_mapping,
        initial_any_policy_inhibit: args.inhibit_any_policy,
    };
    opts.revocation = Some(&crl_set);
    opts.require_revocation = args.require_revocation;
    opts.profile = args.profile.map(Profile::from);

    let validator = Validator::new(trust);
    Ok(match validator.validate(&leaf, &intermediates, &opts) {
        Ok(p) => Outcome::Valid(Box::new(p), loaded),
        Err(e) => Outcome::Invalid(e),
    })
}

fn status_json(index: usize, s: &RevocationStatus, crls: &[LoadedCrl]) -> Value {
    let source = |src: &StatusSource| match src {
        StatusSource::Crl {
            fingerprint,
            this_update,
            next_update,
        } => {
            let loaded = crls.iter().find(|l| l.crl.fingerprint() == fingerprint);
            json!({"kind": "crl", "sha256": hex(fingerprint), "this_update": this_update.to_string(),
                    "next_update": next_update.map(|t| t.to_string()),
                    "file": loaded.map(|l| l.file.display().to_string()),
                    "issuer": loaded.map(|l| pki_core::name::format_dn(l.crl.issuer())),
                    "crl_number": loaded.and_then(|l| l.crl.number()).map(hex),
                    "delta": loaded.is_some_and(|l| l.crl.is_delta())})
        }
        StatusSource::Ocsp {
            produced_at,
            next_update,
            ..
        } => json!({"kind": "ocsp", "produced_at": produced_at.to_string(),
                    "next_update": next_update.map(|t| t.to_string())}),
    };
    match s {
        RevocationStatus::Good { source: src } => {
            json!({"index": index, "status": "good", "source": source(src)})
        }
        RevocationStatus::Revoked {
            reason,
            revoked_at,
            invalidity_date,
            source: src,
        } => {
            // RFC 5280 5.3.1: certificateHold is a reversible revocation.
            let status = if *reason == RevocationReason::CertificateHold {
                "on_hold"
            } else {
                "revoked"
            };
            json!({"index": index, "status": status, "reason": reason.as_str(), "revoked_at": revoked_at.to_string(),
                    "invalidity_date": invalidity_date.map(|t| t.to_string()), "source": source(src)})
        }
        RevocationStatus::Unknown { detail } => {
            json!({"index": index, "status": "unchecked", "detail": detail})
        }
    }
}

fn finding_json(f: &Finding) -> Value {
    json!({"index": f.index, "rule": f.rule, "code": f.code(), "message": f.error.to_string()})
}

/// The JSON document `--json` prints.
pub fn outcome_json(outcome: &Outcome) -> Value {
    match outcome {
        Outcome::Valid(p, crls) => {
            let certs: Vec<Value> = p
                .certs
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    json!({"index": i, "subject": c.subject_string(), "issuer": c.issuer_string(),
                           "serial": hex(c.serial()), "sha256": hex(c.fingerprint()),
                           "not_before": c.not_before().to_string(), "not_after": c.not_after().to_string()})
                })
                .collect();
            let anchor = p.anchor();
            json!({
                "valid": true,
                "path": certs,
                "anchor": {"subject": anchor.subject_string(), "sha256": hex(anchor.fingerprint())},
                "tier": p.tier_name,
                "level": p.level.as_str(),
                "valid_policies": p.policies.valid_policies.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "any_policy": p.policies.any_policy,
                "revocation": p.revocation.iter().enumerate().map(|(i, s)| status_json(i, s, crls)).collect::<Vec<_>>(),
                "legacy_algorithms": p.legacy,
                "warnings": p.warnings,
                "profile": p.profile.as_str(),
                "findings": p.findings.iter().map(finding_json).collect::<Vec<_>>(),
            })
        }
        Outcome::UnusableInputs(list) => json!({
            "valid": false,
            "error": {"code": "unusable_input", "message": list[0].to_string()},
            "unusable_inputs": list.iter().map(|u| json!({
                "kind": u.kind, "file": u.file.display().to_string(), "reason": u.reason,
            })).collect::<Vec<_>>(),
        }),
        Outcome::Invalid(e) => {
            let mut doc = json!({
                "valid": false,
                "error": {"code": e.code(), "message": e.to_string(), "certificate_index": e.index()},
            });
            if let Error::Revoked {
                reason, revoked_at, ..
            } = e
            {
                doc["error"]["reason"] = json!(reason.as_str());
                doc["error"]["revoked_at"] = json!(revoked_at.to_string());
                doc["error"]["on_hold"] = json!(*reason == RevocationReason::CertificateHold);
            }
            doc
        }
    }
}

/// Runs `pki validate` and maps the outcome to the exit status.
pub fn run(args: &Args) -> ExitCode {
    match execute(args) {
        Err(BadInput(msg)) => {
            if args.json {
                say!(
                    "{}",
                    json!({"valid": false, "error": {"code": "bad_input", "message": msg}})
                );
            }
            eprintln!("pki validate: bad input: {msg}");
            ExitCode::from(2)
        }
        Ok(outcome) => {
            if args.json {
                say!(
                    "{}",
                    serde_json::to_string_pretty(&outcome_json(&outcome)).unwrap_or_default()
                );
            }
            match outcome {
                Outcome::Valid(p, _) => {
                    if !args.json {
                        say!(
                            "valid: {} -> {} (tier {}, level {})",
                            p.certs[0].subject_string(),
                            p.anchor().subject_string(),
                            p.tier_name,
                            p.level
                        );
                        for w in &p.warnings {
                            say!("warning: {w}");
                        }
                        for l in &p.legacy {
                            say!("legacy: {l}");
                        }
                        for f in &p.findings {
                            say!("finding ({} profile): {f}", p.profile);
                        }
                    }
                    ExitCode::SUCCESS
                }
                Outcome::Invalid(e) => {
                    eprintln!("invalid: {e} [{}]", e.code());
                    ExitCode::from(1)
                }
                Outcome::UnusableInputs(list) => {
                    for u in &list {
                        eprintln!("invalid: unusable {u} [unusable_input]");
                    }
                    ExitCode::from(1)
                }
            }
        }
    }
}
