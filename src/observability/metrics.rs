//! Prometheus metrics of the HTTP layer and the connection pool.

use crate::db::DbPool;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::time::Duration;

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool: IntGaugeVec,
    swept: IntCounterVec,
    sweep_lag: HistogramVec,
    messages: IntCounterVec,
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
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        Metrics {
            registry,
            requests,
            latency,
            pool,
            swept,
            sweep_lag,
            messages,
        }
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
