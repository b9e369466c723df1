//! Operators' API: keys and reference data. Reference data is read by every role.

pub mod branches;
pub mod keys;
pub mod postamats;

use utoipa_actix_web::service_config::ServiceConfig;

pub fn routes(cfg: &mut ServiceConfig<'_>) {
    keys::routes(cfg);
    branches::routes(cfg);
    postamats::routes(cfg);
}

/// Whether a `PUT` created the record or replaced it.
pub fn put_status(created: bool) -> actix_web::http::StatusCode {
    if created {
        actix_web::http::StatusCode::CREATED
    } else {
        actix_web::http::StatusCode::OK
    }
}
