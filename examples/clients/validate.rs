//! A small client of the validation API: `POST /v1/validate` with a
//! certificate chain, print the verdict, and exit 0 when the chain is
//! valid, 1 when the API says it is not, 2 when the request was refused
//! (4xx/5xx) or the API could not be reached.
//!
//! ```text
//! VALIDATION_API_TOKEN_FILE=token cargo run -q -p validation-api --example validate-client -- \
//!     --url http://127.0.0.1:8480 --leaf amina.pem --intermediate cnie-ca.pem --level high
//! ```
//!
//! The bearer token is read from a file (`--token-file`, or the file
//! `VALIDATION_API_TOKEN_FILE` names), never from the command line, where
//! any local user could read it. An `https` URL's certificate is checked
//! against `--ca-file`, or the system's CA bundle.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use clap::Parser;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Asks the validation API whether a certificate chain is valid.
#[derive(Debug, Parser)]
struct Args {
    /// Base URL of the API, e.g. http://127.0.0.1:8480.
    #[arg(long)]
    url: String,
    /// File with the bearer token (one line).
    #[arg(long, env = "VALIDATION_API_TOKEN_FILE")]
    token_file: PathBuf,
    /// The end-entity certificate: PEM or DER.
    #[arg(long)]
    leaf: PathBuf,
    /// An intermediate CA certificate (PEM, several blocks allowed, or
    /// DER); repeat for more.
    #[arg(long)]
    intermediate: Vec<PathBuf>,
    /// clientAuth (the API's default), serverAuth, documentSigning, ...
    #[arg(long)]
    purpose: Option<String>,
    /// low, substantial or high: fail below this assurance level.
    #[arg(long)]
    level: Option<String>,
    /// CA certificates (PEM) for an https URL; default: the system's.
    #[arg(long)]
    ca_file: Option<PathBuf>,
}

/// Exit statuses.
const NOT_VALID: u8 = 1;
const REFUSED: u8 = 2;

/// A certificate file as the API takes it: PEM text as it is, DER in
/// base64.
fn certificate(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(if bytes.starts_with(b"-----BEGIN") {
        String::from_utf8(bytes).map_err(|_| format!("{}: PEM that is not text", path.display()))?
    } else {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    })
}

fn request_body(args: &Args) -> Result<Value, String> {
    let mut body = json!({
        "leaf": certificate(&args.leaf)?,
        "intermediates": args
            .intermediate
            .iter()
            .map(|p| certificate(p))
            .collect::<Result<Vec<_>, _>>()?,
    });
    if let Some(p) = &args.purpose {
        body["purpose"] = json!(p);
    }
    if let Some(l) = &args.level {
        body["required_level"] = json!(l);
    }
    Ok(body)
}

/// Where the CA certificates for an `https` URL come from without
/// `--ca-file` (Debian and Ubuntu's bundle).
const SYSTEM_CAS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// TLS settings that trust the certificates of `ca_file`.
fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let path = ca_file.unwrap_or(Path::new(SYSTEM_CAS));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read CA certificates from {}: {e}", path.display()))?
    {
        let cert = cert.map_err(|e| format!("{}: {e}", path.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// One HTTP/1.1 exchange on `io` (a TCP or TLS stream).
async fn exchange<T>(io: T, request: Request<Full<Bytes>>) -> Result<Response<Incoming>, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())
}

/// Sends the request to `{url}/v1/validate` over HTTP or HTTPS; the HTTP
/// status and the JSON answer.
async fn validate(args: &Args, body: &Value) -> Result<(http::StatusCode, Value), String> {
    let token = std::fs::read_to_string(&args.token_file).map_err(|e| {
        format!(
            "cannot read the token file {}: {e}",
            args.token_file.display()
        )
    })?;
    let url = format!("{}/v1/validate", args.url.trim_end_matches('/'));
    let uri: http::Uri = url.parse().map_err(|e| format!("bad URL {url}: {e}"))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(format!("{url}: only http:// and https:// URLs")),
    };
    let (Some(authority), Some(host)) = (uri.authority(), uri.host()) else {
        return Err(format!("{url}: no host"));
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let request = Request::post(uri.path())
        .header(http::header::HOST, authority.as_str())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(
            http::header::AUTHORIZATION,
            format!("Bearer {}", token.trim()),
        )
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| format!("{url}: {e}"))?;
    let send = async {
        let tcp = TcpStream::connect((host, port))
            .await
            .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
        if https {
            let name = ServerName::try_from(host.to_owned()).map_err(|e| format!("{url}: {e}"))?;
            let tls = TlsConnector::from(Arc::new(tls_config(args.ca_file.as_deref())?))
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS with {host}:{port}: {e}"))?;
            exchange(tls, request).await
        } else {
            exchange(tcp, request).await
        }
    };
    let response = tokio::time::timeout(std::time::Duration::from_secs(30), send)
        .await
        .map_err(|_| format!("{url}: no answer within 30 s"))?
        .map_err(|e| format!("{url}: {e}"))?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("{url}: {e}"))?
        .to_bytes();
    let answer = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{url}: HTTP {status}, not JSON ({e})"))?;
    Ok((status, answer))
}

/// What to print for an answer, and the exit status.
fn report(status: http::StatusCode, answer: &Value) -> (String, u8) {
    let text = |v: &Value| v.as_str().unwrap_or("?").to_owned();
    let error = &answer["error"];
    if status != http::StatusCode::OK {
        return (
            format!(
                "refused: HTTP {}: {}: {}",
                status.as_u16(),
                text(&error["code"]),
                text(&error["message"])
            ),
            REFUSED,
        );
    }
    if answer["valid"] == json!(true) {
        let path: Vec<String> = answer["path"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| text(&c["subject"]))
            .collect();
        let mut out = format!(
            "valid: tier {}, level {}\npath: {}",
            text(&answer["tier"]),
            text(&answer["level"]),
            path.join(" <- ")
        );
        for w in answer["warnings"].as_array().into_iter().flatten() {
            let _ = write!(out, "\nwarning: {}", text(w));
        }
        (out, 0)
    } else {
        (
            format!(
                "not valid: {}: {}",
                text(&error["code"]),
                text(&error["message"])
            ),
            NOT_VALID,
        )
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let result = match request_body(&args) {
        Ok(body) => validate(&args, &body).await,
        Err(e) => Err(e),
    };
    match result {
        Ok((status, answer)) => {
            let (text, code) = report(status, &answer);
            println!("{text}");
            ExitCode::from(code)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(REFUSED)
        }
    }
}
