//! What needs a supervisor's eye from the Kaspi exchange: events kept unmatched or rejected,
//! and discrepancies between our registries and Kaspi's reports.

use crate::api::AppState;
use crate::api::auth::{Authorized, Supervisors};
use crate::api::error::{ApiError, ApiResult, ErrorCode};
use crate::api::extract::{ApiPath, ApiQuery};
use crate::db::DbConnection;
use crate::db::models::branch::BranchScope;
use crate::db::models::kaspi_event::{self, DiscrepancyRow, KaspiEventRow};
use crate::db::models::report::{self, SlaCounts};
use crate::db::models::{branch, force_majeure, from_db_time, outbox};
use crate::domain::calendar::Calendar;
use crate::domain::deadline::DeadlineKind;
use crate::domain::force_majeure::notice_standing;
use crate::domain::ids::{BranchId, DiscrepancyId, MessageId, RegistryId, ShipmentId};
use crate::domain::kaspi::{DiscrepancyKind, Outcome};
use crate::domain::notification::Outbox;
use crate::domain::reference::BranchCode;
use crate::domain::shipment::{Side, answerable};
use crate::domain::stall::{Stall, Waits};
use crate::observability::redact::mask_urls;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    cfg.service(kaspi_events)
        .service(discrepancies)
        .service(dead_letters)
        .service(requeue)
        .service(exception_queue)
        .service(sla_report);
}

/// A kept event, for supervisors.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StoredEvent {
    pub event_id: String,
    #[schema(example = "placed_in_cell")]
    pub event_type: String,
    pub waybill: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub received_at: DateTime<Utc>,
}

impl From<KaspiEventRow> for StoredEvent {
    fn from(row: KaspiEventRow) -> Self {
        StoredEvent {
            event_id: row.event_id,
            event_type: row.event_type,
            waybill: row.waybill,
            occurred_at: from_db_time(row.occurred_at),
            outcome: row.outcome,
            reason: row.reason_code,
            detail: row.detail,
            received_at: from_db_time(row.received_at),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventFilter {
    /// `unmatched` (the inbox of events waiting for their waybill) or `rejected`.
    #[param(inline)]
    pub outcome: Outcome,
}

/// Kaspi events by outcome: the unmatched inbox (applied automatically once the waybill is
/// known) and the rejected ones. A branch supervisor sees their branch's shipments' events; an
/// event whose waybill matches no shipment only national supervisors see.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    params(EventFilter),
    responses((status = 200, body = Vec<StoredEvent>))
)]
#[get("/api/v1/integrations/kaspi/events")]
async fn kaspi_events(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
    filter: ApiQuery<EventFilter>,
) -> ApiResult<web::Json<Vec<StoredEvent>>> {
    let outcome = filter.into_inner()?.into_inner().outcome;
    let scope = auth.scope().clone();
    let rows = state
        .db(move |conn| Ok(kaspi_event::by_outcome(conn, outcome, &scope, 500)?))
        .await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|(row, _)| StoredEvent::from(row))
            .collect(),
    ))
}

/// A difference between what we handed over and what Kaspi reported.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Discrepancy {
    pub id: DiscrepancyId,
    pub kind: DiscrepancyKind,
    pub registry_id: Option<RegistryId>,
    pub shipment_id: Option<ShipmentId>,
    pub waybill: Option<String>,
    pub detail: String,
    pub kaspi_event_id: Option<String>,
    pub detected_at: DateTime<Utc>,
}

impl From<DiscrepancyRow> for Discrepancy {
    fn from(row: DiscrepancyRow) -> Self {
        Discrepancy {
            id: row.id,
            kind: row.kind,
            registry_id: row.registry_id,
            shipment_id: row.shipment_id,
            waybill: row.waybill,
            detail: row.detail,
            kaspi_event_id: row.kaspi_event_id,
            detected_at: from_db_time(row.detected_at),
        }
    }
}

