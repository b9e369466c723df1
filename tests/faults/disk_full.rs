//! Fault 3: SQLite's disk fills up. The database lives on a small tmpfs the test mounts; a
//! filler file takes the rest of it. Writes then answer 503 `storage_full` (never a 500) with
//! nothing half-written, reads keep working, and once the filler is removed writes resume with
//! no restart; every acknowledged write is stored and `PRAGMA integrity_check` is `ok` after.

use crate::cluster::{
    Service, assert_sqlite_sound, is_root, one_at_a_time, put_branch, scratch, second_pass, skip,
};
use crate::http::get;
use crate::pipeline::{Load, Summary};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(10);
const WRITERS: usize = 16;
const READERS: usize = 4;

/// A tmpfs of `size` at a new folder, unmounted (and removed) when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = scratch("disk");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            let _ = std::fs::remove_dir(&dir);
            return None;
        }
        Some(SmallDisk(dir))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Fills the file system of `path`'s folder with one file, bounded by `at_most` bytes.
fn fill(path: &Path, at_most: usize) -> usize {
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0x5a_u8; 16 * 1024];
    let mut written = 0;
    while written < at_most {
        match file.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n,
        }
    }
    let _ = file.sync_all();
    written
}

#[test]
fn sqlite_disk_full_refuses_writes_keeps_reads_and_recovers() {
    if second_pass() {
        return;
    }
    let _one = one_at_a_time();
    if !is_root() {
        return skip("mounting a tmpfs needs root");
    }
    let Some(disk) = SmallDisk::mount("64m") else {
        return skip("tmpfs cannot be mounted here");
    };
    let folder = scratch("service");
    let database = disk.0.join("postamat.db");
    let url = format!("sqlite://{}", database.display());
    let mut service = Service::start(&url, &folder);
    let (port, admin) = (service.port, service.admin.clone());
    // The pipeline's writers and readers run throughout, retrying what is refused.
    let mut load = Load::prepare(port, &admin);
    let _stopper = load.stopper();
    load.start(WRITERS, READERS);
    std::thread::sleep(Duration::from_secs(2));
    let put = |code: &str| put_branch(port, &admin, code, LIMIT).expect("an answer");
    let mut acknowledged = Vec::new();
    for i in 0..20 {
        let code = format!("D{i:04}");
        assert!(put(&code).status < 300, "writes before the disk is full");
        acknowledged.push(code);
    }

    let filler = disk.0.join("filler");
    let filled = fill(&filler, 256 << 20);
    let (mut refused, mut other) = (0, Vec::new());
    // Bounded: the WAL may hold a few more writes in pages it already has.
    for i in 0..500 {
        let code = format!("F{i:04}");
        let answer = put(&code);
        match answer.status {
            200 | 201 => acknowledged.push(code),
            503 => {
                assert!(answer.body.contains("storage_full"), "{}", answer.body);
                refused += 1;
                if refused >= 5 {
                    break;
                }
            }
            _ => other.push(format!("{} {}", answer.status, answer.body)),
        }
    }
    let reads = get(port, "/api/v1/branches?limit=5", Some(&admin), LIMIT).expect("an answer");
    // /readyz says so while writes are refused (a pipeline write squeezed into a page the WAL
    // still had would clear it for a moment: tried a bounded number of times).
    let not_ready = (0..20).find_map(|i| {
        let _ = put(&format!("Q{i:04}"));
        let ready = get(port, "/readyz", None, LIMIT).expect("an answer");
        (ready.status == 503).then_some(ready.body)
    });
    let not_ready = not_ready.expect("/readyz was ready while the disk was full");
    assert!(not_ready.contains("storage_full"), "{not_ready}");
    std::thread::sleep(Duration::from_secs(2));
    eprintln!(
        "fault disk_full: filler {filled} bytes; {refused} writes refused; {} acknowledged; \
         other {other:?}; a read while full answered {}",
        acknowledged.len(),
        reads.status
    );
    assert!(
        other.is_empty(),
        "answers other than 2xx and 503: {other:?}"
    );
    assert!(refused >= 5, "the full disk was never seen");
    assert_eq!(
        reads.status, 200,
        "reads while the disk is full: {}",
        reads.body
    );

    std::fs::remove_file(&filler).unwrap();
    let resumed = (0..20)
        .map(|i| {
            let code = format!("R{i:04}");
            (put(&code), code)
        })
        .find(|(answer, _)| answer.status < 300);
    let (_, code) = resumed.expect("writes did not resume once space was freed");
    acknowledged.push(code);
    let ready = get(port, "/readyz", None, LIMIT).expect("an answer");
    assert_eq!(
        ready.status, 200,
        "/readyz once writes resumed: {}",
        ready.body
    );
    std::thread::sleep(Duration::from_secs(3));
    load.finish();
    let seen = load.seen();
    let all = Summary::of(&seen);
    eprintln!(
        "fault disk_full pipeline: {}; {}",
        all.line(),
        load.progress(&seen)
    );
    assert_eq!(all.unanswered, 0);
    all.assert_bounded(LIMIT);
    let events = load.check(port, &url);
    eprintln!(
        "fault disk_full: {events} acknowledged events and calls checked, 0 lost, 0 applied twice"
    );
    for code in &acknowledged {
        let stored = get(
            port,
            &format!("/api/v1/branches/{code}"),
            Some(&admin),
            LIMIT,
        )
        .unwrap();
        assert_eq!(stored.status, 200, "acknowledged {code} is not stored");
    }
    service.assert_clean();
    drop(service);
    assert_sqlite_sound(&database);
    let _ = std::fs::remove_dir_all(&folder);
}
