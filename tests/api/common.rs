//! `TestApp`: a fresh database per test (SQLite by default, PostgreSQL when
//! `TEST_POSTGRES_URL` is set), the whole application in process, and requests in one line.

use actix_web::body::MessageBody;
use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::test::{self, TestRequest};
use actix_web::web;
use chrono::{DateTime, TimeZone, Utc};
use diesel::Connection;
use diesel::RunQueryDsl;
use futures_util::future::LocalBoxFuture;
use postamat::api::{self, AppState};
use postamat::clock::Clock;
use postamat::config::LogFormat;
use postamat::db::key_cache;
use postamat::db::models::api_key::{self, NewKey};
use postamat::db::writer::Writer;
use postamat::db::{self, DatabaseLocation, DbPool};
use postamat::domain::reference::{BranchCode, Text};
use postamat::domain::role::Role;
use postamat::domain::webhook::WebhookSecret;
use postamat::jobs::calendar_refresh::CalendarCache;
use postamat::observability::{self, Metrics};
use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{Arc, Mutex, OnceLock};

pub const BODY_LIMIT: usize = 64 * 1024;
/// The Kaspi webhook secret in force, and the one rotating in.
pub const KASPI_SECRET: &str = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
pub const KASPI_NEXT_SECRET: &str = "whsec_bmV4dC1zZWNyZXQtbmV4dC1zZWNyZXQtbmV4dC0wMQ==";

/// Everything the test binary logged, after redaction: the log test reads it.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&log_buffer().lock().unwrap()).into_owned()
}

fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUFFER.get_or_init(|| Arc::new(Mutex::new(Vec::new())))
}

#[derive(Clone)]
struct BufferWriter(Arc<Mutex<Vec<u8>>>);

impl Write for BufferWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn install_log_capture() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let buffer = log_buffer().clone();
        observability::init_with_writer("info", LogFormat::Json, move || {
            BufferWriter(buffer.clone())
        });
    });
}

/// The database a test owns; removed when the test ends.
pub enum TestDatabase {
    Sqlite(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    fn create() -> (Self, DatabaseLocation) {
        match std::env::var("TEST_POSTGRES_URL") {
            Ok(admin_url) => {
                let name = format!("postamat_test_{}", uuid::Uuid::now_v7().simple());
                let mut admin = diesel::PgConnection::establish(&admin_url)
                    .expect("TEST_POSTGRES_URL must point at a reachable PostgreSQL");
                diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut admin)
                    .expect("create the test database");
                let mut url = url::Url::parse(&admin_url).expect("TEST_POSTGRES_URL is a URL");
                url.set_path(&name);
                (
                    TestDatabase::Postgres { admin_url, name },
                    DatabaseLocation::Postgres(url.to_string()),
                )
            }
            Err(_) => {
                let dir = std::env::temp_dir()
                    .join(format!("postamat-test-{}", uuid::Uuid::now_v7().simple()));
                let file = dir.join("test.db");
                (TestDatabase::Sqlite(dir), DatabaseLocation::Sqlite(file))
            }
        }
    }
}

impl TestDatabase {
    /// A database and its `POSTAMAT_DATABASE_URL`, for tests of the command.
    pub fn create_url() -> (Self, String) {
        let (db, location) = Self::create();
        (db, url_of(&location))
    }
}

/// The `POSTAMAT_DATABASE_URL` of a location.
fn url_of(location: &DatabaseLocation) -> String {
    match location {
        DatabaseLocation::Postgres(url) => url.clone(),
        DatabaseLocation::Sqlite(path) => format!("sqlite://{}", path.display()),
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match self {
            TestDatabase::Sqlite(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            TestDatabase::Postgres { admin_url, name } => {
                if let Ok(mut admin) = diesel::PgConnection::establish(admin_url) {
                    let _ = diesel::sql_query(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    ))
                    .execute(&mut admin);
                }
            }
        }
    }
}

pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text))
    }

    /// A header's value as text, if present.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts a problem document with this status and code, and returns it.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "status; body: {}", self.text);
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "body: {}",
            self.text
        );
        let body = self.json();
        assert_eq!(body["code"], code, "code; body: {}", self.text);
        assert_eq!(body["status"], status);
        assert_eq!(body["type"], format!("urn:postamat:problem:{code}"));
        assert!(body["title"].is_string() && body["detail"].is_string());
        body
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "status; body: {}", self.text);
        if self.text.is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }
}