/// Discrepancies (envelopes not accepted, unexpected envelopes, wrong postamat), newest first;
/// a branch supervisor sees their branch's.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<Discrepancy>))
)]
#[get("/api/v1/discrepancies")]
async fn discrepancies(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
) -> ApiResult<web::Json<Vec<Discrepancy>>> {
    let scope = auth.scope().clone();
    let rows = state
        .db(move |conn| Ok(kaspi_event::discrepancies(conn, &scope, 500)?))
        .await?;
    Ok(web::Json(rows.into_iter().map(Discrepancy::from).collect()))
}

/// A dead-lettered message, for supervisors.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeadLetter {
    pub outbox: Outbox,
    pub id: MessageId,
    /// The channel, or the system it was for.
    pub channel: String,
    pub kind: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<outbox::DeadLetter> for DeadLetter {
    fn from(d: outbox::DeadLetter) -> Self {
        DeadLetter {
            outbox: d.outbox,
            id: d.id,
            channel: d.route.to_owned(),
            kind: d.kind.to_owned(),
            attempts: d.attempts,
            // Errors kept before URLs were masked where they are written may still quote one.
            last_error: d.last_error.map(|e| mask_urls(&e).into_owned()),
            created_at: d.created_at,
        }
    }
}

/// The most dead letters listed at once, oldest first (as many of each outbox).
const DEAD_LETTERS_LISTED: i64 = 500;

/// Messages the dispatcher gave up on (a 4xx, or too many failed attempts), oldest first, up to
/// 500 of each outbox.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<DeadLetter>))
)]
#[get("/api/v1/outbox/dead")]
async fn dead_letters(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
) -> ApiResult<web::Json<Vec<DeadLetter>>> {
    let scope = auth.scope().clone();
    let dead = state
        .db(move |conn| {
            let window = report::Window {
                branch: scope.branch(),
                began_by: None,
                limit: DEAD_LETTERS_LISTED,
            };
            Ok(outbox::dead_letters(conn, &window)?)
        })
        .await?;
    Ok(web::Json(dead.into_iter().map(DeadLetter::from).collect()))
}

