//! Configuration: the strict TOML files officers write (one per ceremony,
//! one operations config for day-to-day issuance, revocation and CRLs) and
//! the global options that override them.
//!
//! Every table rejects unknown keys (`deny_unknown_fields`), so a typo is an
//! error naming the key instead of a silently ignored setting. PINs are
//! never in a file or on the command line: a config names the environment
//! variable or the file holding the PIN.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use hsm::{KeyType, Pin, TokenLabel};
use pki_core::builder::{parse_name, GeneralNameSpec};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::{invalid, CliError, Result};

/// Default database: a SQLite file under `./var/`.
pub const DEFAULT_STORE_URL: &str = "sqlite://var/pki.db";
/// Default environment variable holding the HSM user PIN.
pub const DEFAULT_PIN_ENV: &str = "PKI_HSM_PIN";
/// Default token label.
pub const DEFAULT_TOKEN: &str = "pki-ca";
/// Largest config file read.
const MAX_CONFIG_SIZE: u64 = 1024 * 1024;

/// Options every officer command takes. Command-line values (or their
/// environment variables) win over the ceremony file, which wins over the
/// operations config, which wins over the defaults.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GlobalArgs {
    /// Operations config (store, HSM, CA issuance policies, profiles).
    #[arg(long, global = true, env = "PKI_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://... [default: sqlite://var/pki.db]
    #[arg(long, global = true, env = "PKI_STORE_URL", value_name = "URL")]
    pub store: Option<String>,
    /// Label of the HSM token holding the CA keys.
    #[arg(long, global = true, env = "PKI_HSM_TOKEN", value_name = "LABEL")]
    pub token: Option<String>,
    /// File holding the HSM user PIN (else the variable named in the config,
    /// default PKI_HSM_PIN): the single-PIN mode, for the demo. Under dual
    /// control, CA-key operations take the officers' --officer-share
    /// instead. The PIN itself is never an argument.
    #[arg(long, global = true, env = "PKI_HSM_PIN_FILE", value_name = "FILE")]
    pub pin_file: Option<PathBuf>,
    /// Who is acting, recorded in the audit log; required (or PKI_ACTOR)
    /// by every command that changes the store. With `pki audit list`:
    /// only the entries of this actor (PKI_ACTOR does not filter).
    #[arg(long, global = true, value_name = "NAME")]
    pub actor: Option<String>,
}

/// Environment variable naming the acting officer when `--actor` is not
/// given. Read here rather than by clap, so that it never becomes the
/// `pki audit list --actor` filter.
pub const ACTOR_ENV: &str = "PKI_ACTOR";

impl GlobalArgs {
    /// The audit actor: `--actor`, else `PKI_ACTOR`; never a guess.
    /// Commands that change state call this before they change anything.
    pub fn actor(&self) -> Result<String> {
        let named = match &self.actor {
            Some(actor) => Some(actor.clone()),
            None => std::env::var(ACTOR_ENV).ok(),
        };
        match named.as_deref().map(str::trim) {
            Some(actor) if !actor.is_empty() => Ok(actor.to_owned()),
            _ => Err(CliError::NoActor),
        }
    }

    /// The operations config, if one is named.
    pub fn ops_config(&self) -> Result<Option<Loaded<OpsConfig>>> {
        self.config.as_deref().map(load).transpose()
    }

    /// The operations config, which the command needs.
    pub fn require_ops_config(&self) -> Result<Loaded<OpsConfig>> {
        self.ops_config()?.ok_or(CliError::NoConfig)
    }

    /// The store URL: command line, then `sections` in order, then the
    /// default.
    pub fn store_url(&self, sections: &[&StoreSection]) -> String {
        self.store
            .clone()
            .or_else(|| sections.iter().find_map(|s| s.url.clone()))
            .unwrap_or_else(|| DEFAULT_STORE_URL.into())
    }

