//! What the API shows of the stored records: the wire shapes of applications, shipments with
//! their deadlines and history, registries, loss acts, disputes and force-majeure periods,
//! built from `db` rows. Reads only.

use crate::db::DbConnection;
use crate::db::models::application::ApplicationRow;
use crate::db::models::branch::BranchScope;
use crate::db::models::deadline::{self, DeadlineRow};
use crate::db::models::dispute::DisputeRow;
use crate::db::models::force_majeure::Period;
use crate::db::models::history::{self, HistoryRow};
use crate::db::models::loss_act::LossAct as LossActRecord;
use crate::db::models::postamat::{self, PostamatRow};
use crate::db::models::registry::{self, RegistryRow};
use crate::db::models::shipment::{self as shipments, Loaded};
use crate::db::models::{api_key, branch};
use crate::domain::application::ApplicationStatus;
use crate::domain::calendar::Calendar;
use crate::domain::deadline::{DeadlineKind, DeadlineState};
use crate::domain::force_majeure::{NoticeStanding, notice_standing};
use crate::domain::ids::{
    ApplicationId, DisputeId, KeyId, LossActId, PeriodId, RegistryId, ShipmentId,
};
use crate::domain::loss::{LossActState, LossSide};
use crate::domain::notification::Language;
use crate::domain::personal_data::Disclosure;
use crate::domain::reference::BranchTimeZone;
use crate::domain::registry::{RegistryKind, RegistryState};
use crate::domain::shipment::{DeliveryMethod, IssuedTo, ShipmentKind, ShipmentState};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::QueryResult;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeadlineView {
    pub kind: DeadlineKind,
    /// The clause of the order it comes from.
    #[schema(example = "п.17")]
    pub clause: &'static str,
    pub started_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    /// `due_at` in the branch's local time, as people there read it.
    #[schema(example = "2026-03-26T12:00:00+05:00")]
    pub due_local: String,
    pub calendar_version: i64,
    pub state: DeadlineState,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl DeadlineView {
    pub fn new(row: DeadlineRow, zone: BranchTimeZone) -> Self {
        DeadlineView {
            kind: row.kind,
            clause: row.kind.clause(),
            started_at: row.started_at,
            due_at: row.due_at,
            due_local: row.due_at.with_timezone(&zone.tz()).to_rfc3339(),
            calendar_version: row.calendar_version,
            state: row.state,
            resolved_at: row.resolved_at,
        }
    }
}

pub fn deadlines(
    conn: &mut DbConnection,
    id: ShipmentId,
    zone: BranchTimeZone,
) -> QueryResult<Vec<DeadlineView>> {
    Ok(deadline::of_shipment(conn, id)?
        .into_iter()
        .map(|row| DeadlineView::new(row, zone))
        .collect())
}

/// One line of a shipment's history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusEvent {
    pub event: String,
    pub from: Option<String>,
    pub to: String,
    /// The actor's role; `null` for the sweeper.
    pub actor_role: Option<String>,
    pub actor_key_id: Option<KeyId>,
    pub actor_name: String,
    /// `api`, `kaspi`, `registry_office` or `sweeper`.
    pub source: String,
    pub external_event_id: Option<String>,
    pub details: Option<serde_json::Value>,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// When we recorded it.
    pub recorded_at: DateTime<Utc>,
}

/// Keys of a history line's details that hold personal data (what the issuance step records).
const PERSONAL_DETAILS: &[&str] = &["power_of_attorney"];

impl StatusEvent {
    /// The line as `disclosure` shows it: personal details dropped where it withholds them.
    fn disclosed(mut self, disclosure: Disclosure) -> Self {
        if let Some(serde_json::Value::Object(details)) = &mut self.details {
            for key in PERSONAL_DETAILS {
                if let Some(value) = details.get_mut(*key) {
                    let text = value.as_str().and_then(|v| disclosure.name(v));
                    *value = text.map_or(serde_json::Value::Null, serde_json::Value::String);
                }
            }
        }
        self
    }
}

impl From<HistoryRow> for StatusEvent {
    fn from(row: HistoryRow) -> Self {
        StatusEvent {
            event: row.event,
            from: row.from_status,
            to: row.to_status,
            actor_role: row.actor_role.map(|r| r.as_str().to_owned()),
            actor_key_id: row.actor_key_id,
            actor_name: row.actor_name,
            source: row.source,
            external_event_id: row.external_event_id,
            details: row.details.and_then(|d| serde_json::from_str(&d).ok()),
            occurred_at: row.occurred_at,
            recorded_at: row.recorded_at,
        }
    }
}