/// Put a dead-lettered message back in the queue, to be tried again at once.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    params(
        ("outbox" = Outbox, Path, description = "`notifications` or `outbound`"),
        ("id" = MessageId, Path, description = "Message id"),
    ),
    responses(
        (status = 204, description = "Queued again"),
        (status = 404, description = "No such dead-lettered message (`not_found`)", body = crate::api::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/outbox/{outbox}/{id}/requeue")]
async fn requeue(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
    path: ApiPath<(Outbox, MessageId)>,
) -> ApiResult<HttpResponse> {
    let (which, id) = path.into_inner()?.into_inner();
    let now = state.clock.now();
    let scope = auth.scope().clone();
    let requeued = state
        .write(move |conn| {
            // Only what the supervisor may see can be queued again.
            Ok(outbox::requeue(conn, which, id, &scope, now)?)
        })
        .await?;
    if requeued {
        tracing::info!(message = %id, "dead-lettered message queued again");
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found(format!(
            "no dead-lettered message {id}"
        )))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionKind {
    /// A deadline passed unmet and the document is still on its way.
    Overdue,
    /// Kaspi's report differs from ours.
    Discrepancy,
    /// A Kaspi event still waiting for its waybill or shipment an hour after it came.
    UnmatchedEvent,
    /// A message the dispatcher gave up on.
    DeadLetter,
    /// A force-majeure period whose notice (п.38) was not recorded within 3 working days.
    UnnotifiedForceMajeure,
    /// An application the registry office has not executed within its term (Rules no. 112;
    /// `POSTAMAT_EXECUTION_TERM_WORKING_DAYS`).
    ExecutionOverdue,
    /// Lost, and the loss act not drawn 1 working day after (п.24): the accumulation sector's.
    LossActNotDrawn,
    /// The loss act drawn, and the registry office has not cancelled 3 working days after
    /// (п.24).
    CancellationAwaited,
    /// Executed, and not taken in by the accumulation sector by the end of the next working
    /// day (п.6–7): the State courier's.
    NotTakenIn,
    /// Back at the Kaspi point, and no return pickup registry formed by the end of the next
    /// working day (п.32).
    ReturnRegistryNotFormed,
    /// A handoff registry drafted and not sealed by the end of its day.
    RegistryNotSealed,
    /// A handoff registry sealed and not signed for by 12:00 of the next working day (п.17).
    RegistryNotHandedOver,
    /// Cancelled after its loss, and no free duplicate requested 3 working days after the
    /// notice (п.25–26).
    DuplicateNotRequested,
}

impl ExceptionKind {
    pub const ALL: [ExceptionKind; 13] = [
        ExceptionKind::Overdue,
        ExceptionKind::Discrepancy,
        ExceptionKind::UnmatchedEvent,
        ExceptionKind::DeadLetter,
        ExceptionKind::UnnotifiedForceMajeure,
        ExceptionKind::ExecutionOverdue,
        ExceptionKind::LossActNotDrawn,
        ExceptionKind::CancellationAwaited,
        ExceptionKind::NotTakenIn,
        ExceptionKind::ReturnRegistryNotFormed,
        ExceptionKind::RegistryNotSealed,
        ExceptionKind::RegistryNotHandedOver,
        ExceptionKind::DuplicateNotRequested,
    ];

    /// Its name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ExceptionKind::Overdue => "overdue",
            ExceptionKind::Discrepancy => "discrepancy",
            ExceptionKind::UnmatchedEvent => "unmatched_event",
            ExceptionKind::DeadLetter => "dead_letter",
            ExceptionKind::UnnotifiedForceMajeure => "unnotified_force_majeure",
            ExceptionKind::ExecutionOverdue => "execution_overdue",
            ExceptionKind::LossActNotDrawn => "loss_act_not_drawn",
            ExceptionKind::CancellationAwaited => "cancellation_awaited",
            ExceptionKind::NotTakenIn => "not_taken_in",
            ExceptionKind::ReturnRegistryNotFormed => "return_registry_not_formed",
            ExceptionKind::RegistryNotSealed => "registry_not_sealed",
            ExceptionKind::RegistryNotHandedOver => "registry_not_handed_over",
            ExceptionKind::DuplicateNotRequested => "duplicate_not_requested",
        }
    }

    /// Whether the item's reference is a shipment (the console links it).
    pub fn is_about_a_shipment(self) -> bool {
        matches!(
            self,
            ExceptionKind::Overdue
                | ExceptionKind::LossActNotDrawn
                | ExceptionKind::CancellationAwaited
                | ExceptionKind::NotTakenIn
                | ExceptionKind::ReturnRegistryNotFormed
                | ExceptionKind::DuplicateNotRequested
        )
    }

    /// The step nobody has taken that the item is about, if it is one.
    fn stall(self, execution_term: u32) -> Option<Stall> {
        Some(match self {
            ExceptionKind::ExecutionOverdue => Stall::ExecutionOverdue {
                working_days: execution_term,
            },
            ExceptionKind::LossActNotDrawn => Stall::LossActNotDrawn,
            ExceptionKind::CancellationAwaited => Stall::CancellationAwaited,
            ExceptionKind::NotTakenIn => Stall::NotTakenIn,
            ExceptionKind::ReturnRegistryNotFormed => Stall::ReturnRegistryNotFormed,
            ExceptionKind::RegistryNotSealed => Stall::RegistryNotSealed,
            ExceptionKind::RegistryNotHandedOver => Stall::RegistryNotHandedOver,
            ExceptionKind::DuplicateNotRequested => Stall::DuplicateNotRequested,
            ExceptionKind::Overdue
            | ExceptionKind::Discrepancy
            | ExceptionKind::UnmatchedEvent
            | ExceptionKind::DeadLetter
            | ExceptionKind::UnnotifiedForceMajeure => return None,
        })
    }
}

/// How long a Kaspi event may wait for what it names before it is a person's business.
const UNMATCHED_GRACE: chrono::Duration = chrono::Duration::hours(1);

/// Something that needs a person.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Exception {
    pub kind: ExceptionKind,
    pub branch: Option<String>,
    /// What is wrong.
    pub reason: String,
    /// The shipment, event or message concerned.
    pub reference: String,
    pub application_number: Option<String>,
    /// Since when.
    pub since: DateTime<Utc>,
    pub age_hours: i64,
    /// For a deadline passed unmet: the side that answers for it, by where the document was at
    /// the due instant (DOMAIN.md §5; п.36); for a step nobody has taken: the side that must
    /// take it. `null` for other items, and for an uncollected cell (the citizen's choice).
    pub side: Option<Side>,
}

