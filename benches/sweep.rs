//! Sweep cost against table size: `cargo bench --bench sweep`.
//!
//! The same number of due deadlines (1,000 expired storage periods) is swept in a SQLite
//! database holding 10,000 and then 1,000,000 other shipments with pending, not-yet-due
//! deadlines. The sweep finds due deadlines through the (state, due_at) index, so both times
//! should be close; their ratio is printed.

use chrono::{DateTime, Utc};
use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;
use postamat::db::{self, DatabaseLocation};
use postamat::jobs::calendar_refresh::CalendarCache;
use postamat::workflows::sweep;
use std::time::Instant;

const DUE: u64 = 1_000;

fn prepare(dir: &std::path::Path, others: u64) -> db::DbPool {
    let pool = db::connect(
        &DatabaseLocation::Sqlite(dir.join(format!("sweep-{others}.db"))),
        1,
    )
    .unwrap();
    let mut conn = pool.get().unwrap();
    db::run_migrations(&mut conn).unwrap();
    let total = others + DUE;
    // One branch, postamat and application; `total` shipments placed in cells. The first DUE
    // have storage deadlines due on 30 Mar 2026; the others' are due in 2027.
    conn.batch_execute(&format!(
        "INSERT INTO branches VALUES ('00000000-0000-7000-8000-000000000001','ALM01','a','b','Алматы','c','d','Asia/Almaty','2026-01-01 00:00:00','2026-01-01 00:00:00');
         INSERT INTO postamats VALUES ('00000000-0000-7000-8000-000000000002','PST-1','Алматы','алматы','a','b','2026-01-01 00:00:00','2026-01-01 00:00:00');
         INSERT INTO applications VALUES ('00000000-0000-7000-8000-000000000003','A-1','R','870412300109','N','+77011234567','ru','postamat',
             '00000000-0000-7000-8000-000000000002','00000000-0000-7000-8000-000000000001','executed','2026-03-01 00:00:00','h','2026-03-01 00:00:00','2026-03-01 00:00:00',0);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {total})
         INSERT INTO shipments (id, application_id, kind, branch_id, delivery_method, status, version, created_at, updated_at)
         SELECT printf('00000000-0000-7000-9000-%012d', i), '00000000-0000-7000-8000-000000000003', 'duplicate',
                '00000000-0000-7000-8000-000000000001', 'postamat', 'placed_in_cell', 0, '2026-03-27 10:00:00', '2026-03-27 10:00:00' FROM n;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {total})
         INSERT INTO deadlines (id, shipment_id, kind, started_at, due_at, calendar_version, state, created_at)
         SELECT printf('00000000-0000-7000-a000-%012d', i), printf('00000000-0000-7000-9000-%012d', i), 'storage', '2026-03-27 10:00:00',
                CASE WHEN i <= {DUE} THEN '2026-03-30 19:00:00' ELSE '2027-03-30 19:00:00' END, 0, 'pending', '2026-03-27 10:00:00' FROM n;"
    ))
    .unwrap();
    pool
}

fn main() {
    let dir = std::env::temp_dir().join(format!("postamat-sweep-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let as_of: DateTime<Utc> = "2026-04-01T00:00:00Z".parse().unwrap();
    let mut times = Vec::new();
    println!(
        "{:>12} {:>8} {:>12} {:>10}",
        "shipments", "due", "sweep (ms)", "vs 10k"
    );
    for others in [10_000u64, 1_000_000] {
        let pool = prepare(&dir, others);
        let mut conn = pool.get().unwrap();
        diesel::sql_query("ANALYZE").execute(&mut conn).unwrap();
        let calendar = CalendarCache::load(&mut conn).unwrap();
        let started = Instant::now();
        let report = sweep::sweep(&mut conn, as_of, &calendar.current()).unwrap();
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(report.due as u64, DUE);
        assert_eq!(report.storage_expired as u64, DUE);
        times.push(elapsed);
        println!(
            "{:>12} {:>8} {:>12.1} {:>10.2}",
            others + DUE,
            report.due,
            elapsed,
            elapsed / times[0]
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}
