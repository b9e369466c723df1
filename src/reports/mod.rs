//! The read side: every read model that is not one workflow's answer — the exception queue,
//! the SLA report, the pilot's figures and its end's outlook, the charts, and the shipment
//! views the API and the console share. HTTP handlers, the console, the command line and
//! `postamat simulate` read through it; it reads through `db` and the domain only (never `api`
//! or `workflows`), so a simulated month and a real one are read the same way.

pub mod calendar;
pub mod charts;
pub mod exceptions;
pub mod pilot;
pub mod pilot_end;
pub mod sla;
pub mod views;