/// Everything overdue or needing a person that the scope may see and `filter` asks for,
/// oldest first, at most `filter`'s limit. Items without a branch (an event not matched to
/// anything, a message to another system) are for national staff. Scope, kind, branch, age and
/// limit are applied by each source's query (issue 28 finding 6), not after reading them all.
/// `execution_term` is the registry office's term in working days (a setting).
pub(crate) fn exceptions(
    conn: &mut DbConnection,
    scope: &BranchScope,
    filter: &ExceptionFilter,
    now: DateTime<Utc>,
    calendar: &Calendar,
    execution_term: u32,
) -> diesel::QueryResult<Vec<Exception>> {
    let Some(window) = window(conn, scope, filter, now)? else {
        return Ok(Vec::new());
    };
    let wanted = |kind| filter.kind.is_none_or(|k| k == kind);
    let codes: BTreeMap<BranchId, String> = branch::codes(conn)?.into_iter().collect();
    let mut found = Vec::new();
    let mut push = |kind,
                    branch: Option<BranchId>,
                    reason: String,
                    reference: String,
                    application_number: Option<String>,
                    since: DateTime<Utc>,
                    side: Option<Side>| {
        // The queries applied the window already; this keeps a source that could not (the
        // handful of force-majeure periods) to it too.
        let visible = window.branch.is_none_or(|b| branch == Some(b))
            && window.began_by.is_none_or(|by| since <= from_db_time(by));
        if visible {
            found.push(Exception {
                kind,
                branch: branch.and_then(|b| codes.get(&b).cloned()),
                reason,
                reference,
                application_number,
                age_hours: (now - since).num_hours(),
                since,
                side,
            });
        }
    };
    if wanted(ExceptionKind::Overdue) {
        for o in report::overdue(conn, &window)? {
            let mut reason = format!(
                "{} ({}) passed; the document is '{}'",
                o.kind.as_str(),
                o.kind.clause(),
                o.state
            );
            if let Some(error) = o.sweep_error {
                reason.push_str(&format!("; the sweeper could not apply it: {error}"));
            }
            let since = from_db_time(o.due_at);
            let reference = o.shipment_id.to_string();
            let side = o.state_at_due.and_then(|at_due| answerable(o.kind, at_due));
            if let Some(side) = side {
                reason.push_str(&format!("; answerable: {side}"));
            }
            push(
                ExceptionKind::Overdue,
                Some(o.branch_id),
                reason,
                reference,
                Some(o.application_number),
                since,
                side,
            );
        }
    }
    if wanted(ExceptionKind::Discrepancy) {
        for d in kaspi_event::open_discrepancies(conn, &window)? {
            let reason = format!("{}: {}", d.kind, d.detail);
            let since = from_db_time(d.detected_at);
            push(
                ExceptionKind::Discrepancy,
                d.branch_id,
                reason,
                d.id.to_string(),
                None,
                since,
                None,
            );
        }
    }
    if wanted(ExceptionKind::UnmatchedEvent) {
        for (e, branch) in kaspi_event::unmatched(conn, &window)? {
            // An event usually waits minutes for its envelope's registry or order; one still
            // waiting after an hour needs a look (issue 23), and is as old as that hour allows.
            let since = from_db_time(e.received_at) + UNMATCHED_GRACE;
            if since > now {
                continue;
            }
            let reason = format!(
                "Kaspi {} event waiting for more than an hour: {}",
                e.event_type,
                e.detail.unwrap_or_default()
            );
            push(
                ExceptionKind::UnmatchedEvent,
                branch,
                reason,
                e.event_id,
                None,
                since,
                None,
            );
        }
    }
    if wanted(ExceptionKind::DeadLetter) {
        for d in outbox::dead_letters(conn, &window)? {
            // A citizen's message goes via a channel; another system's message goes to it.
            let via = match d.outbox {
                Outbox::Notifications => "via",
                Outbox::Outbound => "to",
            };
            let reason = format!(
                "{} {via} {} undelivered: {}",
                d.kind,
                d.route,
                mask_urls(&d.last_error.unwrap_or_default())
            );
            push(
                ExceptionKind::DeadLetter,
                d.branch_id,
                reason,
                d.id.to_string(),
                d.application_number,
                d.created_at,
                None,
            );
        }
    }
    // Steps nobody has taken (issue 23), each once its term has passed.
    for kind in ExceptionKind::ALL.into_iter().filter(|k| wanted(*k)) {
        let Some(stall) = kind.stall(execution_term) else {
            continue;
        };
        let waiting = match stall.waits() {
            Waits::AwaitingExecution => report::awaiting_execution(conn, &window)?,
            Waits::InState(state) => report::waiting_in_state(conn, &window, state)?,
            Waits::LossAct { drawn } => report::loss_acts_waiting(conn, &window, drawn)?,
            Waits::Registry(state) => report::registries_waiting(conn, &window, state)?,
            Waits::NoDuplicate => report::cancelled_without_duplicate(conn, &window)?,
        };
        for w in waiting {
            let began = from_db_time(w.since);
            let Some(since) = stall.late_from(began, w.zone.tz(), calendar) else {
                continue;
            };
            if since > now {
                continue;
            }
            // A registry's step names the registry (its number, once sealed) in the reason.
            let (reason, application_number) = match (kind.is_about_a_shipment(), w.label) {
                (true, number) => (stall.reason().to_owned(), number),
                (false, Some(number)) => (format!("{}: {number}", stall.reason()), None),
                (false, None) => (stall.reason().to_owned(), None),
            };
            push(
                kind,
                Some(w.branch_id),
                reason,
                w.reference.to_string(),
                application_number,
                since,
                Some(stall.side()),
            );
        }
    }
    // п.38–39: without timely notice the circumstances cannot be relied on. A period noticed
    // late stays here: the notice does not make it invocable.
    if wanted(ExceptionKind::UnnotifiedForceMajeure) {
        for (period, _) in force_majeure::list(conn, scope)? {
            let starts_at = from_db_time(period.starts_at);
            let recorded_at = period.notice_recorded_at.map(from_db_time);
            let standing = notice_standing(starts_at, recorded_at, now, calendar).ok();
            if let Some(standing) = standing.filter(|s| !s.invocable()) {
                let reason = format!("{}: {}", standing.describe(), period.reason);
                push(
                    ExceptionKind::UnnotifiedForceMajeure,
                    period.branch_id,
                    reason,
                    period.id.to_string(),
                    None,
                    starts_at,
                    None,
                );
            }
        }
    }
    found.sort_by_key(|e| e.since);
    found.truncate(usize::try_from(window.limit).unwrap_or(usize::MAX));
    Ok(found)
}

