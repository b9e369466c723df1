//! `TestApp`: the whole application in process on a database of the test's own, and requests
//! in one line.

use super::database::{TestDatabase, url_of};
use super::logs::install_log_capture;
use super::reference::branch_body;
use super::response::{Response, assert_documented};
use actix_web::body::MessageBody;
use actix_web::test::{self, TestRequest};
use actix_web::web;
use chrono::{DateTime, TimeZone, Utc};
use diesel::RunQueryDsl;
use futures_util::future::LocalBoxFuture;
use postamat::api::{self, AppState};
use postamat::clock::Clock;
use postamat::db::key_cache;
use postamat::db::models::api_key::{self, NewKey};
use postamat::db::writer::Writer;
use postamat::db::{self, DatabaseLocation, DbPool};
use postamat::domain::reference::{BranchCode, Text};
use postamat::domain::role::Role;
use postamat::domain::webhook::WebhookSecret;
use postamat::jobs::calendar_refresh::CalendarCache;
use postamat::observability::Metrics;
use serde_json::Value;
use std::rc::Rc;
use std::sync::Arc;

pub const BODY_LIMIT: usize = 64 * 1024;
/// The Kaspi webhook secret in force, and the one rotating in.
pub const KASPI_SECRET: &str = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
pub const KASPI_NEXT_SECRET: &str = "whsec_bmV4dC1zZWNyZXQtbmV4dC1zZWNyZXQtbmV4dC0wMQ==";

type Call = Box<dyn Fn(TestRequest) -> LocalBoxFuture<'static, Response>>;

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