type Call = Box<dyn Fn(TestRequest) -> LocalBoxFuture<'static, Response>>;

/// The OpenAPI document, as served.
fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| serde_json::to_value(api::openapi()).unwrap())
}

/// Every test's every answer is checked against the document: a problem's status must be one
/// its operation lists, with its code among those listed for that status. (Answers outside any
/// operation — no such route, a method the path does not take — are not an operation's.)
#[track_caller]
fn assert_documented(method: &str, path: &str, response: &Response) {
    if response.content_type() != "application/problem+json" {
        return;
    }
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let operation = document()["paths"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(template, _)| {
            let parts: Vec<&str> = template.split('/').collect();
            parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()))
        })
        .map(|(_, item)| &item[method]);
    let Some(operation) = operation.filter(|op| !op.is_null()) else {
        return;
    };
    let body = response.json();
    let status = response.status.as_str();
    let documented = &operation["responses"][status]["content"]["application/problem+json"]["schema"]
        ["allOf"][1]["properties"]["code"]["enum"];
    assert!(
        documented
            .as_array()
            .is_some_and(|codes| codes.iter().any(|c| c == &body["code"])),
        "{method} {path} answered {status} `{}`, which its operation does not document ({documented}); body: {}",
        body["code"].as_str().unwrap_or("?"),
        response.text
    );
}

pub struct TestApp {
    call: Call,
    pub pool: DbPool,
    pub clock: Clock,
    pub calendar: Arc<CalendarCache>,
    /// For running the `postamat` command against the same database.
    pub database_url: String,
    location: DatabaseLocation,
    /// The instance's API key cache (live on PostgreSQL once its listener listens).
    pub keys: Arc<key_cache::KeyCache>,
    // Dropped last: the database outlives the connections to it (and another instance's).
    _database: Arc<TestDatabase>,
}

/// 2026-11-23 10:00 in Almaty.
pub fn default_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 5, 0, 0).unwrap()
}

impl TestApp {
    pub async fn new() -> TestApp {
        Self::with(|_| {}).await
    }

    /// A test app whose state `change` adjusts first (a setting under test).
    pub async fn with(change: impl FnOnce(&mut AppState)) -> TestApp {
        install_log_capture();
        let (database, location) = TestDatabase::create();
        Self::build(
            Arc::new(database),
            location,
            Clock::manual(default_now()),
            change,
        )
        .await
    }

    /// A second instance of the service on this app's database (with its own pool, writer and
    /// caches), as production runs several.
    pub async fn another_instance(&self) -> TestApp {
        Self::build(
            self._database.clone(),
            self.location.clone(),
            self.clock.clone(),
            |_| {},
        )
        .await
    }

    async fn build(
        database: Arc<TestDatabase>,
        location: DatabaseLocation,
        clock: Clock,
        change: impl FnOnce(&mut AppState),
    ) -> TestApp {
        let database_url = url_of(&location);
        let writer_location = location.clone();
        let app_location = location.clone();
        let (pool, calendar) = web::block(move || {
            let pool = db::connect(&location, 4).expect("connect to the test database");
            let mut conn = pool.get().unwrap();
            db::run_migrations(&mut conn).expect("migrate the test database");
            let calendar = CalendarCache::load(&mut conn).expect("load the calendar");
            drop(conn);
            (pool, Arc::new(calendar))
        })
        .await
        .unwrap();
        let writer = Writer::for_location(&writer_location)
            .expect("open the writer")
            .map(Arc::new);
        let mut state = AppState {
            pool: pool.clone(),
            clock: clock.clone(),
            metrics: Metrics::new(),
            calendar: calendar.clone(),
            pilot: postamat::domain::application::PilotWindow {
                starts_on: chrono::NaiveDate::from_ymd_opt(2026, 2, 13).unwrap(),
                ends_on: chrono::NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
            },
            execution_term: 3,
            quiet_hours: (
                chrono::NaiveTime::from_hms_opt(21, 0, 0).unwrap(),
                chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            ),
            kaspi_secrets: vec![
                WebhookSecret::parse(KASPI_SECRET).unwrap(),
                WebhookSecret::parse(KASPI_NEXT_SECRET).unwrap(),
            ],
            secure_cookies: false,
            writer,
            storage: Default::default(),
            keys: Default::default(),
        };
        change(&mut state);
        // On PostgreSQL API keys are cached, as in production, with the listener that keeps
        // the cache true.
        if let DatabaseLocation::Postgres(url) = &app_location {
            key_cache::listen(&state.keys, url.clone()).expect("start the key listener");
        }
        let keys = state.keys.clone();
        let state = web::Data::new(state);
        let service = Rc::new(test::init_service(api::app(state, BODY_LIMIT)).await);
        let call: Call = Box::new(move |req: TestRequest| {
            let service = service.clone();
            Box::pin(async move {
                let request = req.to_request();
                let method = request.method().as_str().to_ascii_lowercase();
                let path = request.path().to_owned();
                let res = test::call_service(&*service, request).await;
                let status = res.status();
                let headers = res.headers().clone();
                let bytes = res
                    .into_body()
                    .try_into_bytes()
                    .unwrap_or_else(|_| panic!("test bodies are complete"));
                let response = Response {
                    status,
                    headers,
                    text: String::from_utf8(bytes.to_vec()).expect("UTF-8 body"),
                };
                assert_documented(&method, &path, &response);
                response
            })
        });
        TestApp {
            call,
            pool,
            clock,
            calendar,
            database_url,
            location: app_location,
            keys,
            _database: database,
        }
    }

