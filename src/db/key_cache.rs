//! API keys cached by each instance (issue 26), so an authenticated request takes no database
//! connection of its own for its key: before, it took one for the key and one for its work.
//!
//! A cached key must never outlive its revocation. On PostgreSQL a trigger on `api_keys` (and on
//! a branch's code) sends `NOTIFY postamat_keys` at the commit of any change, whoever made it
//! (the API, `postamat keys revoke`, an operator's SQL), and every instance's listener
//! ([`listen`]) empties its cache when the notice arrives. The cache fails closed:
//! - it is used only while the listener is connected and listening; a lost listener empties it
//!   and every request reads its key again until the listener is back;
//! - a key read before a notice is not cached after it (each read takes a [`Ticket`] first and
//!   is cached only if no notice came in between), so a revocation is never undone by a read
//!   that raced it;
//! - an entry lives [`TTL`] at the most, whatever the notices.
//!
//! A revocation over HTTP answers only once every instance listening when it began has emptied
//! its cache: each listener acknowledges a notice with `NOTIFY postamat_key_acks` once it has
//! acted on it, and the revoking instance waits for the acknowledgement of each listening
//! connection it found in `pg_stat_activity` (`AppState::write_key` in the API, at most
//! [`ACK_WAIT`]). So the very next request, at any instance, reads the key again.
//!
//! On SQLite nothing is cached: the key is read with each request, as before (one process per
//! file, and a local read costs no round trip).

use crate::db::models::api_key::{Principal, hash_token};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

/// The channel the trigger of migration 16 notifies.
pub const CHANNEL: &str = "postamat_keys";
/// The channel listeners acknowledge a notice on, once they acted on it.
pub const ACKS: &str = "postamat_key_acks";
/// The `application_name` of listening connections, by which they are found.
pub const APPLICATION_NAME: &str = "postamat-key-notices";
/// The longest a key's change waits for the listeners' acknowledgements (all of it when this
/// instance is not listening itself and others are). A listener lost to a network partition is
/// noticed by the server only after its keepalives, so it may be waited for in vain; that
/// instance cannot reach the database meanwhile either.
pub const ACK_WAIT: Duration = Duration::from_secs(2);
/// The longest a key stays cached, notices or not.
pub const TTL: Duration = Duration::from_secs(60);
/// Keys cached at the most; a full cache is emptied (keys are few: one per clerk and system).
const CAPACITY: usize = 10_000;
/// Acknowledgements remembered, for revocations waiting for them.
const RECENT: usize = 256;

#[derive(Default)]
pub struct KeyCache {
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Whether a listener is listening: no notice can be missed.
    live: bool,
    /// Moves on with every notice and every change of `live`.
    generation: u64,
    entries: HashMap<String, (Principal, Instant)>,
    /// Moves on with everything heard.
    heard: u64,
    /// The last acknowledgements heard: when, from which server process, of what payload.
    acks: VecDeque<(u64, i32, String)>,
}

/// Taken before a key is read from the database (the key is cached only if nothing changed
/// since), or before a key is changed (to wait for the acknowledgements that follow).
#[derive(Debug, Clone, Copy)]
pub struct Ticket(Option<(u64, u64)>);