/// The chosen postamat's Kaspi id, city and address, for clerks (п.12).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChosenPostamat {
    pub kaspi_id: String,
    pub city: String,
    pub address_kk: String,
    pub address_ru: String,
}

impl From<PostamatRow> for ChosenPostamat {
    fn from(p: PostamatRow) -> Self {
        ChosenPostamat {
            kaspi_id: p.kaspi_id,
            city: p.city,
            address_kk: p.address_kk,
            address_ru: p.address_ru,
        }
    }
}

fn chosen_postamat(
    conn: &mut DbConnection,
    app: &ApplicationRow,
) -> QueryResult<Option<ChosenPostamat>> {
    Ok(match app.postamat_id {
        Some(id) => postamat::find_by_id(conn, id)?.map(ChosenPostamat::from),
        None => None,
    })
}

/// A shipment as seen from its application.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShipmentBrief {
    pub id: ShipmentId,
    /// `original` or `duplicate`.
    pub kind: ShipmentKind,
    pub state: ShipmentState,
    pub kaspi_order_id: Option<String>,
    pub waybill: Option<String>,
    pub deadlines: Vec<DeadlineView>,
}

/// An application as clerks see it (п.12): how the document is delivered, where it is, and
/// what is due.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApplicationView {
    pub id: ApplicationId,
    pub application_number: String,
    pub status: ApplicationStatus,
    pub delivery_method: DeliveryMethod,
    /// The chosen postamat, for postamat delivery.
    pub postamat: Option<ChosenPostamat>,
    pub branch: String,
    pub registry_office_code: String,
    /// The citizen's personal data as the caller's role is shown it
    /// (`domain::personal_data`): whole for the integrations; the name whole, the IIN's last
    /// four digits and the phone's last two for clerks and supervisors; `null` for the State
    /// courier.
    pub applicant_name: Option<String>,
    pub applicant_iin: Option<String>,
    pub phone: Option<String>,
    /// The language of the citizen's messages.
    pub language: Language,
    pub submitted_at: DateTime<Utc>,
    pub shipments: Vec<ShipmentBrief>,
}

pub fn application(
    conn: &mut DbConnection,
    row: ApplicationRow,
    disclosure: Disclosure,
) -> QueryResult<ApplicationView> {
    let branch = branch::get(conn, row.branch_id)?;
    let zone = branch.time_zone;
    let postamat = chosen_postamat(conn, &row)?;
    let shipments = shipments::of_application(conn, row.id)?
        .into_iter()
        .map(|s| {
            Ok(ShipmentBrief {
                id: s.id,
                kind: s.kind,
                state: s.status,
                deadlines: deadlines(conn, s.id, zone)?,
                kaspi_order_id: s.kaspi_order_id,
                waybill: s.waybill.map(String::from),
            })
        })
        .collect::<QueryResult<_>>()?;
    Ok(ApplicationView {
        id: row.id,
        status: row.status,
        submitted_at: row.submitted_at,
        application_number: row.number.into(),
        delivery_method: row.delivery_method,
        postamat,
        branch: branch.code,
        registry_office_code: row.registry_office_code,
        applicant_name: disclosure.name(&row.applicant_name),
        applicant_iin: disclosure.iin(row.applicant_iin.as_str()),
        phone: disclosure.phone(row.phone.as_str()),
        language: row.language,
        shipments,
    })
}

/// A shipment with its application, deadlines and history.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShipmentDetail {
    pub id: ShipmentId,
    pub application_number: String,
    pub kind: ShipmentKind,
    pub delivery_method: DeliveryMethod,
    pub state: ShipmentState,
    pub version: i32,
    pub kaspi_order_id: Option<String>,
    pub waybill: Option<String>,
    pub postamat: Option<ChosenPostamat>,
    pub registry_office_registry: Option<String>,
    /// Once issued.
    pub issued_to: Option<IssuedTo>,
    /// Who received it and on what power of attorney: `null` for the State courier
    /// (`domain::personal_data`), as is the power of attorney in the timeline.
    pub recipient_name: Option<String>,
    pub power_of_attorney: Option<String>,
    pub deadlines: Vec<DeadlineView>,
    pub timeline: Vec<StatusEvent>,
}

/// The shipment of `id` if the scope may see it, with its deadlines and timeline, its personal
/// data as `disclosure` shows it.
pub fn shipment(
    conn: &mut DbConnection,
    id: ShipmentId,
    scope: &BranchScope,
    disclosure: Disclosure,
) -> QueryResult<Option<ShipmentDetail>> {
    Ok(shipment_in_zone(conn, id, scope, disclosure)?.map(|(detail, _)| detail))
}

