//! Supervisors' API: the national calendar and force-majeure periods.

pub mod calendar_edits;
pub mod force_majeure;

use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    calendar_edits::routes(cfg);
    force_majeure::routes(cfg);
}
