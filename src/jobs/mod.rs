//! Work the service does on its own, beside requests.

pub mod calendar_refresh;
pub mod dispatcher;
pub mod sweeper;