    /// Token, PIN source and module: command line, then `sections` in
    /// order (each field separately), then the defaults.
    pub fn hsm(&self, sections: &[&HsmSection]) -> Result<HsmSettings> {
        let token = self
            .token
            .clone()
            .or_else(|| sections.iter().find_map(|s| s.token.clone()))
            .unwrap_or_else(|| DEFAULT_TOKEN.into());
        let pin = if let Some(file) = &self.pin_file {
            PinSource::File(file.clone())
        } else {
            sections
                .iter()
                .find_map(|s| s.pin_source().transpose())
                .transpose()?
                .unwrap_or_else(|| PinSource::Env(DEFAULT_PIN_ENV.into()))
        };
        let module = sections
            .iter()
            .find_map(|s| s.module.clone())
            .unwrap_or_else(hsm::module_path_from_env);
        let require_officers = sections
            .iter()
            .find_map(|s| s.require_officers)
            .unwrap_or(false);
        Ok(HsmSettings {
            token: TokenLabel::new(token.clone())
                .map_err(|e| invalid("HSM token label", e.to_string()))?,
            pin,
            module,
            require_officers,
        })
    }
}

/// A config file as read: the value and the SHA-256 of its bytes (an input
/// hash for the audit log).
#[derive(Debug, Clone)]
pub struct Loaded<T> {
    pub value: T,
    pub path: PathBuf,
    pub sha256: [u8; 32],
}

/// Reads and strictly parses a TOML file.
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<Loaded<T>> {
    let bytes = read_limited(path, MAX_CONFIG_SIZE)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| CliError::Config {
        path: path.to_owned(),
        message: "not UTF-8".into(),
    })?;
    let value = toml::from_str(text).map_err(|e| CliError::Config {
        path: path.to_owned(),
        message: e.to_string().trim_end().to_owned(),
    })?;
    Ok(Loaded {
        value,
        path: path.to_owned(),
        sha256: store::sha256(&bytes),
    })
}

/// Reads a whole file, refusing one larger than `limit` before allocating
/// for it.
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let read_err = |source| CliError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut data = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut data)
        .map_err(read_err)?;
    if data.len() as u64 > limit {
        return Err(CliError::InputTooLarge {
            path: path.to_owned(),
            size: data.len() as u64,
            limit,
        });
    }
    Ok(data)
}

// ---------------------------------------------------------------------------
// Sections shared by the files
// ---------------------------------------------------------------------------

/// `[store]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// `sqlite://PATH` or `postgres://...`.
    pub url: Option<String>,
}

/// `[hsm]`: which token, where its PIN is, which PKCS#11 module.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HsmSection {
    pub token: Option<String>,
    /// Environment variable holding the user PIN.
    pub pin_env: Option<String>,
    /// File holding the user PIN.
    pub pin_file: Option<PathBuf>,
    /// PKCS#11 module path [default: $PKCS11_MODULE or SoftHSM2].
    pub module: Option<PathBuf>,
    /// CA-key operations on this token need the officers' shares
    /// (`--officer-share`); the single-PIN demo mode is refused.
    pub require_officers: Option<bool>,
}

impl HsmSection {
    fn pin_source(&self) -> Result<Option<PinSource>> {
        match (&self.pin_env, &self.pin_file) {
            (Some(_), Some(_)) => Err(invalid("[hsm]", "give pin_env or pin_file, not both")),
            (Some(var), None) => Ok(Some(PinSource::Env(var.clone()))),
            (None, Some(file)) => Ok(Some(PinSource::File(file.clone()))),
            (None, None) => Ok(None),
        }
    }
}

/// Where the user PIN comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinSource {
    Env(String),
    File(PathBuf),
}

impl PinSource {
    pub fn read(&self) -> Result<Pin> {
        Ok(match self {
            Self::Env(var) => Pin::from_env(var)?,
            Self::File(path) => Pin::from_file(path)?,
        })
    }
}

impl fmt::Display for PinSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(var) => write!(f, "environment variable {var}"),
            Self::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

/// Resolved HSM settings.
#[derive(Debug, Clone)]
pub struct HsmSettings {
    pub token: TokenLabel,
    pub pin: PinSource,
    pub module: PathBuf,
    /// Refuse the single-PIN mode for CA-key operations.
    pub require_officers: bool,
}

