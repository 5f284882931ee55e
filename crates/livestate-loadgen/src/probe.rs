//! What `/proc` says about a process: resident memory and CPU time (Linux only; elsewhere
//! every probe answers `None`).

use std::time::Instant;

/// Clock ticks per second of `/proc/PID/stat` (`USER_HZ`, 100 on every Linux ABI we run on).
const TICKS_PER_S: f64 = 100.0;

/// Resident memory of `pid` in KiB (`VmRSS` of `/proc/PID/status`).
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// User plus system CPU time of a process, in ticks (`None`: this process).
fn cpu_ticks(pid: Option<u32>) -> Option<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // the command name (field 2) is in parentheses and may hold spaces: count after it
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // fields after ")" start at field 3 (state); utime is field 14, stime field 15
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// A reading of a process's CPU time, to compare with a later one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuMark {
    at: Instant,
    ticks: Option<u64>,
}

impl CpuMark {
    /// Read the CPU time of process `pid` now (no pid: no reading).
    pub(crate) fn of(pid: Option<u32>) -> CpuMark {
        CpuMark {
            at: Instant::now(),
            ticks: pid.and_then(|pid| cpu_ticks(Some(pid))),
        }
    }

    /// Read the CPU time of this process now.
    pub(crate) fn own() -> CpuMark {
        CpuMark {
            at: Instant::now(),
            ticks: cpu_ticks(None),
        }
    }

    /// Cores used on average between `self` and `later` (1.0 = one core busy).
    pub(crate) fn cores_until(&self, later: &CpuMark) -> Option<f64> {
        let secs = later.at.duration_since(self.at).as_secs_f64();
        let ticks = later.ticks?.checked_sub(self.ticks?)?;
        (secs > 0.0).then(|| ticks as f64 / TICKS_PER_S / secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        if cfg!(target_os = "linux") {
            assert!(rss_kib(std::process::id()).is_some_and(|k| k > 0));
            let a = CpuMark::own();
            let b = CpuMark::own();
            assert!(a.ticks.is_some());
            assert!(b.ticks >= a.ticks);
        }
    }
}
