//! The operations console: server-rendered pages for supervisors and clerks under `/console`.
//!
//! A page is only a view over what the API does: the caller is a [`Principal`] checked by the
//! same [`Authorized`] policies as the endpoints, records are read through the same `db` and
//! [`views`](crate::reports::views) functions, and the one form that changes something (a calendar
//! edit) calls the same workflow as `POST /api/v1/calendar/{year}/edits`.
//!
//! - Signing in exchanges an API key for a server-side session ([`workflows::console`]); the
//!   browser holds only a random token in an `HttpOnly; SameSite=Strict` cookie (`Secure` when
//!   the request came over TLS, directly or through a proxy that says so).
//! - Every form carries a CSRF token: the session's own (synchroniser token), and for the
//!   sign-in form one bound to a short-lived cookie (double submit), so a session cannot be
//!   planted from another site either.
//! - Pages are in Kazakh or Russian ([`i18n`]), chosen by `?lang=`, then a cookie, then the
//!   browser's `Accept-Language`.
//! - No script at all; one stylesheet compiled into the binary; a strict Content Security
//!   Policy; nothing is cached.

pub mod i18n;
mod layout;
mod pages;
mod pilot;
mod sign_in;

use crate::api::AppState;
use crate::api::auth::{Authorized, Policy};
use crate::api::error::{ApiError, ErrorCode};
use crate::db::models::console_session::{self, Session};
use crate::workflows;
use crate::workflows::Reason;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use i18n::{Lang, Texts};
pub use layout::layout;
use layout::{bare, html_page, named_svg, not_found, respond, see_other, stylesheet};
use maud::html;
use sign_in::{home, sign_in, sign_in_page, sign_out};
use std::fmt;

/// The session cookie: a random token, the session's key in the database.
pub const SESSION_COOKIE: &str = "postamat_session";

/// The sign-in form's CSRF cookie (double submit), set with the form.
pub const SIGN_IN_COOKIE: &str = "postamat_sign_in";

/// The chosen language.
pub const LANG_COOKIE: &str = "postamat_lang";

const STYLESHEET: &str = include_str!("console.css");

/// The console's Content Security Policy: its own stylesheet, inline SVG and nothing else; no
/// script, no frames, forms only to itself.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The pilot report as a page of its own in the citizen-facing language asked for
/// (`postamat report pilot`).
pub fn pilot_report_page(
    report: &crate::reports::pilot::PilotReport,
    language: crate::domain::notification::Language,
) -> anyhow::Result<String> {
    let lang = match language {
        crate::domain::notification::Language::Kk => Lang::Kk,
        crate::domain::notification::Language::Ru => Lang::Ru,
    };
    pilot::page(report, lang, pilot::Styled::Inline)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/console")
            .route("", web::get().to(home))
            .route("/", web::get().to(home))
            .route("/console.css", web::get().to(stylesheet))
            .route("/sign-in", web::get().to(sign_in_page))
            .route("/sign-in", web::post().to(sign_in))
            .route("/sign-out", web::post().to(sign_out))
            .route("/exceptions", web::get().to(pages::exceptions))
            .route("/sla", web::get().to(pages::sla))
            .route("/sla.csv", web::get().to(pages::sla_csv))
            .route("/reports/pilot", web::get().to(pages::pilot_report))
            .route(
                "/reports/pilot/print",
                web::get().to(pages::pilot_report_print),
            )
            .route("/shipments", web::get().to(pages::search))
            .route("/shipments", web::post().to(pages::search_form))
            .route("/shipments/{id}", web::get().to(pages::shipment))
            .route("/registries", web::get().to(pages::registries))
            .route("/registries/{id}", web::get().to(pages::registry))
            .route(
                "/registries/{id}/print",
                web::get().to(pages::print_registry),
            )
            .route("/calendar", web::get().to(pages::calendar_now))
            .route("/calendar/{year}", web::get().to(pages::calendar))
            .route(
                "/calendar/{year}/edits",
                web::post().to(pages::edit_calendar),
            )
            .default_service(web::to(not_found)),
    );
}

/// What a page knows of its reader.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub lang: Lang,
    /// The signed-in session (absent on the sign-in page and some error pages).
    pub session: Option<Session>,
    /// The path and query the language switch links back to (without `lang`).
    path: String,
    query: Vec<(String, String)>,
    /// A `?lang=` choice to remember in a cookie.
    chose_lang: bool,
}

