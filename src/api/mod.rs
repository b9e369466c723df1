//! The HTTP API, grouped by audience. Handlers parse the request, call one workflow (or read
//! through `db` and [`views`]) in one blocking task, and map the result; they decide no rules.
//!
//! - [`admin`]: operators — API keys and reference data (branches, postamats);
//! - [`integrations`]: Kaspi and the registry office (machines);
//! - [`clerks`]: branch staff (and every role) — the calendar and deadline previews;
//! - [`supervisors`]: calendar edits and force-majeure periods;
//! - [`system`]: health, readiness, metrics and "who am I".

pub mod admin;
pub mod auth;
pub mod clerks;
pub mod console;
pub mod error;
pub mod extract;
pub mod integrations;
pub mod middleware;
pub mod printed;
pub mod problems;
pub mod supervisors;
pub mod system;
pub mod webhooks;

use crate::api::error::{ApiError, ApiResult, Problem};
use crate::clock::Clock;
use crate::db::writer::Writer;
use crate::db::{DbConnection, DbPool};
use crate::jobs::calendar_refresh::{CalendarCache, reload_after_commit};
use crate::observability::Metrics;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, web};
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_swagger_ui::SwaggerUi;

/// What every handler can reach.
pub struct AppState {
    pub pool: DbPool,
    pub clock: Clock,
    pub metrics: Metrics,
    /// The working-day calendar in memory (reloaded on edits and by a job).
    pub calendar: Arc<CalendarCache>,
    /// The days postamat delivery may be chosen (order п.6).
    pub pilot: crate::domain::application::PilotWindow,
    /// The registry office's term for executing an application, in working days.
    pub execution_term: u32,
    /// The SMS quiet hours (the pilot report counts the SMS they held back).
    pub quiet_hours: (chrono::NaiveTime, chrono::NaiveTime),
    /// Secrets Kaspi signs its webhook calls with (two while rotating).
    pub kaspi_secrets: Vec<crate::domain::webhook::WebhookSecret>,
    /// The console's cookies are `Secure` whatever the request's scheme (behind a proxy that
    /// ends TLS without sending `X-Forwarded-Proto`).
    pub secure_cookies: bool,
    /// SQLite's one writing connection (`None` on PostgreSQL, where writes use the pool).
    pub writer: Option<Arc<Writer>>,
    /// Whether writes lately found the storage full (`/readyz` reports it).
    pub storage: Arc<crate::db::StorageWatch>,
    /// API keys this instance has read lately (PostgreSQL only; emptied by every key change on
    /// any instance, see `db::key_cache`).
    pub keys: Arc<crate::db::key_cache::KeyCache>,
}

impl AppState {
    /// The SLA report's lines for the days `first` to `last` (Almaty), as the scope may see
    /// them, judged now (the API's report and the console's page).
    pub async fn sla_lines(
        &self,
        scope: crate::db::models::branch::BranchScope,
        first: chrono::NaiveDate,
        last: chrono::NaiveDate,
    ) -> ApiResult<Vec<crate::reports::sla::SlaLine>> {
        use crate::reports::sla;
        let period = sla::period(first, last)
            .map_err(|e| error::ApiError::new(error::ErrorCode::InvalidQuery, e.to_string()))?;
        let (snapshot, now) = (self.calendar.current(), self.clock.now());
        self.db(move |conn| Ok(sla::lines(conn, &scope, period, now, &snapshot.calendar)?))
            .await
    }

    /// The year as this instance knows it once a calendar edit is committed; absent only if
    /// the reload after the commit failed (logged; the periodic refresh catches up).
    pub async fn year_after_edit(
        &self,
        year: i32,
    ) -> Option<crate::reports::calendar::CalendarYear> {
        self.reload_calendar().await;
        let snapshot = self.calendar.current();
        snapshot
            .calendar
            .year(year)
            .map(|y| crate::reports::calendar::year_view(y, snapshot.calendar.version()))
    }

    /// The branch a supervisor asks for, if the scope may see it: `Ok(None)` for every branch
    /// the scope sees; a branch not found, or another than a branch supervisor's own, is "not
    /// found".
    pub fn asked_branch(
        conn: &mut DbConnection,
        scope: &crate::db::models::branch::BranchScope,
        code: Option<&crate::domain::reference::BranchCode>,
    ) -> ApiResult<Option<crate::domain::ids::BranchId>> {
        let Some(code) = code else {
            return Ok(scope.branch());
        };
        match crate::db::models::branch::find_by_code(conn, code.as_str())? {
            Some(found) if scope.allows(found.id) => Ok(Some(found.id)),
            _ => Err(error::ApiError::not_found(format!(
                "branch {code} not found"
            ))),
        }
    }

