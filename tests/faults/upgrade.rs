//! Fault 4: an upgrade with data. `fixtures/schema-14.*` are databases the binary of the last
//! schema before the current one made (commit 68cff65, migrations 1–14): twelve days of the
//! pilot simulated by it, so documents stand in ten of the seventeen states — at the registry
//! office, packed on sealed registries, with Kaspi, in cells, expired, at the issuance sector,
//! lost, cancelled, collected — with their deadlines, messages, loss acts and disputes. Made with
//!
//! ```text
//! postamat simulate --from 2026-11-16 --days 12 --branches ALM01,AST01 --per-day 20 --seed 27 \
//!     --loss 0.05 --no-show 0.2 --dispute 0.5 [--database-url postgres://…/fx14]
//! ```
//!
//! then `VACUUM` (SQLite) or `pg_dump --no-owner --no-privileges` (PostgreSQL), gzipped.
//!
//! The current binary migrates each while it is not serving (migration 15 rebuilds a SQLite
//! table under its foreign keys), every table keeps its rows, and then the service drives every
//! document that is not finished through each of its remaining steps, over HTTP as its users
//! would, until it is collected, issued, or lost. When a release adds a migration, this test runs
//! it over the same data; a fixture is remade from the last release when the schema it holds
//! is no longer worth the test's while.

use crate::cluster::{Cluster, Service, assert_sqlite_sound, one_at_a_time, scratch, second_pass};
use crate::http::{get, request};
use crate::pipeline::{HANG, SECRET, database_invariants, key, must, send_event};
use diesel::{QueryableByName, RunQueryDsl};
use postamat::domain::webhook::WebhookSecret;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// The tables whose rows an upgrade must keep.
const TABLES: [&str; 14] = [
    "branches",
    "postamats",
    "applications",
    "shipments",
    "status_events",
    "deadlines",
    "registries",
    "registry_items",
    "kaspi_events",
    "integration_events",
    "discrepancies",
    "loss_acts",
    "notifications",
    "disputes",
];

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/faults/fixtures")
        .join(name)
}

fn gunzip(from: &Path, to: &Path) {
    let out = Command::new("gzip").arg("-dc").arg(from).output().unwrap();
    assert!(out.status.success(), "gzip -dc {}", from.display());
    std::fs::write(to, out.stdout).unwrap();
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn counts(url: &str) -> BTreeMap<&'static str, i64> {
    let location = postamat::db::DatabaseLocation::parse(url).unwrap();
    let pool = postamat::db::connect(&location, 1).unwrap();
    let mut conn = pool.get().unwrap();
    TABLES
        .iter()
        .map(|table| {
            let count: Count = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
                .get_result(&mut conn)
                .unwrap();
            (*table, count.n)
        })
        .collect()
}

fn migrate(url: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_postamat"))
        .arg("migrate")
        .env_clear()
        .env("POSTAMAT_DATABASE_URL", url)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "migrate: {said}");
    said
}

/// One document, as the database has it now.
#[derive(QueryableByName, Debug)]
struct Document {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    state: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    number: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    waybill: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    branch: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    postamat: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    iin: String,
    /// `postamat` or `con`.
    #[diesel(sql_type = diesel::sql_types::Text)]
    method: String,
    /// The registry it is on (not withdrawn), if any.
    #[diesel(sql_type = diesel::sql_types::Text)]
    registry: String,
}

const DOCUMENTS: &str = "SELECT CAST(s.id AS TEXT) AS id, s.status AS state, a.number AS number, \
     COALESCE(s.waybill, '') AS waybill, b.code AS branch, COALESCE(p.kaspi_id, '') AS postamat, \
     a.applicant_iin AS iin, s.delivery_method AS method, COALESCE((SELECT CAST(i.registry_id AS TEXT) FROM registry_items i \
     WHERE i.shipment_id = s.id AND i.withdrawn_at IS NULL ORDER BY i.added_at DESC LIMIT 1), '') \
     AS registry FROM shipments s JOIN applications a ON a.id = s.application_id \
     JOIN branches b ON b.id = s.branch_id LEFT JOIN postamats p ON p.id = a.postamat_id";

