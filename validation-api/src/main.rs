//! `validation-api --config FILE`: load the config, start the service
//! (server and background tasks), run until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use validation_api::{Config, StartError};

/// jemalloc returns memory freed after a burst (its pages decay back to the
/// system within seconds); glibc's malloc kept most of what waves of idle
/// connections had used, so RSS only grew (`make soak`).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// HTTP JSON certificate validation service for the identity broker.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The TOML configuration file.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Check the configuration and exit.
    #[arg(long)]
    check: bool,
    #[command(flatten)]
    log: service_kit::LogArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    args.log.init();
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("refusing to start: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check {
        println!(
            "{}: ok ({} tiers)",
            args.config.display(),
            config.tiers.len()
        );
        return ExitCode::SUCCESS;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let running = match validation_api::start_from_config(config).await {
            Ok(r) => r,
            Err(e @ (StartError::Config(_) | StartError::Tls(_))) => {
                tracing::error!("refusing to start: {e}");
                return ExitCode::from(2);
            }
            Err(e) => {
                tracing::error!("{e}");
                return ExitCode::FAILURE;
            }
        };
        service_kit::shutdown_signal().await;
        tracing::info!("shutting down");
        running.shutdown().await;
        ExitCode::SUCCESS
    })
}
