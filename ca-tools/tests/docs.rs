//! The docs test: every shell block of README.md and docs/*.md runs, in
//! order, against a demo hierarchy this test makes itself, and gives the
//! output the page shows.
//!
//! For each page, a fresh directory stands in for the repository root:
//! its entries link to the checkout's (all but `Cargo.toml`, `Cargo.lock`,
//! `target/` and `var/`); `target/release/` and `target/debug/` link to
//! the directory of the binaries under test (this build's `pki`, with
//! `ocsp-responder` and `validation-api` beside it: `cargo build -p
//! ocsp-responder -p validation-api` when missing); `var/demo/` is made
//! by the demo's own scripts (`scripts/demo.sh`, `demo-api.sh`,
//! `demo-ocsp.sh`, with `PKI`, `API` and `OCSP_RESPONDER` naming those
//! binaries). The page's commands then run in one bash session there (so
//! `cd` and `export` carry over from block to block), with
//! `target/release` first on `PATH`, no `PKI_*` or `SOFTHSM2_CONF` from
//! the caller, and stdin from /dev/null. Commands should write only below
//! that directory's own files (`var/`, or new files at its top), not into
//! the linked checkout.
//!
//! Conventions for the pages:
//!
//! - A fenced block tagged `sh`, `bash`, `shell` or `console` is run; a
//!   block tagged anything else (`toml`, `json`, `text`, ...) is not. An
//!   untagged fence is an error: say `text` for what is not a command.
//! - In a block with `$ ` lines, each `$ ` line (and its continuation
//!   lines) is a command, and the lines after it, up to the next `$ `,
//!   are its expected output (stdout and stderr together); none shown, none
//!   compared. In a block without, every command runs; output is not
//!   compared.
//! - Every command must exit 0, except where the doc shows the status:
//!   an expected output ending in a line `(exit status N)`.
//! - Expected output: `...` inside a line stands for any text, a line that
//!   is only `...` for any number of lines; `(abridged)` at the end of a
//!   line is dropped before matching. Times (RFC 3339) and hex strings of
//!   16 digits or more match any other time or hex string, since keys,
//!   serials and dates differ from run to run. The demo API's documented
//!   address (127.0.0.1:8480) stands for the one the demo chose.
//! - `<!-- docs-test: skip (reason) -->` on the line before a block keeps
//!   it from running; the reason is required, and the test prints every
//!   skipped block with it.
//!
//! `DOCS_TEST_ONLY=docs/api.md` runs one page; `DOCS_TEST_KEEP=1` keeps
//! the directories; `DOCS_TEST_BIN_DIR=target/release` tests other
//! binaries.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::symlink;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Languages whose blocks run.
const SHELL_LANGS: &[&str] = &["sh", "bash", "shell", "console"];
/// What one page may take, demo included.
const PAGE_TIMEOUT: Duration = Duration::from_secs(240);
/// The demo API address the docs show (docs/api.md, "Try it").
const DOC_API_ADDR: &str = "127.0.0.1:8480";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("ca-tools is inside the workspace")
        .to_path_buf()
}

/// A fenced block of a page.
#[derive(Debug)]
struct Block {
    /// 1-based line of the opening fence.
    line: usize,
    lang: String,
    skip: Option<String>,
    /// Content lines with their 1-based line numbers, fence indent removed.
    lines: Vec<(usize, String)>,
}

/// One command to run, with what the page says it prints.
#[derive(Debug)]
struct Unit {
    line: usize,
    command: String,
    expected: Option<Vec<String>>,
}

