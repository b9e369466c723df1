//! The dispatcher: delivers the outboxes over HTTP — SMS through the 1414 gateway,
//! Kaspi-app messages, requests to Kaspi and the registry office. 5xx, 429 and network errors
//! are retried with exponential backoff and jitter; any other 4xx is final; after the
//! configured attempts a message is dead-lettered for a supervisor. SMS wait out the quiet
//! hours (branch local time). Without a configured gateway, messages go to the log (the local
//! sink), so the whole flow works on a fresh machine.
//!
//! Messages are claimed with a lease in a short transaction and sent outside it; a dispatcher
//! that dies mid-send leaves the message to be sent again when the lease ends. Every request
//! carries `Idempotency-Key: <dedup key>` so a gateway can drop such a repeat.

use crate::config::{DispatchConfig, Gateway};
use crate::db::models::outbox::{self, Claimed, Route};
use crate::db::models::{application, branch};
use crate::db::{DbConnection, DbPool, write_transaction};
use crate::domain::notification::{
    Channel, DeliveryState, Destination, GatewayMessage, Outbox, backoff, quiet_until, sms_segments,
};
use crate::domain::webhook::WebhookSecret;
use crate::jobs::Stop;
use crate::observability::Metrics;
use chrono::{DateTime, TimeZone, Utc};
use rand::RngExt;
use serde::Serialize;
use std::time::Duration;

/// Messages claimed per round: few enough that all of them are sent (at most 15 s each) well
/// within the lease.
const BATCH: i64 = 10;
/// How long a claimed message is held before another dispatcher may take it.
const LEASE: chrono::Duration = chrono::Duration::minutes(5);

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct DispatchReport {
    pub sent: usize,
    pub retried: usize,
    pub dead: usize,
    /// SMS held back by the quiet hours.
    pub deferred: usize,
}

/// The outcome of one delivery attempt.
enum Delivery {
    Sent,
    /// Worth trying again (5xx, 429, timeout, connection).
    Retry(String),
    /// Never worth trying again (any other 4xx).
    Permanent(String),
}

pub struct Dispatcher {
    config: DispatchConfig,
    agent: ureq::Agent,
    /// Requests to Kaspi are signed like Kaspi's own webhooks.
    kaspi_secret: Option<WebhookSecret>,
    metrics: Option<Metrics>,
}

/// Mozilla's roots, bundled (no system store is read), and the operator's own CAs beside them
/// (`POSTAMAT_DISPATCH_CA_CERTS`: a 1414 or registry-office gateway behind an internal or
/// national CA).
fn tls_config(extra_roots: &[Vec<u8>]) -> ureq::tls::TlsConfig {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    if extra_roots.is_empty() {
        return TlsConfig::builder().root_certs(RootCerts::WebPki).build();
    }
    let roots = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|der| Certificate::from_der(der.as_ref()).to_owned())
        .chain(
            extra_roots
                .iter()
                .map(|der| Certificate::from_der(der).to_owned()),
        );
    TlsConfig::builder()
        .root_certs(RootCerts::from(roots.collect::<Vec<_>>()))
        .build()
}