/// What the caller's scope and filter take in; `None` when nothing can match (another branch
/// than the caller's, an unknown branch, an age beyond any item's).
fn window(
    conn: &mut DbConnection,
    scope: &BranchScope,
    filter: &ExceptionFilter,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Option<report::Window>> {
    let branch = match (&filter.branch, scope.branch()) {
        (None, mine) => mine,
        (Some(code), mine) => match branch::find_by_code(conn, code.as_str())? {
            Some(found) if mine.is_none_or(|m| m == found.id) => Some(found.id),
            _ => return Ok(None),
        },
    };
    let began_by = match filter.min_age_hours {
        None => None,
        Some(h) if h <= 0 => None,
        Some(h) => match chrono::Duration::try_hours(h).and_then(|d| now.checked_sub_signed(d)) {
            Some(t) => Some(crate::db::models::to_db_time(t)),
            None => return Ok(None),
        },
    };
    Ok(Some(report::Window {
        branch,
        began_by,
        limit: filter.limit(),
    }))
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExceptionFilter {
    /// Only this kind.
    #[param(inline)]
    pub kind: Option<ExceptionKind>,
    /// Only this branch (national supervisors).
    #[param(value_type = Option<String>)]
    pub branch: Option<BranchCode>,
    /// Only items at least this many hours old (0 to 876,000).
    #[param(minimum = 0, maximum = 876000)]
    pub min_age_hours: Option<i64>,
    /// How many items, oldest first (1 to 1000; 200 when omitted).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// The exception queue: breached deadlines of documents still on their way, discrepancies,
/// Kaspi events waiting, dead-lettered messages — with branch, reason and age, oldest first.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    params(ExceptionFilter),
    responses((status = 200, body = Vec<Exception>))
)]
#[get("/api/v1/exceptions")]
async fn exception_queue(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
    filter: ApiQuery<ExceptionFilter>,
) -> ApiResult<web::Json<Vec<Exception>>> {
    let filter = filter.into_inner()?.into_inner();
    filter.check().map_err(ApiError::validation)?;
    let scope = auth.scope().clone();
    let now = state.clock.now();
    let term = state.execution_term;
    let calendar = state.calendar.current();
    let found = state
        .db(move |conn| {
            Ok(exceptions(
                conn,
                &scope,
                &filter,
                now,
                &calendar.calendar,
                term,
            )?)
        })
        .await?;
    Ok(web::Json(found))
}

impl ExceptionFilter {
    pub const DEFAULT_LIMIT: i64 = 200;
    pub const MAX_LIMIT: i64 = 1000;

    /// The oldest age asked for: a century, beyond any item of the pilot.
    pub const MAX_AGE_HOURS: i64 = 100 * 365 * 24;

    /// Why the filter is refused, if it is.
    pub fn check(&self) -> Result<(), String> {
        match (self.limit, self.min_age_hours) {
            (Some(n), _) if !(1..=Self::MAX_LIMIT).contains(&n) => {
                Err(format!("limit: from 1 to {}, got {n}", Self::MAX_LIMIT))
            }
            (_, Some(h)) if !(0..=Self::MAX_AGE_HOURS).contains(&h) => Err(format!(
                "min_age_hours: from 0 to {}, got {h}",
                Self::MAX_AGE_HOURS
            )),
            _ => Ok(()),
        }
    }

    /// How many items the queue returns.
    pub fn limit(&self) -> i64 {
        self.limit
            .unwrap_or(Self::DEFAULT_LIMIT)
            .clamp(1, Self::MAX_LIMIT)
    }
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    Json,
    Csv,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SlaQuery {
    /// First day (Almaty), inclusive.
    #[param(value_type = String, example = "2026-03-01")]
    pub from: NaiveDate,
    /// Last day (Almaty), inclusive.
    #[param(value_type = String, example = "2026-03-31")]
    pub to: NaiveDate,
    /// `json` (default) or `csv`.
    #[param(inline)]
    pub format: Option<ReportFormat>,
}

/// One line of the SLA report: how one branch did on one kind of deadline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SlaLine {
    pub branch: String,
    pub deadline: DeadlineKind,
    pub met_on_time: i64,
    pub met_late: i64,
    /// Passed unmet and not met since.
    pub breached_open: i64,
    /// Not yet due (or due but not swept yet).
    pub pending: i64,
    /// Ended by a loss or cancellation.
    pub cancelled: i64,
    /// Of the met late and breached: those the State Corporation answers for, by where the
    /// document was at the due instant (DOMAIN.md §5; п.36).
    pub missed_by_state_corporation: i64,
    /// … those Kaspi answers for.
    pub missed_by_kaspi: i64,
    /// … those the registry office answers for (the document was still there).
    pub missed_by_registry_office: i64,
}

impl From<SlaCounts> for SlaLine {
    fn from(c: SlaCounts) -> Self {
        let by = |side| c.missed_by.get(&side).copied().unwrap_or(0);
        SlaLine {
            missed_by_state_corporation: by(Side::StateCorporation),
            missed_by_kaspi: by(Side::Kaspi),
            missed_by_registry_office: by(Side::RegistryOffice),
            branch: c.branch,
            deadline: c.deadline,
            met_on_time: c.met_on_time,
            met_late: c.met_late,
            breached_open: c.breached_open,
            pending: c.pending,
            cancelled: c.cancelled,
        }
    }
}

/// The report as CSV (header line first); also `postamat simulate`'s `sla.csv`.
pub fn sla_csv(lines: &[SlaLine]) -> String {
    let mut out = String::from(
        "branch,deadline,met_on_time,met_late,breached_open,pending,cancelled,\
         missed_by_state_corporation,missed_by_kaspi,missed_by_registry_office\n",
    );
    for l in lines {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            l.branch,
            l.deadline.as_str(),
            l.met_on_time,
            l.met_late,
            l.breached_open,
            l.pending,
            l.cancelled,
            l.missed_by_state_corporation,
            l.missed_by_kaspi,
            l.missed_by_registry_office
        ));
    }
    out
}