fn parse_blocks(page: &str, text: &str) -> Result<Vec<Block>, String> {
    let mut blocks = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let mut last_nonblank: Option<(usize, &str)> = None;
    while let Some((n, line)) = lines.next() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("<!-- docs-test:") {
            let body = rest
                .strip_suffix("-->")
                .ok_or_else(|| format!("{page}:{n}: a docs-test directive fits on one line"))?
                .trim();
            let reason = body
                .strip_prefix("skip")
                .map(str::trim)
                .and_then(|r| r.strip_prefix('('))
                .and_then(|r| r.strip_suffix(')'))
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .ok_or_else(|| {
                    format!("{page}:{n}: unknown directive `{body}`: expected `skip (reason)`")
                })?;
            pending = Some((n, reason.to_string()));
            last_nonblank = Some((n, line));
            continue;
        }
        if let Some(info) = trimmed.strip_prefix("```") {
            let indent = line.len() - trimmed.len();
            let lang = info.split_whitespace().next().unwrap_or("").to_string();
            if lang.is_empty() {
                return Err(format!(
                    "{page}:{n}: fenced block without a language: tag it `sh`/`console` to run it, `text` otherwise"
                ));
            }
            let skip = match pending.take() {
                Some((d, reason)) if last_nonblank.is_some_and(|(l, _)| l == d) => Some(reason),
                Some((d, _)) => {
                    return Err(format!(
                        "{page}:{d}: docs-test directive not right before a block"
                    ))
                }
                None => None,
            };
            let mut content = Vec::new();
            let mut closed = false;
            for (m, l) in lines.by_ref() {
                if l.trim() == "```" {
                    closed = true;
                    break;
                }
                let strip = l.len() - l.trim_start().len();
                content.push((m, l[strip.min(indent)..].to_string()));
            }
            if !closed {
                return Err(format!("{page}:{n}: block never closed"));
            }
            blocks.push(Block {
                line: n,
                lang,
                skip,
                lines: content,
            });
            last_nonblank = None;
            continue;
        }
        if !line.trim().is_empty() {
            if let Some((d, _)) = pending {
                return Err(format!(
                    "{page}:{d}: docs-test directive not right before a block"
                ));
            }
            last_nonblank = Some((n, line));
        }
    }
    if let Some((d, _)) = pending {
        return Err(format!(
            "{page}:{d}: docs-test directive not right before a block"
        ));
    }
    Ok(blocks)
}

/// Whether bash reads `text` as complete commands.
fn complete(text: &str) -> bool {
    if text.trim_end().ends_with('\\') {
        return false;
    }
    Command::new("bash")
        .args(["-n", "-c", text])
        .stderr(Stdio::null())
        .status()
        .expect("bash runs")
        .success()
}

fn units(page: &str, block: &Block) -> Result<Vec<Unit>, String> {
    let console = block.lines.iter().any(|(_, l)| l.starts_with("$ "));
    let mut out: Vec<Unit> = Vec::new();
    let mut cmd: Option<(usize, String)> = None;
    for (n, line) in &block.lines {
        if let Some((start, text)) = cmd.as_mut() {
            text.push('\n');
            text.push_str(line);
            if complete(text) {
                out.push(Unit {
                    line: *start,
                    command: std::mem::take(text),
                    expected: console.then(Vec::new),
                });
                cmd = None;
            }
            continue;
        }
        let start = if console {
            if let Some(c) = line.strip_prefix("$ ") {
                Some(c)
            } else {
                let Some(exp) = out.last_mut().and_then(|u| u.expected.as_mut()) else {
                    return Err(format!(
                        "{page}:{n}: output before the first `$ ` command of the block"
                    ));
                };
                exp.push(line.clone());
                None
            }
        } else if line.trim().is_empty() || line.trim_start().starts_with('#') {
            None
        } else {
            Some(line.as_str())
        };
        if let Some(c) = start {
            if complete(c) {
                out.push(Unit {
                    line: *n,
                    command: c.to_string(),
                    expected: console.then(Vec::new),
                });
            } else {
                cmd = Some((*n, c.to_string()));
            }
        }
    }
    if let Some((n, _)) = cmd {
        return Err(format!("{page}:{n}: command never completes (bash -n)"));
    }
    for u in &mut out {
        if let Some(exp) = &mut u.expected {
            while exp.last().is_some_and(|l| l.trim().is_empty()) {
                exp.pop();
            }
        }
    }
    Ok(out)
}

