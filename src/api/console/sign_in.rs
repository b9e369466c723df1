//! Signing in with an API key and out again, and the console's home.

use super::layout::{cookie, head, language_switch, layout, removal, respond, see_other};
use super::{
    ConsoleError, Ctx, PageResult, SESSION_COOKIE, SIGN_IN_COOKIE, check_csrf, current_session,
    parse_form, parse_query, safe_next, same, signed_in,
};
use crate::api::AppState;
use crate::db::models::api_key::{self};
use crate::db::models::console_session::{self};
use crate::workflows;
use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

pub(super) async fn home(req: HttpRequest, state: web::Data<AppState>) -> PageResult {
    let (_auth, ctx) = signed_in::<crate::api::auth::AnyRole>(&req, &state).await?;
    let t = ctx.t();
    let page = layout(&ctx, t.console, html! { p { (t.home_intro) } });
    Ok(respond(&req, &ctx, StatusCode::OK, page))
}

#[derive(Deserialize)]
struct SignInQuery {
    next: Option<String>,
}

fn sign_in_form(ctx: &Ctx, next: &str, csrf: &str, problem: Option<&str>) -> Markup {
    let t = ctx.t();
    html! {
        (DOCTYPE)
        html lang=(ctx.lang.code()) {
            (head(t, t.sign_in_title))
            body {
                header { p.brand { (t.console) } (language_switch(ctx)) }
                main #main.narrow {
                    h1 { (t.sign_in_title) }
                    @if let Some(problem) = problem {
                        p.problem role="alert" { (problem) }
                    }
                    form method="post" action="/console/sign-in" {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="next" value=(next);
                        label for="key" { (t.api_key) }
                        p.hint #key-hint { (t.api_key_hint) }
                        input #key type="password" name="key" required autocomplete="off"
                            aria-describedby="key-hint" maxlength="256" autofocus;
                        button type="submit" { (t.sign_in) }
                    }
                }
            }
        }
    }
}

/// The sign-in form, with a fresh double-submit CSRF token in a short-lived cookie.
pub(super) async fn sign_in_page(req: HttpRequest) -> PageResult {
    let ctx = Ctx::of(&req);
    let query: SignInQuery = parse_query(&ctx)?;
    let next = safe_next(query.next.as_deref());
    Ok(sign_in_answer(&req, &ctx, StatusCode::OK, &next, None))
}

fn sign_in_answer(
    req: &HttpRequest,
    ctx: &Ctx,
    status: StatusCode,
    next: &str,
    problem: Option<&str>,
) -> HttpResponse {
    let csrf = crate::db::models::api_key::random_token("");
    let mut res = respond(req, ctx, status, sign_in_form(ctx, next, &csrf, problem));
    let _ = res.add_cookie(&cookie(
        req,
        SIGN_IN_COOKIE,
        csrf,
        CookieDuration::minutes(30),
    ));
    res
}

#[derive(Deserialize)]
struct SignInForm {
    key: String,
    csrf: String,
    next: Option<String>,
}

pub(super) async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> PageResult {
    let ctx = Ctx::of(&req);
    let t = ctx.t();
    let form: SignInForm = parse_form(&ctx, &body)?;
    let next = safe_next(form.next.as_deref());
    let expected = req.cookie(SIGN_IN_COOKIE).map(|c| c.value().to_owned());
    if !expected.is_some_and(|e| !e.is_empty() && same(&e, &form.csrf)) {
        return Ok(sign_in_answer(
            &req,
            &ctx,
            StatusCode::FORBIDDEN,
            &next,
            Some(t.form_stale),
        ));
    }
    let key = form.key.trim().to_owned();
    let now = state.clock.now();
    let principal = if key.is_empty() || key.len() > 256 {
        None
    } else {
        state
            .db(move |conn| Ok(api_key::authenticate(conn, &key)?))
            .await
            .map_err(|e| ConsoleError::from_api(&ctx, e))?
    };
    let Some(principal) = principal else {
        tracing::info!("console sign-in refused: unknown or revoked key");
        return Ok(sign_in_answer(
            &req,
            &ctx,
            StatusCode::UNAUTHORIZED,
            &next,
            Some(t.bad_key),
        ));
    };
    // The session this browser held before ends with the new one.
    let replaced = current_session(&req, &state, &ctx)
        .await
        .ok()
        .flatten()
        .map(|s| s.id);
    let opened = state
        .write(move |conn| Ok(workflows::console::sign_in(conn, principal, replaced, now)?))
        .await
        .map_err(|e| ConsoleError::from_api(&ctx, e))?;
    tracing::info!(key_id = %opened.session.principal.key_id, "console session opened");
    let lifetime = CookieDuration::seconds(console_session::ABSOLUTE_LIFETIME.num_seconds());
    Ok(see_other(&next)
        .cookie(cookie(&req, SESSION_COOKIE, opened.token, lifetime))
        .cookie(removal(&req, SIGN_IN_COOKIE))
        .finish())
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

pub(super) async fn sign_out(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> PageResult {
    let mut ctx = Ctx::of(&req);
    let Some(session) = current_session(&req, &state, &ctx).await? else {
        // Already over: nothing to end.
        return Ok(see_other("/console/sign-in")
            .cookie(removal(&req, SESSION_COOKIE))
            .finish());
    };
    ctx.session = Some(session);
    let form: CsrfForm = parse_form(&ctx, &body)?;
    check_csrf(&ctx, &form.csrf)?;
    let id = ctx.session.as_ref().map(|s| s.id).expect("set above");
    state
        .write(move |conn| Ok(workflows::console::sign_out(conn, id)?))
        .await
        .map_err(|e| ConsoleError::from_api(&ctx, e))?;
    Ok(see_other("/console/sign-in")
        .cookie(removal(&req, SESSION_COOKIE))
        .finish())
}