impl KeyCache {
    /// The caller a token belongs to, if cached.
    pub fn get(&self, token: &str) -> Option<Principal> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        if !inner.live {
            return None;
        }
        let (principal, at) = inner.entries.get(&hash_token(token))?;
        (at.elapsed() < TTL).then(|| principal.clone())
    }

    /// To be taken before reading a key from the database.
    pub fn ticket(&self) -> Ticket {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        Ticket(inner.live.then_some((inner.generation, inner.heard)))
    }

    /// Caches a key read under `ticket`, unless a notice came since (or the listener is gone).
    pub fn put(&self, ticket: Ticket, token: &str, principal: &Principal) {
        let Ticket(Some((generation, _))) = ticket else {
            return;
        };
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if !inner.live || inner.generation != generation {
            return;
        }
        if inner.entries.len() >= CAPACITY {
            inner.entries.clear();
        }
        inner
            .entries
            .insert(hash_token(token), (principal.clone(), Instant::now()));
    }

    /// Whether keys are being cached (a listener is listening).
    pub fn is_live(&self) -> bool {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).live
    }

    /// The listener's state changed: empty the cache either way.
    fn set_live(&self, live: bool) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.live = live;
        inner.generation += 1;
        inner.entries.clear();
    }

    /// A key or a branch changed: forget every key, since a branch's change reaches all of
    /// its keys and notices are rare.
    fn notice(&self) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.generation += 1;
        inner.heard += 1;
        inner.entries.clear();
    }

    /// The listener of server process `pid` acted on the notice about `payload`.
    fn ack(&self, pid: i32, payload: String) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.heard += 1;
        let heard = inner.heard;
        if inner.acks.len() >= RECENT {
            inner.acks.pop_front();
        }
        inner.acks.push_back((heard, pid, payload));
    }

    /// Whether each of `listeners` (server process ids) acknowledged the notice about
    /// `payload` since `ticket` was taken. False when this instance was not listening then and
    /// there are listeners: it cannot hear their acknowledgements (the caller waits its longest).
    pub fn acknowledged(&self, ticket: Ticket, payload: &str, listeners: &[i32]) -> bool {
        let Ticket(Some((_, since))) = ticket else {
            return listeners.is_empty();
        };
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        listeners.iter().all(|pid| {
            inner
                .acks
                .iter()
                .any(|(heard, from, seen)| *heard > since && from == pid && seen == payload)
        })
    }
}

#[derive(diesel::QueryableByName)]
struct Listener {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pid: i32,
}

/// The server processes of the listening connections of every instance on this database
/// (PostgreSQL; none on SQLite).
pub fn listeners(conn: &mut crate::db::DbConnection) -> diesel::QueryResult<Vec<i32>> {
    use diesel::RunQueryDsl;
    match conn {
        crate::db::DbConnection::Postgres(pg) => Ok(diesel::sql_query(
            "SELECT pid FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = $1",
        )
        .bind::<diesel::sql_types::Text, _>(APPLICATION_NAME)
        .load::<Listener>(pg)?
        .into_iter()
        .map(|l| l.pid)
        .collect()),
        crate::db::DbConnection::Sqlite(_) => Ok(Vec::new()),
    }
}

/// Starts the thread that listens for key notices on PostgreSQL at `url` (the pool's own URL,
/// with its timeouts) for as long as `cache` lives; it reconnects after a loss, with the cache
/// off meanwhile.
pub fn listen(cache: &Arc<KeyCache>, url: String) -> std::io::Result<()> {
    let cache = Arc::downgrade(cache);
    std::thread::Builder::new()
        .name("key-notices".into())
        .spawn(move || listener::run(&cache, &url))
        .map(|_| ())
}

mod listener {
    //! libpq directly (pq-sys, which diesel already builds on): diesel's connection can be
    //! asked for notices but not waited on, and a notice must reach the cache at once, not at
    //! the next poll. The connection opens with the pool's own URL, so TLS and timeouts are the
    //! same as every other connection's.

    use super::{ACKS, APPLICATION_NAME, CHANNEL, KeyCache, Weak};
    use pq_sys as pq;
    use std::ffi::{CStr, CString};
    use std::time::Duration;

    /// How long a wait lasts before the thread checks the service still runs.
    const WAKE_USEC: i64 = 500_000;
    /// What a listener sends itself once listening, and how long it waits for it.
    const PROBE: &str = "probe";
    const PROBE_WAIT_USEC: i64 = 3_000_000;
    /// The wait before connecting again after a loss.
    const RETRY: Duration = Duration::from_secs(1);

