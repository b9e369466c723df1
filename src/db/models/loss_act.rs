//! Loss acts (п.22–24): a loss is recorded with its cause, circumstances and responsible
//! employee (Kaspi's own act number kept for a Kaspi-side loss); the accumulation sector then
//! draws the act in two copies under the branch's gapless number and the second copy goes to
//! the registry office.

use super::{from_db_time, to_db_time};
use crate::db::models::branch::BranchScope;
use crate::db::models::outbox;
use crate::db::models::registry::next_number;
use crate::db::models::shipment::{CommandError, ShipmentRow};
use crate::db::schema::{applications, branches, loss_acts, shipments};
use crate::db::{DbConnection, Id};
use crate::domain::identifiers::document_number;
use crate::domain::reference::BranchTimeZone;
use crate::error::ErrorCode;
use chrono::{DateTime, Datelike, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

/// What is known of a loss when it is recorded.
pub struct NewLoss<'a> {
    /// `kaspi` (п.22) or `state_corporation` (п.23).
    pub side: &'a str,
    pub kaspi_act_number: Option<&'a str>,
    pub cause: &'a str,
    pub circumstances: &'a str,
    pub responsible_employee: &'a str,
    pub kaspi_event_id: Option<&'a str>,
    pub recorded_by: Option<Id>,
}

pub fn record(
    conn: &mut DbConnection,
    shipment: &ShipmentRow,
    loss: NewLoss<'_>,
    now: DateTime<Utc>,
) -> QueryResult<Id> {
    let id = Id::new();
    diesel::insert_into(loss_acts::table)
        .values((
            loss_acts::id.eq(id),
            loss_acts::shipment_id.eq(shipment.id),
            loss_acts::branch_id.eq(shipment.branch_id),
            loss_acts::side.eq(loss.side),
            loss_acts::kaspi_act_number.eq(loss.kaspi_act_number),
            loss_acts::state.eq("recorded"),
            loss_acts::cause.eq(loss.cause),
            loss_acts::circumstances.eq(loss.circumstances),
            loss_acts::responsible_employee.eq(loss.responsible_employee),
            loss_acts::kaspi_event_id.eq(loss.kaspi_event_id),
            loss_acts::recorded_by.eq(loss.recorded_by),
            loss_acts::created_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(id)
}

/// A loss act.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LossAct {
    pub id: Id,
    pub shipment_id: Id,
    pub application_number: String,
    pub branch: String,
    /// `kaspi` or `state_corporation`.
    pub side: String,
    /// Kaspi's own act, for a Kaspi-side loss (п.22).
    pub kaspi_act_number: Option<String>,
    /// Our act number once drawn, gapless per branch and year.
    #[schema(example = "ALM01-2026-000001")]
    pub number: Option<String>,
    /// `recorded`, then `drawn` (two copies; the second sent to the registry office).
    pub state: String,
    pub cause: String,
    pub circumstances: String,
    pub responsible_employee: String,
    pub drawn_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

type Row = (
    Id,
    Id,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    (String, String, String),
    Option<NaiveDateTime>,
    NaiveDateTime,
    Id,
);

fn load(conn: &mut DbConnection, id: Option<Id>, scope: &BranchScope) -> QueryResult<Vec<LossAct>> {
    let mut query = loss_acts::table
        .inner_join(shipments::table.inner_join(applications::table))
        .inner_join(branches::table.on(branches::id.eq(loss_acts::branch_id)))
        .select((
            loss_acts::id,
            loss_acts::shipment_id,
            applications::number,
            branches::code,
            loss_acts::side,
            loss_acts::kaspi_act_number,
            loss_acts::number,
            loss_acts::state,
            (
                loss_acts::cause,
                loss_acts::circumstances,
                loss_acts::responsible_employee,
            ),
            loss_acts::drawn_at,
            loss_acts::created_at,
            loss_acts::branch_id,
        ))
        .order(loss_acts::created_at.desc())
        .into_boxed();
    if let Some(id) = id {
        query = query.filter(loss_acts::id.eq(id));
    }
    if let BranchScope::Only { id, .. } = scope {
        query = query.filter(loss_acts::branch_id.eq(*id));
    }
    Ok(query
        .load::<Row>(conn)?
        .into_iter()
        .map(
            |(
                id,
                shipment_id,
                number,
                branch,
                side,
                kaspi,
                ours,
                state,
                (cause, circumstances, employee),
                drawn,
                created,
                _,
            )| LossAct {
                id,
                shipment_id,
                application_number: number,
                branch,
                side,
                kaspi_act_number: kaspi,
                number: ours,
                state,
                cause,
                circumstances,
                responsible_employee: employee,
                drawn_at: drawn.map(from_db_time),
                created_at: from_db_time(created),
            },
        )
        .collect())
}

pub fn find_scoped(
    conn: &mut DbConnection,
    id: Id,
    scope: &BranchScope,
) -> QueryResult<Option<LossAct>> {
    Ok(load(conn, Some(id), scope)?.into_iter().next())
}

pub fn list(conn: &mut DbConnection, scope: &BranchScope) -> QueryResult<Vec<LossAct>> {
    load(conn, None, scope)
}

/// п.24: draws the act — our number, two copies — and sends the second copy to the registry
/// office (written to the outbox in the same transaction).
pub fn draw(
    conn: &mut DbConnection,
    act: &LossAct,
    drawn_by: Id,
    now: DateTime<Utc>,
) -> Result<LossAct, CommandError> {
    if act.state != "recorded" {
        return Err(CommandError::Rule(
            ErrorCode::AlreadyExists,
            format!(
                "loss act {} is already drawn",
                act.number.as_deref().unwrap_or("")
            ),
        ));
    }
    let (branch_id, zone): (Id, String) = branches::table
        .filter(branches::code.eq(&act.branch))
        .select((branches::id, branches::time_zone))
        .first(conn)?;
    let year =
        BranchTimeZone::try_from(zone).map_or(now.year(), |tz| now.with_timezone(&tz.tz()).year());
    let number = document_number(
        &act.branch,
        year,
        next_number(conn, branch_id, year, "loss_act")?,
    );
    let drawn = diesel::update(
        loss_acts::table
            .find(act.id)
            .filter(loss_acts::state.eq("recorded")),
    )
    .set((
        loss_acts::number.eq(Some(&number)),
        loss_acts::state.eq("drawn"),
        loss_acts::drawn_by.eq(Some(drawn_by)),
        loss_acts::drawn_at.eq(Some(to_db_time(now))),
    ))
    .execute(conn)?;
    if drawn != 1 {
        return Err(CommandError::Stale);
    }
    let second_copy = serde_json::json!({
        "loss_act_number": number,
        "application_number": act.application_number,
        "side": act.side,
        "kaspi_act_number": act.kaspi_act_number,
        "cause": act.cause,
        "circumstances": act.circumstances,
        "responsible_employee": act.responsible_employee,
        "drawn_at": now,
    });
    outbox::send_later(
        conn,
        "registry_office",
        "loss_act",
        &second_copy,
        &format!("loss_act:{number}"),
        now,
    )?;
    find_scoped(conn, act.id, &BranchScope::All)?.ok_or(CommandError::Stale)
}
