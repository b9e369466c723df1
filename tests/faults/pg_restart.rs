//! Fault 1: PostgreSQL restarted (`-m fast`, then `-m immediate`) and then down for a while,
//! under writers and readers. While it is down every request answers within the bound — 503
//! `database_unavailable` with `Retry-After`, never a hang or a 500 — `/readyz` says not ready
//! and the background jobs skip their rounds without crashing; once it is back the service
//! serves again within the bound, with no restart and no dead connection left in its pool; and
//! every acknowledged write is stored.

use crate::cluster::{Cluster, Service, branch, scratch};
use crate::http::{Answer, get, request};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Every answer comes within this, database or not: the pool waits at most
/// `postamat::db::POOL_WAIT` (4 s) for a connection, then answers.
const ANSWER_BOUND: Duration = Duration::from_secs(5);
/// The service serves again within this of the database's return.
const RECOVERY_BOUND: Duration = Duration::from_secs(5);
/// A request still unanswered after this is a hang.
const HANG: Duration = Duration::from_secs(20);
const WRITERS: usize = 6;
const READERS: usize = 2;

struct Seen {
    at: Instant,
    write: Option<String>,
    answer: Option<Answer>,
}

/// Sets the stop flag when dropped, so a failed assertion stops the load threads too.
struct Stopper(Arc<AtomicBool>);

