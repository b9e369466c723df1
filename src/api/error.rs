//! The API's error, mapped in one place to `application/problem+json` (RFC 9457) with a stable
//! machine `code`. Which layer uses which error: the domain core returns its own refusals
//! (`Refusal`, `EditError`, `YearMissing`); `db` returns diesel's errors; workflows return
//! `WorkflowError`, which keeps its cause and decides whether a failure is ours; background jobs
//! and the CLI use `anyhow`; only this module knows problem codes and HTTP statuses. A failure of
//! ours is logged once, here, with its whole cause chain.

use crate::domain::calendar::{OutOfYears, YearMissing};
use crate::workflows::{Reason, ReasonKind, WorkflowError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;
use utoipa::openapi::{ObjectBuilder, RefOr, Schema, Type};

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// Declares [`ErrorCode`]: the workflows' refusals ([`Reason`], listed once in
/// `workflows::error`) and, once each here, the codes of the transport: of HTTP, of keys and
/// signatures, and of our own failures.
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])+ $variant:ident => $code:literal, $status:ident, $title:literal;)+) => {
        /// Stable error codes: clients switch on these, so a code is never renamed or reused.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum ErrorCode {
            /// A refusal by a rule of the order or of the service.
            Refused(Reason),
            $($(#[doc = $doc])+ $variant,)+
        }

        impl ErrorCode {
            /// Every code: the refusals, then the transport's.
            pub fn all() -> impl Iterator<Item = ErrorCode> {
                Reason::ALL
                    .into_iter()
                    .map(ErrorCode::Refused)
                    .chain([$(ErrorCode::$variant),+])
            }

            pub fn as_str(self) -> &'static str {
                match self {
                    ErrorCode::Refused(reason) => reason.code(),
                    $(ErrorCode::$variant => $code,)+
                }
            }

            pub fn parse(code: &str) -> Option<ErrorCode> {
                match code {
                    $($code => Some(ErrorCode::$variant),)+
                    _ => Reason::parse(code).map(ErrorCode::Refused),
                }
            }

            pub fn title(self) -> &'static str {
                match self {
                    ErrorCode::Refused(reason) => reason.title(),
                    $(ErrorCode::$variant => $title,)+
                }
            }

            pub fn status(self) -> StatusCode {
                match self {
                    ErrorCode::Refused(reason) => match reason.kind() {
                        ReasonKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
                        ReasonKind::Conflict => StatusCode::CONFLICT,
                        ReasonKind::Forbidden => StatusCode::FORBIDDEN,
                        ReasonKind::NotFound => StatusCode::NOT_FOUND,
                    },
                    $(ErrorCode::$variant => StatusCode::$status,)+
                }
            }
        }
    };
}

