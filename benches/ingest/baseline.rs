//! The baseline the service is measured against, in the same run on the same database: the
//! least an applied event must write, from a pool in this process and, on PostgreSQL, pgbench.

use crate::database::pool;
use crate::measure::Measure;
use chrono::Utc;
use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;
use postamat::db::write_transaction;
use std::process::Command;
use std::time::{Duration, Instant};

/// The baseline: `connections` threads on one pool, each transaction one UPDATE by key and two
/// INSERTs, for `seconds`.
pub fn baseline(url: &str, connections: usize, seconds: u64) -> Measure {
    let pool = pool(url, connections as u32);
    {
        let mut conn = pool.get().unwrap();
        conn.batch_execute(
            "DROP TABLE IF EXISTS bench_counters; DROP TABLE IF EXISTS bench_log_a; \
             DROP TABLE IF EXISTS bench_log_b; \
             CREATE TABLE bench_counters (id BIGINT PRIMARY KEY, n BIGINT NOT NULL); \
             CREATE TABLE bench_log_a (id TEXT PRIMARY KEY, counter BIGINT NOT NULL, at TIMESTAMP NOT NULL); \
             CREATE TABLE bench_log_b (id TEXT PRIMARY KEY, counter BIGINT NOT NULL, at TIMESTAMP NOT NULL);",
        )
        .unwrap();
        let rows: Vec<String> = (0..10_000).map(|i| format!("({i}, 0)")).collect();
        for chunk in rows.chunks(1000) {
            conn.batch_execute(&format!(
                "INSERT INTO bench_counters (id, n) VALUES {}",
                chunk.join(",")
            ))
            .unwrap();
        }
    }
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let threads: Vec<_> = (0..connections)
        .map(|t| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let mut conn = pool.get().unwrap();
                let mut latencies = Vec::new();
                let mut i: i64 = 0;
                while Instant::now() < deadline {
                    let key = (t as i64 * 7919 + i * 104_729) % 10_000;
                    let id = format!("{t}-{i}");
                    let at = Utc::now().naive_utc();
                    let one = Instant::now();
                    write_transaction(&mut conn, |conn| {
                        diesel::sql_query("UPDATE bench_counters SET n = n + 1 WHERE id = $1")
                            .bind::<diesel::sql_types::BigInt, _>(key)
                            .execute(conn)?;
                        for table in ["bench_log_a", "bench_log_b"] {
                            diesel::sql_query(format!(
                                "INSERT INTO {table} (id, counter, at) VALUES ($1, $2, $3)"
                            ))
                            .bind::<diesel::sql_types::Text, _>(&id)
                            .bind::<diesel::sql_types::BigInt, _>(key)
                            .bind::<diesel::sql_types::Timestamp, _>(at)
                            .execute(conn)?;
                        }
                        Ok::<_, diesel::result::Error>(())
                    })
                    .unwrap();
                    latencies.push(one.elapsed());
                    i += 1;
                }
                latencies
            })
        })
        .collect();
    let latencies: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    Measure {
        label: format!("baseline: 1 UPDATE + 2 INSERT, {connections} conn"),
        count: latencies.len(),
        elapsed: started.elapsed(),
        latencies,
        failures: 0,
        server_unavailable: 0,
        rss_kib: None,
        cpu: None,
    }
}

/// pgbench with the baseline's statements, prepared; `None` when pgbench is not installed.
pub fn pgbench(url: &str, connections: usize, seconds: u64) -> Option<f64> {
    let script = std::env::temp_dir().join(format!("postamat-pgbench-{}.sql", std::process::id()));
    std::fs::write(
        &script,
        "\\set key random(0, 9999)\n\
         BEGIN;\n\
         UPDATE bench_counters SET n = n + 1 WHERE id = :key;\n\
         INSERT INTO bench_log_a (id, counter, at) VALUES (gen_random_uuid()::text, :key, now());\n\
         INSERT INTO bench_log_b (id, counter, at) VALUES (gen_random_uuid()::text, :key, now());\n\
         END;\n",
    )
    .ok()?;
    let output = Command::new("pgbench")
        .args(["-n", "-M", "prepared", "-j", "2"])
        .arg(format!("-c{connections}"))
        .arg(format!("-T{seconds}"))
        .arg("-f")
        .arg(&script)
        .arg(url)
        .output()
        .ok()?;
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
}