/// `[key]`: the key pair a ceremony generates in the HSM.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    /// CKA_LABEL; must not exist on the token yet.
    pub label: String,
    /// `P-256`, `P-384`, `RSA-3072`, `RSA-4096` or `Ed25519`.
    #[serde(rename = "type")]
    pub key_type: KeyTypeName,
}

/// A key type by its name in configs and on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct KeyTypeName(pub KeyType);

impl TryFrom<String> for KeyTypeName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl std::str::FromStr for KeyTypeName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        KeyType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s))
            .map(Self)
            .ok_or_else(|| {
                format!(
                    "unknown key type {s:?}: expected P-256, P-384, RSA-3072, RSA-4096 or Ed25519"
                )
            })
    }
}

/// `[name_constraints]` of a CA certificate (RFC 5280 4.2.1.10), as
/// general-name strings (see [`general_name`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameConstraintsConfig {
    #[serde(default)]
    pub permitted: Vec<String>,
    #[serde(default)]
    pub excluded: Vec<String>,
}

/// `[certificate]` of a CA ceremony.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaCertificateSpec {
    /// RFC 4514 distinguished name, most specific RDN first.
    pub subject: String,
    pub validity_days: u32,
    /// RFC 5280 4.2.1.9 pathLenConstraint; absent: unlimited.
    pub path_len: Option<u8>,
    /// certificatePolicies OIDs.
    #[serde(default)]
    pub policies: Vec<String>,
    pub name_constraints: Option<NameConstraintsConfig>,
    /// URLs for the CRL distribution points extension (the parent's CRL).
    #[serde(default)]
    pub crl_distribution_points: Vec<String>,
    /// id-ad-ocsp URLs (the parent's responder).
    #[serde(default)]
    pub ocsp_urls: Vec<String>,
    /// id-ad-caIssuers URLs (where the parent's certificate is published).
    #[serde(default)]
    pub ca_issuers_urls: Vec<String>,
}

/// `pki ceremony root`: a self-signed root.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootCeremony {
    /// Name of the CA in the store, e.g. `national-root`.
    pub name: String,
    pub tier: Option<String>,
    /// Assurance level the tier reaches (recorded in the audit log).
    pub level: Option<String>,
    /// Certificate file written (PEM), relative to the working directory.
    pub output: PathBuf,
    #[serde(default)]
    pub store: StoreSection,
    #[serde(default)]
    pub hsm: HsmSection,
    pub key: KeySpec,
    pub certificate: CaCertificateSpec,
}

/// `pki ceremony intermediate`: a CA certified by a parent CA.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntermediateCeremony {
    pub name: String,
    /// Name of the parent CA in the store.
    pub parent: String,
    pub tier: Option<String>,
    pub level: Option<String>,
    pub output: PathBuf,
    #[serde(default)]
    pub store: StoreSection,
    /// Token for the new key.
    #[serde(default)]
    pub hsm: HsmSection,
    /// Token holding the parent's key, when not the same token (an offline
    /// root). Unset fields fall back to `[hsm]`.
    pub parent_hsm: Option<HsmSection>,
    pub key: KeySpec,
    pub certificate: CaCertificateSpec,
}

/// `[certificate]` of an OCSP signer ceremony.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OcspCertificateSpec {
    pub subject: String,
    /// Short: responder keys rotate without touching the CA key. At most
    /// [`crate::lint::MAX_OCSP_SIGNER_DAYS`].
    pub validity_days: u32,
}

/// `pki ceremony ocsp-signer`: a delegated OCSP responder certificate
/// (RFC 6960 4.2.2.2) for one issuing CA.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OcspSignerCeremony {
    /// The issuing CA the responder answers for.
    pub issuer: String,
    pub output: PathBuf,
    #[serde(default)]
    pub store: StoreSection,
    #[serde(default)]
    pub hsm: HsmSection,
    pub key: KeySpec,
    pub certificate: OcspCertificateSpec,
}

// ---------------------------------------------------------------------------
// Operations config
// ---------------------------------------------------------------------------

