//! CPU time from `/proc` (Linux, proc(5)): of one process, and of every
//! process of a server such as PostgreSQL, which forks one per connection.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Clock ticks per second in `/proc/*/stat`: `getconf CLK_TCK`, or 100
/// (the Linux value) when that cannot be run.
pub fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
            .filter(|t: &f64| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// One `/proc/PID/stat` line, the fields used here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: u32,
    /// `comm`: the command name, 15 bytes at most.
    pub comm: String,
    pub ppid: u32,
    /// `utime` + `stime`, in clock ticks (all threads, exited ones included).
    pub ticks: u64,
}

impl ProcStat {
    /// `pid (comm) state ppid ...`: `comm` may hold spaces and `)`, so it
    /// ends at the last `)`. `None` when the line is not one.
    pub fn parse(line: &str) -> Option<Self> {
        let (head, tail) = line.rsplit_once(')')?;
        let (pid, comm) = head.split_once(" (")?;
        let fields: Vec<&str> = tail.split_whitespace().collect();
        Some(Self {
            pid: pid.trim().parse().ok()?,
            comm: comm.to_owned(),
            // Fields 4, 14 and 15 of proc(5); `tail` starts at field 3.
            ppid: fields.get(1)?.parse().ok()?,
            ticks: fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?,
        })
    }

    /// The stat of process `pid` (`"self"` for this one), if it is alive.
    pub fn read(pid: &str) -> Option<Self> {
        Self::parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }
}

/// utime + stime ticks in a `/proc/.../stat` line (0 if it is not one).
pub fn stat_ticks(stat: &str) -> u64 {
    ProcStat::parse(stat).map_or(0, |s| s.ticks)
}

/// CPU seconds used so far by process `pid` (`"self"` for this one); 0 once
/// it is gone.
pub fn process_seconds(pid: &str) -> f64 {
    ProcStat::read(pid).map_or(0.0, |s| s.ticks as f64 / clock_ticks())
}

/// CPU seconds the machine has been busy since boot, all CPUs together
/// (`/proc/stat`: user, nice, system, irq, softirq, steal; guest time is
/// inside user): what every process used, to tell a measurement's own CPU
/// from the rest of a shared machine's.
pub fn machine_busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = stat
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("cpu "))
        .map_or(0, |l| {
            l.split_whitespace()
                .filter_map(|v| v.parse::<u64>().ok())
                .enumerate()
                .filter(|(i, _)| matches!(i, 0 | 1 | 2 | 5 | 6 | 7))
                .map(|(_, v)| v)
                .sum()
        });
    ticks as f64 / clock_ticks()
}

/// CPU ticks used so far by each process that `select` keeps, by PID.
#[derive(Debug, Clone, Default)]
pub struct ProcessesCpu(HashMap<u32, u64>);

impl ProcessesCpu {
    /// Every process in `/proc` that `select` keeps.
    pub fn sample(select: impl Fn(&ProcStat) -> bool) -> Self {
        let mut by_pid = HashMap::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            if let Some(stat) = ProcStat::read(pid).filter(|s| select(s)) {
                by_pid.insert(stat.pid, stat.ticks);
            }
        }
        Self(by_pid)
    }

    /// CPU seconds used since `earlier` by the processes of this sample:
    /// one started in between counts whole; one that exited in between is
    /// not counted at all (its time since `earlier` is lost).
    pub fn seconds_since(&self, earlier: &Self) -> f64 {
        let ticks: u64 = self
            .0
            .iter()
            .map(|(pid, t)| t.saturating_sub(earlier.0.get(pid).copied().unwrap_or(0)))
            .sum();
        ticks as f64 / clock_ticks()
    }

    /// How many processes the sample holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_line_with_spaces_and_parens_in_comm() {
        let line = "4242 (postgres: a) b) S 17 4242 4242 0 -1 4194560 100 0 0 0 \
                    250 75 0 0 20 0 1 0 12345 0 0";
        assert_eq!(
            ProcStat::parse(line),
            Some(ProcStat {
                pid: 4242,
                comm: "postgres: a) b".into(),
                ppid: 17,
                ticks: 325,
            })
        );
        assert_eq!(stat_ticks("garbage"), 0);
    }

    #[test]
    fn this_process_is_seen() {
        let me = ProcStat::read("self").unwrap();
        assert_eq!(me.pid, std::process::id());
        let all = ProcessesCpu::sample(|s| s.pid == me.pid);
        assert_eq!(all.len(), 1);
        assert!(all.seconds_since(&ProcessesCpu::default()) >= 0.0);
        assert!(machine_busy_seconds() > 0.0);
    }
}
