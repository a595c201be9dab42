//! What a command tells the officer on standard output.
//!
//! A reader that stops reading (`pki audit verify | head -c 10`) does not
//! stop the command: the work it was doing is finished, the rest of the
//! report is dropped, and the exit status is the one the work earns. Any
//! other failure to write (a full disk behind `>`) is kept, and `main`
//! turns it into an error and exit status 1 once the command is done.
//! `println!` would panic on either (exit 101).

use std::fmt::{self, Write as _};
use std::io::{ErrorKind, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::{invalid, Result};

static FAILED: OnceLock<std::io::Error> = OnceLock::new();
static GONE: AtomicBool = AtomicBool::new(false);

/// Writes `text` to standard output now (no buffering behind it). A
/// closed pipe is ignored; another error is kept for [`failure`].
pub fn text(text: fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(text).and_then(|()| out.flush()) {
        if e.kind() == ErrorKind::BrokenPipe {
            GONE.store(true, Ordering::Relaxed);
        } else {
            let _ = FAILED.set(e);
        }
    }
}

/// Nobody will read more of the report: the reader went away, or writing
/// failed. Listings stop paging through the store.
pub fn finished() -> bool {
    GONE.load(Ordering::Relaxed) || FAILED.get().is_some()
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

/// A time as every report and error gives it: RFC 3339, UTC.
pub fn rfc3339(t: OffsetDateTime) -> String {
    // Every `OffsetDateTime` the store returns is in years 0..=9999, which
    // RFC 3339 can write; the fallback is never seen.
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// An RFC 3339 time from the command line.
pub fn parse_time(option: &str, text: &str) -> Result<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| {
        invalid(
            option,
            format!("{text:?} is not an RFC 3339 time such as 2026-01-31T12:00:00Z: {e}"),
        )
    })
}

/// One line of a table: each cell but the last padded to its column's
/// width (a longer cell pushes the rest along rather than being cut).
pub fn row(cells: &[&str], widths: &[usize]) -> String {
    let mut line = String::new();
    for (i, cell) in cells.iter().enumerate() {
        if i + 1 < cells.len() {
            let width = widths.get(i).copied().unwrap_or(0);
            // Writing to a String cannot fail.
            let _ = write!(line, "{cell:<width$}  ");
        } else {
            line.push_str(cell);
        }
    }
    line.truncate(line.trim_end().len());
    line.push('\n');
    line
}

/// A small table printed at once, columns as wide as their widest cell.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Self {
            rows: vec![header.iter().map(|h| (*h).to_owned()).collect()],
        }
    }

    pub fn push(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn print(&self) {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|i| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(i))
                    .map(|c| c.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for r in &self.rows {
            let cells: Vec<&str> = r.iter().map(String::as_str).collect();
            out.push_str(&row(&cells, &widths));
        }
        text(format_args!("{out}"));
    }
}

/// A JSON document on its own line(s): pretty for one object, compact for
/// one line of a JSON Lines listing.
pub fn json(value: &serde_json::Value, pretty: bool) {
    let rendered = if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    };
    // Serialising a `Value` cannot fail (its map keys are strings).
    text(format_args!("{}\n", rendered.unwrap_or_default()));
}