/// [`shipment`], with its branch's time zone (for showing its times locally).
pub fn shipment_in_zone(
    conn: &mut DbConnection,
    id: ShipmentId,
    scope: &BranchScope,
    disclosure: Disclosure,
) -> QueryResult<Option<(ShipmentDetail, BranchTimeZone)>> {
    let Some(Loaded {
        shipment: row,
        application: app,
        time_zone,
        chosen_postamat: postamat,
    }) = shipments::find_with_application(conn, id, scope)?
    else {
        return Ok(None);
    };
    let detail = ShipmentDetail {
        id: row.id,
        postamat: postamat.map(ChosenPostamat::from),
        application_number: app.number.into(),
        kind: row.kind,
        delivery_method: row.delivery_method,
        state: row.status,
        version: row.version,
        deadlines: deadlines(conn, row.id, time_zone)?,
        timeline: history::of_shipment(conn, row.id)?
            .into_iter()
            .map(|e| StatusEvent::from(e).disclosed(disclosure))
            .collect(),
        kaspi_order_id: row.kaspi_order_id,
        waybill: row.waybill.map(String::from),
        registry_office_registry: row.registry_office_registry,
        issued_to: row.issued_to,
        recipient_name: row.recipient_name.and_then(|n| disclosure.name(&n)),
        power_of_attorney: row.power_of_attorney.and_then(|p| disclosure.name(&p)),
    };
    Ok(Some((detail, time_zone)))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegistryItem {
    pub shipment_id: ShipmentId,
    pub application_number: String,
    pub waybill: String,
    /// The shipment's state now.
    pub state: ShipmentState,
    pub added_at: DateTime<Utc>,
    /// When the line was withdrawn from the signed registry: the State courier brought the
    /// envelope back (п.18), or it was re-routed to the ЦОН before the courier signed for it
    /// (issue 23).
    pub withdrawn_at: Option<DateTime<Utc>>,
}

/// One page of a keyset-paged list: `limit` items at most (50 when omitted, up to 200), newest
/// first; the next page starts after `cursor`, the `next_cursor` of the page before.
#[derive(Debug, Clone, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// How many items (1 to 200; 50 when omitted).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    pub const DEFAULT_LIMIT: i64 = 50;
    pub const MAX_LIMIT: i64 = 200;

    /// The page size, or why it is refused.
    pub fn limit(&self) -> Result<i64, String> {
        match self.limit {
            None => Ok(Self::DEFAULT_LIMIT),
            Some(n) if (1..=Self::MAX_LIMIT).contains(&n) => Ok(n),
            Some(n) => Err(format!("limit: from 1 to {}, got {n}", Self::MAX_LIMIT)),
        }
    }

    /// The cursor as the id it stands for, or why it is refused.
    pub fn cursor<T: std::str::FromStr>(&self) -> Result<Option<T>, String> {
        self.cursor
            .as_deref()
            .map(|c| {
                c.parse()
                    .map_err(|_| format!("cursor: not a cursor this list gave out: '{c}'"))
            })
            .transpose()
    }
}

/// The cursor of the page after `items`, if `items` filled the page (`limit` + 1 were read:
/// the extra one only tells that there is more, and is dropped).
pub fn next_page<T>(items: &mut Vec<T>, limit: i64, id: impl Fn(&T) -> String) -> Option<String> {
    if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(id)
    } else {
        None
    }
}