    /// Waits (5 s at the most) until the instance caches API keys, on PostgreSQL.
    pub async fn wait_for_key_cache(&self) {
        if self.backend() != "postgres" {
            return;
        }
        let started = std::time::Instant::now();
        while !self.keys.is_live() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(5),
                "the key listener did not start"
            );
            actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    pub fn backend(&self) -> &'static str {
        match &*self._database {
            TestDatabase::Sqlite(_) => "sqlite",
            TestDatabase::Postgres { .. } => "postgres",
        }
    }

    pub async fn send(&self, req: TestRequest) -> Response {
        (self.call)(req).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.send(with_token(TestRequest::get().uri(path), token))
            .await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.send(with_token(TestRequest::put().uri(path), token).set_json(body))
            .await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.send(with_token(TestRequest::post().uri(path), token).set_json(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Response {
        self.send(with_token(TestRequest::delete().uri(path), token))
            .await
    }

    /// Creates a key straight in the database and returns its token.
    /// Renames a table, to make the service's own work fail (and to restore it after).
    pub async fn rename_table(&self, from: &'static str, to: &'static str) {
        let pool = self.pool.clone();
        web::block(move || {
            diesel::sql_query(format!("ALTER TABLE {from} RENAME TO {to}"))
                .execute(&mut pool.get().unwrap())
                .unwrap()
        })
        .await
        .unwrap();
    }

    pub async fn token(&self, role: Role, branch: Option<&str>) -> String {
        let pool = self.pool.clone();
        let branch = branch.map(|b| b.parse::<BranchCode>().unwrap());
        let now = self.clock.now();
        web::block(move || {
            let name = Text::try_from(format!("test {role}")).unwrap();
            let new = NewKey {
                name: &name,
                role,
                branch: branch.as_ref(),
            };
            api_key::create(&mut pool.get().unwrap(), new, now)
                .map(|(_, token)| token)
                .map_err(|e| e.to_string())
        })
        .await
        .unwrap()
        .expect("create a test key")
    }

    pub async fn admin(&self) -> String {
        self.token(Role::Admin, None).await
    }

    /// Creates a branch through the API.
    pub async fn branch(&self, admin: &str, code: &str, city: &str) {
        self.put(
            &format!("/api/v1/branches/{code}"),
            Some(admin),
            &branch_body(city),
        )
        .await
        .assert_status(201);
    }
}

pub fn with_token(req: TestRequest, token: Option<&str>) -> TestRequest {
    match token {
        Some(token) => req.insert_header(("Authorization", format!("Bearer {token}"))),
        None => req,
    }
}

/// The КАТО code of a city the tests use (п.4 compares cities by it).
pub fn kato(city: &str) -> &'static str {
    match city
        .trim()
        .trim_start_matches("г. ")
        .trim_end_matches(" қ.")
    {
        "Алматы" => "750000000",
        "Астана" => "710000000",
        "Шымкент" => "790000000",
        other => panic!("no КАТО code for {other} in the tests"),
    }
}

pub fn branch_body(city: &str) -> Value {
    json!({
        "name_kk": format!("{city} қаласы бойынша №1 ХҚКО"),
        "name_ru": format!("ЦОН №1 города {city}"),
        "city": city,
        "city_code": kato(city),
        "address_kk": format!("{city} қ., Абай даңғ., 10"),
        "address_ru": format!("г. {city}, пр. Абая, 10"),
    })
}
