//! The pure domain core: no I/O, no clock, no database. Everything here is tested with plain
//! unit and property tests.

pub mod calendar;
pub mod deadline;
pub mod force_majeure;
pub mod identifiers;
pub mod notification;
pub mod reference;
pub mod registry;
pub mod role;
pub mod shipment;
