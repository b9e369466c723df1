//! The CPU time the service and the database server spend during a run, from /proc.

use crate::server::Server;
use std::time::Duration;

/// CPU time (user + system) a process has used, from /proc.
fn cpu_of(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // Fields after the command name (which may hold spaces), see proc(5): utime is the 14th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields
        .get(11..13)
        .map_or(0, |t| t.iter().filter_map(|v| v.parse::<u64>().ok()).sum());
    Duration::from_millis(ticks * 10)
}

/// CPU time used by every process of `name` (the database server's backends).
fn cpu_of_all(name: &str) -> Duration {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == name)
        })
        .map(cpu_of)
        .sum()
}

/// The CPU clocks a run is measured with.
pub struct Clocks {
    server: Duration,
    database: Duration,
}

impl Clocks {
    pub fn read(server: &Server) -> Clocks {
        Clocks {
            server: cpu_of(server.child.id()),
            database: cpu_of_all("postgres"),
        }
    }

    pub fn since(&self, server: &Server) -> (Duration, Duration) {
        let now = Clocks::read(server);
        (
            now.server - self.server,
            now.database.saturating_sub(self.database),
        )
    }
}
