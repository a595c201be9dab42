//! `pki presign`: sign every OCSP response the responder would pre-sign,
//! offline, with a progress bar, into a directory
//! (`OUT/<ca>/<sha1|sha256>/<SERIAL>.der`).
//!
//! It reads the responder's own configuration (store, HSM token and PIN
//! source, issuers and their signing keys, validity), so the files are
//! exactly what `ocsp-responder` would serve.

use std::path::PathBuf;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use ocsp_responder::offline::{PresignError, PresignSummary, Presigner};
use ocsp_responder::{Config, ResponderError};

use crate::publish;
use crate::report::say;

/// Arguments of `pki presign`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The OCSP responder's TOML configuration.
    #[arg(long, value_name = "FILE")]
    pub responder_config: PathBuf,
    /// Directory the responses are written into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Why `pki presign` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Responder(#[from] ResponderError),
    #[error(transparent)]
    Presign(#[from] PresignError),
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Output(#[from] crate::CliError),
}

/// Loads the statuses, then signs and writes every response, each file
/// replaced atomically; a second run into the same directory waits for
/// this one (lock file `.OUT.lock` beside the directory), so the newer
/// statuses are written last.
pub fn presign(args: &Args) -> Result<PresignSummary, Error> {
    let config = Config::load(&args.responder_config)?;
    let _lock = publish::lock(&args.out)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    let presigner = runtime.block_on(Presigner::open(&config))?;
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(presigner.len() as u64)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} responses ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let summary = presigner.write_all(&args.out, &publish::replace, &|n| bar.inc(n));
    bar.finish();
    Ok(summary?)
}

/// `pki presign`: exit 0 when every response was written, 1 otherwise.
pub fn run(args: &Args) -> ExitCode {
    match presign(args) {
        Ok(s) if s.failed == 0 => {
            say!("wrote {} responses under {}", s.written, args.out.display());
            ExitCode::SUCCESS
        }
        Ok(s) => {
            eprintln!(
                "error: {} responses written, {} could not be signed",
                s.written, s.failed
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