/// The operations config (`--config`): store, HSM, one `[ca.NAME]` per
/// issuing CA and the certificate profiles.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsConfig {
    #[serde(default)]
    pub store: StoreSection,
    #[serde(default)]
    pub hsm: HsmSection,
    #[serde(default)]
    pub ca: BTreeMap<String, CaPolicy>,
    #[serde(default)]
    pub profile: BTreeMap<String, ProfileConfig>,
}

/// `[ca.NAME]`: how a CA issues and publishes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaPolicy {
    /// Profiles this CA may issue under.
    #[serde(default)]
    pub profiles: Vec<String>,
    /// Whether `pki revoke --reason certificateHold` (and `pki unhold`) are
    /// allowed.
    #[serde(default)]
    pub allow_hold: bool,
    /// nextUpdate of full CRLs, hours after thisUpdate.
    #[serde(default = "default_crl_hours")]
    pub crl_next_update_hours: u32,
    /// nextUpdate of delta CRLs, hours after thisUpdate.
    #[serde(default = "default_delta_hours")]
    pub delta_crl_next_update_hours: u32,
    /// CRL distribution point URLs written into issued certificates.
    #[serde(default)]
    pub crl_distribution_points: Vec<String>,
    /// Where this CA's delta CRLs are published: written as freshestCRL
    /// (RFC 5280 5.2.6) into its full CRLs, which is how relying parties
    /// (OpenSSL `-use_deltas` among them) find the delta.
    #[serde(default)]
    pub delta_crl_distribution_points: Vec<String>,
    /// OCSP responder URLs written into issued certificates.
    #[serde(default)]
    pub ocsp_urls: Vec<String>,
    /// Where this CA's certificate is published (caIssuers).
    #[serde(default)]
    pub ca_issuers_urls: Vec<String>,
}

impl Default for CaPolicy {
    fn default() -> Self {
        Self {
            profiles: Vec::new(),
            allow_hold: false,
            crl_next_update_hours: default_crl_hours(),
            delta_crl_next_update_hours: default_delta_hours(),
            crl_distribution_points: Vec::new(),
            delta_crl_distribution_points: Vec::new(),
            ocsp_urls: Vec::new(),
            ca_issuers_urls: Vec::new(),
        }
    }
}

fn default_crl_hours() -> u32 {
    7 * 24
}

fn default_delta_hours() -> u32 {
    24
}

/// The certificate kinds the CLI knows how to issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProfileKind {
    /// CNIE citizen authentication: digitalSignature, clientAuth.
    CitizenAuthentication,
    /// CNIE citizen qualified signature: nonRepudiation, QCStatements.
    CitizenSignature,
    /// Organisation (legal person) seal: digitalSignature, nonRepudiation.
    OrganisationSeal,
    /// TLS server: digitalSignature, serverAuth, dNSName SAN required.
    TlsServer,
}

impl ProfileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CitizenAuthentication => "citizen-authentication",
            Self::CitizenSignature => "citizen-signature",
            Self::OrganisationSeal => "organisation-seal",
            Self::TlsServer => "tls-server",
        }
    }
}

/// `[profile.NAME]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileConfig {
    pub kind: ProfileKind,
    pub validity_days: u32,
    /// certificatePolicies OIDs.
    #[serde(default)]
    pub policies: Vec<String>,
    /// Organisation seal only: a qualified seal (QcCompliance, QcSSCD,
    /// QcType eseal, QcCClegislation MA).
    #[serde(default)]
    pub qualified: bool,
}

// ---------------------------------------------------------------------------
// Values inside the files
// ---------------------------------------------------------------------------

/// Parses a dotted OID.
pub fn oid(field: &str, s: &str) -> Result<const_oid::ObjectIdentifier> {
    pki_core::oid::parse_dotted(s).map_err(|e| invalid(field, format!("{s:?} is not an OID: {e}")))
}

/// A distinguished name in RFC 4514 form.
pub fn name(field: &str, s: &str) -> Result<x509_cert::name::Name> {
    parse_name(s).map_err(|e| invalid(field, e.to_string()))
}