    pub(super) fn run(cache: &Weak<KeyCache>, url: &str) {
        let mut failures = 0u32;
        loop {
            let Some(live) = cache.upgrade() else { return };
            drop(live);
            match Listening::open(url) {
                Ok(conn) => {
                    if failures > 0 {
                        tracing::info!("key notices: listening again; API keys are cached");
                    }
                    failures = 0;
                    let Some(why) = conn.serve(cache) else { return };
                    if cache.upgrade().is_none() {
                        // The service stopped while its connection was being closed.
                        return;
                    }
                    tracing::warn!(
                        error = %why,
                        "key notices: the listening connection was lost; API keys are read from \
                         the database until it is back"
                    );
                }
                Err(why) => {
                    failures += 1;
                    // Every failure while few, then one in sixty: the pool's own errors say
                    // the rest.
                    if failures <= 3 || failures.is_multiple_of(60) {
                        tracing::warn!(error = %why, failures, "key notices: cannot listen");
                    }
                }
            }
            std::thread::sleep(RETRY);
        }
    }

    /// A libpq connection that has run `LISTEN`.
    struct Listening(*mut pq::PGconn);

    impl Drop for Listening {
        fn drop(&mut self) {
            // SAFETY: the pointer came from PQconnectdb and is finished once, here.
            unsafe { pq::PQfinish(self.0) }
        }
    }

    impl Listening {
        fn open(url: &str) -> Result<Self, String> {
            let conninfo = CString::new(url).map_err(|_| "the URL holds a NUL byte".to_owned())?;
            let (dbname, application) = (c"dbname", c"application_name");
            let name = CString::new(APPLICATION_NAME).expect("no NUL");
            // The URL is expanded as `dbname`; the name given after it wins over the URL's.
            let keywords = [dbname.as_ptr(), application.as_ptr(), std::ptr::null()];
            let values = [conninfo.as_ptr(), name.as_ptr(), std::ptr::null()];
            // SAFETY: null-terminated arrays of valid C strings that outlive the call; libpq
            // returns a connection object even on failure (null only when out of memory),
            // which `Listening` finishes on drop.
            let raw = unsafe { pq::PQconnectdbParams(keywords.as_ptr(), values.as_ptr(), 1) };
            if raw.is_null() {
                return Err("libpq could not allocate a connection".into());
            }
            let conn = Listening(raw);
            // SAFETY: `raw` is a live connection object.
            if unsafe { pq::PQstatus(raw) } != pq::ConnStatusType::CONNECTION_OK {
                return Err(conn.error());
            }
            conn.run(&format!("LISTEN {CHANNEL}; LISTEN {ACKS}"), None)?;
            conn.probe()?;
            Ok(conn)
        }

        /// Sends a notice to itself and waits for it: a connection that hears nothing (behind
        /// a proxy that pools by transaction, say) must not make the cache live.
        fn probe(&self) -> Result<(), String> {
            self.run(&format!("SELECT pg_notify('{ACKS}', $1)"), Some(PROBE))?;
            let socket = self.socket()?;
            // SAFETY: a plain function.
            let deadline = unsafe { pq::PQgetCurrentTimeUSec() } + PROBE_WAIT_USEC;
            loop {
                if self.drain(None)? {
                    return Ok(());
                }
                // SAFETY: plain functions over a socket number libpq owns and keeps open.
                let ready = unsafe { pq::PQsocketPoll(socket, 1, 0, deadline) };
                if ready == 0 {
                    return Err("this connection's own notice did not come back within 3 s \
                         (is a proxy pooling by transaction in between?); API keys are not \
                         cached"
                        .into());
                }
                if ready < 0 {
                    let error = std::io::Error::last_os_error();
                    if error.kind() != std::io::ErrorKind::Interrupted {
                        return Err(error.to_string());
                    }
                }
            }
        }

        fn socket(&self) -> Result<std::os::raw::c_int, String> {
            // SAFETY: a live connection.
            let socket = unsafe { pq::PQsocket(self.0) };
            if socket < 0 {
                return Err("the connection has no socket".into());
            }
            Ok(socket)
        }

