//! What the benchmarks read off the process (Linux `/proc`): CPU time per thread, so
//! the load generator's own work is left out of Kontor's, and peak resident memory,
//! reset between phases.

use std::path::Path;
use std::time::Duration;

/// Threads whose names start with this are the benchmark's load generators; their CPU
/// time is not counted as the system's under test.
pub const CLIENT_THREAD: &str = "bench-client";

/// CPU time used so far by this process's threads, except the load generator's.
pub fn cpu_time_of_server() -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    tasks
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .map(|name| !name.starts_with(CLIENT_THREAD))
                .unwrap_or(false)
        })
        .map(|task| thread_cpu_time(&task.path()))
        .sum()
}

/// One thread's CPU time: nanoseconds from `schedstat` where the kernel keeps them, else
/// clock ticks (1/100 s) from `stat`.
fn thread_cpu_time(task: &Path) -> Duration {
    if let Some(nanos) = std::fs::read_to_string(task.join("schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
    {
        return Duration::from_nanos(nanos);
    }
    std::fs::read_to_string(task.join("stat"))
        .ok()
        .and_then(|stat| ticks_from_stat(&stat))
        .map_or(Duration::ZERO, |ticks| Duration::from_millis(ticks * 10))
}

/// utime + stime from a `stat` line (fields 14 and 15, counted after the command name,
/// which may itself hold spaces and parentheses).
fn ticks_from_stat(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Starts measuring this process's peak resident memory afresh (Linux ≥ 4.0).
pub fn reset_peak_rss() {
    // Without the file the peak stays the process's lifetime peak: an overstatement,
    // never an understatement.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// This process's peak resident memory since the last reset, in bytes.
pub fn peak_rss() -> u64 {
    status_kb("/proc/self/status", "VmHWM:").map_or(0, |kb| kb * 1024)
}

/// A process's resident memory now, in bytes.
pub fn rss_of(pid: u32) -> u64 {
    status_kb(&format!("/proc/{pid}/status"), "VmRSS:").map_or(0, |kb| kb * 1024)
}

fn status_kb(file: &str, field: &str) -> Option<u64> {
    parse_status_kb(&std::fs::read_to_string(file).ok()?, field)
}

fn parse_status_kb(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Latencies, sorted once, read by percentile.
#[derive(Debug, Clone)]
pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Latencies(samples)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The nearest-rank percentile (`p` from 0 to 100); zero when there are no samples.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }
}

pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn mebibytes(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let l = Latencies::new((1..=100).rev().map(Duration::from_millis).collect());
        assert_eq!(l.percentile(50.0), Duration::from_millis(50));
        assert_eq!(l.percentile(99.0), Duration::from_millis(99));
        assert_eq!(l.percentile(100.0), Duration::from_millis(100));
        assert_eq!(l.percentile(0.0), Duration::from_millis(1));
        assert_eq!(Latencies::new(vec![]).percentile(99.0), Duration::ZERO);
    }

    #[test]
    fn stat_and_status_lines_are_read_past_odd_thread_names() {
        let stat = "42 (tokio (worker) 1) S 1 42 42 0 -1 4194560 100 0 0 0 250 31 0 0 20 0";
        assert_eq!(ticks_from_stat(stat), Some(281));
        let status = "Name:\tkontor\nVmHWM:\t   51234 kB\nVmRSS:\t   20480 kB\n";
        assert_eq!(parse_status_kb(status, "VmHWM:"), Some(51234));
        assert_eq!(parse_status_kb(status, "VmRSS:"), Some(20480));
        assert_eq!(parse_status_kb(status, "VmSwap:"), None);
    }

    #[test]
    fn this_process_has_memory_and_cpu_time() {
        let spin: u64 = (0..2_000_000_u64).fold(0, |a, b| a.wrapping_add(b * b));
        assert!(spin > 0);
        assert!(peak_rss() > 1024 * 1024);
        assert!(rss_of(std::process::id()) > 1024 * 1024);
        assert!(cpu_time_of_server() > Duration::ZERO);
    }
}
