//! One document: its state, deadlines, history and messages.

use super::{api_error, local, not_found, path_value};
use crate::api::AppState;
use crate::api::auth::BranchStaff;
use crate::api::console::i18n::Lang;
use crate::api::console::{Ctx, PageResult, layout, respond, signed_in};
use crate::db::models::outbox;
use crate::domain::deadline::DeadlineState;
use crate::domain::ids::ShipmentId;
use crate::domain::shipment::ShipmentKind;
use crate::reports::views;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use maud::html;

/// A deadline's state: "cancelled" is said of a deadline, not of a document.
fn deadline_state(ctx: &Ctx, state: DeadlineState) -> &str {
    if state == DeadlineState::Cancelled {
        ctx.t().cancelled
    } else {
        ctx.lang.name_of(state.as_str())
    }
}

pub(super) fn kind_name(ctx: &Ctx, kind: ShipmentKind) -> &'static str {
    if kind == ShipmentKind::Duplicate {
        ctx.t().duplicate
    } else {
        ctx.t().original
    }
}

pub async fn shipment(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> PageResult {
    let (auth, ctx) = signed_in::<BranchStaff>(&req, &state).await?;
    let t = ctx.t();
    let id: ShipmentId = path_value(&ctx, &path)?;
    let scope = auth.scope().clone();
    // The messages sent to the citizen are for the sectors and supervisors, not the courier.
    let disclosure = auth.disclosure();
    let found = state
        .db(move |conn| {
            let Some((detail, zone)) = views::shipment_in_zone(conn, id, &scope, disclosure)?
            else {
                return Ok(None);
            };
            let messages = if disclosure.reaches_the_citizen() {
                Some(outbox::notifications_of(conn, id)?)
            } else {
                None
            };
            Ok(Some((detail, zone, messages)))
        })
        .await
        .map_err(api_error(&ctx))?;
    let Some((detail, zone, messages)) = found else {
        return Err(not_found(&ctx, format!("shipment {id}")));
    };
    let tz = zone.tz();
    let title = format!("{} {}", t.shipment, detail.application_number);
    let body = html! {
        dl.facts {
            dt { (t.application_number) } dd { (detail.application_number) }
            dt { (t.document_kind) } dd { (kind_name(&ctx, detail.kind)) }
            dt { (t.delivery) } dd { (ctx.lang.name_of(detail.delivery_method.as_str())) }
            dt { (t.state) } dd.state { (ctx.lang.name_of(detail.state.as_str())) }
            dt { (t.waybill) } dd { (detail.waybill.as_deref().unwrap_or("—")) }
            @if let Some(p) = &detail.postamat {
                dt { "Kaspi" } dd { (p.kaspi_id) ", " (p.city) ", " (match ctx.lang { Lang::Kk => &p.address_kk, Lang::Ru => &p.address_ru }) }
            }
        }
        section aria-labelledby="deadlines" {
            h2 #deadlines { (t.deadlines) }
            table {
                thead { tr {
                    th scope="col" { (t.deadline) }
                    th scope="col" { (t.clause) }
                    th scope="col" { (t.due_local) }
                    th scope="col" { (t.state) }
                    th scope="col" { (t.on_breach) }
                } }
                tbody {
                    @for d in &detail.deadlines {
                        tr {
                            th scope="row" { (ctx.lang.name_of(d.kind.as_str())) }
                            td { (d.clause) }
                            td { (local(d.due_at, tz)) }
                            td { (deadline_state(&ctx, d.state)) }
                            td { (ctx.lang.name_of(d.kind.on_breach().as_str())) }
                        }
                    }
                }
            }
        }
        section aria-labelledby="timeline" {
            h2 #timeline { (t.timeline) }
            ol.timeline {
                @for e in &detail.timeline {
                    li {
                        time datetime=(e.occurred_at.to_rfc3339()) { (local(e.occurred_at, tz)) }
                        " — " strong { (ctx.lang.name_of(&e.event)) }
                        ": " (e.from.as_deref().map(|f| ctx.lang.name_of(f)).unwrap_or("—"))
                        " → " (ctx.lang.name_of(&e.to))
                        " (" (e.actor_name) ")"
                    }
                }
            }
        }
        @if let Some(messages) = &messages {
        section aria-labelledby="messages" {
            h2 #messages { (t.messages) }
            @if messages.is_empty() {
                p { (t.no_messages) }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { (t.when_local) }
                        th scope="col" { (t.channel) }
                        th scope="col" { (t.delivery_state) }
                        th scope="col" { (t.text) }
                    } }
                    tbody {
                        @for m in messages {
                            tr {
                                td { (local(m.created_at, tz)) }
                                td { (ctx.lang.name_of(m.channel.as_str())) " " (disclosure.phone(&m.recipient).unwrap_or_default()) }
                                td { (ctx.lang.name_of(m.state.as_str())) }
                                td { (m.body) }
                            }
                        }
                    }
                }
            }
        }
        }
    };
    let page = layout(&ctx, &title, body);
    Ok(respond(&req, &ctx, StatusCode::OK, page))
}