/// Where a document's way ends, for this test: nothing more to do with it.
const FINISHED: [&str; 5] = [
    "collected",
    "issued_at_con",
    "transferred_after_storage",
    "cancelled",
    "lost",
];

struct Driver {
    port: u16,
    admin: String,
    kaspi: String,
    /// Per branch code: (accumulation clerk, State courier, issuance clerk).
    staff: BTreeMap<String, (String, String, String)>,
    secret: WebhookSecret,
    steps: BTreeMap<String, usize>,
    /// Kaspi events sent, by id.
    sent: BTreeMap<String, String>,
}

impl Driver {
    fn key(&self, role: &str, branch: Option<&str>) -> String {
        key(self.port, &self.admin, role, branch)
    }

    fn post(&self, path: &str, token: &str, body: Value) -> Value {
        must(
            request(
                self.port,
                "POST",
                path,
                Some(token),
                Some(&body.to_string()),
                HANG,
            ),
            path,
        )
    }

    fn kaspi_event(&mut self, doc: &Document, kind: &str, extra: Value) {
        // One acceptance per registry (it names every envelope the point took); one event of
        // each other kind per document (an original and its duplicate share a number).
        let about = match kind {
            "accepted_at_point" => extra["handoff_registry"].as_str().unwrap().to_owned(),
            _ => doc.id.clone(),
        };
        let mut event = json!({"event_id": format!("upg-{kind}-{about}"), "type": kind,
            "occurred_at": chrono::Utc::now().to_rfc3339()});
        if kind != "accepted_at_point" {
            event["waybill"] = json!(doc.waybill);
        }
        for (k, v) in extra.as_object().unwrap() {
            event[k] = v.clone();
        }
        // Sent again, an event is the same event: the body first sent.
        let body = self
            .sent
            .entry(event["event_id"].as_str().unwrap().to_owned())
            .or_insert_with(|| event.to_string())
            .clone();
        let answer = send_event(self.port, &self.secret, &body);
        let outcome = must(answer, &format!("{kind} of {}", doc.number));
        // A duplicate: the registry's acceptance, sent for each of its envelopes.
        let applied = ["applied", "duplicate"].contains(&outcome["outcome"].as_str().unwrap_or(""));
        assert!(applied, "{kind} of {}: {outcome}", doc.number);
    }

    fn registry(&self, id: &str, token: &str) -> Value {
        must(
            get(
                self.port,
                &format!("/api/v1/registries/{id}"),
                Some(token),
                HANG,
            ),
            "a registry",
        )
    }

    /// Seals (if a draft) and hands over (if sealed) the registry `id`.
    fn send_off(&self, id: &str, clerk: &str, courier: &str) -> Value {
        let mut registry = self.registry(id, clerk);
        if registry["state"] == "draft" {
            registry = self.post(&format!("/api/v1/registries/{id}/seal"), clerk, json!({}));
        }
        if registry["state"] == "sealed" {
            self.post(
                &format!("/api/v1/registries/{id}/handover"),
                courier,
                json!({"courier_name": "Ерлан Б."}),
            );
        }
        self.registry(id, clerk)
    }

