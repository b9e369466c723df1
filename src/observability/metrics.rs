//! Prometheus metrics: the HTTP layer, the connection pool, the sweeper, the outboxes, Kaspi's
//! events, the build and the process; the backlog (outbox depth, the oldest due deadline) read
//! from the database at scrape time. `deploy/alerts.yml` alerts on them.

use crate::db::DbPool;
use crate::db::models::report::Depth;
use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The backlog is read from the database at most this often, however often `/metrics` is
/// called (it needs no key: a tight loop of scrapes must not become a load on the database).
const BACKLOG_EVERY: Duration = Duration::from_secs(5);

/// When the backlog was last read, and the outbox series it showed.
#[derive(Default)]
struct BacklogShown {
    /// On the service's clock (a test's clock moves by hand).
    read_at: Option<chrono::DateTime<chrono::Utc>>,
    series: BTreeSet<[String; 3]>,
}

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool: IntGaugeVec,
    swept: IntCounterVec,
    sweep_lag: HistogramVec,
    messages: IntCounterVec,
    sweep_runs: IntCounterVec,
    sweep_duration: Histogram,
    kaspi_events: IntCounterVec,
    outbox_depth: IntGaugeVec,
    oldest_due: Gauge,
    backlog_read: IntGauge,
    backlog: Arc<Mutex<BacklogShown>>,
}

