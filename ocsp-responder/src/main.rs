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
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let config = match ocsp_responder::Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ocsp-responder: {e}");
            return ExitCode::from(2);
        }
    };
    let running = match ocsp_responder::start_from_config(&config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ocsp-responder: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on http://{}", running.local_addr());
    service_kit::shutdown_signal().await;
    running.shutdown().await;
    ExitCode::SUCCESS
}
