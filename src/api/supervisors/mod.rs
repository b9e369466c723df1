//! Supervisors' API: the national calendar, force-majeure periods, and the exceptions of the
//! Kaspi exchange.

pub mod calendar_edits;
pub mod disputes;
pub mod exceptions;
pub mod force_majeure;
pub mod reports;

use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    calendar_edits::routes(cfg);
    disputes::routes(cfg);
    exceptions::routes(cfg);
    force_majeure::routes(cfg);
    reports::routes(cfg);
}
