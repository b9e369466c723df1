//! The load every PostgreSQL fault runs under: writers that take documents through the whole
//! pipeline — Kaspi registers them, the registry office executes them, Kaspi orders them, the
//! accumulation sector takes them in, labels them, puts them on a registry, seals it, the State
//! courier hands it over, and Kaspi reports acceptance, the courier, the cell and the collection
//! — and readers reading what they made. After the fault, [`Load::check`] holds the service to
//! the invariants of the kill -9 test.

use crate::http::{Answer, get, request, request_with};
use diesel::{QueryableByName, RunQueryDsl};
use postamat::domain::webhook::WebhookSecret;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The Kaspi webhook secret the service is started with.
pub const SECRET: &str = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
/// A request still unanswered after this is a hang.
pub const HANG: Duration = Duration::from_secs(30);
/// Envelopes per registry: the unit a writer takes through the pipeline.
const UNIT: usize = 3;
/// A step is tried at most this many times (a 503 or no answer is tried again).
const ATTEMPTS: usize = 400;

/// One answer (or none) the load saw.
pub struct Seen {
    pub at: Instant,
    pub answer: Option<Answer>,
    /// The answer may differ from the first try's: an earlier try of the same step answered 503
    /// (its outcome unknown to the client), so a refusal now is what a retrying client sees.
    pub retried: bool,
}

struct Tokens {
    kaspi: String,
    registry_office: String,
    clerk: String,
    courier: String,
}

/// A Kaspi event the service acknowledged (2xx), kept to send again.
struct Acknowledged {
    event_id: String,
    body: String,
    at: Instant,
}

/// An integration call (the registry office's, Kaspi's registration and order) the service
/// acknowledged: idempotent, so sent again it answers 2xx and changes nothing.
struct Call {
    path: String,
    token: String,
    body: String,
    at: Instant,
}

#[derive(Default)]
struct Shared {
    seen: Vec<Seen>,
    events: Vec<Acknowledged>,
    calls: Vec<Call>,
    /// Shipments of units taken through every step, with when their collection was answered.
    collected: Vec<(String, Instant)>,
    shipments: Vec<String>,
    /// Units given up after an ambiguous answer (a step answered 503, its retry a refusal).
    abandoned: usize,
    /// Units taken through every step.
    completed: usize,
}

pub struct Load {
    port: u16,
    tokens: Arc<Tokens>,
    stop: Arc<AtomicBool>,
    shared: Arc<Mutex<Shared>>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

/// Stops the load when dropped, so a failed assertion stops the threads too.
pub struct Stopper(pub Arc<AtomicBool>);

impl Drop for Stopper {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The answer's JSON, which must be a 2xx.
pub fn must(answer: Option<Answer>, what: &str) -> Value {
    let answer = answer.unwrap_or_else(|| panic!("{what}: no answer"));
    assert!(
        answer.status < 300,
        "{what}: {} {}",
        answer.status,
        answer.body
    );
    serde_json::from_str(&answer.body).unwrap_or(Value::Null)
}

/// A new API key of `role` (at `branch`), made with the admin key.
pub fn key(port: u16, admin: &str, role: &str, branch: Option<&str>) -> String {
    let body = json!({"name": format!("faults {role}"), "role": role, "branch": branch});
    let created = must(
        request(
            port,
            "POST",
            "/api/v1/admin/keys",
            Some(admin),
            Some(&body.to_string()),
            HANG,
        ),
        "a key",
    );
    created["token"].as_str().unwrap().to_owned()
}

/// A valid IIN for a serial.
fn iin(serial: u64) -> String {
    postamat::domain::identifiers::synthetic_iin("870412", 3, (serial % 10_000) as u32)
}

impl Load {
    /// Reference data and keys, made before the fault.
    pub fn prepare(port: u16, admin: &str) -> Load {
        let branch: Value = serde_json::from_str(&crate::cluster::branch("ALM01")).unwrap();
        let postamat = json!({"city": "Алматы", "city_code": "750000000",
            "address_kk": "Төле би к-сі, 55", "address_ru": "ул. Толе би, 55"});
        for (path, body) in [
            ("/api/v1/branches/ALM01", branch),
            ("/api/v1/postamats/PST-ALA-1", postamat),
        ] {
            must(
                request(
                    port,
                    "PUT",
                    path,
                    Some(admin),
                    Some(&body.to_string()),
                    HANG,
                ),
                path,
            );
        }
        let tokens = Tokens {
            kaspi: key(port, admin, "kaspi", None),
            registry_office: key(port, admin, "registry_office", None),
            clerk: key(port, admin, "accumulation_clerk", Some("ALM01")),
            courier: key(port, admin, "state_courier", Some("ALM01")),
        };
        Load {
            port,
            tokens: Arc::new(tokens),
            stop: Arc::new(AtomicBool::new(false)),
            shared: Arc::default(),
            workers: Vec::new(),
        }
    }

