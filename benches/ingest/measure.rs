//! What a run of requests (or transactions) gave, and the table it is printed in.

use std::time::Duration;

/// What a run of requests (or transactions) gave.
pub struct Measure {
    pub label: String,
    pub count: usize,
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
    pub failures: usize,
    pub server_unavailable: usize,
    pub rss_kib: Option<u64>,
    /// CPU time of the service and of the database server during the run.
    pub cpu: Option<(Duration, Duration)>,
}

impl Measure {
    pub fn rate(&self) -> f64 {
        self.count as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[index]
    }

    pub fn print(&self, baseline: Option<f64>) {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let per = |d: Duration| format!("{:.2}", ms(d) / self.count as f64);
        let cpu = self.cpu.map_or("-".to_owned(), |(svc, db)| {
            format!("{} + {}", per(svc), per(db))
        });
        println!(
            "{:<34} {:>7} {:>10.0}/s {:>8.1} {:>8.1} {:>8.1} {:>6} {:>5} {:>9} {:>8} {:>13}",
            self.label,
            self.count,
            self.rate(),
            ms(self.percentile(0.5)),
            ms(self.percentile(0.99)),
            ms(self.latencies.iter().max().copied().unwrap_or_default()),
            self.failures,
            self.server_unavailable,
            self.rss_kib
                .map_or("-".to_owned(), |k| format!("{} MiB", k / 1024)),
            baseline.map_or("-".to_owned(), |b| format!("{:.2}×", self.rate() / b)),
            cpu,
        );
    }

    /// `service`'s figures as ratios to these (the floor's): throughput, p99, and the CPU an
    /// event costs the service and the database.
    pub fn compare(&self, service: &Measure) {
        let per = |d: Duration, m: &Measure| d.as_secs_f64() * 1000.0 / m.count as f64;
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{:<34} events/s {:.2}× the floor's; p99 {:.1} ms against {:.1} ms",
            "service vs the floor",
            service.rate() / self.rate(),
            ms(service.percentile(0.99)),
            ms(self.percentile(0.99)),
        );
        if let (Some((svc, db)), Some((floor_svc, floor_db))) = (service.cpu, self.cpu) {
            println!(
                "{:<34} CPU per event: service {:.2} ms ({:.1}× the floor's {:.2}), database {:.2} ms ({:.1}× the floor's {:.2})",
                "",
                per(svc, service),
                per(svc, service) / per(floor_svc, self),
                per(floor_svc, self),
                per(db, service),
                per(db, service) / per(floor_db, self).max(f64::EPSILON),
                per(floor_db, self),
            );
        }
    }
}

/// The table's heading, above the first measure.
pub fn header() {
    println!(
        "{:<34} {:>7} {:>12} {:>8} {:>8} {:>8} {:>6} {:>5} {:>9} {:>8} {:>13}",
        "measure",
        "count",
        "rate",
        "p50 ms",
        "p99 ms",
        "max ms",
        "non2xx",
        "503",
        "RSS",
        "vs base",
        "CPU ms/each"
    );
    println!("{:>127}", "(service + db)");
}
