//! The console's pages. Each takes the reader through [`signed_in`] with the policy of the API
//! endpoint it mirrors, reads through the same functions, and renders HTML.

mod calendar;
mod pilot_report;
mod queue;
mod registries;
mod search;
mod shipment;
mod sla;

pub use calendar::{calendar, calendar_now, edit_calendar};
pub use pilot_report::{pilot_report, pilot_report_print};
pub use queue::exceptions;
pub use registries::{print_registry, registries, registry};
pub use search::{search, search_form};
pub use shipment::shipment;
pub use sla::{sla, sla_csv};

use super::{ConsoleError, Ctx};
use crate::api::error::ApiError;
use crate::api::printed;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// How many rows a search or a list shows.
const PAGE_ROWS: i64 = 50;

fn local(t: DateTime<Utc>, tz: Tz) -> String {
    printed::local_time(t, tz)
}

/// The time zone of national pages (Almaty), as the API's reports use it.
fn national_zone() -> Tz {
    crate::domain::reference::BranchTimeZone::default().tz()
}

fn api_error(ctx: &Ctx) -> impl Fn(ApiError) -> ConsoleError + '_ {
    move |e| ConsoleError::from_api(ctx, e)
}

fn not_found(ctx: &Ctx, what: String) -> ConsoleError {
    ConsoleError::from_api(ctx, ApiError::not_found(what))
}

fn path_value<T: std::str::FromStr>(ctx: &Ctx, raw: &str) -> Result<T, ConsoleError> {
    raw.parse()
        .map_err(|_| not_found(ctx, format!("{raw} is not a record here")))
}