    pub fn stopper(&self) -> Stopper {
        Stopper(self.stop.clone())
    }

    /// Starts `writers` and `readers` threads; they run until [`Load::finish`].
    pub fn start(&mut self, writers: usize, readers: usize) {
        for w in 0..writers {
            let writer = Writer {
                port: self.port,
                tokens: self.tokens.clone(),
                stop: self.stop.clone(),
                shared: self.shared.clone(),
                secret: WebhookSecret::parse(SECRET).unwrap(),
            };
            let tag = format!("{}-w{w}", uuid::Uuid::now_v7().simple());
            self.workers.push(std::thread::spawn(move || {
                // Bounded in count as well as by the stop flag.
                for unit in 0..2_000 {
                    if writer.stopped() {
                        break;
                    }
                    writer.unit(&format!("{tag}-{unit}"), (w * 2_000 + unit) as u64);
                }
            }));
        }
        for r in 0..readers {
            let (port, stop, shared, tokens) = (
                self.port,
                self.stop.clone(),
                self.shared.clone(),
                self.tokens.clone(),
            );
            self.workers.push(std::thread::spawn(move || {
                for i in 0..100_000 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let shipment = {
                        let shared = shared.lock().unwrap();
                        let known = &shared.shipments;
                        (!known.is_empty()).then(|| known[(i * 7 + r) % known.len()].clone())
                    };
                    let path = match shipment {
                        Some(id) => format!("/api/v1/shipments/{id}"),
                        None => "/api/v1/branches/ALM01".to_owned(),
                    };
                    let answer = get(port, &path, Some(&tokens.clerk), HANG);
                    let failed = answer.as_ref().is_none_or(|a| a.status >= 500);
                    shared.lock().unwrap().seen.push(Seen {
                        at: Instant::now(),
                        answer,
                        retried: false,
                    });
                    std::thread::sleep(Duration::from_millis(if failed { 100 } else { 20 }));
                }
            }));
        }
    }

    /// Stops the load and waits for its threads.
    pub fn finish(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for worker in self.workers.drain(..) {
            worker.join().unwrap();
        }
    }

    /// What the load saw (taken out; call after [`Load::finish`]).
    pub fn seen(&self) -> Vec<Seen> {
        std::mem::take(&mut self.shared.lock().unwrap().seen)
    }

    /// How far the writers got, for the test's output.
    pub fn progress(&self, seen: &[Seen]) -> String {
        let (completed, abandoned) = self.completed();
        format!(
            "{completed} units through the pipeline, {abandoned} given up as ambiguous, {} \
             refusals after a retry",
            Summary::ambiguous(seen)
        )
    }

    pub fn completed(&self) -> (usize, usize) {
        let shared = self.shared.lock().unwrap();
        (shared.completed, shared.abandoned)
    }

    /// The invariants of the kill -9 test, on the service at `port` and its database at `url`:
    /// every acknowledged event is stored and answers `duplicate` when sent again; nothing was
    /// applied twice; no history line is without its stored event; every citizen message an
    /// applied placement caused exists exactly once. Returns the number of acknowledged events.
    pub fn check(&self, port: u16, url: &str) -> usize {
        self.check_until(port, url, None)
    }

