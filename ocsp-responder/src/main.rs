//! `ocsp-responder --config FILE`: wires the configuration to the library
//! and runs until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// jemalloc returns memory freed after a burst (its pages decay back to the
/// system within seconds); glibc's malloc kept most of what waves of idle
/// connections had used, so RSS only grew (`make soak`).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// RFC 6960 / RFC 5019 OCSP responder.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// TOML configuration (see the README).
    #[arg(long)]
    config: PathBuf,
    /// Run only the updater (table mode): sign responses into the store's
    /// response table; on `listen`, only /metrics and /health/live. One
    /// per deployment signs; more wait as standbys.
    #[arg(long)]
    updater: bool,
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
    if args.updater {
        let tasks = service_kit::Tasks::new(std::time::Duration::from_secs(10));
        let run = ocsp_responder::run_updater_from_config(
            &config,
            Some(&args.config),
            tasks.stop_signal(),
        );
        tokio::pin!(run);
        let result = tokio::select! {
            r = &mut run => r,
            () = service_kit::shutdown_signal() => {
                tokio::spawn(tasks.shutdown());
                run.await
            }
        };
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("updater cannot run: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let mut running = match ocsp_responder::start_from_config(&config).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let poll = (config.watch_secs > 0).then(|| std::time::Duration::from_secs(config.watch_secs));
    if let Err(e) = running.follow_config(args.config.clone(), poll) {
        tracing::error!("cannot start: {e}");
        running.shutdown().await;
        return ExitCode::FAILURE;
    }
    println!("listening on http://{}", running.local_addr());
    service_kit::shutdown_signal().await;
    running.shutdown().await;
    ExitCode::SUCCESS
}
