//! Fault 5: backup and restore on PostgreSQL, as docs/operations.md tells an operator to do it.
//! `pg_dump --format=custom` while writers run, `pg_restore --no-owner` into a new database,
//! the service serving from it: every write acknowledged before the dump began is there, and the
//! restored service takes new writes.

use crate::cluster::{Cluster, Service, branch, scratch};
use crate::http::{get, request};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(10);
const WRITERS: usize = 4;

fn put(port: u16, admin: &str, code: &str) -> Option<u16> {
    request(
        port,
        "PUT",
        &format!("/api/v1/branches/{code}"),
        Some(admin),
        Some(&branch(code)),
        LIMIT,
    )
    .map(|a| a.status)
}

#[test]
fn a_dump_under_load_restores_every_acknowledged_write() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let folder = scratch("backup");
    let service = Service::start(&cluster.url(), &folder);
    let (port, admin) = (service.port, Arc::new(service.admin.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    // (code, when its 2xx answer arrived)
    let acknowledged = Arc::new(Mutex::new(Vec::<(String, Instant)>::new()));
    let workers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (stop, acknowledged, admin) = (stop.clone(), acknowledged.clone(), admin.clone());
            std::thread::spawn(move || {
                for i in 0..20_000 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let code = format!("B{w}W{i:05}");
                    let status = put(port, &admin, &code).expect("an answer");
                    assert!(status < 300, "a write answered {status} before any fault");
                    acknowledged.lock().unwrap().push((code, Instant::now()));
                }
            })
        })
        .collect();
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
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.join().unwrap();
    }
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
    let restored = Service::start(&restored_url, &folder);
    let acknowledged = acknowledged.lock().unwrap();
    let before: Vec<&String> = acknowledged
        .iter()
        .filter(|(_, at)| *at < dump_started)
        .map(|(code, _)| code)
        .collect();
    let mut missing = Vec::new();
    for code in &before {
        let answer = get(
            restored.port,
            &format!("/api/v1/branches/{code}"),
            Some(&restored.admin),
            LIMIT,
        )
        .expect("an answer");
        if answer.status != 200 {
            missing.push(code.to_string());
        }
    }
    let after = acknowledged.len() - before.len();
    eprintln!(
        "fault backup: {} writes acknowledged, {} before the dump began (all checked), {after} \
         during or after it; dump took {dump_took:?}; missing {missing:?}",
        acknowledged.len(),
        before.len()
    );
    assert!(!before.is_empty());
    assert!(
        missing.is_empty(),
        "acknowledged before the dump, not restored: {missing:?}"
    );
    assert_eq!(
        put(restored.port, &restored.admin, "AFTERRESTORE"),
        Some(201)
    );
    drop(restored);
    let _ = std::fs::remove_dir_all(&folder);
}
