//! Kaspi registers a citizen's application with the chosen way of delivery (п.3–4, 6). The same
//! data again finds the stored application; other data under the same number is refused.

use super::{EventContext, Reason, WorkflowError, WorkflowResult};
use crate::db::models::application::{self, ApplicationRow};
use crate::db::models::branch;
use crate::db::models::branch::BranchRow;
use crate::db::models::postamat::{self, PostamatRow, city_key};
use crate::db::{DbConnection, write_transaction};
use crate::domain::application::{ApplicationStatus, PilotWindow};
use crate::domain::identifiers::{ApplicationNumber, ExternalId, Iin, Phone};
use crate::domain::ids::ApplicationId;
use crate::domain::notification::Language;
use crate::domain::reference::{BranchCode, KaspiPostamatId, Text};
use crate::domain::shipment::DeliveryMethod;
use chrono::{DateTime, Utc};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// An application as the citizen submitted it in the Kaspi app.
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub number: ApplicationNumber,
    pub applicant_iin: Iin,
    pub applicant_name: Text,
    pub phone: Phone,
    pub language: Language,
    pub delivery_method: DeliveryMethod,
    pub postamat: Option<KaspiPostamatId>,
    pub registry_office_code: ExternalId,
    pub branch: BranchCode,
    pub submitted_at: DateTime<Utc>,
    /// The fingerprint of what was sent, to tell a repeat from a conflict.
    pub payload_hash: String,
}

/// The application, and whether this call registered it.
pub struct Registered {
    pub application: ApplicationRow,
    pub created: bool,
}

/// Registers `new` (the context's `occurred_at` is ignored: the submission time is the event's
/// time); `pilot` is the window in which postamat delivery may be chosen (order п.6).
pub fn register(
    conn: &mut DbConnection,
    new: &NewApplication,
    pilot: PilotWindow,
    ctx: &EventContext<'_>,
) -> WorkflowResult<Registered> {
    let attempt = write_transaction(conn, |conn| {
        if let Some(existing) = application::find_by_number(conn, new.number.as_str())? {
            return Ok(Registered {
                application: existing,
                created: false,
            });
        }
        insert(conn, new, pilot, ctx).map(|application| Registered {
            application,
            created: true,
        })
    });
    let registered = match attempt {
        // The same number raced in on another connection: compare with what won.
        Err(WorkflowError::Database(DieselError::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            info,
        ))) => match application::find_by_number(conn, new.number.as_str())? {
            Some(winner) => Registered {
                application: winner,
                created: false,
            },
            None => {
                return Err(WorkflowError::Database(DieselError::DatabaseError(
                    DatabaseErrorKind::UniqueViolation,
                    info,
                )));
            }
        },
        other => other?,
    };
    if !registered.created && registered.application.payload_hash != new.payload_hash {
        return Err(WorkflowError::rejected(
            Reason::ApplicationConflict,
            format!(
                "application {} is already registered with different data",
                new.number
            ),
        ));
    }
    Ok(registered)
}

fn insert(
    conn: &mut DbConnection,
    new: &NewApplication,
    pilot: PilotWindow,
    ctx: &EventContext<'_>,
) -> WorkflowResult<ApplicationRow> {
    // A submission time in the future would open the pilot window to anyone who sets it.
    if new.submitted_at > ctx.recorded_at + chrono::Duration::minutes(5) {
        return Err(WorkflowError::rejected(
            Reason::ValidationFailed,
            "submitted_at is in the future",
        ));
    }
    let branch = branch::find_by_code(conn, new.branch.as_str())?.ok_or_else(|| {
        WorkflowError::rejected(
            Reason::ValidationFailed,
            format!("branch {} does not exist", new.branch),
        )
    })?;
    let postamat_id = match (new.delivery_method, &new.postamat) {
        (DeliveryMethod::Con, None) => None,
        (DeliveryMethod::Con, Some(_)) => {
            return Err(WorkflowError::rejected(
                Reason::ValidationFailed,
                "postamat_id is only for postamat delivery",
            ));
        }
        (DeliveryMethod::Postamat, None) => {
            return Err(WorkflowError::rejected(
                Reason::ValidationFailed,
                "postamat delivery needs postamat_id",
            ));
        }
        (DeliveryMethod::Postamat, Some(kaspi_id)) => {
            let chosen = postamat::find(conn, kaspi_id.as_str())?.ok_or_else(|| {
                WorkflowError::rejected(
                    Reason::UnknownPostamat,
                    format!("postamat {kaspi_id} is not in the postamat list"),
                )
            })?;
            in_branch_city(&branch, &chosen)?;
            // Order п.6: postamat delivery only while the pilot runs.
            let submitted_on = new
                .submitted_at
                .with_timezone(&branch.time_zone.tz())
                .date_naive();
            if let Some(why) = pilot.refuses(submitted_on) {
                return Err(WorkflowError::rejected(Reason::OutsidePilotWindow, why));
            }
            Some(chosen.id)
        }
    };
    let now = ctx.recorded_at;
    let row = ApplicationRow {
        id: ApplicationId::new(),
        number: new.number.clone(),
        registry_office_code: new.registry_office_code.to_string(),
        applicant_iin: new.applicant_iin.clone(),
        applicant_name: new.applicant_name.to_string(),
        phone: new.phone.clone(),
        language: new.language,
        delivery_method: new.delivery_method,
        postamat_id,
        branch_id: branch.id,
        status: ApplicationStatus::AwaitingExecution,
        submitted_at: new.submitted_at,
        payload_hash: new.payload_hash.clone(),
        created_at: now,
        updated_at: now,
        version: 0,
    };
    application::insert(conn, &row)?;
    let ctx = EventContext {
        occurred_at: new.submitted_at,
        ..ctx.clone()
    };
    super::shipment::record(
        conn,
        super::shipment::Line {
            application_id: row.id,
            shipment_id: None,
            event: "registered",
            from: None,
            to: ApplicationStatus::AwaitingExecution.as_str(),
            details: None,
        },
        &ctx,
    )?;
    Ok(row)
}

/// п.4: "любой постамат в своем городе" — the postamat is in the city of the application's
/// branch, by the city's reference key (КАТО code), never by the name as typed. A row entered
/// before codes were kept and not given one since is still compared as it was (by its
/// normalised name), so that the migration changes no answer; it is logged for an admin to code.
pub(super) fn in_branch_city(branch: &BranchRow, chosen: &PostamatRow) -> WorkflowResult<()> {
    let kaspi_id = chosen.kaspi_id.as_str();
    if branch.city_code.is_empty() || chosen.city_code.is_empty() {
        let (what, id) = if branch.city_code.is_empty() {
            ("branch", branch.code.as_str())
        } else {
            ("postamat", kaspi_id)
        };
        tracing::warn!(
            what,
            id,
            "reference data without a city code: cities compared by name until an admin sets it (п.4)"
        );
        if city_key(&chosen.city) != city_key(&branch.city) {
            return Err(WorkflowError::rejected(
                Reason::PostamatNotInCity,
                format!(
                    "postamat {kaspi_id} is in {}, not in {} of branch {} ({what} {id} has no city code yet, so the names were compared)",
                    chosen.city, branch.city, branch.code
                ),
            ));
        }
    } else if chosen.city_code != branch.city_code {
        return Err(WorkflowError::rejected(
            Reason::PostamatNotInCity,
            format!(
                "postamat {kaspi_id} is in {} ({}), not in {} ({}) of branch {}",
                chosen.city, chosen.city_code, branch.city, branch.city_code, branch.code
            ),
        ));
    }
    Ok(())
}