impl Dispatcher {
    pub fn new(config: DispatchConfig, kaspi_secrets: &[WebhookSecret]) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(Duration::from_secs(15)))
            .tls_config(tls_config(&config.extra_roots))
            .build()
            .new_agent();
        Dispatcher {
            config,
            agent,
            kaspi_secret: kaspi_secrets.first().cloned(),
            metrics: None,
        }
    }

    /// Counts every attempt in `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    fn observe(&self, message: &Claimed, outcome: &str) {
        if let Some(metrics) = &self.metrics {
            metrics.observe_message(message.route.name(), outcome);
        }
    }

    fn gateway(&self, route: Route) -> Option<&Gateway> {
        match route {
            Route::Citizen(Channel::Sms1414) => self.config.sms.as_ref(),
            Route::Citizen(Channel::KaspiApp) => self.config.kaspi_app.as_ref(),
            Route::System(Destination::Kaspi) => self.config.kaspi_api.as_ref(),
            Route::System(Destination::RegistryOffice) => self.config.registry_office_api.as_ref(),
        }
    }

    fn send(&self, outbox: Outbox, message: &Claimed) -> Delivery {
        let Some(gateway) = self.gateway(message.route) else {
            // The local sink: the log (which masks phone numbers).
            tracing::info!(
                channel = message.route.name(),
                kind = %message.kind,
                recipient = message.recipient.as_deref().unwrap_or("-"),
                body = %message.body,
                "outbox message delivered to the local sink (no gateway configured)"
            );
            return Delivery::Sent;
        };
        let body = match (outbox, message.route) {
            (Outbox::Notifications, Route::Citizen(channel)) => {
                let sent = GatewayMessage {
                    message_id: message.dedup_key.clone(),
                    channel,
                    recipient: message.recipient.clone(),
                    text: message.body.clone(),
                };
                serde_json::to_string(&sent).expect("a gateway message serialises")
            }
            (Outbox::Notifications, Route::System(_)) => {
                return Delivery::Permanent("a citizen message routed to a system".into());
            }
            (Outbox::Outbound, _) => message.body.clone(),
        };
        let mut request = self
            .agent
            .post(&gateway.url)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", &message.dedup_key);
        if let Some(token) = &gateway.token {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        if let (Route::System(Destination::Kaspi), Some(secret)) =
            (message.route, &self.kaspi_secret)
        {
            // The wall clock: Kaspi checks the signature's freshness against its own.
            let timestamp = Utc::now().timestamp();
            request = request
                .header("webhook-id", &message.dedup_key)
                .header("webhook-timestamp", &timestamp.to_string())
                .header(
                    "webhook-signature",
                    &secret.sign(&message.dedup_key, timestamp, body.as_bytes()),
                );
        }
        match request.send(body.as_bytes()) {
            Ok(_) => Delivery::Sent,
            Err(ureq::Error::StatusCode(code)) if code == 429 || code >= 500 => {
                Delivery::Retry(format!("HTTP {code}"))
            }
            Err(ureq::Error::StatusCode(code)) => Delivery::Permanent(format!("HTTP {code}")),
            // Timeouts, refused connections, DNS, TLS: the gateway may be back next round.
            // An error may quote the gateway's URL: it is kept and shown without its secrets.
            Err(other) => Delivery::Retry(format!(
                "transport: {}",
                crate::observability::redact::mask_urls(&other.to_string())
            )),
        }
    }

    /// When an SMS for this application may go, if now is in the quiet hours.
    fn quiet(
        &self,
        conn: &mut DbConnection,
        message: &Claimed,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<DateTime<Utc>>> {
        let Some(application_id) = message
            .application_id
            .filter(|_| message.route == Route::Citizen(Channel::Sms1414))
        else {
            return Ok(None);
        };
        let app = application::get(conn, application_id)?;
        let tz = branch::time_zone(conn, app.branch_id)?.tz();
        let (start, end) = self.config.quiet_hours;
        Ok(
            quiet_until(now.with_timezone(&tz).naive_local(), start, end)
                .and_then(|local| tz.from_local_datetime(&local).earliest())
                .map(|t| t.with_timezone(&Utc)),
        )
    }

    /// One round over both outboxes at `now`.
    pub fn dispatch(
        &self,
        conn: &mut DbConnection,
        now: DateTime<Utc>,
    ) -> anyhow::Result<DispatchReport> {
        let mut report = DispatchReport::default();
        for outbox in [Outbox::Notifications, Outbox::Outbound] {
            loop {
                let claimed = write_transaction(conn, |conn| {
                    outbox::claim(conn, outbox, now, now + LEASE, BATCH)
                })?;
                for message in &claimed {
                    // One message's trouble (a database hiccup while settling it) does not hold
                    // up the others; it is tried again when its lease ends.
                    if let Err(e) = self.deliver(conn, outbox, message, now, &mut report) {
                        tracing::error!(message = %message.id, error = format!("{e:#}"), "delivery could not be recorded");
                    }
                }
                if (claimed.len() as i64) < BATCH {
                    break;
                }
            }
        }
        Ok(report)
    }

    fn deliver(
        &self,
        conn: &mut DbConnection,
        outbox: Outbox,
        message: &Claimed,
        now: DateTime<Utc>,
        report: &mut DispatchReport,
    ) -> anyhow::Result<()> {
        if let Some(until) = self.quiet(conn, message, now)? {
            // Not an attempt: the claim's count is given back.
            outbox::reschedule(conn, outbox, message, message.attempts - 1, until, None)?;
            report.deferred += 1;
            self.observe(message, "deferred");
            return Ok(());
        }
        if message.route == Route::Citizen(Channel::Sms1414) {
            let (_, segments) = sms_segments(&message.body);
            if segments > self.config.sms_max_segments {
                tracing::warn!(kind = %message.kind, segments, "SMS longer than the configured maximum");
            }
        }
        let outcome = self.send(outbox, message);
        let recorded = match outcome {
            Delivery::Sent => {
                report.sent += 1;
                self.observe(message, "sent");
                outbox::settle(conn, outbox, message, DeliveryState::Sent, None)?
            }
            Delivery::Permanent(error) => {
                report.dead += 1;
                self.observe(message, "dead");
                outbox::settle(conn, outbox, message, DeliveryState::Dead, Some(&error))?
            }
            Delivery::Retry(error) if message.attempts as u32 >= self.config.max_attempts => {
                report.dead += 1;
                self.observe(message, "dead");
                outbox::settle(conn, outbox, message, DeliveryState::Dead, Some(&error))?
            }
            Delivery::Retry(error) => {
                let wait = backoff(message.attempts as u32, rand::rng().random_range(0.5..=1.0));
                let at = now + chrono::Duration::from_std(wait).unwrap_or(LEASE);
                report.retried += 1;
                self.observe(message, "retried");
                outbox::reschedule(conn, outbox, message, message.attempts, at, Some(&error))?
            }
        };
        if !recorded {
            tracing::warn!(message = %message.id, "lease lost while sending: another dispatcher owns the message now");
        }
        Ok(())
    }
}

/// Delivers every `every` until asked to stop; the round in hand is finished first.
pub async fn run(
    pool: DbPool,
    dispatcher: std::sync::Arc<Dispatcher>,
    clock: crate::clock::Clock,
    every: Duration,
    mut stop: Stop,
) {
    let mut ticks = actix_web::rt::time::interval(every);
    while stop.next_tick(&mut ticks).await {
        let (pool, dispatcher, now) = (pool.clone(), dispatcher.clone(), clock.now());
        let outcome = actix_web::web::block(move || -> anyhow::Result<DispatchReport> {
            let mut conn = pool.get()?;
            dispatcher.dispatch(&mut conn, now)
        })
        .await;
        match outcome {
            Ok(Ok(report)) if report != DispatchReport::default() => {
                tracing::info!(?report, "dispatch")
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(
                error = format!("{e:#}"),
                "dispatch failed; the next round retries"
            ),
            Err(e) => tracing::error!(error = %e, "dispatch task failed"),
        }
    }
}