/// A general name written `dns:NAME`, `email:ADDR` (or `email:DOMAIN` in
/// name constraints), `uri:URI`, `ip:ADDR` or `ip:ADDR/PREFIX` (name
/// constraints), `dn:RFC4514`.
pub fn general_name(field: &str, s: &str) -> Result<GeneralNameSpec> {
    let (form, value) = s.split_once(':').ok_or_else(|| {
        invalid(
            field,
            format!("{s:?}: expected dns:, email:, uri:, ip: or dn:"),
        )
    })?;
    if value.is_empty() {
        return Err(invalid(field, format!("{s:?}: empty value")));
    }
    Ok(match form.to_ascii_lowercase().as_str() {
        "dns" => GeneralNameSpec::dns(value),
        "email" => GeneralNameSpec::email(value),
        "uri" => GeneralNameSpec::uri(value),
        "ip" => match value.split_once('/') {
            Some((addr, prefix)) => {
                let addr: IpAddr = addr
                    .parse()
                    .map_err(|_| invalid(field, format!("{s:?}: bad IP address")))?;
                let prefix: u8 = prefix
                    .parse()
                    .map_err(|_| invalid(field, format!("{s:?}: bad prefix length")))?;
                GeneralNameSpec::IpSubnet(addr, prefix)
            }
            None => GeneralNameSpec::Ip(
                value
                    .parse()
                    .map_err(|_| invalid(field, format!("{s:?}: bad IP address")))?,
            ),
        },
        "dn" => GeneralNameSpec::Directory(name(field, value)?),
        other => {
            return Err(invalid(
                field,
                format!("{s:?}: unknown name form {other:?} (dns, email, uri, ip, dn)"),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let text = r#"
            name = "root"
            output = "root.pem"
            colour = "blue"
            [key]
            label = "k"
            type = "P-256"
            [certificate]
            subject = "CN=Root,C=MA"
            validity_days = 10
        "#;
        let err = toml::from_str::<RootCeremony>(text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `colour`"), "{err}");
        let nested = text
            .replace("colour = \"blue\"", "")
            .replace("validity_days = 10", "validity_days = 10\npathlen = 1");
        let err = toml::from_str::<RootCeremony>(&nested)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `pathlen`"), "{err}");
    }

    #[test]
    fn key_types_by_name() {
        assert_eq!("p-384".parse::<KeyTypeName>().unwrap().0, KeyType::EcP384);
        assert!("RSA-1024".parse::<KeyTypeName>().is_err());
    }

    #[test]
    fn general_names() {
        assert_eq!(
            general_name("san", "dns:a.example.ma").unwrap(),
            GeneralNameSpec::dns("a.example.ma")
        );
        assert!(matches!(
            general_name("nc", "ip:10.0.0.0/8").unwrap(),
            GeneralNameSpec::IpSubnet(_, 8)
        ));
        assert!(general_name("san", "dns:").is_err());
        assert!(general_name("san", "fax:123").is_err());
        assert!(general_name("san", "nocolon").is_err());
    }

    #[test]
    fn precedence_command_line_then_files_then_defaults() {
        let cli = GlobalArgs {
            token: Some("cli-token".into()),
            ..GlobalArgs::default()
        };
        let file = HsmSection {
            token: Some("file-token".into()),
            pin_env: Some("FILE_PIN".into()),
            ..HsmSection::default()
        };
        let hsm = cli.hsm(&[&file]).unwrap();
        assert_eq!(hsm.token.as_str(), "cli-token");
        assert_eq!(hsm.pin, PinSource::Env("FILE_PIN".into()));
        let hsm = GlobalArgs::default().hsm(&[]).unwrap();
        assert_eq!(hsm.token.as_str(), DEFAULT_TOKEN);
        assert_eq!(hsm.pin, PinSource::Env(DEFAULT_PIN_ENV.into()));
        let both = HsmSection {
            pin_file: Some("x".into()),
            ..file
        };
        assert!(GlobalArgs::default().hsm(&[&both]).is_err());
        assert_eq!(GlobalArgs::default().store_url(&[]), DEFAULT_STORE_URL);
    }
}