        /// Reads what has arrived and acts on each notice: a key notice empties the cache (if
        /// given: one not yet live holds nothing) and is acknowledged; another listener's
        /// acknowledgement is recorded. Says whether this connection's own probe came back.
        fn drain(&self, cache: Option<&KeyCache>) -> Result<bool, String> {
            // SAFETY: a live connection; reads what the socket holds without blocking.
            if unsafe { pq::PQconsumeInput(self.0) } == 0 {
                return Err(self.error());
            }
            // SAFETY: a live connection.
            let own = unsafe { pq::PQbackendPID(self.0) };
            let mut probed = false;
            loop {
                // SAFETY: a live connection; each notice is freed with PQfreemem once read.
                let notice = unsafe { pq::PQnotifies(self.0) };
                if notice.is_null() {
                    break;
                }
                // SAFETY: libpq's notice, whose channel and payload are NUL-terminated.
                let (channel, payload, pid) = unsafe {
                    (
                        CStr::from_ptr((*notice).relname)
                            .to_string_lossy()
                            .into_owned(),
                        CStr::from_ptr((*notice).extra)
                            .to_string_lossy()
                            .into_owned(),
                        (*notice).be_pid,
                    )
                };
                // SAFETY: allocated by libpq, freed once.
                unsafe { pq::PQfreemem(notice.cast()) };
                if channel != ACKS {
                    if let Some(cache) = cache {
                        cache.notice();
                    }
                    // Acted on: tell the instance waiting to answer a revocation.
                    self.run(&format!("SELECT pg_notify('{ACKS}', $1)"), Some(&payload))?;
                } else if pid == own && payload == PROBE {
                    probed = true;
                } else if let Some(cache) = cache {
                    cache.ack(pid, payload);
                }
            }
            // SAFETY: a live connection.
            if unsafe { pq::PQstatus(self.0) } != pq::ConnStatusType::CONNECTION_OK {
                return Err(self.error());
            }
            Ok(probed)
        }

        /// Runs `sql`, with one text parameter if given, and checks it succeeded.
        fn run(&self, sql: &str, parameter: Option<&str>) -> Result<(), String> {
            let sql = CString::new(sql).map_err(|_| "NUL in a statement".to_owned())?;
            let parameter = parameter
                .map(CString::new)
                .transpose()
                .map_err(|_| "NUL in a parameter".to_owned())?;
            // SAFETY: a live connection; the strings outlive the call; the result is cleared
            // below.
            let result = unsafe {
                match &parameter {
                    None => pq::PQexec(self.0, sql.as_ptr()),
                    Some(value) => {
                        let values = [value.as_ptr()];
                        pq::PQexecParams(
                            self.0,
                            sql.as_ptr(),
                            1,
                            std::ptr::null(),
                            values.as_ptr(),
                            std::ptr::null(),
                            std::ptr::null(),
                            0,
                        )
                    }
                }
            };
            // SAFETY: PQresultStatus accepts null (out of memory) and reports a fatal error.
            let status = unsafe { pq::PQresultStatus(result) };
            // SAFETY: PQclear accepts null.
            unsafe { pq::PQclear(result) };
            match status {
                pq::ExecStatusType::PGRES_COMMAND_OK | pq::ExecStatusType::PGRES_TUPLES_OK => {
                    Ok(())
                }
                _ => Err(self.error()),
            }
        }

        fn error(&self) -> String {
            // SAFETY: a live connection; the message belongs to it and is copied at once.
            let message = unsafe { CStr::from_ptr(pq::PQerrorMessage(self.0)) };
            message.to_string_lossy().trim().to_owned()
        }

        /// Delivers notices to the cache until the connection is lost (`Some(why)`) or the
        /// cache is gone (`None`). The cache is live only in here.
        fn serve(&self, cache: &Weak<KeyCache>) -> Option<String> {
            let lost = self.deliver(cache);
            if let Some(cache) = cache.upgrade() {
                cache.set_live(false);
            }
            lost
        }

