//! Time is an input: everything that needs "now" asks the one [`Clock`] it was handed, so tests
//! (and a replayed sweep) can set it.

use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The wall clock.
    #[default]
    System,
    /// A clock that stands still until it is set or advanced.
    Manual(Arc<Mutex<DateTime<Utc>>>),
}

impl Clock {
    pub fn manual(at: DateTime<Utc>) -> Self {
        Clock::Manual(Arc::new(Mutex::new(at)))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Manual(at) => *at.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }

    /// Moves a manual clock; the system clock cannot be moved.
    pub fn set(&self, to: DateTime<Utc>) {
        match self {
            Clock::System => panic!("the system clock cannot be set"),
            Clock::Manual(at) => *at.lock().unwrap_or_else(|p| p.into_inner()) = to,
        }
    }
}
