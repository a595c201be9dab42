//! Log lines on stderr, as text or as JSON (`--log-format`), with levels
//! from `RUST_LOG` (default `info`). Text lines carry ANSI colours only
//! when stderr is a terminal, so log files stay plain; JSON lines are one
//! object each, the event's fields at the top level beside `timestamp`,
//! `level`, `target` and `message`.

use std::io::IsTerminal as _;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// The shape of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The logging options both binaries take.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct LogArgs {
    /// Log lines on stderr: text (coloured only on a terminal) or json (one
    /// object per line). Levels come from RUST_LOG (default info).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    pub log_format: LogFormat,
}

impl LogArgs {
    /// Installs the process's subscriber, writing to stderr.
    pub fn init(&self) {
        let ansi = std::io::stderr().is_terminal();
        init(self.log_format, std::io::stderr, ansi, None);
    }
}

/// Installs the process's subscriber writing lines to `writer`; `ansi`
/// colours text lines; `directives` replace `RUST_LOG`. Returns false when
/// a subscriber was installed before.
pub fn init<W>(format: LogFormat, writer: W, ansi: bool, directives: Option<&str>) -> bool
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing::subscriber::set_global_default(subscriber(format, writer, ansi, directives)).is_ok()
}

/// The subscriber [`init`] installs.
pub fn subscriber<W>(
    format: LogFormat,
    writer: W,
    ansi: bool,
    directives: Option<&str>,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = match directives {
        Some(d) => EnvFilter::new(d),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => Box::new(builder.with_ansi(ansi).finish()),
        LogFormat::Json => Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .with_ansi(false)
                .finish(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Lines written to memory.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines(format: LogFormat, ansi: bool) -> String {
        let out = Captured::default();
        let w = out.clone();
        let sub = subscriber(format, move || w.clone(), ansi, Some("info"));
        tracing::subscriber::with_default(sub, || {
            tracing::info!(target: "access", request_id = "r-1", status = 401_u16, "request");
            tracing::debug!("not at info");
        });
        let bytes = out.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn json_lines_carry_the_fields_at_the_top() {
        let text = lines(LogFormat::Json, true);
        assert_eq!(text.lines().count(), 1, "{text}");
        let v: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(v["target"], "access");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["message"], "request");
        assert_eq!(v["request_id"], "r-1");
        assert_eq!(v["status"], 401);
        assert!(!text.contains('\u{1b}'));
    }

    #[test]
    fn text_lines_are_plain_unless_asked() {
        let plain = lines(LogFormat::Text, false);
        assert!(plain.contains("request_id=\"r-1\" status=401"), "{plain}");
        assert!(!plain.contains('\u{1b}'), "{plain:?}");
        assert!(lines(LogFormat::Text, true).contains('\u{1b}'));
    }
}
