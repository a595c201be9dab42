//! What a command tells the officer on standard output.
//!
//! A reader that stops reading (`pki audit verify | head -c 10`) does not
//! stop the command: the work it was doing is finished, the rest of the
//! report is dropped, and the exit status is the one the work earns. Any
//! other failure to write (a full disk behind `>`) is kept, and `main`
//! turns it into an error and exit status 1 once the command is done.
//! `println!` would panic on either (exit 101).

use std::fmt;
use std::io::{ErrorKind, Write as _};
use std::sync::OnceLock;

static FAILED: OnceLock<std::io::Error> = OnceLock::new();

/// Writes `text` to standard output now (no buffering behind it). A
/// closed pipe is ignored; another error is kept for [`failure`].
pub fn text(text: fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(text).and_then(|()| out.flush()) {
        if e.kind() != ErrorKind::BrokenPipe {
            let _ = FAILED.set(e);
        }
    }
}

/// The first failure to write the report, other than a reader gone away.
pub fn failure() -> Option<&'static std::io::Error> {
    FAILED.get()
}

/// `println!` for the report: see the [module](self) documentation.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::report::text(format_args!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use say;
