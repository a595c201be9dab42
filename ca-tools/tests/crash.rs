//! `pki` commands killed at random points, and run concurrently, on one
//! SoftHSM token: the token stays usable, the audit log intact, and every
//! command works afterwards (issue 19, token safety).

#![allow(clippy::unwrap_used)]

mod officer;

use std::time::{Duration, Instant};

use officer::Bed;

/// A small deterministic generator (xorshift), seeded from the clock and
/// printed, so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

/// Every `token.object` of the process's SoftHSM directory is non-empty.
fn token_files_whole() {
    let dir = officer::softhsm().token_dir();
    for entry in std::fs::read_dir(dir).unwrap() {
        let object = entry.unwrap().path().join("token.object");
        if let Ok(m) = std::fs::metadata(&object) {
            assert!(m.len() > 0, "{} is empty", object.display());
        }
    }
}

#[test]
fn fifty_kill_nines_leave_the_token_and_the_log_usable() {
    let bed = Bed::new();
    bed.root_and_cnie();
    let (_, serial) = bed.citizen("first", "First Citizen");
    let csr = bed.csr("victim", "/C=MA/serialNumber=ID-victim/CN=Victim");
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let crl = bed.path("cnie.crl");
    let (crl, csr) = (crl.to_str().unwrap(), csr.to_str().unwrap());
    let mut killed_running = 0;
    let mut runtime = [Duration::from_millis(250); 3];
    for i in 0..50 {
        let out = bed.path(&format!("victim-{i}.pem"));
        let args: Vec<&str> = match i % 3 {
            0 => vec!["crl", "generate", "--ca", "cnie-citizen-ca", "--out", crl],
            1 => vec![
                "issue",
                "--ca",
                "cnie-citizen-ca",
                "--profile",
                "cnie-auth",
                "--csr",
                csr,
                "--out",
                out.to_str().unwrap(),
            ],
            _ => vec![
                "revoke",
                "--ca",
                "cnie-citizen-ca",
                "--serial",
                &serial,
                "--reason",
                "certificateHold",
            ],
        };
        // A random point of the command's run: within how long this kind
        // of command took when it last ran to its end (250 ms at first),
        // so the kills land on a fast machine as on a slow one.
        let kind = i % 3;
        let delay = Duration::from_micros(rng.next(runtime[kind].as_micros() as u64));
        let started = std::time::Instant::now();
        let mut child = bed.command(&args).spawn().unwrap();
        loop {
            if child.try_wait().unwrap().is_some() {
                runtime[kind] = started.elapsed().max(Duration::from_millis(5));
                break;
            }
            if started.elapsed() >= delay {
                child.kill().ok(); // SIGKILL
                killed_running += 1;
                break;
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        child.wait().unwrap();
    }
    eprintln!("{killed_running} of 50 commands were killed while running");
    assert!(
        killed_running >= 10,
        "too few kills landed ({killed_running})"
    );

    // Everything still works, and the audit log vouches for what landed. A
    // token.object a kill left empty is restored by the next command that
    // opens the token, before SoftHSM reads it.
    bed.ok(&["audit", "verify"]);
    bed.ok(&["crl", "generate", "--ca", "cnie-citizen-ca", "--out", crl]);
    token_files_whole();
    bed.citizen("after", "After Citizen");
    bed.ok(&["audit", "verify"]);
    token_files_whole();
}

/// Concurrent commands on one token wait for each other (the token
/// directory's lock) instead of failing with "no token labelled".
#[test]
fn concurrent_commands_on_one_token_all_succeed() {
    let bed = Bed::new();
    bed.root_and_cnie();
    let start = Instant::now();
    let children: Vec<_> = (0..8)
        .map(|i| {
            let out = bed.path(&format!("crl-{i}.crl"));
            bed.command(&[
                "crl",
                "generate",
                "--ca",
                "cnie-citizen-ca",
                "--out",
                out.to_str().unwrap(),
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a concurrent command failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    eprintln!("8 concurrent crl generate runs took {:?}", start.elapsed());
    bed.ok(&["audit", "verify"]);
}