error_codes! {
    /// The body is not well-formed JSON.
    MalformedJson => "malformed_json", BAD_REQUEST, "Malformed JSON";
    /// The JSON is well-formed but a field is missing, of the wrong type or has an invalid value.
    InvalidBody => "invalid_body", BAD_REQUEST, "Invalid request body";
    /// A query-string parameter is missing or invalid.
    InvalidQuery => "invalid_query", BAD_REQUEST, "Invalid query parameter";
    /// A path segment is invalid.
    InvalidPath => "invalid_path", BAD_REQUEST, "Invalid path parameter";
    /// No `Authorization: Bearer` header.
    MissingToken => "missing_token", UNAUTHORIZED, "Authentication required";
    /// The token is unknown, malformed or revoked.
    InvalidToken => "invalid_token", UNAUTHORIZED, "Invalid or revoked API key";
    /// A Kaspi call without a valid webhook signature.
    InvalidSignature => "invalid_signature", UNAUTHORIZED, "Invalid webhook signature";
    /// A Kaspi call signed more than 5 minutes away from our clock.
    SignatureExpired => "signature_expired", UNAUTHORIZED, "Webhook signature expired";
    /// No such route.
    RouteNotFound => "route_not_found", NOT_FOUND, "No such route";
    /// The route exists but not with this method.
    MethodNotAllowed => "method_not_allowed", METHOD_NOT_ALLOWED, "Method not allowed";
    /// The body is larger than the configured limit.
    PayloadTooLarge => "payload_too_large", PAYLOAD_TOO_LARGE, "Payload too large";
    /// The body is not `application/json`.
    UnsupportedMediaType => "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE, "Unsupported media type";
    /// Another request changed the same data at the same time; retry.
    ConcurrentUpdate => "concurrent_update", CONFLICT, "Concurrent update";
    /// The database cannot be reached right now.
    DatabaseUnavailable => "database_unavailable", SERVICE_UNAVAILABLE, "Database unavailable";
    /// The database's disk (or SQLite's file) is full: nothing of the request was written;
    /// writes resume once an operator frees space.
    StorageFull => "storage_full", SERVICE_UNAVAILABLE, "Database storage full";
    /// The working-day calendar lacks a year a deadline of this request falls in: our
    /// configuration, not the caller's mistake, so a retry after an administrator adds the year
    /// succeeds (nothing of the request was kept).
    CalendarUnavailable => "calendar_unavailable", SERVICE_UNAVAILABLE, "Working-day calendar incomplete";
    /// An unexpected failure on our side; the request id in the response finds it in the log.
    Internal => "internal", INTERNAL_SERVER_ERROR, "Internal error";
}

impl ErrorCode {
    /// The problem `type` URI: a stable name, not a page that has to exist.
    pub fn type_uri(self) -> String {
        format!("urn:postamat:problem:{}", self.as_str())
    }
}

impl From<Reason> for ErrorCode {
    fn from(reason: Reason) -> Self {
        ErrorCode::Refused(reason)
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        ErrorCode::parse(&code)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown problem code `{code}`")))
    }
}

impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "Stable error codes: clients switch on these, so a code is never renamed or reused.",
            ))
            .enum_values(Some(ErrorCode::all().map(ErrorCode::as_str)))
            .into()
    }
}

impl ToSchema for ErrorCode {}

/// The wire shape of every error (`application/problem+json`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// `urn:postamat:problem:<code>`.
    #[serde(rename = "type")]
    #[schema(example = "urn:postamat:problem:not_found")]
    pub problem_type: String,
    #[schema(example = "Not found")]
    pub title: String,
    #[schema(example = 404)]
    pub status: u16,
    /// What went wrong with this request, for a person.
    #[schema(example = "branch ALM01 not found")]
    pub detail: String,
    /// The stable machine code.
    pub code: ErrorCode,
}

/// An API error: a code, a detail for the caller, and (for our own failures) a cause kept for
/// the log only.
pub struct ApiError {
    code: ErrorCode,
    detail: String,
    cause: Option<anyhow::Error>,
    allow: Option<String>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        ApiError {
            code,
            detail: detail.into(),
            cause: None,
            allow: None,
        }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Refused(Reason::NotFound), detail)
    }

    pub fn invalid_body(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidBody, detail)
    }

    /// A query-string parameter is invalid (`detail` names it).
    pub fn invalid_query(detail: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::InvalidQuery, detail)
    }

    pub fn validation(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Refused(Reason::ValidationFailed), detail)
    }

    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        ApiError {
            cause: Some(cause.into()),
            ..Self::new(
                ErrorCode::Internal,
                "an unexpected error occurred; quote the X-Request-Id header when reporting it",
            )
        }
    }

    pub fn method_not_allowed(allowed: &[&str]) -> Self {
        ApiError {
            allow: Some(allowed.join(", ")),
            ..Self::new(
                ErrorCode::MethodNotAllowed,
                format!("this route accepts only {}", allowed.join(", ")),
            )
        }
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn detail(&self) -> &str {
        &self.detail
    }

    pub fn problem(&self) -> Problem {
        Problem {
            problem_type: self.code.type_uri(),
            title: self.code.title().to_owned(),
            status: self.code.status().as_u16(),
            detail: self.detail.clone(),
            code: self.code,
        }
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("code", &self.code)
            .field("detail", &self.detail)
            .field("cause", &self.cause)
            .finish()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)
    }
}