    /// [`Load::check`] of a copy of the database taken at `until` (a restored backup): what
    /// was acknowledged before it is what must be there.
    pub fn check_until(&self, port: u16, url: &str, until: Option<Instant>) -> usize {
        let shared = self.shared.lock().unwrap();
        let before = |at: Instant| until.is_none_or(|until| at < until);
        let secret = WebhookSecret::parse(SECRET).unwrap();
        let events: Vec<&Acknowledged> = shared.events.iter().filter(|e| before(e.at)).collect();
        for event in &events {
            let answer = send_event(port, &secret, &event.body);
            let outcome = must(answer, &event.event_id);
            assert_eq!(
                outcome["outcome"], "duplicate",
                "{} sent again: {outcome}",
                event.event_id
            );
        }
        let calls: Vec<&Call> = shared.calls.iter().filter(|c| before(c.at)).collect();
        for call in &calls {
            let answer = request(
                port,
                "POST",
                &call.path,
                Some(&call.token),
                Some(&call.body),
                HANG,
            );
            must(answer, &format!("{} {} sent again", call.path, call.body));
        }
        let location = postamat::db::DatabaseLocation::parse(url).unwrap();
        let pool = postamat::db::connect(&location, 1).unwrap();
        let mut conn = pool.get().unwrap();
        let stored: HashSet<String> = rows(&mut conn, "SELECT event_id AS value FROM kaspi_events")
            .into_iter()
            .collect();
        let lost: Vec<&str> = events
            .iter()
            .map(|e| e.event_id.as_str())
            .filter(|id| !stored.contains(*id))
            .collect();
        assert!(lost.is_empty(), "acknowledged events not stored: {lost:?}");
        // Every unit answered through its collection is collected.
        let collected: HashSet<String> = rows(
            &mut conn,
            "SELECT CAST(id AS TEXT) AS value FROM shipments WHERE status = 'collected'",
        )
        .into_iter()
        .collect();
        let not: Vec<&String> = shared
            .collected
            .iter()
            .filter(|(_, at)| before(*at))
            .map(|(id, _)| id)
            .filter(|id| !collected.contains(*id))
            .collect();
        assert!(
            not.is_empty(),
            "acknowledged collections not stored: {not:?}"
        );
        database_invariants(&mut conn, None);
        events.len() + calls.len()
    }
}

/// What must hold of any database the service wrote, whatever happened to it: no integration
/// event applied twice to a document, no history line without its stored event, and exactly one
/// placement message for each document placed once. History lines recorded before `since`
/// (UTC) are exempt from the stored-event rule: the simulation, which made the upgrade's
/// fixtures, calls the workflows without the HTTP inbox that stores the registry office's and
/// Kaspi's calls.
pub fn database_invariants(
    conn: &mut postamat::db::DbConnection,
    since: Option<chrono::DateTime<chrono::Utc>>,
) {
    let twice = rows(
        conn,
        "SELECT external_event_id AS value FROM status_events WHERE external_event_id IS NOT NULL \
         GROUP BY source, external_event_id, shipment_id, event HAVING COUNT(*) > 1",
    );
    assert!(
        twice.is_empty(),
        "{} events applied twice, such as {:?}",
        twice.len(),
        &twice[..twice.len().min(5)]
    );
    let since = since.map_or(String::new(), |at| {
        format!(" AND s.recorded_at >= '{}'", at.format("%Y-%m-%d %H:%M:%S"))
    });
    let orphans = rows(
        conn,
        &format!(
            "SELECT s.external_event_id AS value FROM status_events s \
             WHERE s.external_event_id IS NOT NULL{since} AND NOT EXISTS \
             (SELECT 1 FROM kaspi_events k WHERE k.event_id = s.external_event_id) AND NOT EXISTS \
             (SELECT 1 FROM integration_events i WHERE i.event_id = s.external_event_id)"
        ),
    );
    assert!(
        orphans.is_empty(),
        "{} history lines without their event, such as {:?}",
        orphans.len(),
        &orphans[..orphans.len().min(5)]
    );
    // Placed once (the load places each document once; a document placed again is told
    // again, п.28), so told once: the Kaspi app's message.
    let mut placements: HashMap<String, usize> = HashMap::new();
    for shipment in rows(
        conn,
        "SELECT CAST(shipment_id AS TEXT) AS value FROM status_events \
         WHERE to_status = 'placed_in_cell' AND event = 'placed_in_cell'",
    ) {
        *placements.entry(shipment).or_default() += 1;
    }
    let mut told: HashMap<String, usize> = HashMap::new();
    for shipment in rows(
        conn,
        "SELECT CAST(shipment_id AS TEXT) AS value FROM notifications \
         WHERE kind = 'placed_in_cell'",
    ) {
        *told.entry(shipment).or_default() += 1;
    }
    for (shipment, times) in &placements {
        let messages = told.get(shipment).copied().unwrap_or(0);
        assert_eq!(messages, *times, "placement messages of {shipment}");
    }
    let unplaced: Vec<&String> = told
        .keys()
        .filter(|s| !placements.contains_key(*s))
        .collect();
    assert!(
        unplaced.is_empty(),
        "messages without a placement: {unplaced:?}"
    );
}

type Text = diesel::sql_types::Text;

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    value: String,
}

