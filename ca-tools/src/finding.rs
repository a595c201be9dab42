//! What a broken lint rule reports: the rule's short name, the clause it
//! enforces and what is wrong. Its own module so that the error type and
//! the lint both use it without importing each other.

use std::fmt;

/// One failed rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Short rule name, e.g. `key-usage`.
    pub rule: &'static str,
    /// The clause the rule enforces, as cited: `RFC 5280 4.2.1.3`,
    /// `CA/B BR 6.3.2`, `ETSI EN 319 412-5 4.2.1`.
    pub cite: &'static str,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {} ({})", self.rule, self.message, self.cite)
    }
}

/// One finding per line, indented.
pub fn render(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| format!("  {f}"))
        .collect::<Vec<_>>()
        .join("\n")
}
