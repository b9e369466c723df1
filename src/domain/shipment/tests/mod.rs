//! The state machine's tests, by subject: the table's rules (`table`), Kaspi's events against it
//! (`kaspi`), and changes of the way of delivery with the pilot's end (`delivery`).

use super::table::{HELD_BY_KASPI, HELD_BY_STATE, TABLE};
use super::*;

mod delivery;
mod kaspi;
mod table;

fn at(h: u32) -> chrono::DateTime<chrono::Utc> {
    chrono::NaiveDate::from_ymd_opt(2026, 3, 28)
        .unwrap()
        .and_hms_opt(h, 0, 0)
        .unwrap()
        .and_utc()
}

fn events_of(steps: &[Transition]) -> Vec<ShipmentEvent> {
    steps.iter().map(|t| t.event).collect()
}

fn first_actor(event: ShipmentEvent) -> Actor {
    event.actors()[0]
}