/// A page of registries.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegistryPage {
    pub items: Vec<Registry>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A page of loss acts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LossActPage {
    pub items: Vec<LossAct>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A registry with its envelopes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Registry {
    pub id: RegistryId,
    pub branch: String,
    pub kind: RegistryKind,
    pub state: RegistryState,
    /// Given when sealed: `BRANCH-YEAR-NNNNNN`, gapless per branch and year.
    #[schema(example = "ALM01-2026-000001")]
    pub number: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub sealed_by: Option<String>,
    pub sealed_at: Option<DateTime<Utc>>,
    pub handed_over_by: Option<String>,
    pub handed_over_at: Option<DateTime<Utc>>,
    /// The State courier who signed for the envelopes.
    pub courier_name: Option<String>,
    /// Kaspi's registry of the envelopes its point accepted (п.18).
    pub kaspi_registry_number: Option<String>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub items: Vec<RegistryItem>,
}

fn key_name(conn: &mut DbConnection, id: Option<KeyId>) -> QueryResult<Option<String>> {
    match id {
        Some(id) => api_key::name_of(conn, id),
        None => Ok(None),
    }
}

pub fn registry(conn: &mut DbConnection, row: RegistryRow) -> QueryResult<Registry> {
    let items = registry::items(conn, row.id)?
        .into_iter()
        .map(|(item, state)| RegistryItem {
            shipment_id: item.shipment_id,
            application_number: item.application_number.into(),
            waybill: item.waybill.into(),
            state,
            added_at: item.added_at,
            withdrawn_at: item.withdrawn_at,
        })
        .collect();
    Ok(Registry {
        id: row.id,
        branch: branch::get(conn, row.branch_id)?.code,
        kind: row.kind,
        state: row.state,
        created_by: key_name(conn, Some(row.created_by))?.unwrap_or_default(),
        created_at: row.created_at,
        sealed_by: key_name(conn, row.sealed_by)?,
        sealed_at: row.sealed_at,
        handed_over_by: key_name(conn, row.handed_over_by)?,
        handed_over_at: row.handed_over_at,
        number: row.number,
        courier_name: row.courier_name,
        kaspi_registry_number: row.kaspi_registry_number,
        accepted_at: row.accepted_at,
        items,
    })
}

/// A loss act.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LossAct {
    pub id: LossActId,
    pub shipment_id: ShipmentId,
    pub application_number: String,
    pub branch: String,
    pub side: LossSide,
    /// Kaspi's own act, for a Kaspi-side loss (п.22).
    pub kaspi_act_number: Option<String>,
    /// Our act number once drawn, gapless per branch and year.
    #[schema(example = "ALM01-2026-000001")]
    pub number: Option<String>,
    /// `recorded`, then `drawn` (two copies; the second sent to the registry office).
    pub state: LossActState,
    pub cause: String,
    pub circumstances: String,
    pub responsible_employee: String,
    pub drawn_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<LossActRecord> for LossAct {
    fn from((row, application_number, branch): LossActRecord) -> Self {
        LossAct {
            id: row.id,
            shipment_id: row.shipment_id,
            application_number,
            branch,
            side: row.side,
            kaspi_act_number: row.kaspi_act_number,
            number: row.number,
            state: row.state,
            cause: row.cause,
            circumstances: row.circumstances,
            responsible_employee: row.responsible_employee,
            drawn_at: row.drawn_at,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Dispute {
    pub id: DisputeId,
    pub shipment_id: ShipmentId,
    pub loss_act_id: Option<LossActId>,
    pub parties: String,
    pub subject: String,
    pub opened_on: NaiveDate,
    /// The commission's protocol (п.36), once signed.
    pub commission_protocol: Option<String>,
    pub outcome: Option<String>,
    /// `null` while open.
    pub settled_on: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<DisputeRow> for Dispute {
    fn from(r: DisputeRow) -> Self {
        Dispute {
            id: r.id,
            shipment_id: r.shipment_id,
            loss_act_id: r.loss_act_id,
            parties: r.parties,
            subject: r.subject,
            opened_on: r.opened_on,
            commission_protocol: r.commission_protocol,
            outcome: r.outcome,
            settled_on: r.settled_on,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A force-majeure period as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ForceMajeurePeriod {
    pub id: PeriodId,
    /// The branch it covers; `null` for the whole country.
    pub branch: Option<String>,
    pub starts_at: DateTime<Utc>,
    /// `null` while it lasts.
    pub ends_at: Option<DateTime<Utc>>,
    pub reason: String,
    /// The document that confirms the circumstances (п.38).
    pub document_ref: Option<String>,
    pub created_by: KeyId,
    pub created_at: DateTime<Utc>,
    pub ended_by: Option<KeyId>,
    pub end_recorded_at: Option<DateTime<Utc>>,
    /// п.38: the notice to the responsible bodies, once recorded.
    pub notice_reference: Option<String>,
    pub notice_recorded_at: Option<DateTime<Utc>>,
    /// The key that recorded the notice (`null` for notices recorded before it was kept).
    pub notice_recorded_by: Option<KeyId>,
    /// п.38–39: where the notice stands now, and whether the period may be relied on; `null`
    /// when the working-day calendar of the notice's year is not loaded.
    pub notice: Option<NoticeView>,
}

/// п.38–39: a period's notice as it stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NoticeView {
    /// `in_time`, `awaited` (not recorded, still in time), `late` (recorded after its last
    /// day) or `missing` (not recorded, its last day passed).
    #[schema(example = "late")]
    pub state: &'static str,
    /// The last of the 3 working days (Almaty).
    pub due_by: NaiveDate,
    /// Working days the notice is (or was) late by.
    pub late_by_working_days: Option<u32>,
    /// `false` once the notice is late or missing: the deadlines the period moved are judged
    /// against their original due times in the SLA report (п.39).
    pub invocable: bool,
    /// In words, e.g. "not invocable, notice late by 2 working days (п.39)".
    pub standing: String,
}

impl From<NoticeStanding> for NoticeView {
    fn from(standing: NoticeStanding) -> Self {
        NoticeView {
            state: standing.as_str(),
            due_by: standing.last_day(),
            late_by_working_days: standing.late_by(),
            invocable: standing.invocable(),
            standing: standing.describe(),
        }
    }
}

impl ForceMajeurePeriod {
    /// The period as it stands at `now`.
    pub fn new(period: Period, calendar: &Calendar, now: DateTime<Utc>) -> Self {
        let row = &period.0;
        let notice = notice_standing(row.starts_at, row.notice_recorded_at, now, calendar)
            .ok()
            .map(NoticeView::from);
        ForceMajeurePeriod {
            notice,
            ..ForceMajeurePeriod::recorded(period)
        }
    }

    fn recorded((row, branch): Period) -> Self {
        ForceMajeurePeriod {
            id: row.id,
            branch,
            starts_at: row.starts_at,
            ends_at: row.ends_at,
            reason: row.reason,
            document_ref: row.document_ref,
            created_by: row.created_by,
            created_at: row.created_at,
            ended_by: row.ended_by,
            end_recorded_at: row.end_recorded_at,
            notice_reference: row.notice_reference,
            notice_recorded_at: row.notice_recorded_at,
            notice_recorded_by: row.notice_recorded_by,
            notice: None,
        }
    }
}

/// What Kaspi may read of an application it registered (issue 23: every party sees where a
/// document is): where each document is, the deadlines that concern the citizen, and the
/// timeline — without staff names, IINs or the details of a line (which name couriers and
/// recipients).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KaspiTrack {
    pub application_number: String,
    pub status: ApplicationStatus,
    pub delivery_method: DeliveryMethod,
    pub documents: Vec<KaspiTrackedDocument>,
}

/// One document of a [`KaspiTrack`].
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KaspiTrackedDocument {
    pub kind: ShipmentKind,
    pub waybill: Option<String>,
    pub state: ShipmentState,
    /// The deadlines that concern the citizen: the arrival at the Kaspi point (п.10), the wait
    /// there (п.11), the storage in the cell (п.21, 29) and a duplicate's issue (п.26).
    pub deadlines: Vec<DeadlineView>,
    pub timeline: Vec<TrackLine>,
}

/// A line of a document's history as Kaspi reads it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrackLine {
    pub event: String,
    pub from: Option<String>,
    pub to: String,
    /// `api` (State Corporation staff), `kaspi`, `registry_office` or `sweeper`.
    pub source: String,
    pub occurred_at: DateTime<Utc>,
}

/// The deadlines a citizen's own dates come from.
const CITIZENS_DEADLINES: [DeadlineKind; 4] = [
    DeadlineKind::KaspiArrival,
    DeadlineKind::PointWait,
    DeadlineKind::Storage,
    DeadlineKind::Duplicate,
];

pub fn kaspi_track(conn: &mut DbConnection, row: ApplicationRow) -> QueryResult<KaspiTrack> {
    let zone = branch::get(conn, row.branch_id)?.time_zone;
    let documents = shipments::of_application(conn, row.id)?
        .into_iter()
        .map(|s| {
            let deadlines = deadlines(conn, s.id, zone)?
                .into_iter()
                .filter(|d| CITIZENS_DEADLINES.contains(&d.kind))
                .collect();
            let timeline = history::of_shipment(conn, s.id)?
                .into_iter()
                .map(|h| TrackLine {
                    event: h.event,
                    from: h.from_status,
                    to: h.to_status,
                    source: h.source,
                    occurred_at: h.occurred_at,
                })
                .collect();
            Ok(KaspiTrackedDocument {
                kind: s.kind,
                waybill: s.waybill.map(String::from),
                state: s.status,
                deadlines,
                timeline,
            })
        })
        .collect::<QueryResult<_>>()?;
    Ok(KaspiTrack {
        application_number: row.number.into(),
        status: row.status,
        delivery_method: row.delivery_method,
        documents,
    })
}
