//! The one middleware every request passes: request id, tracing span, metrics, HEAD as GET,
//! and the guarantee that every error response is a problem document — including actix's own (unknown
//! route, wrong method, body too large, wrong media type).

use super::AppState;
use crate::api::error::{ApiError, ErrorCode, ProblemCode};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// An incoming request id is honoured if it is short and plain; otherwise we make one.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=128).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

pub async fn observe(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id(&req);
    let method = req.method().to_string();
    // Metric labels take known methods only, so made-up ones cannot multiply time series.
    let method_label = match req.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "HEAD" | "OPTIONS") => m.to_owned(),
        _ => "OTHER".to_owned(),
    };
    // HEAD is GET without the body (RFC 9110 §9.3.2): routed and answered as GET, and the HTTP
    // layer, which knows the request was HEAD, sends the headers only. Logged as HEAD.
    if req.method() == actix_web::http::Method::HEAD {
        req.head_mut().method = actix_web::http::Method::GET;
    }
    // The span carries no path or query: those may hold identifiers of citizens.
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %method,
        route = tracing::field::Empty,
        key_id = tracing::field::Empty,
        role = tracing::field::Empty,
    );
    // Handlers' errors arrive here as responses; an `Err` only comes from a failing service,
    // and actix turns it into a response with the error's own (problem) body.
    let response = next
        .call(req)
        .instrument(span.clone())
        .await
        .inspect_err(|err| {
            span.in_scope(|| tracing::error!(error = %err, "request failed in a service"))
        })?
        .map_into_boxed_body();
    let mut response = span.in_scope(|| as_problem(response));

    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = response.status();
    let code = response
        .response()
        .extensions()
        .get::<ProblemCode>()
        .map(|c| c.0.as_str());
    if let Some(state) = response.request().app_data::<web::Data<AppState>>() {
        state
            .metrics
            .observe_request(&method_label, &route, status.as_u16(), started.elapsed());
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    security_headers(&mut response);
    span.record("route", route.as_str());
    span.in_scope(|| {
        tracing::info!(
            status = status.as_u16(),
            code,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request"
        )
    });
    Ok(response)
}

/// The Content-Security-Policy of Swagger UI (vendored, served by us): its own scripts and
/// stylesheets only.
const DOCS_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
     script-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Every answer: no content-type sniffing. HTML answers also: a Content-Security-Policy (the
/// handler's, or the strictest — nothing loads or runs), no framing, no referrer.
fn security_headers(response: &mut ServiceResponse<BoxBody>) {
    use actix_web::http::header;
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let docs = response.request().path().starts_with("/docs");
    let api = response.request().path().starts_with("/api/");
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Every API answer is either a citizen's data or the state of a document at one instant:
    // nothing between the service and its caller keeps a copy (issue 28 finding 3). One rule for
    // all of `/api/` rather than a list of the answers that carry personal data, which a new
    // endpoint would have to remember to join.
    if api && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if !html {
        return;
    }
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        let policy = if docs {
            DOCS_POLICY
        } else {
            "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        };
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(policy),
        );
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// Marks an error answer that is already a page for a person (the console's), which stays as
/// it is.
pub struct RenderedPage;

/// Replaces an error response that is not yet a problem document with one for its status.
fn as_problem(response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response
            .response()
            .extensions()
            .get::<ProblemCode>()
            .is_some()
        || response
            .response()
            .extensions()
            .get::<RenderedPage>()
            .is_some()
    {
        return response;
    }
    let error = match status.as_u16() {
        404 => ApiError::new(ErrorCode::RouteNotFound, "no such route"),
        405 => ApiError::new(
            ErrorCode::MethodNotAllowed,
            "this route does not accept this method",
        ),
        413 => ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large"),
        415 => ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the body as application/json",
        ),
        400..=499 => ApiError::new(
            ErrorCode::InvalidBody,
            "the request could not be understood",
        ),
        _ => ApiError::internal(anyhow::anyhow!(
            "unmapped error response with status {status}"
        )),
    };
    let (req, _) = response.into_parts();
    ServiceResponse::new(req, error.error_response())
}

/// Requests that match no route: 405 with `Allow` when the path exists with other methods,
/// otherwise 404.
pub async fn no_route(req: HttpRequest, routes: web::Data<super::RouteTable>) -> HttpResponse {
    match routes.methods_for(req.path()) {
        Some(methods) => ApiError::method_not_allowed(&methods).error_response(),
        None => ApiError::new(
            ErrorCode::RouteNotFound,
            format!("no route {} {}", req.method(), req.path()),
        )
        .error_response(),
    }
}
