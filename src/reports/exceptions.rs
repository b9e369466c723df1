//! The exception queue (issue 23): everything that needs a person — deadlines passed unmet,
//! steps nobody has taken, discrepancies, Kaspi events waiting, dead-lettered messages,
//! force-majeure periods noticed late — with branch, reason, age and the side that must act.
//! Read by the API (`GET /api/v1/exceptions`), the console's queue and the SLA page's counts.

use crate::db::DbConnection;
use crate::db::models::branch::BranchScope;
use crate::db::models::{branch, force_majeure, kaspi_event, outbox, report};
use crate::domain::calendar::Calendar;
use crate::domain::force_majeure::notice_standing;
use crate::domain::ids::BranchId;
use crate::domain::notification::Outbox;
use crate::domain::reference::BranchCode;
use crate::domain::shipment::{Side, answerable};
use crate::domain::stall::{Stall, Waits};
use crate::observability::redact::mask_urls;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

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
pub fn exceptions(
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
            && window.began_by.is_none_or(|by| since <= by);
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
            let since = o.due_at;
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
                Some(o.application_number.into()),
                since,
                side,
            );
        }
    }
    if wanted(ExceptionKind::Discrepancy) {
        for d in kaspi_event::open_discrepancies(conn, &window)? {
            let reason = format!("{}: {}", d.kind, d.detail);
            let since = d.detected_at;
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
            let since = e.received_at + UNMATCHED_GRACE;
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
                d.application_number.map(String::from),
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
            let Some(since) = stall.late_from(w.since, w.zone.tz(), calendar) else {
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
            let standing =
                notice_standing(period.starts_at, period.notice_recorded_at, now, calendar).ok();
            if let Some(standing) = standing.filter(|s| !s.invocable()) {
                let reason = format!("{}: {}", standing.describe(), period.reason);
                push(
                    ExceptionKind::UnnotifiedForceMajeure,
                    period.branch_id,
                    reason,
                    period.id.to_string(),
                    None,
                    period.starts_at,
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
        Some(h) => {
            let Some(t) = chrono::Duration::try_hours(h).and_then(|d| now.checked_sub_signed(d))
            else {
                return Ok(None);
            };
            Some(t)
        }
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