/// The first of the console's languages in the browser's `Accept-Language`, ranked by quality
/// (RFC 9110 §12.5.4) with actix-web's parser: `en-US,en;q=0.9,ru;q=0.8` is Russian.
/// A language marked `q=0` is not acceptable and is never picked.
fn preferred(req: &HttpRequest) -> Option<Lang> {
    use actix_web::http::header::{AcceptLanguage, Header, Preference, Quality};
    let mut accepted = AcceptLanguage::parse(req).ok()?.0;
    accepted.retain(|item| item.quality > Quality::ZERO);
    accepted.sort_by_key(|item| std::cmp::Reverse(item.quality));
    accepted.into_iter().find_map(|item| match item.item {
        Preference::Specific(tag) => Lang::parse(&tag.primary_language().to_ascii_lowercase()),
        Preference::Any => None,
    })
}

impl Ctx {
    pub fn t(&self) -> &'static Texts {
        self.lang.texts()
    }

    fn of(req: &HttpRequest) -> Ctx {
        let query: Vec<(String, String)> = form_urlencoded::parse(req.query_string().as_bytes())
            .into_owned()
            .collect();
        let asked = query
            .iter()
            .find(|(k, _)| k == "lang")
            .and_then(|(_, v)| Lang::parse(v));
        let lang = asked
            .or_else(|| req.cookie(LANG_COOKIE).and_then(|c| Lang::parse(c.value())))
            .or_else(|| preferred(req))
            .unwrap_or_default();
        Ctx {
            lang,
            session: None,
            path: req.path().to_owned(),
            query: query.into_iter().filter(|(k, _)| k != "lang").collect(),
            chose_lang: asked.is_some(),
        }
    }

    /// The query without `lang`, for parsing a page's own parameters.
    pub fn query(&self) -> &[(String, String)] {
        &self.query
    }

    fn link_in(&self, lang: Lang) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.query {
            q.append_pair(k, v);
        }
        q.append_pair("lang", lang.code());
        format!("{}?{}", self.path, q.finish())
    }
}

/// A page that could not be shown.
#[derive(Debug)]
pub enum ConsoleError {
    /// Not signed in, or the session is over: to the sign-in page, then back.
    SignIn { next: String },
    /// An error page.
    Page {
        status: StatusCode,
        /// The reader, for the page's header (navigation, sign-out) when signed in.
        ctx: Box<Ctx>,
        detail: String,
    },
}

impl ConsoleError {
    fn page(ctx: &Ctx, status: StatusCode, detail: impl Into<String>) -> Self {
        ConsoleError::Page {
            status,
            ctx: Box::new(ctx.clone()),
            detail: detail.into(),
        }
    }

    /// The API's error, told in the reader's language where it is one a person meets.
    pub fn from_api(ctx: &Ctx, e: ApiError) -> Self {
        let t = ctx.t();
        let status = e.code().status();
        if status.is_server_error() {
            tracing::error!(
                code = e.code().as_str(),
                detail = e.detail(),
                "console page failed"
            );
        }
        let detail = match e.code() {
            ErrorCode::Refused(Reason::RoleForbidden)
            | ErrorCode::Refused(Reason::BranchForbidden) => {
                format!("{} ({})", t.forbidden, e.detail())
            }
            ErrorCode::Refused(Reason::NotFound) => format!("{} ({})", t.not_found, e.detail()),
            _ if status.is_server_error() => t.error_title.to_owned(),
            _ => e.detail().to_owned(),
        };
        ConsoleError::page(ctx, status, detail)
    }
}

impl fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConsoleError::SignIn { .. } => f.write_str("not signed in"),
            ConsoleError::Page { status, detail, .. } => write!(f, "{status}: {detail}"),
        }
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::SignIn { .. } => StatusCode::SEE_OTHER,
            ConsoleError::Page { status, .. } => *status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ConsoleError::SignIn { next } => {
                let mut q = form_urlencoded::Serializer::new(String::new());
                q.append_pair("next", next);
                see_other(&format!("/console/sign-in?{}", q.finish())).finish()
            }
            ConsoleError::Page {
                status,
                ctx,
                detail,
            } => {
                let t = ctx.t();
                let body = html! {
                    p.problem role="alert" { (detail) }
                    p { a href="/console" { (t.back) } }
                };
                let page = if ctx.session.is_some() {
                    layout(ctx, t.error_title, body)
                } else {
                    bare(ctx.lang, t.error_title, body)
                };
                html_page(*status, page)
            }
        }
    }
}

pub type PageResult = Result<HttpResponse, ConsoleError>;

/// Where a sign-in may send the reader back to: a console path, nothing else (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/console")
                && !n.starts_with("//")
                && !n.contains("\\")
                && !n.chars().any(char::is_control) =>
        {
            n.to_owned()
        }
        _ => "/console".to_owned(),
    }
}

fn next_of(req: &HttpRequest) -> String {
    // A form posted after its session ended cannot be replayed: back to the start instead.
    if req.method() != actix_web::http::Method::GET {
        return "/console".to_owned();
    }
    match req.query_string() {
        "" => req.path().to_owned(),
        q => format!("{}?{q}", req.path()),
    }
}

