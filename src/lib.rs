//! postamat: the State Corporation side of Kazakhstan's pilot that delivers birth certificates
//! through Kaspi postamats. See README.md for the map of this crate.

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
