//! Fault 1: PostgreSQL restarted (`-m fast`, then `-m immediate`) and then down for a while,
//! under writers and readers. While it is down every request answers within the bound — 503
//! `database_unavailable` with `Retry-After`, never a hang or a 500 — `/readyz` says not ready
//! and the background jobs skip their rounds without crashing; once it is back the service
//! serves again within the bound, with no restart and no dead connection left in its pool; and
//! every acknowledged write is stored.

use crate::cluster::{Cluster, Service, one_at_a_time, scratch};
use crate::http::get;
use crate::pipeline::{HANG, Load, Summary};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Every answer comes within this, database or not: the pool waits at most
/// `postamat::db::POOL_WAIT` (4 s) for a connection, then answers.
const ANSWER_BOUND: Duration = Duration::from_secs(5);
/// The service serves again within this of the database's return.
const RECOVERY_BOUND: Duration = Duration::from_secs(5);
const WRITERS: usize = 16;
const READERS: usize = 4;

#[test]
fn postgresql_restarted_and_down_under_load() {
    let _one = one_at_a_time();
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let folder = scratch("service");
    let mut service = Service::start(&cluster.url(), &folder);
    let port = service.port;
    let admin = service.admin.clone();
    let mut load = Load::prepare(port, &admin);
    let stop = load.stopper();
    load.start(WRITERS, READERS);
    let ready = {
        let (stop, admin) = (stop.0.clone(), admin.clone());
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
    load.finish();
    let probes = ready.join().unwrap();

    let seen = load.seen();
    let all = Summary::of(&seen);
    let first_ok_after = Summary::first_success_after(&seen, back);
    eprintln!(
        "fault pg_restart: {}; first 2xx {first_ok_after:?} after the database returned; {}",
        all.line(),
        load.progress(&seen)
    );
    assert_eq!(all.unanswered, 0, "requests without an answer");
    all.assert_bounded(ANSWER_BOUND);
    assert!(all.unavailable > 0, "the outage was never seen");
    for answer in seen.iter().filter_map(|s| s.answer.as_ref()) {
        if answer.status == 503 {
            assert!(
                answer.body.contains("database_unavailable"),
                "{}",
                answer.body
            );
        }
    }
    let recovered = first_ok_after.expect("no success after the database returned");
    assert!(
        recovered <= RECOVERY_BOUND,
        "served again only after {recovered:?}"
    );
    // No dead connection left: after the recovery bound, everything succeeds.
    let late_failures: Vec<u16> = seen
        .iter()
        .filter(|s| s.at > back + RECOVERY_BOUND && !s.retried)
        .filter_map(|s| s.answer.as_ref())
        .filter(|a| a.status >= 300)
        .map(|a| a.status)
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
    // The invariants of the kill -9 test.
    let events = load.check(port, &cluster.url());
    eprintln!(
        "fault pg_restart: {events} acknowledged events and calls checked, 0 lost, 0 applied twice"
    );
    service.assert_clean();
    drop(service);
    let _ = std::fs::remove_dir_all(&folder);
    let _ = cluster.log();
}