/// The signed-in reader, held to policy `P` exactly as an API call is.
pub async fn signed_in<P: Policy>(
    req: &HttpRequest,
    state: &web::Data<AppState>,
) -> Result<(Authorized<P>, Ctx), ConsoleError> {
    let mut ctx = Ctx::of(req);
    let session = current_session(req, state, &ctx)
        .await?
        .ok_or_else(|| ConsoleError::SignIn { next: next_of(req) })?;
    let principal = session.principal.clone();
    // Who did it, in the request's log line, as for the API.
    let span = tracing::Span::current();
    span.record("key_id", tracing::field::display(principal.key_id));
    span.record("role", principal.role.as_str());
    ctx.session = Some(session);
    let auth =
        Authorized::<P>::for_principal(principal).map_err(|e| ConsoleError::from_api(&ctx, e))?;
    Ok((auth, ctx))
}

async fn current_session(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    ctx: &Ctx,
) -> Result<Option<Session>, ConsoleError> {
    let Some(token) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) else {
        return Ok(None);
    };
    if token.is_empty() || token.len() > 256 {
        return Ok(None);
    }
    let now = state.clock.now();
    let found = state
        .db(move |conn| Ok(console_session::find(conn, &token, now)?))
        .await
        .map_err(|e| ConsoleError::from_api(ctx, e))?;
    let Some((session, stale)) = found else {
        return Ok(None);
    };
    if stale {
        // Best effort: a page is still shown if its use cannot be recorded (the session then
        // idles out a little sooner).
        let touched = session.clone();
        if let Err(e) = state
            .write(move |conn| Ok(workflows::console::touch(conn, &touched, now)?))
            .await
        {
            tracing::warn!(error = %e, "console session use not recorded");
        }
    }
    Ok(Some(session))
}

/// Checks a form's CSRF token against the session's, in constant time.
pub fn check_csrf(ctx: &Ctx, sent: &str) -> Result<(), ConsoleError> {
    match &ctx.session {
        Some(session) if same(&session.csrf_token, sent) => Ok(()),
        _ => Err(ConsoleError::page(
            ctx,
            StatusCode::FORBIDDEN,
            ctx.t().form_stale,
        )),
    }
}

/// Constant-time equality of two tokens (`subtle`, as the webhook signatures use; a length
/// difference is not secret: every token has the same length).
fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// A form body, parsed; `Err` names what is wrong.
pub fn parse_form<T: serde::de::DeserializeOwned>(
    ctx: &Ctx,
    body: &[u8],
) -> Result<T, ConsoleError> {
    serde_urlencoded::from_bytes(body)
        .map_err(|e| ConsoleError::page(ctx, StatusCode::BAD_REQUEST, format!("form: {e}")))
}

/// A page's query (its filters), with empty fields left out, as the API's parser takes it.
pub fn parse_query<T: serde::de::DeserializeOwned>(ctx: &Ctx) -> Result<T, ConsoleError> {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in ctx.query().iter().filter(|(_, v)| !v.trim().is_empty()) {
        q.append_pair(k, v.trim());
    }
    serde_urlencoded::from_str(&q.finish())
        .map_err(|e| ConsoleError::page(ctx, StatusCode::BAD_REQUEST, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header;

    #[test]
    fn the_language_is_the_best_ranked_of_the_consoles_two() {
        let lang = |accept: &str| {
            let req = actix_web::test::TestRequest::default()
                .insert_header((header::ACCEPT_LANGUAGE, accept))
                .to_http_request();
            Ctx::of(&req).lang
        };
        assert_eq!(lang("en-US,en;q=0.9,ru;q=0.8"), Lang::Ru);
        assert_eq!(lang("ru-RU"), Lang::Ru);
        assert_eq!(lang("ru;q=0.5,kk-KZ;q=0.9"), Lang::Kk);
        assert_eq!(lang("kk,ru;q=0.9"), Lang::Kk);
        assert_eq!(lang("en-US,en;q=0.9"), Lang::default());
        assert_eq!(lang("*"), Lang::default());
        assert_eq!(lang("en, ru;q=0"), Lang::default(), "q=0 is not acceptable");
        assert_eq!(lang("ru;q=0, kk;q=0.1"), Lang::Kk);
        assert_eq!(lang("not a header;;;"), Lang::default());
    }

    #[test]
    fn sign_in_sends_back_only_to_console_paths() {
        assert_eq!(
            safe_next(Some("/console/sla?from=x")),
            "/console/sla?from=x"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/console",
            "/api/v1/whoami",
            "/console\\..\\x",
            "/console\n",
        ] {
            assert_eq!(safe_next(Some(bad)), "/console", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/console");
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert!(!same("", "a"));
    }
}
