//! `validation-api --config FILE`: load the config, start the server, the
//! reload watchers and the CRL refresher.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use validation_api::{refresh, reload, Config, Service};

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
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("validation-api: refusing to start: {e}");
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
    let listen = config.listen;
    let svc = match Service::new(config) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("validation-api: refusing to start: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("validation-api: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        tracing::info!("listening on {}", listener.local_addr()?);
        tokio::spawn(reload::watch_file(svc.clone()));
        tokio::spawn(reload::on_sighup(svc.clone()));
        tokio::spawn(refresh::Refresher::new(svc.clone()).run());
        tokio::spawn(validation_api::ocsp::Fetcher::new(svc.clone()).run());
        let shutdown = async {
            use tokio::signal::unix::{signal, SignalKind};
            let Ok(mut term) = signal(SignalKind::terminate()) else {
                return std::future::pending().await;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            tracing::info!("shutting down");
        };
        let tls = {
            let snap = svc.snapshot();
            snap.config
                .tls
                .as_ref()
                .map(|t| validation_api::tls::server_config(&snap.config, t))
                .transpose()
                .map_err(std::io::Error::other)?
        };
        match tls {
            Some(t) => validation_api::tls::serve(listener, svc, t, shutdown).await,
            None => validation_api::http::serve(listener, svc, shutdown).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("validation-api: {e}");
            ExitCode::FAILURE
        }
    }
}