    /// The pilot report (issue 25) a supervisor of `scope` asks for: the API's and the
    /// console's.
    pub async fn pilot_report(
        &self,
        scope: crate::db::models::branch::BranchScope,
        first: chrono::NaiveDate,
        last: chrono::NaiveDate,
        branch: Option<crate::domain::reference::BranchCode>,
    ) -> ApiResult<crate::reports::pilot::PilotReport> {
        use crate::reports::pilot::{self, ReportError, Request};
        let calendar = self.calendar.current();
        let (now, quiet_hours) = (self.clock.now(), self.quiet_hours);
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get()?;
            let branch = Self::asked_branch(&mut conn, &scope, branch.as_ref())?;
            let request = Request {
                first,
                last,
                branch,
                now,
                quiet_hours,
            };
            // Two connections when the pool has one to spare, so the two reads overlap; the
            // same figures either way.
            let report = match pool.try_get() {
                Some(mut second) => pilot::gather_on_two(
                    &mut conn,
                    &mut second,
                    &scope,
                    request,
                    &calendar.calendar,
                ),
                None => pilot::gather(&mut conn, &scope, request, &calendar.calendar),
            };
            report.map_err(|e| match e {
                ReportError::Period(p) => {
                    error::ApiError::new(error::ErrorCode::InvalidQuery, p.to_string())
                }
                ReportError::Database(e) => e.into(),
            })
        })
        .await?
    }

    /// Runs database work on the blocking thread pool, never on the async executor.
    pub async fn db<T, F>(&self, work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> ApiResult<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get()?;
            work(&mut conn)
        })
        .await?
    }

    /// The caller a bearer token belongs to: from this instance's key cache, else read (and
    /// cached, on PostgreSQL). `None` for an unknown or revoked key.
    pub async fn authenticate(
        &self,
        token: String,
    ) -> ApiResult<Option<crate::db::models::api_key::Principal>> {
        if let Some(principal) = self.keys.get(&token) {
            return Ok(Some(principal));
        }
        let ticket = self.keys.ticket();
        let keys = self.keys.clone();
        self.db(move |conn| {
            let principal = crate::db::models::api_key::authenticate(conn, &token)?;
            if let Some(principal) = &principal {
                keys.put(ticket, &token, principal);
            }
            Ok(principal)
        })
        .await
    }

    /// Runs a write that may change API key `id` (it says whether it did) and, if it did,
    /// answers once every instance that was listening for key notices has emptied its key
    /// cache (`db::key_cache`), so the next request at any of them reads the key again. Waits
    /// [`key_cache::ACK_WAIT`] at the most: an instance lost meanwhile is not waited for longer,
    /// and an instance whose own listener is down (it cannot hear the others) waits all of it.
    ///
    /// [`key_cache::ACK_WAIT`]: crate::db::key_cache::ACK_WAIT
    pub async fn write_key<T, F>(&self, id: crate::domain::ids::KeyId, work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> ApiResult<(T, bool)> + Send + 'static,
    {
        use crate::db::key_cache;
        let ticket = self.keys.ticket();
        let listeners = self.db(|conn| Ok(key_cache::listeners(conn)?)).await?;
        let (done, changed) = self.write(work).await?;
        let payload = id.to_string();
        let started = std::time::Instant::now();
        while changed && !self.keys.acknowledged(ticket, &payload, &listeners) {
            if started.elapsed() >= key_cache::ACK_WAIT {
                tracing::warn!(
                    key_id = %id,
                    "key change: not every instance acknowledged it in time; those that did not \
                     empty their key caches when their notice arrives"
                );
                break;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        Ok(done)
    }

    /// Reloads the in-memory calendar and force-majeure periods once a change to them is
    /// committed (a write's work cannot do it: on SQLite it commits only after the work returns).
    /// The change stands whatever happens here; a failure is logged and the periodic refresh
    /// catches up.
    pub async fn reload_calendar(&self) {
        let cache = self.calendar.clone();
        let reloaded = self
            .db(move |conn| {
                reload_after_commit(&cache, conn);
                Ok(())
            })
            .await;
        if let Err(e) = reloaded {
            tracing::warn!(error = %e, "calendar reload after an edit failed; the next refresh retries");
        }
    }

    /// Runs a workflow for the authorised caller, as a write. Its context is built here and
    /// nowhere else: the caller as the actor, the branches it may touch, the clock's now and
    /// the current calendar.
    pub async fn act<T, F>(
        &self,
        caller: &crate::db::models::api_key::Principal,
        work: F,
    ) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection, &crate::workflows::EventContext<'_>) -> ApiResult<T>
            + Send
            + 'static,
    {
        let caller = caller.clone();
        let now = self.clock.now();
        let calendar = self.calendar.current();
        self.write(move |conn| {
            work(
                conn,
                &crate::workflows::EventContext::by(&caller, now, &calendar),
            )
        })
        .await
    }

    /// Runs work that writes: on SQLite through the one writing connection, after the writes
    /// queued before it; on PostgreSQL like [`AppState::db`].
    pub async fn write<T, F>(&self, work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> ApiResult<T> + Send + 'static,
    {
        let result = match &self.writer {
            Some(writer) => writer
                .run(work)
                .await
                .unwrap_or_else(|lost| Err(lost.into())),
            None => self.db(work).await,
        };
        match &result {
            Ok(_) => self.storage.room(),
            Err(e) if e.code() == error::ErrorCode::StorageFull => self.storage.full(),
            Err(_) => {}
        }
        result
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "postamat",
        description = "State Corporation side of the pilot delivering birth certificates through \
                       Kaspi postamats: applications, documents, registries, deadlines and \
                       notifications. Every error is `application/problem+json` with a stable `code`.",
    ),
    // Schemas only named by a list's `schema_with` (extract::Bounds), which does not collect them.
    components(schemas(Problem, supervisors::calendar_edits::DecreeSwapRequest, crate::domain::kaspi::KaspiEvent)),
    modifiers(&BearerAuth),
    tags(
        (name = "admin", description = "Operators: API keys and reference data"),
        (name = "integrations", description = "Kaspi and the registry office"),
        (name = "clerks", description = "Branch staff: lookup, intake, envelopes, registries, issue"),
        (name = "calendar", description = "The working-day calendar and deadline previews"),
        (name = "supervisors", description = "Calendar edits and force-majeure periods"),
        (name = "reference", description = "Reference data every role reads"),
        (name = "system", description = "Health, readiness, metrics, identity"),
        (name = "outbound", description = "Calls the service makes (the `webhooks` section)"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Every route of the service. actix tries them in the order registered, so the hottest come
/// first: Kaspi's status events and the other integrations, then the clerks' paths.
fn routes(cfg: &mut ServiceConfig<'_>) {
    integrations::routes(cfg);
    clerks::routes(cfg);
    supervisors::routes(cfg);
    admin::routes(cfg);
    system::routes(cfg);
}

/// The OpenAPI document, exactly as served at `/api-docs/openapi.json`.
pub fn openapi() -> OpenApiDoc {
    finish(operations())
}

/// The operations as the handlers declare them, before [`finish`] documents their problems.
fn operations() -> OpenApiDoc {
    let (_, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes)
        .split_for_parts();
    api
}

fn finish(mut api: OpenApiDoc) -> OpenApiDoc {
    api.info.version = env!("CARGO_PKG_VERSION").to_owned();
    problems::document(&mut api);
    webhooks::document(&mut api);
    api
}

/// Path templates and their methods, read from the OpenAPI document, to answer 405 rather than
/// 404 for a known path.
#[derive(Debug, Default)]
pub struct RouteTable(BTreeMap<String, Vec<&'static str>>);

impl RouteTable {
    pub fn from_openapi(api: &OpenApiDoc) -> Self {
        let table = api
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("DELETE", item.delete.is_some()),
                    ("PATCH", item.patch.is_some()),
                ]
                .into_iter()
                .filter_map(|(m, present)| present.then_some(m))
                .collect();
                (path.clone(), methods)
            })
            .collect();
        RouteTable(table)
    }

    pub fn methods_for(&self, path: &str) -> Option<Vec<&'static str>> {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        self.0.iter().find_map(|(template, methods)| {
            let parts: Vec<&str> = template.split('/').collect();
            let matches = parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()));
            matches.then(|| methods.clone())
        })
    }
}

/// The whole application: routes, middleware, API docs and Swagger UI.
pub fn app(
    state: web::Data<AppState>,
    body_limit: usize,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let (app, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes)
        .split_for_parts();
    let api = finish(api);
    let route_table = web::Data::new(RouteTable::from_openapi(&api));
    app.app_data(state)
        .app_data(route_table)
        .app_data(extract::BodyLimit(body_limit))
        .app_data(web::PayloadConfig::new(body_limit))
        .app_data(web::PathConfig::default().error_handler(extract::path_error))
        .app_data(web::QueryConfig::default().error_handler(extract::query_error))
        .configure(console::routes)
        .route("/", web::get().to(system::index))
        .route("/docs", web::get().to(system::docs_redirect))
        .service(SwaggerUi::new("/docs/{_:.*}").url("/api-docs/openapi.json", api))
        .default_service(web::to(middleware::no_route))
        .wrap(actix_web::middleware::from_fn(middleware::observe))
}

/// Maps "not there" to a 404 naming what was looked for.
pub fn found<T>(value: Option<T>, what: impl FnOnce() -> String) -> ApiResult<T> {
    value.ok_or_else(|| ApiError::not_found(format!("{} not found", what())))
}
