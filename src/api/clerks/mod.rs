//! Branch staff's API. The calendar and deadline previews are open to every role.

pub mod calendar;
pub mod documents;
pub mod loss_acts;
pub mod registries;

use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    calendar::routes(cfg);
    documents::routes(cfg);
    loss_acts::routes(cfg);
    registries::routes(cfg);
}
