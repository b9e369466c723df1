//! A full disk: recognising the refusal, and remembering it for the health check until a
//! write succeeds.

use std::time::Duration;

/// Whether a database error's message says its storage is full: SQLite's SQLITE_FULL, or
/// PostgreSQL's disk_full (53100, "could not extend file …: No space left on device"). The
/// statement's transaction was rolled back; nothing of it was kept.
pub fn storage_full(message: &str) -> bool {
    message.contains("database or disk is full") || message.contains("No space left on device")
}

/// When a write last found the database's storage full, for `/readyz` (issue 27): the service
/// reports itself not ready from such a refusal until a write succeeds again, or for
/// [`StorageWatch::WINDOW`] after the last refusal (so an instance taken out of rotation by it
/// is tried again once an operator may have freed space).
#[derive(Debug, Default)]
pub struct StorageWatch {
    last_full: std::sync::Mutex<Option<std::time::Instant>>,
}

impl StorageWatch {
    pub const WINDOW: Duration = Duration::from_secs(30);

    /// A write was refused for a full storage.
    pub fn full(&self) {
        *self.lock() = Some(std::time::Instant::now());
    }

    /// A write was committed: there is room again.
    pub fn room(&self) {
        *self.lock() = None;
    }

    /// How long ago the last refusal was, while it is within the window.
    pub fn recently_full(&self) -> Option<Duration> {
        self.full_as_of(std::time::Instant::now())
    }

    fn full_as_of(&self, now: std::time::Instant) -> Option<Duration> {
        self.lock()
            .map(|at| now.saturating_duration_since(at))
            .filter(|ago| *ago < Self::WINDOW)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<std::time::Instant>> {
        // The guarded value is a plain instant: a panic elsewhere cannot leave it half-made.
        self.last_full
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod storage_watch_tests {
    use super::*;

    #[test]
    fn a_refusal_is_reported_until_a_write_succeeds() {
        let watch = StorageWatch::default();
        assert_eq!(watch.recently_full(), None);
        watch.full();
        assert!(watch.recently_full().is_some());
        watch.room();
        assert_eq!(watch.recently_full(), None);
    }

    #[test]
    fn a_refusal_older_than_the_window_is_not_reported() {
        let watch = StorageWatch::default();
        watch.full();
        let at = watch.lock().unwrap();
        let just_before = at + StorageWatch::WINDOW - Duration::from_millis(1);
        assert!(watch.full_as_of(just_before).is_some());
        assert_eq!(watch.full_as_of(at + StorageWatch::WINDOW), None);
    }
}
