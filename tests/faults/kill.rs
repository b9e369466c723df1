//! The kill -9 test, in the suite: the service killed (SIGKILL) in the middle of the pipeline
//! load and started again on the same database and port, on each backend. Requests in flight
//! when it died go unanswered (the client sees the connection drop) and are sent again; every
//! other answer is 2xx or 503, and after the restart the invariants hold — every acknowledged
//! event and call is stored and answers as a repeat, nothing is applied twice, every placement
//! has its one message.

use crate::cluster::{Cluster, Service, one_at_a_time, scratch, second_pass};
use crate::pipeline::{Load, Summary};
use std::time::{Duration, Instant};

const WRITERS: usize = 16;
const READERS: usize = 4;

fn killed_under_load(url: &str, folder: &std::path::Path, backend: &str) {
    let mut service = Service::start(url, folder);
    let port = service.port;
    let mut load = Load::prepare(port, &service.admin);
    let _stopper = load.stopper();
    load.start(WRITERS, READERS);
    std::thread::sleep(Duration::from_secs(3));
    let killed = Instant::now();
    service.kill();
    std::thread::sleep(Duration::from_secs(1));
    let mut service = Service::start_on(url, folder, port);
    let back = Instant::now();
    std::thread::sleep(Duration::from_secs(4));
    load.finish();
    let seen = load.seen();
    let all = Summary::of(&seen);
    let (completed, _) = load.completed();
    // Unanswered: only while no service was there (and those in flight at the kill).
    let stray: Vec<Duration> = seen
        .iter()
        .filter(|s| s.answer.is_none() && (s.at < killed || s.at > back + Duration::from_secs(1)))
        .map(|s| s.at.saturating_duration_since(killed))
        .collect();
    eprintln!(
        "fault kill ({backend}): {} (unanswered: around the kill); {}",
        all.line(),
        load.progress(&seen)
    );
    assert!(stray.is_empty(), "unanswered away from the kill: {stray:?}");
    assert!(all.unanswered > 0, "the kill was never seen");
    assert!(
        all.other.is_empty(),
        "answers other than 2xx and 503: {:?}",
        all.other
    );
    assert!(completed > 0, "no document went through the pipeline");
    let checked = load.check(port, url);
    eprintln!(
        "fault kill ({backend}): {checked} acknowledged events and calls checked, 0 lost, 0 applied twice"
    );
    service.assert_clean();
}

#[test]
fn the_service_killed_under_load_on_sqlite_loses_nothing() {
    if second_pass() {
        return;
    }
    let _one = one_at_a_time();
    let folder = scratch("kill-sqlite");
    let url = format!("sqlite://{}", folder.join("postamat.db").display());
    killed_under_load(&url, &folder, "sqlite");
    crate::cluster::assert_sqlite_sound(&folder.join("postamat.db"));
    let _ = std::fs::remove_dir_all(&folder);
}

#[test]
fn the_service_killed_under_load_on_postgresql_loses_nothing() {
    let _one = one_at_a_time();
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let folder = scratch("kill-pg");
    killed_under_load(&cluster.url(), &folder, "postgres");
    let _ = std::fs::remove_dir_all(&folder);
}