        fn deliver(&self, cache: &Weak<KeyCache>) -> Option<String> {
            // Live only once LISTEN runs: a change committed before it is in the database,
            // which every read after this sees.
            cache.upgrade()?.set_live(true);
            let socket = match self.socket() {
                Ok(socket) => socket,
                Err(why) => return Some(why),
            };
            loop {
                // SAFETY: plain functions over a socket number libpq owns and keeps open.
                let ready = unsafe {
                    pq::PQsocketPoll(socket, 1, 0, pq::PQgetCurrentTimeUSec() + WAKE_USEC)
                };
                if ready < 0 {
                    let error = std::io::Error::last_os_error();
                    // A signal woke the wait: nothing was lost.
                    if error.kind() == std::io::ErrorKind::Interrupted {
                        continue;
                    }
                    return Some(error.to_string());
                }
                let cache = cache.upgrade()?;
                if let Err(why) = self.drain(Some(&cache)) {
                    return Some(why);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::models::branch::BranchScope;
    use crate::domain::ids::KeyId;
    use crate::domain::role::Role;

    fn principal() -> Principal {
        Principal {
            key_id: KeyId::new(),
            name: "clerk".into(),
            role: Role::Admin,
            scope: BranchScope::All,
        }
    }

    #[test]
    fn nothing_is_cached_without_a_listener() {
        let cache = KeyCache::default();
        let ticket = cache.ticket();
        cache.put(ticket, "pst_a", &principal());
        assert!(cache.get("pst_a").is_none());
    }

    #[test]
    fn a_notice_empties_the_cache_and_refuses_a_read_that_raced_it() {
        let cache = KeyCache::default();
        cache.set_live(true);
        let ticket = cache.ticket();
        cache.put(ticket, "pst_a", &principal());
        assert!(cache.get("pst_a").is_some());
        assert!(cache.get("pst_b").is_none());

        let before = cache.ticket();
        cache.notice();
        assert!(cache.get("pst_a").is_none());
        // Read before the notice, cached after it: refused.
        cache.put(before, "pst_a", &principal());
        assert!(cache.get("pst_a").is_none());
        // Read after it: cached.
        cache.put(cache.ticket(), "pst_a", &principal());
        assert!(cache.get("pst_a").is_some());
    }

    #[test]
    fn a_change_waits_for_every_listener_it_found() {
        let cache = KeyCache::default();
        cache.ack(7, "key-1".into());
        cache.set_live(true);
        let before = cache.ticket();
        assert!(cache.acknowledged(before, "key-1", &[]));
        assert!(
            !cache.acknowledged(before, "key-1", &[7]),
            "an old ack does not count"
        );
        cache.notice();
        cache.ack(7, "key-1".into());
        cache.ack(8, "key-2".into());
        assert!(cache.acknowledged(before, "key-1", &[7]));
        assert!(!cache.acknowledged(before, "key-1", &[7, 8]));
        cache.ack(8, "key-1".into());
        assert!(cache.acknowledged(before, "key-1", &[7, 8]));
        // An instance that was not listening hears no acknowledgement: with listeners about,
        // it cannot tell they acted; with none, there is nothing to wait for.
        let deaf = KeyCache::default();
        assert!(!deaf.acknowledged(deaf.ticket(), "key-1", &[7]));
        assert!(deaf.acknowledged(deaf.ticket(), "key-1", &[]));
    }

    #[test]
    fn losing_the_listener_empties_and_stops_the_cache() {
        let cache = KeyCache::default();
        cache.set_live(true);
        let ticket = cache.ticket();
        cache.put(ticket, "pst_a", &principal());
        cache.set_live(false);
        assert!(cache.get("pst_a").is_none());
        cache.put(ticket, "pst_a", &principal());
        cache.set_live(true);
        assert!(
            cache.get("pst_a").is_none(),
            "an entry never outlives a gap"
        );
    }
}
