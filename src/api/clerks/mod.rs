//! Branch staff's API. The calendar and deadline previews are open to every role.

pub mod calendar;

use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    calendar::routes(cfg);
}
