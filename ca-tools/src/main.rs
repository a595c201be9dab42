//! `pki`: the national PKI's officer and auditor command line.

use std::future::Future;
use std::process::ExitCode;

use ca_tools::config::GlobalArgs;
use ca_tools::{audit, ceremony, crl, issue, revoke, token};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "pki",
    version,
    about = "National PKI command line: validate certificates, run CA ceremonies, issue, revoke, publish CRLs, audit"
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
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
    /// Key ceremonies: generate a CA or OCSP responder key in the HSM and
    /// certify it, from one strict TOML file.
    #[command(subcommand)]
    Ceremony(CeremonyCommand),
    /// Issue a certificate under a CA's profile.
    Issue(issue::Args),
    /// Revoke a certificate (committed before this reports success).
    Revoke(revoke::RevokeArgs),
    /// Release a certificate from certificateHold.
    Unhold(revoke::UnholdArgs),
    /// Certificate revocation lists.
    #[command(subcommand)]
    Crl(CrlCommand),
    /// The hash-chained audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Pre-sign every OCSP response offline into a directory (progress bar).
    Presign(ca_tools::presign::Args),
    /// HSM tokens (development and demo).
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Initialise a new SoftHSM2 token (PINs from files).
    InitSofthsm(token::InitArgs),
}

#[derive(Subcommand)]
enum CeremonyCommand {
    /// A self-signed root CA.
    Root(ceremony::Args),
    /// A CA certified by a parent CA.
    Intermediate(ceremony::Args),
    /// A delegated OCSP responder certificate for an issuing CA.
    OcspSigner(ceremony::Args),
}

#[derive(Subcommand)]
enum CrlCommand {
    /// Generate, sign and publish a full (or --delta) CRL.
    Generate(crl::GenerateArgs),
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the whole chain and replay it against the tables; exit 1
    /// naming the first broken entry and every row the log does not vouch
    /// for (edited, deleted, or written behind its back).
    Verify,
}

fn run<T>(work: impl Future<Output = ca_tools::Result<T>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(work) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = dispatch(&cli);
    // A report that could not be written (other than to a reader that went
    // away) fails the command, once its work is done.
    if let Some(e) = ca_tools::report::failure() {
        eprintln!("error: cannot write to standard output: {e}");
        return ExitCode::FAILURE;
    }
    code
}

fn dispatch(cli: &Cli) -> ExitCode {
    let g = &cli.global;
    match &cli.command {
        Command::Validate(args) => ca_tools::validate::run(args),
        Command::Presign(args) => ca_tools::presign::run(args),
        Command::Ceremony(CeremonyCommand::Root(args)) => run(ceremony::root(args, g)),
        Command::Ceremony(CeremonyCommand::Intermediate(args)) => {
            run(ceremony::intermediate(args, g))
        }
        Command::Ceremony(CeremonyCommand::OcspSigner(args)) => run(ceremony::ocsp_signer(args, g)),
        Command::Issue(args) => run(issue::run(args, g)),
        Command::Revoke(args) => run(revoke::revoke(args, g)),
        Command::Unhold(args) => run(revoke::unhold(args, g)),
        Command::Crl(CrlCommand::Generate(args)) => run(crl::generate(args, g)),
        Command::Token(TokenCommand::InitSofthsm(args)) => {
            run(async { token::init_softhsm(args, g) })
        }
        Command::Audit(AuditCommand::Verify) => {
            let mut broken = false;
            let code = run(async {
                let verdict = audit::verify(g).await?;
                broken = !verdict.holds();
                Ok(())
            });
            if broken {
                ExitCode::FAILURE
            } else {
                code
            }
        }
    }
}