fn rows(conn: &mut postamat::db::DbConnection, sql: &str) -> Vec<String> {
    diesel::sql_query(sql)
        .load::<Row>(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .map(|r| r.value)
        .collect()
}

/// One Kaspi event, signed as Kaspi signs it (Standard Webhooks).
pub fn send_event(port: u16, secret: &WebhookSecret, body: &str) -> Option<Answer> {
    let id = format!("msg_{}", uuid::Uuid::now_v7().simple());
    let timestamp = chrono::Utc::now().timestamp();
    let signature = secret.sign(&id, timestamp, body.as_bytes());
    request_with(
        port,
        "POST",
        "/api/v1/integrations/kaspi/events",
        &[
            ("webhook-id", id),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ],
        Some(body),
        HANG,
    )
}

struct Writer {
    port: u16,
    tokens: Arc<Tokens>,
    stop: Arc<AtomicBool>,
    shared: Arc<Mutex<Shared>>,
    secret: WebhookSecret,
}

/// How a step ended.
enum Step {
    Done(Value),
    /// Refused after an earlier try answered 503: whether that try was applied is unknown.
    Ambiguous,
    /// Stopped, or out of attempts.
    GaveUp,
}

impl Writer {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// One step, tried again on 503 or no answer. A Kaspi event (`signed`) carries the same id
    /// each time, so a retry is answered from what was stored.
    fn step(&self, method: &str, path: &str, token: Option<&str>, body: &Value) -> Step {
        let body = body.to_string();
        let mut retried = false;
        for _ in 0..ATTEMPTS {
            if self.stopped() {
                return Step::GaveUp;
            }
            let answer = match token {
                Some(token) => request(self.port, method, path, Some(token), Some(&body), HANG),
                None => send_event(self.port, &self.secret, &body),
            };
            let status = answer.as_ref().map(|a| a.status);
            let value = answer
                .as_ref()
                .and_then(|a| serde_json::from_str::<Value>(&a.body).ok())
                .unwrap_or(Value::Null);
            self.shared.lock().unwrap().seen.push(Seen {
                at: Instant::now(),
                answer,
                retried,
            });
            match status {
                // A batch answer refusing its items after a try whose answer was lost (the
                // intake was taken in then): as ambiguous as a refusal.
                Some(200..=299) if retried && value["refused"].as_u64().is_some_and(|n| n > 0) => {
                    return Step::Ambiguous;
                }
                Some(200..=299) => {
                    let mut shared = self.shared.lock().unwrap();
                    match token {
                        None => {
                            let sent: Value = serde_json::from_str(&body).unwrap();
                            shared.events.push(Acknowledged {
                                event_id: sent["event_id"].as_str().unwrap().to_owned(),
                                body,
                                at: Instant::now(),
                            });
                        }
                        Some(token) if path.starts_with("/api/v1/integrations/") => {
                            shared.calls.push(Call {
                                path: path.to_owned(),
                                token: token.to_owned(),
                                body,
                                at: Instant::now(),
                            });
                        }
                        Some(_) => {}
                    }
                    return Step::Done(value);
                }
                Some(503) | None => {
                    retried = true;
                    std::thread::sleep(Duration::from_millis(100));
                }
                // A failure of ours is never ambiguous: it is in `seen`, and fails the test.
                Some(500..) => return Step::GaveUp,
                Some(_) if retried => return Step::Ambiguous,
                // Refused at the first try: the load's own mistake or the service's; either way
                // it is in `seen` for the test to report.
                Some(_) => return Step::GaveUp,
            }
        }
        Step::GaveUp
    }

    /// Takes `UNIT` documents from registration to collection.
    fn unit(&self, tag: &str, serial: u64) {
        let tokens = &self.tokens;
        let numbers: Vec<String> = (0..UNIT).map(|i| format!("F-{tag}-{i}")).collect();
        let waybill = |n: &str| format!("WB-{n}");
        let now = chrono::Utc::now();
        let at = |minutes: i64| (now - chrono::Duration::minutes(minutes)).to_rfc3339();
        let mut steps: Vec<(String, String, Option<String>, Value)> = Vec::new();
        for (i, n) in numbers.iter().enumerate() {
            steps.push(("POST".into(), "/api/v1/integrations/kaspi/applications".into(), Some(tokens.kaspi.clone()),
                json!({"application_number": n, "applicant_iin": iin(serial * UNIT as u64 + i as u64),
                       "applicant_name": "Нұрланова Айгерім", "phone": "8 701 123 45 67", "language": "kk",
                       "delivery_method": "postamat", "postamat_id": "PST-ALA-1", "registry_office_code": "RAGS-ALM-3",
                       "branch": "ALM01", "submitted_at": at(120)})));
            steps.push(("POST".into(), "/api/v1/integrations/registry-office/events".into(), Some(tokens.registry_office.clone()),
                json!({"event_id": format!("ro-{n}"), "application_number": n, "status": "executed", "occurred_at": at(60)})));
            steps.push(("POST".into(), "/api/v1/integrations/kaspi/orders".into(), Some(tokens.kaspi.clone()),
                json!({"event_id": format!("ord-{n}"), "application_number": n, "kaspi_order_id": format!("K-{n}"),
                       "waybill": waybill(n), "occurred_at": at(50)})));
        }
        for (method, path, token, body) in &steps {
            if !matches!(
                self.step(method, path, token.as_deref(), body),
                Step::Done(_)
            ) {
                return self.abandon();
            }
        }
        let Step::Done(taken) = self.step(
            "POST",
            "/api/v1/intake",
            Some(&tokens.clerk),
            &json!({"application_numbers": numbers}),
        ) else {
            return self.abandon();
        };
        let shipments: Vec<String> = taken["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i["shipment_id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(shipments.len(), UNIT, "intake: {taken}");
        self.shared
            .lock()
            .unwrap()
            .shipments
            .extend(shipments.iter().cloned());
        for (id, n) in shipments.iter().zip(&numbers) {
            let label = json!({"waybill": waybill(n)});
            let path = format!("/api/v1/shipments/{id}/label");
            if !matches!(
                self.step("POST", &path, Some(&tokens.clerk), &label),
                Step::Done(_)
            ) {
                return self.abandon();
            }
        }
        let Step::Done(draft) = self.step(
            "POST",
            "/api/v1/registries",
            Some(&tokens.clerk),
            &json!({"application_numbers": numbers}),
        ) else {
            return self.abandon();
        };
        let registry = draft["id"].as_str().unwrap().to_owned();
        let Step::Done(sealed) = self.step(
            "POST",
            &format!("/api/v1/registries/{registry}/seal"),
            Some(&tokens.clerk),
            &json!({}),
        ) else {
            return self.abandon();
        };
        let number = sealed["number"].as_str().unwrap().to_owned();
        if !matches!(
            self.step(
                "POST",
                &format!("/api/v1/registries/{registry}/handover"),
                Some(&tokens.courier),
                &json!({"courier_name": "Ерлан"}),
            ),
            Step::Done(_)
        ) {
            return self.abandon();
        }
        let now = chrono::Utc::now();
        let at = |step: i64| (now - chrono::Duration::seconds(10 - step)).to_rfc3339();
        let mut events = vec![
            json!({"event_id": format!("acc-{tag}"), "type": "accepted_at_point", "occurred_at": at(1),
            "handoff_registry": number, "kaspi_registry_number": format!("KSP-{tag}"),
            "accepted_waybills": numbers.iter().map(|n| waybill(n)).collect::<Vec<_>>()}),
        ];
        for (kind, step) in [
            ("out_for_delivery", 2),
            ("placed_in_cell", 3),
            ("collected", 4),
        ] {
            for n in &numbers {
                let mut event = json!({"event_id": format!("{kind}-{n}"), "type": kind,
                    "waybill": waybill(n), "occurred_at": at(step)});
                if kind == "placed_in_cell" {
                    event["postamat_id"] = json!("PST-ALA-1");
                    event["cell"] = json!("B-17");
                }
                events.push(event);
            }
        }
        for event in &events {
            match self.step("POST", "", None, event) {
                Step::Done(outcome) => {
                    let applied = ["applied", "duplicate"]
                        .contains(&outcome["outcome"].as_str().unwrap_or_default());
                    assert!(applied, "{event} answered {outcome}");
                }
                _ => return self.abandon(),
            }
        }
        let mut shared = self.shared.lock().unwrap();
        shared.completed += 1;
        let now = Instant::now();
        shared
            .collected
            .extend(shipments.iter().map(|id| (id.clone(), now)));
    }

    fn abandon(&self) {
        if !self.stopped() {
            self.shared.lock().unwrap().abandoned += 1;
        }
    }
}

/// What a fault's load saw, summed up for its line in the test's output and the note.
pub struct Summary {
    pub requests: usize,
    pub ok: usize,
    pub unavailable: usize,
    pub other: Vec<String>,
    pub unanswered: usize,
    pub longest: Duration,
}

impl Summary {
    pub fn of(seen: &[Seen]) -> Summary {
        Summary::of_refs(&seen.iter().collect::<Vec<_>>())
    }

    pub fn of_refs(seen: &[&Seen]) -> Summary {
        let answers = || seen.iter().filter_map(|s| s.answer.as_ref());
        Summary {
            requests: seen.len(),
            ok: answers().filter(|a| a.status < 300).count(),
            unavailable: answers().filter(|a| a.status == 503).count(),
            other: seen
                .iter()
                .filter_map(|s| s.answer.as_ref().map(|a| (s.retried, a)))
                .filter(|(retried, a)| !retried || a.status >= 500)
                .map(|(_, a)| a)
                .filter(|a| a.status >= 300 && a.status != 503)
                .map(|a| format!("{} {}", a.status, a.body))
                .collect(),
            unanswered: seen.iter().filter(|s| s.answer.is_none()).count(),
            longest: answers().map(|a| a.took).max().unwrap_or_default(),
        }
    }

    /// The figures, for the test's output (and the note).
    pub fn line(&self) -> String {
        format!(
            "{} requests: {} 2xx, {} 503, {} other, {} unanswered; longest answer {:?}",
            self.requests,
            self.ok,
            self.unavailable,
            self.other.len(),
            self.unanswered,
            self.longest
        )
    }

    /// No answer other than 2xx and 503, and every answer within `bound`.
    pub fn assert_bounded(&self, bound: Duration) {
        assert!(
            self.other.is_empty(),
            "answers other than 2xx and 503: {:?}",
            self.other
        );
        assert!(self.longest <= bound, "an answer took {:?}", self.longest);
    }

    /// How long after `back` the first success came: the time to recover.
    pub fn first_success_after(seen: &[Seen], back: Instant) -> Option<Duration> {
        seen.iter()
            .filter(|s| s.at > back && s.answer.as_ref().is_some_and(|a| a.status < 300))
            .map(|s| s.at - back)
            .min()
    }

    /// Refusals after a retry: the client's view of an ambiguous 503 (reported, not failed).
    pub fn ambiguous(seen: &[Seen]) -> usize {
        seen.iter()
            .filter(|s| s.retried)
            .filter_map(|s| s.answer.as_ref())
            .filter(|a| a.status >= 300 && a.status != 503)
            .count()
    }
}