/// Marks a response as already being a problem document, so the fallback middleware leaves it
/// alone and the request log can name the code.
#[derive(Debug, Clone, Copy)]
pub struct ProblemCode(pub ErrorCode);

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(cause) = &self.cause {
            // Only our own failures are logged with their cause; a client's bad input is
            // logged by code alone (its detail may quote what the client sent).
            tracing::error!(
                code = self.code.as_str(),
                cause = format!("{cause:#}"),
                "request failed"
            );
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        ));
        if let Some(allow) = &self.allow {
            response.insert_header((header::ALLOW, allow.as_str()));
        }
        if self.status_code() == StatusCode::SERVICE_UNAVAILABLE {
            // Worth retrying: say when.
            response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("60")));
        }
        let mut response = response.json(self.problem());
        response.extensions_mut().insert(ProblemCode(self.code));
        response
    }
}

impl From<DieselError> for ApiError {
    fn from(err: DieselError) -> Self {
        match &err {
            DieselError::NotFound => ApiError::not_found("record not found"),
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => ApiError::new(
                ErrorCode::Refused(Reason::AlreadyExists),
                match info.constraint_name() {
                    Some(constraint) => {
                        format!("a record with the same unique key already exists ({constraint})")
                    }
                    None => "a record with the same unique key already exists".to_owned(),
                },
            ),
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => ApiError::new(
                ErrorCode::Refused(Reason::InUse),
                "the record is referenced by other records",
            ),
            DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                ApiError::new(
                    ErrorCode::ConcurrentUpdate,
                    "another request changed the same data at the same time; retry",
                )
            }
            // A CHECK constraint caught a value the boundary let through.
            DieselError::DatabaseError(DatabaseErrorKind::CheckViolation, info) => {
                ApiError::validation(format!(
                    "a value is out of its allowed range ({})",
                    info.constraint_name().unwrap_or("check")
                ))
            }
            // SQLite's writer lock still held after the busy timeout, or PostgreSQL ending one of
            // two transactions that waited on each other: retryable, not a bug.
            DieselError::DatabaseError(_, info)
                if info.message().contains("database is locked")
                    || info.message().contains("deadlock detected") =>
            {
                ApiError::new(ErrorCode::ConcurrentUpdate, "the database is busy; retry")
            }
            // SQLite's SQLITE_FULL ("database or disk is full"), PostgreSQL's disk_full (53100:
            // "could not extend file …: No space left on device"): the statement and its
            // transaction are rolled back, so nothing is half-written; worth retrying once an
            // operator frees space.
            DieselError::DatabaseError(_, info) if crate::db::storage_full(info.message()) => {
                tracing::error!(error = info.message(), "the database's storage is full");
                ApiError::new(
                    ErrorCode::StorageFull,
                    "the database's storage is full; nothing was written; retry later",
                )
            }
            // The connection died under the request (the server restarted or went away). Found
            // by the fault suite (tests/faults): libpq reports it as UnableToSendCommand ("no
            // connection to the server") or with the texts of SQLSTATE 57P01–57P03. Only these
            // words make it a 503: UnableToSendCommand also covers client-side misuse (too many
            // bind parameters, a command in progress), which is a bug. Lost during COMMIT, the
            // outcome is unknown: the detail says so, and the calls worth retrying blindly
            // (the integrations') are idempotent.
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                ApiError::new(ErrorCode::DatabaseUnavailable, CONNECTION_LOST)
            }
            DieselError::DatabaseError(_, info) if connection_lost(info.message()) => {
                ApiError::new(ErrorCode::DatabaseUnavailable, CONNECTION_LOST)
            }
            // PostgreSQL's statement timeout (57014, set from POSTAMAT_DB_STATEMENT_TIMEOUT_SECS)
            // or lock timeout: the database did not answer in time, the transaction is rolled
            // back. The request may be sent again.
            DieselError::DatabaseError(_, info) if timed_out(info.message()) => {
                tracing::warn!(error = info.message(), "a statement timed out");
                ApiError::new(
                    ErrorCode::DatabaseUnavailable,
                    "the database did not answer in time; nothing was written; retry",
                )
            }
            // The message of a database error is the engine's primary message; its details
            // (which can quote row values) are never kept.
            DieselError::DatabaseError(kind, info) => ApiError::internal(anyhow::anyhow!(
                "database error {kind:?}: {} (table {:?}, constraint {:?})",
                info.message(),
                info.table_name(),
                info.constraint_name()
            )),
            other => ApiError::internal(anyhow::anyhow!("database error: {other}")),
        }
    }
}

