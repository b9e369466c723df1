//! Fault 5: backup and restore on PostgreSQL, as docs/operations.md tells an operator to do it.
//! `pg_dump --format=custom` while writers run, `pg_restore --no-owner` into a new database,
//! the service serving from it: every write acknowledged before the dump began is there, and the
//! restored service takes new writes.

use crate::cluster::{Cluster, Service, one_at_a_time, put_branch, scratch};
use crate::pipeline::{Load, Summary};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(10);
const WRITERS: usize = 16;
const READERS: usize = 4;

#[test]
fn a_dump_under_load_restores_every_acknowledged_write() {
    let _one = one_at_a_time();
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let folder = scratch("backup");
    let mut service = Service::start(&cluster.url(), &folder);
    let mut load = Load::prepare(service.port, &service.admin);
    let _stopper = load.stopper();
    load.start(WRITERS, READERS);
    std::thread::sleep(Duration::from_secs(2));
    let dump = folder.join("postamat.dump");
    let dump_started = Instant::now();
    assert!(
        cluster.client(
            "pg_dump",
            &[
                "--format=custom",
                "--file",
                dump.to_str().unwrap(),
                "-d",
                &cluster.url()
            ]
        ),
        "pg_dump"
    );
    let dump_took = dump_started.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    load.finish();
    let seen = load.seen();
    let all = Summary::of(&seen);
    assert_eq!(
        all.ok, all.requests,
        "a request failed with no fault: {:?}",
        all.other
    );
    service.assert_clean();
    drop(service);

    let restored_url = cluster.url().replace("/postgres?", "/restored?");
    assert!(
        cluster.client(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &cluster.port.to_string(),
                "-U",
                "postgres",
                "restored"
            ]
        ),
        "createdb"
    );
    assert!(
        cluster.client(
            "pg_restore",
            &["--no-owner", "-d", &restored_url, dump.to_str().unwrap()]
        ),
        "pg_restore"
    );
    let mut restored = Service::start(&restored_url, &folder);
    // Every event acknowledged before the dump began is there (and answers duplicate), with
    // the invariants of the kill -9 test on the restored database.
    let (completed, _) = load.completed();
    let before = load.check_until(restored.port, &restored_url, Some(dump_started));
    eprintln!(
        "fault backup: {} requests, all 2xx; {completed} units through the pipeline; {before} \
         Kaspi events and integration calls acknowledged before the dump began, all restored; dump took {dump_took:?}",
        all.requests
    );
    assert!(before > 0);
    assert_eq!(
        put_branch(restored.port, &restored.admin, "AFTERRESTORE", LIMIT).map(|a| a.status),
        Some(201)
    );
    restored.assert_clean();
    drop(restored);
    let _ = std::fs::remove_dir_all(&folder);
}
