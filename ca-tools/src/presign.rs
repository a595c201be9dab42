//! `pki presign`: sign every OCSP response the responders serve in table
//! mode, offline, with a progress display, into the store's response table
//! (`ocsp_responses`), where every responder reads them.
//!
//! It reads the responder's own configuration (store, HSM token and PIN
//! source, issuers and their signing keys, validity, CertID hashes), so the
//! responses are exactly what the updater (`ocsp-responder --updater`)
//! would sign; it runs that updater until nothing is left to sign. While an
//! updater is running it refuses: that updater does this work already.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use ocsp_responder::offline::{PresignSummary, Presigner};
use ocsp_responder::{Config, ResponderError};

use crate::report::say;

/// Arguments of `pki presign`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The OCSP responder's TOML configuration.
    #[arg(long, value_name = "FILE")]
    pub responder_config: PathBuf,
    /// No progress display.
    #[arg(long)]
    pub quiet: bool,
}

/// Why `pki presign` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Responder(#[from] ResponderError),
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
}

/// Checks the audit log vouches for the rows, then signs until every
/// response is in the table and current.
pub fn presign(args: &Args) -> Result<PresignSummary, Error> {
    let config = Config::load(&args.responder_config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    let mut presigner = runtime.block_on(Presigner::open(&config))?;
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {pos} responses signed ({per_sec})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    // The updater counts as it goes; show its count while it works.
    let stats = presigner.stats();
    let done = Arc::new(AtomicBool::new(false));
    let ticker = {
        let (bar, done) = (bar.clone(), Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                bar.set_position(stats.signed());
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let summary = runtime.block_on(presigner.run(&|_| {}));
    done.store(true, Ordering::Relaxed);
    let _ = ticker.join();
    if let Ok(s) = &summary {
        bar.set_position(s.written);
    }
    bar.finish();
    Ok(summary?)
}

/// `pki presign`: exit 0 when every response was written, 1 otherwise.
pub fn run(args: &Args) -> ExitCode {
    match presign(args) {
        Ok(s) if s.failed == 0 => {
            say!(
                "signed {} responses into the store's response table",
                s.written
            );
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