const CONNECTION_LOST: &str = "the database connection was lost; if it was lost while \
                               committing, the request may have been applied: retry it and \
                               read the answer";

/// PostgreSQL's words for a statement it cancelled for taking too long (SQLSTATE 57014).
fn timed_out(message: &str) -> bool {
    message.contains("canceling statement due to statement timeout")
        || message.contains("canceling statement due to lock timeout")
}

/// libpq's and PostgreSQL's words for a connection that is gone or a server that is going or
/// coming (not a problem of the request). PostgreSQL translates its messages by
/// `lc_messages`: docs/operations.md asks for `C` or English on the service's database.
fn connection_lost(message: &str) -> bool {
    [
        "terminating connection due to administrator command",
        "terminating connection because of crash of another server process",
        "the database system is shutting down",
        "the database system is starting up",
        "the database system is in recovery mode",
        "server closed the connection unexpectedly",
        "no connection to the server",
        "could not receive data from server",
        "SSL connection has been closed unexpectedly",
    ]
    .iter()
    .any(|words| message.contains(words))
}

impl From<crate::db::writer::WriteLost> for ApiError {
    fn from(lost: crate::db::writer::WriteLost) -> Self {
        use crate::db::writer::WriteLost;
        match lost {
            WriteLost::Panicked => ApiError::internal(lost),
            WriteLost::StorageFull => ApiError::new(
                ErrorCode::StorageFull,
                "the database's storage is full; nothing was written; retry later",
            ),
            // Nothing was kept: the caller may send it again.
            WriteLost::NotCommitted => ApiError::new(
                ErrorCode::DatabaseUnavailable,
                "the write could not be committed; nothing was written; retry",
            ),
        }
    }
}

impl From<r2d2_error::PoolError> for ApiError {
    fn from(err: r2d2_error::PoolError) -> Self {
        tracing::warn!(error = %err, "no database connection available");
        ApiError::new(
            ErrorCode::DatabaseUnavailable,
            "the database is not reachable right now; retry later",
        )
    }
}

/// r2d2's error type, re-exported through diesel so we do not depend on r2d2 twice.
mod r2d2_error {
    pub use diesel::r2d2::PoolError;
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(err: actix_web::error::BlockingError) -> Self {
        ApiError::internal(anyhow::anyhow!("blocking task failed: {err}"))
    }
}

impl From<WorkflowError> for ApiError {
    fn from(err: WorkflowError) -> Self {
        // A refusal answers with its reason and the error's text as the detail.
        if let Some(reason) = err.reason() {
            return ApiError::new(ErrorCode::Refused(reason), err.to_string());
        }
        match err {
            WorkflowError::Conflict(detail) => ApiError::new(ErrorCode::ConcurrentUpdate, detail),
            // A deadline of the request falls in a year the calendar lacks: ours to fix, and
            // the caller's to retry (a sender that stops at a 4xx would drop a status).
            WorkflowError::CalendarYearMissing(missing) => ApiError {
                detail: format!(
                    "{missing}; nothing was recorded: retry once the year is added to the working-day calendar"
                ),
                cause: Some(anyhow::anyhow!("{missing}")),
                ..ApiError::new(ErrorCode::CalendarUnavailable, "")
            },
            WorkflowError::Database(e) => e.into(),
            // Internal, and (unreachably) a refusal without its reason.
            other => ApiError::internal(other),
        }
    }
}

