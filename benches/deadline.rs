//! Deadline computation speed: `cargo bench --bench deadline`.
//!
//! Shows that computing a deadline is a pure in-memory operation. Each rule is timed over the
//! same spread of start instants across 2026, side by side with two baselines: the time-zone
//! conversion every rule has to do anyway, and one indexed read of the stored calendar from
//! SQLite (what each computation would cost if it queried the database).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use diesel::RunQueryDsl;
use postamat::db::{self, DatabaseLocation};
use postamat::domain::calendar::{Calendar, rules};
use postamat::domain::deadline::{DeadlineKind, Rule, due};
use postamat::domain::force_majeure::{Suspension, extended_due};
use std::hint::black_box;
use std::time::Instant;

const ALMATY: chrono_tz::Tz = chrono_tz::Asia::Almaty;

fn starts(n: usize) -> Vec<DateTime<Utc>> {
    let first = "2026-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
    // A prime step in minutes walks every hour of the day and every day of the year.
    (0..n)
        .map(|i| first + Duration::minutes((i as i64 * 7919) % (360 * 24 * 60)))
        .collect()
}

/// Runs `f` over every start `rounds` times; returns computations per second.
fn measure(
    starts: &[DateTime<Utc>],
    rounds: usize,
    mut f: impl FnMut(DateTime<Utc>) -> i64,
) -> f64 {
    let mut sink = 0i64;
    let began = Instant::now();
    for _ in 0..rounds {
        for &s in starts {
            sink = sink.wrapping_add(f(black_box(s)));
        }
    }
    let elapsed = began.elapsed().as_secs_f64();
    black_box(sink);
    (starts.len() * rounds) as f64 / elapsed
}

fn main() {
    let kurban = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
    let calendar = Calendar::new(
        1,
        [
            rules::generate(2025, kurban(2025, 6, 6)),
            rules::generate(2026, kurban(2026, 5, 27)),
            rules::generate(2027, None),
        ],
    );
    let starts = starts(10_000);
    let rounds = 100;
    let suspensions = [
        Suspension {
            start: "2026-03-02T03:00:00Z".parse().unwrap(),
            end: Some("2026-03-04T03:00:00Z".parse().unwrap()),
        },
        Suspension {
            start: "2026-07-10T03:00:00Z".parse().unwrap(),
            end: Some("2026-07-11T03:00:00Z".parse().unwrap()),
        },
    ];

    let baseline = measure(&starts, rounds, |s| {
        let local = s.with_timezone(&ALMATY).date_naive();
        local.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp()
    });
    println!("{:<44} {:>14} {:>10}", "operation", "per second", "vs tz");
    println!(
        "{:<44} {:>14.0} {:>10.2}",
        "baseline: time-zone conversion only", baseline, 1.0
    );

    let mut rows: Vec<(String, Rule)> = DeadlineKind::ALL
        .into_iter()
        .map(|k| (format!("{} ({})", k.as_str(), k.rule()), k.rule()))
        .collect();
    rows.push(("working_days:20".into(), Rule::WorkingDays(20)));
    for (name, rule) in rows {
        let rate = measure(&starts, rounds, |s| {
            due(rule, s, ALMATY, &calendar).unwrap().at.timestamp()
        });
        println!("{name:<44} {rate:>14.0} {:>10.2}", rate / baseline);
    }
    let rate = measure(&starts, rounds, |s| {
        match extended_due(
            DeadlineKind::PointWait.rule(),
            s,
            ALMATY,
            &calendar,
            &suspensions,
        )
        .unwrap()
        {
            postamat::domain::force_majeure::Extended::Due(d) => d.at.timestamp(),
            postamat::domain::force_majeure::Extended::Suspended { since } => since.timestamp(),
        }
    });
    println!(
        "{:<44} {rate:>14.0} {:>10.2}",
        "point_wait with 2 force-majeure periods",
        rate / baseline
    );

    // The database baseline: one indexed read per computation, on a local SQLite file.
    let dir = std::env::temp_dir().join(format!("postamat-bench-{}", std::process::id()));
    let pool = db::connect(&DatabaseLocation::Sqlite(dir.join("bench.db")), 1).unwrap();
    let mut conn = pool.get().unwrap();
    db::run_migrations(&mut conn).unwrap();
    let db_starts = &starts[..2_000];
    let rate = measure(db_starts, 1, |s| {
        use chrono::Datelike;
        let year = s.with_timezone(&ALMATY).year();
        diesel::sql_query(format!(
            "SELECT year FROM calendar_years WHERE year = {year}"
        ))
        .execute(&mut conn)
        .unwrap() as i64
    });
    println!(
        "{:<44} {rate:>14.0} {:>10.2}",
        "baseline: one SQLite point query",
        rate / baseline
    );
    drop(conn);
    drop(pool);
    let _ = std::fs::remove_dir_all(dir);
}