/// The SLA report's lines for the days `first` to `last` (Almaty), as the scope may see them
/// (the API's report and the console's page).
pub async fn sla_lines(
    state: &AppState,
    scope: BranchScope,
    first: NaiveDate,
    last: NaiveDate,
) -> ApiResult<Vec<SlaLine>> {
    use chrono::Datelike;
    let refused = || {
        ApiError::new(
            ErrorCode::InvalidQuery,
            "from must not be after to, the period at most a year, and both in the years 2000 to 2100",
        )
    };
    if last < first
        || (last - first).num_days() > 366
        || !(2000..=2100).contains(&first.year())
        || !(2000..=2100).contains(&last.year())
    {
        return Err(refused());
    }
    let (from, to) = report::sla_period(first, last).ok_or_else(refused)?;
    let (snapshot, now) = (state.calendar.current(), state.clock.now());
    Ok(state
        .db(move |conn| {
            Ok(report::sla(
                conn,
                &scope,
                from,
                to,
                now,
                &snapshot.calendar,
            )?)
        })
        .await?
        .into_iter()
        .map(SlaLine::from)
        .collect())
}

/// The SLA report: per branch and deadline kind, deadlines falling due in the period met on
/// time, met late, breached and still open.
#[utoipa::path(
    tag = "supervisors",
    security(("bearer" = [])),
    params(SlaQuery),
    responses(
        (status = 200, description = "JSON by default; CSV (header line first) with format=csv", content(
            (Vec<SlaLine> = "application/json"),
            (String = "text/csv"),
        )),
    )
)]
#[get("/api/v1/reports/sla")]
async fn sla_report(
    auth: Authorized<Supervisors>,
    state: web::Data<AppState>,
    query: ApiQuery<SlaQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner()?.into_inner();
    let lines = sla_lines(&state, auth.scope().clone(), query.from, query.to).await?;
    Ok(match query.format.unwrap_or(ReportFormat::Json) {
        ReportFormat::Json => HttpResponse::Ok().json(lines),
        ReportFormat::Csv => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header(("Content-Disposition", "attachment; filename=\"sla.csv\""))
            .body(sla_csv(&lines)),
    })
}