    /// Takes `doc` one step further on its way.
    fn step(&mut self, doc: &Document) {
        *self.steps.entry(doc.state.clone()).or_default() += 1;
        let (clerk, courier, issuer) = self.staff[&doc.branch].clone();
        let numbers = json!([doc.number]);
        match doc.state.as_str() {
            "ready_at_registry_office" => {
                if doc.waybill.is_empty() && doc.method == "postamat" {
                    // Kaspi's order (п.10) had not come when the fixture was made.
                    self.post(
                        "/api/v1/integrations/kaspi/orders",
                        &self.kaspi,
                        json!({"event_id": format!("upg-order-{}", doc.number),
                               "application_number": doc.number, "kaspi_order_id": format!("K-{}", doc.number),
                               "waybill": format!("WB-UPG-{}", doc.number),
                               "occurred_at": chrono::Utc::now().to_rfc3339()}),
                    );
                }
                let mut intake = json!({"application_numbers": numbers});
                if doc.method == "con" {
                    // The registry office's own registry the document came on (п.14).
                    intake["registry_office_registry"] = json!("RO-UPG-1");
                }
                let taken = self.post("/api/v1/intake", &clerk, intake);
                assert!(
                    taken["items"][0]["shipment_id"].is_string(),
                    "intake of {}: {taken}",
                    doc.number
                );
            }
            "at_accumulation_sector" => {
                self.post(
                    &format!("/api/v1/shipments/{}/label", doc.id),
                    &clerk,
                    json!({"waybill": doc.waybill}),
                );
            }
            "packed" if doc.registry.is_empty() => {
                let draft = self.post(
                    "/api/v1/registries",
                    &clerk,
                    json!({"application_numbers": numbers}),
                );
                self.send_off(draft["id"].as_str().unwrap(), &clerk, &courier);
            }
            "packed" => {
                self.send_off(&doc.registry, &clerk, &courier);
            }
            "handed_to_courier" => {
                let registry = self.registry(&doc.registry, &clerk);
                let waybills: Vec<Value> = registry["items"]
                    .as_array()
                    .unwrap_or_else(|| panic!("registry items: {registry}"))
                    .iter()
                    .map(|item| item["waybill"].clone())
                    .collect();
                self.kaspi_event(
                    doc,
                    "accepted_at_point",
                    json!({"handoff_registry": registry["number"],
                           "kaspi_registry_number": format!("KSP-UPG-{}", registry["number"].as_str().unwrap()),
                           "accepted_waybills": waybills}),
                );
            }
            "accepted_at_kaspi_point" => self.kaspi_event(doc, "out_for_delivery", json!({})),
            "out_for_delivery" => self.kaspi_event(
                doc,
                "placed_in_cell",
                json!({"postamat_id": doc.postamat, "cell": "C-07"}),
            ),
            "placed_in_cell" => self.kaspi_event(doc, "collected", json!({})),
            // Taken out of its cell (п.30), then back at the point (п.31).
            "storage_expired"
                if !self
                    .sent
                    .contains_key(&format!("upg-removed_from_cell-{}", doc.id)) =>
            {
                self.kaspi_event(doc, "removed_from_cell", json!({}))
            }
            "storage_expired" => self.kaspi_event(doc, "returned_to_point", json!({})),
            "returning_to_kaspi_point" => self.kaspi_event(doc, "returned_to_point", json!({})),
            "returned_to_kaspi_point" => {
                let draft = self.post(
                    "/api/v1/registries",
                    &clerk,
                    json!({"kind": "return_pickup", "application_numbers": numbers}),
                );
                self.send_off(draft["id"].as_str().unwrap(), &clerk, &courier);
            }
            "in_return_registry" => {
                self.send_off(&doc.registry, &clerk, &courier);
            }
            "at_issuance_sector" => {
                self.post(
                    &format!("/api/v1/shipments/{}/issue", doc.id),
                    &issuer,
                    json!({"recipient": {"type": "applicant", "iin": doc.iin}}),
                );
            }
            other => panic!("no step known from {other} ({doc:?})"),
        }
    }
}

