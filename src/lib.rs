//! postamat: the State Corporation side of Kazakhstan's pilot that delivers birth certificates
//! through Kaspi postamats. See docs/architecture.md for the map of this crate.

/// The version and the commit this binary was built from (`build.rs`).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("POSTAMAT_COMMIT"),
    ")"
);

/// The commit this binary was built from, or `unknown`.
pub const COMMIT: &str = env!("POSTAMAT_COMMIT");

pub mod api;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod jobs;
pub mod observability;
pub mod reports;
pub mod sim;
pub mod workflows;
