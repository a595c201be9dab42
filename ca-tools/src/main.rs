//! `pki`: the national PKI's officer and auditor command line.

use std::future::Future;
use std::process::ExitCode;

use ca_tools::config::GlobalArgs;
use ca_tools::{audit, batch, ca, ceremony, cert, crl, database, issue, officer, revoke, token};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "pki",
    version,
    about = "National PKI command line: validate certificates, run CA ceremonies, issue, revoke, publish CRLs, audit",
    after_help = "Commands that change the store need --actor NAME or PKI_ACTOR. The store must exist: `pki store init` creates it, `pki store migrate` updates its schema."
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
    /// Issue a certificate under a CA's profile, or a batch of them
    /// (--batch, card personalisation).
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
    /// The database: create it, migrate its schema.
    #[command(subcommand)]
    Store(StoreCommand),
    /// The CAs in the store.
    #[command(subcommand)]
    Ca(CaCommand),
    /// Dual control (k of n officers): enrol officers, split a token's
    /// user PIN among them.
    #[command(subcommand)]
    Officer(OfficerCommand),
    /// Issued certificates: find them, see their status and history.
    #[command(subcommand)]
    Cert(CertCommand),
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Create a new store (a SQLite file, or the schema in an existing
    /// empty PostgreSQL database); refuses an existing store.
    Init(database::Args),
    /// Apply the schema migrations this pki embeds and the store lacks.
    /// Other commands refuse a store whose schema is older.
    Migrate(database::Args),
}

#[derive(Subcommand)]
enum CaCommand {
    /// Every CA: parent, tier, key label, expiry, certificates issued.
    List(ca::ListArgs),
    /// One CA: chain, key label, CRL number, certificates by status.
    Show(ca::ShowArgs),
    /// A CA's certificate (with --chain, its issuers too) as PEM.
    Export(ca::ExportArgs),
}

#[derive(Subcommand)]
enum OfficerCommand {
    /// Make an officer's X25519 key pair: FILE (private, mode 600) and
    /// FILE.pub.
    Keygen(officer::KeygenArgs),
    /// Enrol an officer with a public key or a passphrase (recorded in the
    /// store and the audit log).
    Add(officer::AddArgs),
    /// The enrolled officers.
    List(officer::ListArgs),
    /// Split the token's user PIN (from the PIN file or variable) k-of-n,
    /// one share file per officer, each sealed to that officer.
    SplitPin(officer::SplitArgs),
}

#[derive(Subcommand)]
enum CertCommand {
    /// A CA's certificates, by serial, with filters; streamed page by page.
    List(cert::ListArgs),
    /// One certificate: subject, validity, profile, status, revocation and
    /// the audit entries that touched it.
    Show(cert::ShowArgs),
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
    OcspSigner(ceremony::OcspSignerArgs),
}

#[derive(Subcommand)]
enum CrlCommand {
    /// Generate, sign and publish a full (or --delta) CRL.
    Generate(crl::GenerateArgs),
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Entries, oldest first, with filters; streamed page by page.
    List(audit::ListArgs),
    /// One entry whole: hashes, details, the rows it wrote.
    Show(audit::ShowArgs),
    /// Check the whole chain and replay it against the tables; exit 1
    /// naming the first broken entry and every row the log does not vouch
    /// for (edited, deleted, or written behind its back). An empty log
    /// exits 1 too.
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
        Command::Ceremony(CeremonyCommand::OcspSigner(args)) => {
            run(ceremony::ocsp_signer_with(args, g))
        }
        Command::Issue(args) => match args.batch_options() {
            Some(opts) => run(batch::run(opts, g, &args.ca, &args.profile)),
            None => run(issue::run(args, g)),
        },
        Command::Revoke(args) => run(revoke::revoke(args, g)),
        Command::Unhold(args) => run(revoke::unhold(args, g)),
        Command::Crl(CrlCommand::Generate(args)) => run(crl::generate(args, g)),
        Command::Token(TokenCommand::InitSofthsm(args)) => {
            run(async { token::init_softhsm(args, g) })
        }
        Command::Store(StoreCommand::Init(args)) => run(database::init(args, g)),
        Command::Store(StoreCommand::Migrate(args)) => run(database::migrate(args, g)),
        Command::Ca(CaCommand::List(args)) => run(ca::list(args, g)),
        Command::Ca(CaCommand::Show(args)) => run(ca::show(args, g)),
        Command::Ca(CaCommand::Export(args)) => run(ca::export(args, g)),
        Command::Officer(OfficerCommand::Keygen(args)) => run(async { officer::keygen(args) }),
        Command::Officer(OfficerCommand::Add(args)) => run(officer::add(args, g)),
        Command::Officer(OfficerCommand::List(args)) => run(officer::list(args, g)),
        Command::Officer(OfficerCommand::SplitPin(args)) => run(officer::split_pin(args, g)),
        Command::Cert(CertCommand::List(args)) => run(cert::list(args, g)),
        Command::Cert(CertCommand::Show(args)) => run(cert::show(args, g)),
        Command::Audit(AuditCommand::List(args)) => run(audit::list(args, g)),
        Command::Audit(AuditCommand::Show(args)) => run(audit::show(args, g)),
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