impl Drop for Stopper {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[test]
fn postgresql_restarted_and_down_under_load() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let folder = scratch("service");
    let mut service = Service::start(&cluster.url(), &folder);
    let port = service.port;
    let admin = Arc::new(service.admin.clone());
    // Readers read one branch (a list would grow with every write).
    let read = request(
        port,
        "PUT",
        "/api/v1/branches/READ01",
        Some(&admin),
        Some(&branch("READ01")),
        HANG,
    );
    assert!(read.is_some_and(|a| a.status < 300));
    let stop = Arc::new(AtomicBool::new(false));
    // However this test ends, the load stops with it.
    let _stopper = Stopper(stop.clone());
    let seen = Arc::new(Mutex::new(Vec::<Seen>::new()));
    let mut workers = Vec::new();
    for w in 0..WRITERS + READERS {
        let (stop, seen, admin) = (stop.clone(), seen.clone(), admin.clone());
        workers.push(std::thread::spawn(move || {
            // Bounded in count as well as by the stop flag.
            for i in 0..20_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let (write, answer) = if w < WRITERS {
                    let code = format!("F{w}W{i:05}");
                    let path = format!("/api/v1/branches/{code}");
                    let body = branch(&code);
                    let answer = request(port, "PUT", &path, Some(&admin), Some(&body), HANG);
                    (Some(code), answer)
                } else {
                    (
                        None,
                        get(port, "/api/v1/branches/READ01", Some(&admin), HANG),
                    )
                };
                let failed = answer.as_ref().is_none_or(|a| a.status >= 500);
                seen.lock().unwrap().push(Seen {
                    at: Instant::now(),
                    write,
                    answer,
                });
                if failed {
                    // A client backs off a little on 503 rather than spinning.
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }));
    }
    let ready = {
        let (stop, admin) = (stop.clone(), admin.clone());
        std::thread::spawn(move || {
            let mut probes = Vec::new();
            while !stop.load(Ordering::Relaxed) && probes.len() < 2_000 {
                let answer = get(port, "/readyz", Some(&admin), HANG);
                probes.push((Instant::now(), answer.map(|a| a.status)));
                std::thread::sleep(Duration::from_millis(200));
            }
            probes
        })
    };

    std::thread::sleep(Duration::from_secs(2));
    assert!(
        cluster.pg_ctl(&["-m", "fast", "restart"]),
        "restart -m fast"
    );
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        cluster.pg_ctl(&["-m", "immediate", "restart"]),
        "restart -m immediate"
    );
    std::thread::sleep(Duration::from_secs(3));
    assert!(cluster.pg_ctl(&["-m", "fast", "stop"]), "stop");
    let down = Instant::now();
    std::thread::sleep(Duration::from_secs(6));
    // From here on the database may accept connections (pg_ctl returns a moment after).
    let back = Instant::now();
    assert!(cluster.pg_ctl(&["start"]), "start again");
    std::thread::sleep(Duration::from_secs(8));
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.join().unwrap();
    }
    let probes = ready.join().unwrap();

    let seen = seen.lock().unwrap();
    let log = service.log();
    let hangs = seen.iter().filter(|s| s.answer.is_none()).count();
    let answers: Vec<(&Seen, &Answer)> = seen
        .iter()
        .filter_map(|s| s.answer.as_ref().map(|a| (s, a)))
        .collect();
    let ok = answers.iter().filter(|(_, a)| a.status < 300).count();
    let unavailable = answers.iter().filter(|(_, a)| a.status == 503).count();
    let other: Vec<String> = answers
        .iter()
        .filter(|(_, a)| a.status >= 300 && a.status != 503)
        .map(|(_, a)| format!("{} {}", a.status, a.body))
        .collect();
    let longest = answers
        .iter()
        .map(|(_, a)| a.took)
        .max()
        .unwrap_or_default();
    let first_ok_after = answers
        .iter()
        .filter(|(s, a)| s.at > back && a.status < 300)
        .map(|(s, _)| s.at - back)
        .min();
    eprintln!(
        "fault pg_restart: {} requests: {ok} 2xx, {unavailable} 503, {} other, {hangs} unanswered; \
         longest answer {longest:?}; first 2xx {first_ok_after:?} after the database returned",
        seen.len(),
        other.len()
    );
    assert_eq!(hangs, 0, "requests without an answer");
    assert!(
        other.is_empty(),
        "answers other than 2xx and 503: {other:?}"
    );
    assert!(longest <= ANSWER_BOUND, "an answer took {longest:?}");
    assert!(unavailable > 0, "the outage was never seen");
    for (_, a) in answers.iter().filter(|(_, a)| a.status == 503) {
        assert!(a.body.contains("database_unavailable"), "{}", a.body);
    }
    let recovered = first_ok_after.expect("no success after the database returned");
    assert!(
        recovered <= RECOVERY_BOUND,
        "served again only after {recovered:?}"
    );
    // No dead connection left: after the recovery bound, everything succeeds.
    let late_failures: Vec<u16> = answers
        .iter()
        .filter(|(s, a)| s.at > back + RECOVERY_BOUND && a.status >= 300)
        .map(|(_, a)| a.status)
        .collect();
    assert!(
        late_failures.is_empty(),
        "failures after recovery: {late_failures:?}"
    );
    // /readyz: not ready while down (after the pool noticed), ready again after.
    let down_probes: Vec<Option<u16>> = probes
        .iter()
        .filter(|(at, _)| *at > down + Duration::from_secs(1) && *at < back)
        .map(|(_, status)| *status)
        .collect();
    assert!(!down_probes.is_empty());
    assert!(
        down_probes.iter().all(|s| *s == Some(503)),
        "/readyz while the database was down: {down_probes:?}"
    );
    assert!(
        probes
            .iter()
            .any(|(at, status)| *at > back && *status == Some(200)),
        "/readyz never ready again"
    );
    // Every acknowledged write is stored.
    let acknowledged: Vec<&String> = answers
        .iter()
        .filter(|(_, a)| a.status < 300)
        .filter_map(|(s, _)| s.write.as_ref())
        .collect();
    for code in &acknowledged {
        let stored = get(
            port,
            &format!("/api/v1/branches/{code}"),
            Some(&admin),
            HANG,
        )
        .unwrap();
        assert_eq!(stored.status, 200, "acknowledged {code} is not stored");
    }
    assert!(service.alive(), "the service died: {log}");
    assert!(!log.contains("panicked"), "a panic in the log: {log}");
    drop(service);
    let _ = std::fs::remove_dir_all(&folder);
    let _ = cluster.log();
}