impl From<OutOfYears> for ApiError {
    fn from(err: OutOfYears) -> Self {
        ApiError::validation(err.to_string())
    }
}

impl From<YearMissing> for ApiError {
    fn from(err: YearMissing) -> Self {
        ApiError::new(
            ErrorCode::Refused(Reason::CalendarYearMissing),
            err.to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_failures_are_5xx_and_keep_their_cause() {
        let err = ApiError::from(WorkflowError::internal(
            "replaying Kaspi events",
            anyhow::anyhow!("no such table: kaspi_events"),
        ));
        assert_eq!(err.code(), ErrorCode::Internal);
        let cause = format!("{:#}", err.cause.as_ref().unwrap());
        assert!(cause.contains("no such table: kaspi_events"), "{cause}");
    }

    /// Issue 27: PostgreSQL's statement or lock timeout is the database not answering in time,
    /// a 503 worth retrying, not a 500 (a real one is in tests/faults/timeouts.rs).
    #[test]
    fn a_statement_postgresql_cancelled_for_time_is_a_503() {
        for words in [
            "canceling statement due to statement timeout",
            "canceling statement due to lock timeout",
        ] {
            let err = ApiError::from(DieselError::DatabaseError(
                diesel::result::DatabaseErrorKind::Unknown,
                Box::new(words.to_owned()),
            ));
            assert_eq!(err.code(), ErrorCode::DatabaseUnavailable, "{words}");
        }
    }

    /// Issue 27: a full disk is a 503 `storage_full` with `Retry-After`, and the transaction
    /// that hit it leaves nothing behind. SQLite's real SQLITE_FULL, made by capping the file's
    /// pages (`max_page_count`) as a full filesystem would.
    #[test]
    fn a_full_database_is_storage_full_and_nothing_is_half_written() {
        use diesel::connection::SimpleConnection;
        use diesel::prelude::*;
        let mut conn = diesel::SqliteConnection::establish(":memory:").unwrap();
        conn.batch_execute("CREATE TABLE t (v BLOB NOT NULL); INSERT INTO t VALUES (x'00');")
            .unwrap();
        #[derive(QueryableByName)]
        struct Pages {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            page_count: i64,
        }
        let pages = diesel::sql_query("PRAGMA page_count")
            .get_result::<Pages>(&mut conn)
            .unwrap()
            .page_count;
        conn.batch_execute(&format!("PRAGMA max_page_count = {pages}"))
            .unwrap();
        // The service's write path: SQLite rolls the transaction back itself on SQLITE_FULL,
        // so diesel's own `transaction` would report its failed ROLLBACK instead; ours keeps
        // the error that happened.
        let mut conn = crate::db::DbConnection::Sqlite(conn);
        let written = crate::db::write_transaction(&mut conn, |conn| {
            diesel::sql_query("INSERT INTO t VALUES (x'01')").execute(conn)?;
            diesel::sql_query("INSERT INTO t VALUES (zeroblob(1000000))").execute(conn)
        });
        let crate::db::DbConnection::Sqlite(mut conn) = conn else {
            unreachable!()
        };
        let err = ApiError::from(written.unwrap_err());
        assert_eq!(err.code(), ErrorCode::StorageFull, "{:?}", err.cause);
        let response = err.error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response.headers().contains_key(header::RETRY_AFTER));
        #[derive(QueryableByName)]
        struct Rows {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let rows = diesel::sql_query("SELECT count(*) AS n FROM t")
            .get_result::<Rows>(&mut conn)
            .unwrap();
        assert_eq!(
            rows.n, 1,
            "the first insert of the failed transaction was kept"
        );
        // Space freed: the same connection writes again.
        conn.batch_execute("PRAGMA max_page_count = 1000000")
            .unwrap();
        let mut conn = crate::db::DbConnection::Sqlite(conn);
        crate::db::write_transaction(&mut conn, |conn| {
            diesel::sql_query("INSERT INTO t VALUES (zeroblob(1000000))").execute(conn)
        })
        .expect("writes resume on the same connection once there is space");
    }
}