/// Output as compared: no ANSI colours, no trailing blanks or blank lines,
/// times and long hex strings replaced by placeholders.
fn normalise(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| volatile(&strip_ansi(l)).trim_end().to_string())
        .collect();
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Replaces RFC 3339 times with `<time>` and runs of 16 or more hex
/// digits (not part of a longer word) with `<hex>`.
fn volatile(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        let word_start = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if word_start {
            if let Some(len) = rfc3339_len(&b[i..]) {
                out.push_str("<time>");
                i += len;
                continue;
            }
            let hex = b[i..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
            let end = i + hex;
            if hex >= 16 && (end == b.len() || !b[end].is_ascii_alphanumeric()) {
                out.push_str("<hex>");
                i = end;
                continue;
            }
        }
        let ch = s[i..].chars().next().expect("in bounds");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// Length of an RFC 3339 UTC time (`2026-12-07T11:27:41Z`, fractions
/// allowed) at the start of `b`.
fn rfc3339_len(b: &[u8]) -> Option<usize> {
    let pat = b"dddd-dd-ddTdd:dd:dd";
    if b.len() < pat.len() + 1 {
        return None;
    }
    for (c, p) in b.iter().zip(pat) {
        let ok = if *p == b'd' {
            c.is_ascii_digit()
        } else {
            c == p
        };
        if !ok {
            return None;
        }
    }
    let mut i = pat.len();
    if b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    (i < b.len() && b[i] == b'Z').then_some(i + 1)
}

/// `...` in `pattern` matches any text.
fn line_matches(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split("...").collect();
    if parts.len() == 1 {
        return pattern == line;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !line.starts_with(first) || line.len() < first.len() + last.len() || !line.ends_with(last) {
        return false;
    }
    let mut rest = &line[first.len()..line.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// A line that is only `...` matches any number of lines.
fn lines_match(expected: &[String], actual: &[String]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((e, rest)) if e.trim() == "..." => {
            (0..=actual.len()).any(|k| lines_match(rest, &actual[k..]))
        }
        Some((e, rest)) => actual
            .split_first()
            .is_some_and(|(a, more)| line_matches(e, a) && lines_match(rest, more)),
    }
}

/// A page's directory: the stand-in repository root with the demo in it.
struct Stage {
    root: PathBuf,
    env: Vec<(String, String)>,
    substitutions: Vec<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

/// This build's binaries, or `DOCS_TEST_BIN_DIR` (e.g. `target/release`).
fn bin_dir() -> PathBuf {
    let dir = match std::env::var_os("DOCS_TEST_BIN_DIR") {
        Some(d) => std::fs::canonicalize(d).expect("DOCS_TEST_BIN_DIR exists"),
        None => Path::new(env!("CARGO_BIN_EXE_pki"))
            .parent()
            .expect("pki has a directory")
            .to_path_buf(),
    };
    for b in ["pki", "ocsp-responder", "validation-api"] {
        assert!(
            dir.join(b).is_file(),
            "{} missing: cargo build -p ocsp-responder -p validation-api (make test builds them)",
            dir.join(b).display()
        );
    }
    dir
}

fn stage(page: &str, bins: &Path) -> Stage {
    let dir = tempfile::Builder::new()
        .prefix("docs-test-")
        .tempdir()
        .expect("temp dir");
    let root = dir.path().join("repo");
    fs::create_dir_all(root.join("target")).expect("stage directory");
    let repo = repo();
    // Everything of the checkout but its build and demo output, and the
    // workspace manifest: a `cargo` command in a page fails here at once
    // (mark it skip) instead of building into the binaries under test.
    for entry in fs::read_dir(&repo).expect("repository readable") {
        let name = entry.expect("directory entry").file_name();
        if ["target", "var", ".git", "Cargo.toml", "Cargo.lock"]
            .iter()
            .any(|n| name == *n)
        {
            continue;
        }
        symlink(repo.join(&name), root.join(&name)).expect("stage link");
    }
    symlink(bins, root.join("target/release")).expect("stage link");
    symlink(bins, root.join("target/debug")).expect("stage link");
    let path = format!(
        "{}:{}",
        root.join("target/release").display(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into())
    );
    // The caller's environment without what would point the commands at
    // another token, store, module or binary.
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| {
            !(k.starts_with("PKI")
                || k.starts_with("SOFTHSM")
                || k.starts_with("PKCS11")
                || k.starts_with("DOCS_TEST")
                || k.starts_with("RUST_LOG")
                || ["VAR", "API", "API_PORT", "OCSP_RESPONDER", "PATH", "TERM"]
                    .contains(&k.as_str()))
        })
        .collect();
    env.extend([
        ("PATH".to_string(), path),
        ("TERM".to_string(), "dumb".to_string()),
    ]);
    // The demo, as `make demo` runs it, with this build's binaries.
    let bin = |b: &str| root.join("target/release").join(b).display().to_string();
    let mut demo_env = env.clone();
    demo_env.extend([
        ("VAR".to_string(), root.join("var").display().to_string()),
        ("PKI".to_string(), bin("pki")),
        ("API".to_string(), bin("validation-api")),
        ("OCSP_RESPONDER".to_string(), bin("ocsp-responder")),
    ]);
    let log = dir.path().join("demo.log");
    for script in ["demo.sh", "demo-api.sh", "demo-ocsp.sh"] {
        let status = Command::new("bash")
            .arg(root.join("scripts").join(script))
            .current_dir(&root)
            .env_clear()
            .envs(demo_env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(
                fs::File::options()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .expect("demo log"),
            )
            .stderr(
                fs::File::options()
                    .append(true)
                    .open(&log)
                    .expect("demo log"),
            )
            .status()
            .expect("bash runs");
        assert!(
            status.success(),
            "{page}: scripts/{script} failed ({status}):\n{}",
            fs::read_to_string(&log).unwrap_or_default()
        );
    }
    let api_toml = fs::read_to_string(root.join("var/demo/api/api.toml")).expect("demo api.toml");
    let addr = api_toml
        .lines()
        .find_map(|l| l.strip_prefix("listen = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("listen in the demo's api.toml")
        .to_string();
    let keep = std::env::var_os("DOCS_TEST_KEEP").is_some();
    Stage {
        root,
        env,
        substitutions: vec![(DOC_API_ADDR.to_string(), addr)],
        _dir: if keep {
            let _ = dir.keep();
            None
        } else {
            Some(dir)
        },
    }
}

fn substitute(s: &str, subs: &[(String, String)]) -> String {
    subs.iter()
        .fold(s.to_string(), |acc, (from, to)| acc.replace(from, to))
}

/// The bash session of a page: each unit's output to `<i>.out`, its status
/// to `<i>.rc`; `$?` at the start of a unit is the previous unit's status.
fn session_script(units: &[Unit], subs: &[(String, String)], out: &Path) -> String {
    let mut s = String::from(
        "__dt_ret() { return \"$1\"; }\n\
         __dt_cleanup() { local j; j=$(jobs -p); [ -z \"$j\" ] || kill $j 2>/dev/null; wait 2>/dev/null; }\n\
         trap __dt_cleanup EXIT\n\
         __dt_rc=0\n",
    );
    for (i, u) in units.iter().enumerate() {
        let o = out.join(i.to_string());
        let o = o.display();
        let _ = write!(
            s,
            "__dt_ret \"$__dt_rc\"\n{{\n{}\n}} > '{o}.out' 2>&1 < /dev/null\n__dt_rc=$?\necho \"$__dt_rc\" > '{o}.rc'\n",
            substitute(&u.command, subs)
        );
    }
    s
}

fn expected_status(expected: &mut Vec<String>) -> i32 {
    let code = expected
        .last()
        .and_then(|l| l.trim().strip_prefix("(exit status "))
        .and_then(|l| l.strip_suffix(')'))
        .and_then(|n| n.parse().ok());
    match code {
        Some(c) => {
            expected.pop();
            c
        }
        None => 0,
    }
}

/// Runs `units` in one bash session in `root` (scratch files in `out`);
/// returns the failures and how many outputs were compared.
fn run_units(
    page: &str,
    units: &mut [Unit],
    root: &Path,
    env: &[(String, String)],
    subs: &[(String, String)],
    out: &Path,
) -> (Vec<String>, usize) {
    let started = Instant::now();
    let mut failures = Vec::new();
    fs::create_dir_all(out).expect("output directory");
    let script = session_script(units, subs, out);
    fs::write(out.join("session.sh"), &script).expect("session script");
    let mut child = Command::new("bash")
        .arg(out.join("session.sh"))
        .current_dir(root)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("bash runs");
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if started.elapsed() > PAGE_TIMEOUT {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            failures.push(format!(
                "{page}: timed out after {PAGE_TIMEOUT:?}; commands not reached are listed below"
            ));
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut compared = 0;
    for (i, u) in units.iter_mut().enumerate() {
        let where_ = format!("{page}:{}: `{}`", u.line, u.command.replace('\n', " "));
        let Ok(rc) = fs::read_to_string(out.join(format!("{i}.rc"))) else {
            failures.push(format!("{where_}: not reached"));
            continue;
        };
        let rc: i32 = rc.trim().parse().unwrap_or(-1);
        let output = fs::read_to_string(out.join(format!("{i}.out"))).unwrap_or_default();
        let actual = normalise(&output);
        let mut expected = u.expected.take().unwrap_or_default();
        let want_rc = expected_status(&mut expected);
        if rc != want_rc {
            failures.push(format!(
                "{where_}: exit status {rc}, expected {want_rc}; output:\n{}",
                indent(&output)
            ));
            continue;
        }
        if expected.is_empty() {
            continue;
        }
        compared += 1;
        let expected: Vec<String> = expected
            .iter()
            .map(|l| {
                let l = substitute(l, subs);
                let l = l.trim_end();
                volatile(l.strip_suffix("(abridged)").unwrap_or(l).trim_end())
            })
            .collect();
        if !lines_match(&expected, &actual) {
            failures.push(format!(
                "{where_}: output differs\n  expected (normalised):\n{}\n  actual (normalised):\n{}",
                indent(&expected.join("\n")),
                indent(&actual.join("\n"))
            ));
        }
    }
    (failures, compared)
}

/// Runs one page; returns its failures and a summary line.
fn run_page(page: &str, bins: &Path) -> (Vec<String>, String) {
    let text = fs::read_to_string(repo().join(page)).expect("page readable");
    let blocks = match parse_blocks(page, &text) {
        Ok(b) => b,
        Err(e) => return (vec![e], format!("{page}: not parsed")),
    };
    let mut all: Vec<Unit> = Vec::new();
    let mut skipped = Vec::new();
    let (mut run_blocks, mut failures) = (0, Vec::new());
    for b in &blocks {
        if !SHELL_LANGS.contains(&b.lang.as_str()) {
            if b.lines.iter().any(|(_, l)| l.starts_with("$ ")) {
                failures.push(format!(
                    "{page}:{}: a `{}` block with `$ ` commands: tag it `console` to run it",
                    b.line, b.lang
                ));
            }
            continue;
        }
        if let Some(reason) = &b.skip {
            skipped.push(format!("{page}:{} skipped: {reason}", b.line));
            continue;
        }
        match units(page, b) {
            Ok(u) => {
                run_blocks += 1;
                all.extend(u);
            }
            Err(e) => failures.push(e),
        }
    }
    if all.is_empty() {
        let mut summary = format!("{page}: no command to run");
        for s in &skipped {
            let _ = write!(summary, "\n  {s}");
        }
        return (failures, summary);
    }
    let started = Instant::now();
    let st = stage(page, bins);
    let out = st.root.with_file_name("out");
    let (f, compared) = run_units(page, &mut all, &st.root, &st.env, &st.substitutions, &out);
    failures.extend(f);
    let mut summary = format!(
        "{page}: {run_blocks} blocks, {} commands run, {compared} outputs compared, {} blocks skipped, {:.1} s",
        all.len(),
        skipped.len(),
        started.elapsed().as_secs_f64()
    );
    for s in &skipped {
        let _ = write!(summary, "\n  {s}");
    }
    (failures, summary)
}

fn indent(s: &str) -> String {
    s.lines().fold(String::new(), |mut acc, l| {
        let _ = writeln!(acc, "    | {l}");
        acc
    })
}

fn pages() -> Vec<String> {
    if let Ok(only) = std::env::var("DOCS_TEST_ONLY") {
        return only.split(',').map(str::to_string).collect();
    }
    let mut docs: Vec<String> = fs::read_dir(repo().join("docs"))
        .expect("docs/")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            std::path::Path::new(&name)
                .extension()
                .is_some_and(|x| x == "md")
                .then(|| format!("docs/{name}"))
        })
        .collect();
    docs.sort();
    let mut all = vec!["README.md".to_string()];
    all.extend(docs);
    all
}

#[test]
fn documented_commands_run_as_shown() {
    let bins = bin_dir();
    let mut failures = Vec::new();
    let mut summaries = HashMap::new();
    let pages = pages();
    for page in &pages {
        let (f, summary) = run_page(page, &bins);
        failures.extend(f);
        summaries.insert(page.clone(), summary);
    }
    for page in &pages {
        println!("{}", summaries[page]);
    }
    assert!(
        failures.is_empty(),
        "{} failures in the docs:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn output_matching() {
    let s = |v: &[&str]| v.iter().map(|l| (*l).to_string()).collect::<Vec<_>>();
    assert!(lines_match(&s(&["a...c"]), &s(&["abc"])));
    assert!(lines_match(
        &s(&["x", "...", "z"]),
        &s(&["x", "1", "2", "z"])
    ));
    assert!(lines_match(&s(&["x", "...", "z"]), &s(&["x", "z"])));
    assert!(!lines_match(&s(&["x"]), &s(&["x", "y"])));
    assert!(!lines_match(&s(&["a...b...c"]), &s(&["acb"])));
    assert_eq!(
        volatile("at 2026-12-07T11:27:41Z serial 6618eaad610f145451263be3a989b4e4."),
        "at <time> serial <hex>."
    );
    assert_eq!(volatile("t=2026-12-07T10:07:52.751600Z"), "t=<time>");
    assert_eq!(volatile("id deadbeef"), "id deadbeef");
}

/// A page as the harness sees it: the shell blocks' commands, in order.
fn doc_units(text: &str) -> Vec<Unit> {
    parse_blocks("t.md", text)
        .expect("parses")
        .iter()
        .filter(|b| SHELL_LANGS.contains(&b.lang.as_str()) && b.skip.is_none())
        .flat_map(|b| units("t.md", b).expect("units"))
        .collect()
}

#[test]
fn session_carries_state_and_checks_status_and_output() {
    let doc = r#"
```sh
mkdir sub && cd sub
export GREETING=hello
if true; then
  echo multi-line
fi
```

```console
$ pwd | sed 's#.*/##'
sub
$ echo "$GREETING" \
    world
hello world
$ false
(exit status 1)
$ echo $?
1
$ printf 'a\nb\nc\nd\n'
a
...
d
$ echo 2026-12-07T11:27:41Z deadbeefdeadbeefdeadbeef
2030-01-01T00:00:00Z 0123456789abcdef0123
$ echo wrong
right
$ false
```

<!-- docs-test: skip (never runs) -->
```sh
exit 1
```

```sh
echo last
```
"#;
    let mut all = doc_units(doc);
    assert_eq!(all.len(), 12, "{all:#?}");
    let dir = tempfile::tempdir().expect("temp dir");
    let env: Vec<(String, String)> = std::env::vars().collect();
    let (failures, compared) = run_units(
        "t.md",
        &mut all,
        dir.path(),
        &env,
        &[],
        &dir.path().join("out"),
    );
    assert_eq!(compared, 6, "{failures:#?}");
    assert_eq!(failures.len(), 2, "{failures:#?}");
    assert!(failures[0].starts_with("t.md:26: `echo wrong`: output differs"));
    assert!(failures[1].starts_with("t.md:28: `false`: exit status 1, expected 0"));
}

#[test]
fn malformed_pages_are_refused() {
    let err = |doc: &str| parse_blocks("t.md", doc).expect_err("refused");
    assert!(err("```\nls\n```\n").contains("without a language"));
    assert!(err("<!-- docs-test: skip -->\n```sh\nls\n```\n").contains("skip (reason)"));
    assert!(
        err("<!-- docs-test: skip (x) -->\ntext\n```sh\nls\n```\n").contains("not right before")
    );
    assert!(err("```sh\nls\n").contains("never closed"));
    let blocks = parse_blocks("t.md", "```console\nout\n$ ls\n```\n").expect("parses");
    assert!(units("t.md", &blocks[0]).is_err());
}