/// Migrates the fixture at `url`, then drives every unfinished document to its end.
fn upgrade_and_drive(url: &str, folder: &Path) {
    let upgraded_at = chrono::Utc::now();
    let before = counts(url);
    let said = migrate(url);
    // Every migration after the fixture's 14, whatever their number by now.
    let newer = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite"))
        .unwrap()
        .count()
        - 14;
    assert!(
        said.contains(&format!("{newer} migration(s) applied")),
        "{said}"
    );
    let after = counts(url);
    assert_eq!(before, after, "rows changed by the migration");
    assert!(before["shipments"] > 100, "{before:?}");

    let mut service = Service::start(url, folder);
    let mut driver = Driver {
        port: service.port,
        admin: service.admin.clone(),
        kaspi: String::new(),
        staff: BTreeMap::new(),
        secret: WebhookSecret::parse(SECRET).unwrap(),
        steps: BTreeMap::new(),
        sent: BTreeMap::new(),
    };
    driver.kaspi = driver.key("kaspi", None);
    let supervisor = driver.key("supervisor", None);
    for branch in ["ALM01", "AST01"] {
        let staff = (
            driver.key("accumulation_clerk", Some(branch)),
            driver.key("state_courier", Some(branch)),
            driver.key("issuance_clerk", Some(branch)),
        );
        driver.staff.insert(branch.to_owned(), staff);
    }
    let location = postamat::db::DatabaseLocation::parse(url).unwrap();
    let pool = postamat::db::connect(&location, 1).unwrap();
    let documents = |pool: &postamat::db::DbPool| -> Vec<Document> {
        diesel::sql_query(DOCUMENTS)
            .load(&mut pool.get().unwrap())
            .unwrap()
    };
    // The sweeper's first rounds apply every deadline that fell due since the fixture's last
    // simulated day; the documents are driven from where that leaves them.
    let mut first = documents(&pool);
    for _ in 0..30 {
        std::thread::sleep(std::time::Duration::from_secs(2));
        let again = documents(&pool);
        let settled = again
            .iter()
            .zip(&first)
            .all(|(a, b)| a.id == b.id && a.state == b.state);
        first = again;
        if settled {
            break;
        }
    }
    let mut at_start: BTreeMap<String, usize> = BTreeMap::new();
    for doc in &first {
        *at_start.entry(doc.state.clone()).or_default() += 1;
        // Every document of the old schema reads through the API.
        let read = get(
            service.port,
            &format!("/api/v1/shipments/{}", doc.id),
            Some(&supervisor),
            HANG,
        );
        assert_eq!(read.map(|a| a.status), Some(200), "{doc:?}");
    }
    let unfinished = first
        .iter()
        .filter(|d| !FINISHED.contains(&d.state.as_str()))
        .count();
    assert!(
        unfinished >= 50,
        "too few documents on their way: {at_start:?}"
    );
    // Bounded: no document needs more than a dozen steps.
    for _round in 0..15 {
        let open: Vec<Document> = documents(&pool)
            .into_iter()
            .filter(|d| !FINISHED.contains(&d.state.as_str()))
            .collect();
        if open.is_empty() {
            break;
        }
        for doc in &open {
            driver.step(doc);
        }
    }
    let last = documents(&pool);
    let open: Vec<&Document> = last
        .iter()
        .filter(|d| !FINISHED.contains(&d.state.as_str()))
        .collect();
    assert!(
        open.is_empty(),
        "{} documents left on their way, such as {:?}",
        open.len(),
        &open[..open.len().min(3)]
    );
    let mut at_end: BTreeMap<String, usize> = BTreeMap::new();
    for doc in &last {
        *at_end.entry(doc.state.clone()).or_default() += 1;
    }
    eprintln!(
        "fault upgrade ({}): {} documents; at the start {at_start:?}; steps taken from {:?}; \
         at the end {at_end:?}",
        location.backend_name(),
        last.len(),
        driver.steps
    );
    database_invariants(&mut pool.get().unwrap(), Some(upgraded_at));
    service.assert_clean();
}

#[test]
fn a_sqlite_database_of_the_previous_schema_is_migrated_and_driven_to_the_end() {
    if second_pass() {
        return;
    }
    let _one = one_at_a_time();
    let folder = scratch("upgrade-sqlite");
    let file = folder.join("postamat.db");
    gunzip(&fixture("schema-14.sqlite3.gz"), &file);
    let url = format!("sqlite://{}", file.display());
    upgrade_and_drive(&url, &folder);
    // The rebuilt table kept its keys.
    assert_sqlite_sound(&file);
    let _ = std::fs::remove_dir_all(&folder);
}

#[test]
fn a_postgresql_database_of_the_previous_schema_is_migrated_and_driven_to_the_end() {
    let _one = one_at_a_time();
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let folder = scratch("upgrade-pg");
    let dump = folder.join("schema-14.sql");
    gunzip(&fixture("schema-14.postgres.sql.gz"), &dump);
    // pg_dump 15.14 and later fence the dump with \restrict, which older psql does not know.
    let text = std::fs::read_to_string(&dump).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect();
    std::fs::write(&dump, kept.join("\n")).unwrap();
    let port = cluster.port.to_string();
    assert!(
        cluster.client(
            "psql",
            &[
                "-q",
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-f",
                dump.to_str().unwrap(),
            ],
        ),
        "the dump did not load"
    );
    upgrade_and_drive(&cluster.url(), &folder);
    let _ = std::fs::remove_dir_all(&folder);
}
