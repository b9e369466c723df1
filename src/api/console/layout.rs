//! What every page wears: the layout with its navigation and language switch, the bare page of
//! the sign-in form, the headers and cookies, the stylesheet, and SVG charts named for screen
//! readers.

use super::i18n::{Lang, Texts};
use super::{CONTENT_SECURITY_POLICY, ConsoleError, Ctx, LANG_COOKIE, PageResult, STYLESHEET};
use crate::api::AppState;
use crate::api::middleware::RenderedPage;
use crate::db::models::api_key::Principal;
use crate::db::models::branch::BranchScope;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{DOCTYPE, Markup, PreEscaped, html};

/// Whether the console's cookies are `Secure`: the request reached us over TLS (directly, or
/// through a proxy saying so), or the service is set to mark them always.
fn over_tls(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
        || req
            .app_data::<web::Data<AppState>>()
            .is_some_and(|state| state.secure_cookies)
}

pub(super) fn cookie<'a>(
    req: &HttpRequest,
    name: &'a str,
    value: String,
    max_age: CookieDuration,
) -> Cookie<'a> {
    Cookie::build(name, value)
        .path("/console")
        .http_only(true)
        .secure(over_tls(req))
        .same_site(SameSite::Strict)
        .max_age(max_age)
        .finish()
}

pub(super) fn removal<'a>(req: &HttpRequest, name: &'a str) -> Cookie<'a> {
    let mut c = cookie(req, name, String::new(), CookieDuration::ZERO);
    c.make_removal();
    c
}

/// A page with the console's headers, marked so the API's problem middleware leaves it be.
pub(super) fn html_page(status: StatusCode, page: Markup) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    res.content_type("text/html; charset=utf-8");
    secure_headers(&mut res);
    let mut res = res.body(page.into_string());
    res.extensions_mut().insert(RenderedPage);
    res
}

/// A page, remembering a language chosen by `?lang=`.
pub(super) fn respond(
    req: &HttpRequest,
    ctx: &Ctx,
    status: StatusCode,
    page: Markup,
) -> HttpResponse {
    let mut res = html_page(status, page);
    if ctx.chose_lang {
        let lang = cookie(
            req,
            LANG_COOKIE,
            ctx.lang.code().to_owned(),
            CookieDuration::days(365),
        );
        let _ = res.add_cookie(&lang);
    }
    res
}

fn secure_headers(res: &mut actix_web::HttpResponseBuilder) {
    res.insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"));
}

/// 303 to `to` (after a form, or to the sign-in page).
pub(super) fn see_other(to: &str) -> actix_web::HttpResponseBuilder {
    let mut res = HttpResponse::SeeOther();
    res.insert_header((header::LOCATION, to.to_owned()));
    secure_headers(&mut res);
    res
}

fn role_name(lang: Lang, principal: &Principal) -> String {
    let name = lang.name_of(principal.role.as_str());
    match &principal.scope {
        BranchScope::All => name.to_owned(),
        BranchScope::Only { code, .. } => format!("{name}, {code}"),
    }
}

/// The language switch: each language's own name, the current one marked.
pub(super) fn language_switch(ctx: &Ctx) -> Markup {
    html! {
        nav.lang aria-label=(ctx.t().language) {
            ul {
                @for lang in Lang::ALL {
                    li {
                        @if lang == ctx.lang {
                            a href=(ctx.link_in(lang)) aria-current="true" lang=(lang.code()) { (lang.name()) }
                        } @else {
                            a href=(ctx.link_in(lang)) lang=(lang.code()) hreflang=(lang.code()) { (lang.name()) }
                        }
                    }
                }
            }
        }
    }
}

/// A page of the console: header with the navigation, who is signed in, sign-out and the
/// language switch; then `body` under its `h1`.
pub fn layout(ctx: &Ctx, title: &str, body: Markup) -> Markup {
    let t = ctx.t();
    let here = |path: &str| ctx.path.starts_with(path);
    html! {
        (DOCTYPE)
        html lang=(ctx.lang.code()) {
            (head(t, title))
            body {
                a.skip href="#main" { (t.skip_to_content) }
                header {
                    p.brand { a href="/console" { (t.console) } }
                    nav.main aria-label=(t.console) {
                        ul {
                            @for (path, label) in [
                                ("/console/exceptions", t.nav_exceptions),
                                ("/console/sla", t.nav_sla),
                                ("/console/reports/pilot", super::pilot::nav_label(ctx.lang)),
                                ("/console/shipments", t.nav_search),
                                ("/console/registries", t.nav_registries),
                                ("/console/calendar", t.nav_calendar),
                            ] {
                                li {
                                    @if here(path) {
                                        a href=(path) aria-current="page" { (label) }
                                    } @else {
                                        a href=(path) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    @if let Some(session) = &ctx.session {
                        div.who {
                            span { (t.signed_in_as) ": " strong { (session.principal.name) } " (" (role_name(ctx.lang, &session.principal)) ")" }
                            form method="post" action="/console/sign-out" {
                                input type="hidden" name="csrf" value=(session.csrf_token);
                                button type="submit" { (t.sign_out) }
                            }
                        }
                    }
                    (language_switch(ctx))
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// Every page's `head`: its title, the viewport for phones and zoom, the stylesheet.
pub(super) fn head(t: &Texts, title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " — " (t.console) }
            link rel="stylesheet" href="/console/console.css";
        }
    }
}

/// A page without the navigation (sign-in, errors).
pub(super) fn bare(lang: Lang, title: &str, body: Markup) -> Markup {
    let t = lang.texts();
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            (head(t, title))
            body {
                main #main.narrow {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

pub(super) async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(STYLESHEET)
}

pub(super) async fn not_found(req: HttpRequest) -> PageResult {
    let ctx = Ctx::of(&req);
    Err(ConsoleError::page(
        &ctx,
        StatusCode::NOT_FOUND,
        ctx.t().not_found,
    ))
}

/// plotters' SVG (which has a `viewBox`, so CSS scales it with the page and zoom), named for
/// screen readers.
pub(super) fn named_svg(svg: &str, name: &str) -> Markup {
    PreEscaped(match svg.strip_prefix("<svg ") {
        Some(rest) => format!(
            "<svg role=\"img\" aria-label=\"{}\" {rest}",
            html! { (name) }.into_string()
        ),
        None => svg.to_owned(),
    })
}
