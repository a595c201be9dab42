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
//! any local user could read it. Plain HTTP only: put a TLS-terminating
//! proxy in between, or see README.md for TLS.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine as _;
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

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

/// Sends the request; the HTTP status and the JSON answer.
async fn validate(args: &Args, body: &Value) -> Result<(http::StatusCode, Value), String> {
    let token = std::fs::read_to_string(&args.token_file).map_err(|e| {
        format!(
            "cannot read the token file {}: {e}",
            args.token_file.display()
        )
    })?;
    let url = format!("{}/v1/validate", args.url.trim_end_matches('/'));
    let request = http::Request::post(&url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(
            http::header::AUTHORIZATION,
            format!("Bearer {}", token.trim()),
        )
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| format!("bad URL {url}: {e}"))?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let response =
        tokio::time::timeout(std::time::Duration::from_secs(30), client.request(request))
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
