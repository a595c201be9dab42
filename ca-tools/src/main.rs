//! `pki`: the national PKI's officer and auditor command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "pki",
    version,
    about = "National PKI command line: validate certificates, run CA ceremonies, issue, revoke, publish CRLs, audit"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a certificate path offline (RFC 5280), from files.
    ///
    /// Exit status: 0 the certificate is valid, 1 it is not (the reason is
    /// printed on stderr, or in the JSON), 2 the input is unusable.
    Validate(ca_tools::validate::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate(args) => ca_tools::validate::run(&args),
    }
}
