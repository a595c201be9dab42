//! `pki token init-softhsm`: a fresh SoftHSM2 token for the demo and for
//! development, with both PINs read from files (never argv).

use std::path::PathBuf;

use hsm::softhsm::SoftHsm;
use hsm::{Pin, TokenLabel};

use crate::config::GlobalArgs;
use crate::error::{invalid, Result};
use crate::report::say;

/// Arguments of `pki token init-softhsm`.
#[derive(Debug, Clone, clap::Args)]
pub struct InitArgs {
    /// SoftHSM directory (created): softhsm2.conf and tokens/. Point
    /// SOFTHSM2_CONF at DIR/softhsm2.conf afterwards.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Label of the new token.
    #[arg(long, value_name = "LABEL")]
    pub label: String,
    /// File holding the security officer PIN. The user PIN comes from
    /// --pin-file (PKI_HSM_PIN_FILE).
    #[arg(long, value_name = "FILE")]
    pub so_pin_file: PathBuf,
}

/// Initialises the token; refuses a label already in use.
pub fn init_softhsm(args: &InitArgs, g: &GlobalArgs) -> Result<()> {
    let user = g
        .pin_file
        .as_ref()
        .ok_or_else(|| invalid("--pin-file", "the user PIN file is required"))?;
    let user = Pin::from_file(user)?;
    let so = Pin::from_file(&args.so_pin_file)?;
    let label = TokenLabel::new(args.label.clone())?;
    let softhsm = SoftHsm::open(&args.dir)?;
    softhsm.init_token(&label, &so, &user)?;
    say!(
        "initialised SoftHSM token {label} in {}; use SOFTHSM2_CONF={}",
        softhsm.token_dir().display(),
        softhsm.conf_path().display()
    );
    Ok(())
}
