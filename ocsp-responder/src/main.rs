//! `ocsp-responder --config FILE`: wires the configuration to the library
//! and runs until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// RFC 6960 / RFC 5019 OCSP responder.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// TOML configuration (see the README).
    #[arg(long)]
    config: PathBuf,
    #[command(flatten)]
    log: service_kit::LogArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    args.log.init();
    let config = match ocsp_responder::Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("refusing to start: {e}");
            return ExitCode::from(2);
        }
    };
    let running = match ocsp_responder::start_from_config(&config).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on http://{}", running.local_addr());
    service_kit::shutdown_signal().await;
    running.shutdown().await;
    ExitCode::SUCCESS
}