impl Metrics {
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("postamat".into()), None).expect("metric prefix is valid");
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route and status"),
            &["method", "route", "status"],
        )
        .expect("metric definition is valid");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["method", "route"],
        )
        .expect("metric definition is valid");
        let pool = IntGaugeVec::new(
            Opts::new(
                "db_pool_connections",
                "Database pool connections by state (idle, in_use, max)",
            ),
            &["state"],
        )
        .expect("metric definition is valid");
        let swept = IntCounterVec::new(
            Opts::new(
                "sweep_deadlines_total",
                "Due deadlines the sweeper applied, by deadline kind",
            ),
            &["kind"],
        )
        .expect("metric definition is valid");
        let sweep_lag = HistogramVec::new(
            HistogramOpts::new(
                "sweep_lag_seconds",
                "Time between a deadline falling due and the sweeper applying it",
            )
            .buckets(vec![
                1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0,
            ]),
            &["kind"],
        )
        .expect("metric definition is valid");
        let messages = IntCounterVec::new(
            Opts::new(
                "outbox_messages_total",
                "Outbox delivery attempts by channel and outcome (sent, retried, dead, deferred)",
            ),
            &["channel", "outcome"],
        )
        .expect("metric definition is valid");
        let sweep_runs = IntCounterVec::new(
            Opts::new(
                "sweep_runs_total",
                "Sweeper rounds by outcome (ok, failed: the round itself failed; partial: some \
                 deadline's consequence failed and is retried)",
            ),
            &["outcome"],
        )
        .expect("metric definition is valid");
        let sweep_duration = Histogram::with_opts(
            HistogramOpts::new("sweep_duration_seconds", "How long one sweeper round took")
                .buckets(vec![
                    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                ]),
        )
        .expect("metric definition is valid");
        let kaspi_events = IntCounterVec::new(
            Opts::new(
                "kaspi_events_total",
                "Kaspi delivery-status events answered, by outcome (applied, duplicate, \
                 out_of_order_recorded, rejected, unmatched)",
            ),
            &["outcome"],
        )
        .expect("metric definition is valid");
        let outbox_depth = IntGaugeVec::new(
            Opts::new(
                "outbox_depth",
                "Messages waiting (pending) or given up (dead) now, by outbox (citizens, systems) \
                 and channel or destination; read at scrape time",
            ),
            &["outbox", "channel", "state"],
        )
        .expect("metric definition is valid");
        let oldest_due = Gauge::with_opts(Opts::new(
            "oldest_due_deadline_age_seconds",
            "How long ago the oldest pending deadline fell due (0: none is due); read at scrape \
             time",
        ))
        .expect("metric definition is valid");
        let backlog_read = IntGauge::with_opts(Opts::new(
            "backlog_read_ok",
            "1 when the scrape could read the backlog from the database, 0 when it could not \
             (the outbox depths are then absent and the deadline age 0)",
        ))
        .expect("metric definition is valid");
        // Known outcomes start at 0, so a rule's `increase` sees the first one (a series born at
        // 1 has no increase) and a rule sees the series before anything happened.
        for outcome in ["ok", "partial", "failed"] {
            sweep_runs.with_label_values(&[outcome]);
        }
        for outcome in crate::domain::kaspi::Outcome::ALL {
            kaspi_events.with_label_values(&[outcome.as_str()]);
        }
        // Always 1; the labels say which build answers (alerts and dashboards join on it).
        let build_info = IntGaugeVec::new(
            Opts::new(
                "build_info",
                "The version and commit of this binary (always 1)",
            ),
            &["version", "commit"],
        )
        .expect("metric definition is valid");
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), crate::COMMIT])
            .set(1);
        for collector in [
            Box::new(build_info) as Box<dyn prometheus::core::Collector>,
            Box::new(requests.clone()),
            Box::new(latency.clone()),
            Box::new(pool.clone()),
            Box::new(swept.clone()),
            Box::new(sweep_lag.clone()),
            Box::new(messages.clone()),
            Box::new(sweep_runs.clone()),
            Box::new(sweep_duration.clone()),
            Box::new(kaspi_events.clone()),
            Box::new(outbox_depth.clone()),
            Box::new(oldest_due.clone()),
            Box::new(backlog_read.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        // The process: CPU seconds, resident memory, open files, threads, start time (Linux).
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("metric names are unique");
        Metrics {
            registry,
            requests,
            latency,
            pool,
            swept,
            sweep_lag,
            messages,
            sweep_runs,
            sweep_duration,
            kaspi_events,
            outbox_depth,
            oldest_due,
            backlog_read,
            backlog: Arc::default(),
        }
    }

    /// Whether a scrape at `now` should read the backlog: not read within [`BACKLOG_EVERY`] (it
    /// then counts as read now, so concurrent scrapes read it once).
    pub fn backlog_due(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        let mut shown = self.backlog.lock().unwrap_or_else(|e| e.into_inner());
        let due = shown
            .read_at
            .is_none_or(|at| (now - at).abs().to_std().unwrap_or(Duration::MAX) >= BACKLOG_EVERY);
        if due {
            shown.read_at = Some(now);
        }
        due
    }

    /// One sweeper round: how long it took and how it went (`ok`, `partial`, `failed`).
    pub fn observe_sweep_run(&self, outcome: &str, took: Duration) {
        self.sweep_runs.with_label_values(&[outcome]).inc();
        self.sweep_duration.observe(took.as_secs_f64());
    }

    /// One Kaspi event answered with `outcome`.
    pub fn observe_kaspi_event(&self, outcome: &str) {
        self.kaspi_events.with_label_values(&[outcome]).inc();
    }

    /// The backlog as read at this scrape, or `None` when it could not be read.
    /// Series that are no longer there are removed one by one (not reset all at once), so a
    /// scrape at the same moment never sees the gauges empty.
    pub fn set_backlog(&self, backlog: Option<&Depth>) {
        let mut shown = self.backlog.lock().unwrap_or_else(|e| e.into_inner());
        let now: BTreeSet<[String; 3]> = backlog
            .map(|depth| {
                depth
                    .outboxes
                    .iter()
                    .map(|l| [l.outbox.to_owned(), l.channel.clone(), l.state.clone()])
                    .collect()
            })
            .unwrap_or_default();
        for gone in shown.series.difference(&now) {
            let [outbox, channel, state] = gone;
            let _ = self.outbox_depth.remove_label_values(&[
                outbox.as_str(),
                channel.as_str(),
                state.as_str(),
            ]);
        }
        if let Some(depth) = backlog {
            for line in &depth.outboxes {
                self.outbox_depth
                    .with_label_values(&[line.outbox, &line.channel, &line.state])
                    .set(line.n);
            }
        }
        shown.series = now;
        self.backlog_read.set(i64::from(backlog.is_some()));
        self.oldest_due
            .set(backlog.map_or(0.0, |d| d.oldest_due_age.as_secs_f64()));
    }

    /// One due deadline applied `lag` after it fell due.
    pub fn observe_sweep(&self, kind: &str, lag: Duration) {
        self.swept.with_label_values(&[kind]).inc();
        self.sweep_lag
            .with_label_values(&[kind])
            .observe(lag.as_secs_f64());
    }

    /// One outbox delivery attempt.
    pub fn observe_message(&self, channel: &str, outcome: &str) {
        self.messages.with_label_values(&[channel, outcome]).inc();
    }

    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(elapsed.as_secs_f64());
    }

    /// The text exposition, with the pool gauges read at scrape time.
    pub fn render(&self, pool: &DbPool) -> String {
        let state = pool.state();
        self.pool
            .with_label_values(&["idle"])
            .set(i64::from(state.idle_connections));
        self.pool
            .with_label_values(&["in_use"])
            .set(i64::from(state.connections - state.idle_connections));
        self.pool
            .with_label_values(&["max"])
            .set(i64::from(pool.max_size()));
        self.encode()
    }

    fn encode(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding into memory cannot fail");
        String::from_utf8(out).expect("prometheus text is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::models::report::OutboxLine;

    /// Every `postamat_*` series the alerts and the dashboard read is one the service exports
    /// (a renamed metric would silence an alert without any error).
    #[test]
    fn the_alerts_and_the_dashboard_read_only_exported_series() {
        let metrics = Metrics::new();
        metrics.observe_request("GET", "/healthz", 200, Duration::from_millis(1));
        metrics.observe_sweep("storage", Duration::from_secs(1));
        metrics.observe_sweep_run("ok", Duration::from_millis(5));
        metrics.observe_message("sms_1414", "sent");
        metrics.observe_kaspi_event("applied");
        metrics.pool.with_label_values(&["idle"]).set(1);
        metrics.set_backlog(Some(&Depth {
            outboxes: vec![OutboxLine {
                outbox: "citizens",
                channel: "sms_1414".into(),
                state: "pending".into(),
                n: 1,
            }],
            oldest_due_age: Duration::from_secs(3),
        }));
        let text = metrics.encode();
        let exported: std::collections::BTreeSet<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split(['{', ' ']).next())
            .collect();
        let read = [
            include_str!("../../deploy/alerts.yml"),
            include_str!("../../deploy/grafana-dashboard.json"),
        ];
        let mut names = std::collections::BTreeSet::new();
        for source in read {
            let mut rest = source;
            while let Some(at) = rest.find("postamat_") {
                let name: String = rest[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                rest = &rest[at + name.len()..];
                names.insert(name);
            }
        }
        assert!(names.len() >= 10, "{names:?}");
        for name in &names {
            assert!(
                exported.contains(name.as_str()),
                "{name} is read but not exported:\n{text}"
            );
        }
    }
}
