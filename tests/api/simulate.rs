//! `postamat simulate` (issue 15) on the test backend: a small period (2 branches × 5 days ×
//! 50 applications a day each) is deterministic for its seed, leaves every shipment where the state
//! machine allows, leaves no deadline pending past its due time, reports what the SLA endpoint
//! answers, renders in Chromium, and a force-majeure period moves the deadlines it covers.

use crate::common::TestApp;
use chrono::NaiveDate;
use postamat::config::Config;
use postamat::db::models::report;
use postamat::domain::role::Role;
use postamat::domain::shipment::{Actor, ShipmentEvent, ShipmentState, transition};
use postamat::sim::model::Rates;
use postamat::sim::{self, ForceMajeureSpec, Settings};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn settings(force_majeure: &[&str]) -> Settings {
    Settings {
        from: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
        days: 5,
        branches: vec!["ALM01".parse().unwrap(), "AST01".parse().unwrap()],
        per_day: 100,
        seed: 7,
        // More losses and late placements than by default, so a small run walks those paths.
        // Issue 23's paths at rates that make a small run walk each of them.
        rates: Rates {
            loss: 0.06,
            placement_late: 0.3,
            lost_after_sealing: 0.02,
            not_accepted: 0.04,
            postamat_change: 0.05,
            con_instead: 0.04,
            removed_early: 0.04,
            ..Rates::default()
        },
        force_majeure: force_majeure.iter().map(|s| s.parse().unwrap()).collect(),
        pilot: postamat::domain::application::PilotWindow {
            starts_on: NaiveDate::from_ymd_opt(2026, 2, 13).unwrap(),
            ends_on: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
        },
        dispatch: Config::from_vars(Default::default()).unwrap().dispatch,
        lanes: 1,
    }
}

/// Runs a simulation in a fresh test database and writes its report to `target/tmp/sim/NAME`.
async fn simulate(name: &str, settings: Settings) -> (TestApp, PathBuf, sim::report::Report) {
    let app = TestApp::new().await;
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("simulate")
        .join(format!("{name}-{}", app.backend()));
    let _ = std::fs::remove_dir_all(&dir);
    let pool = app.pool.clone();
    let out = dir.clone();
    let report = actix_web::web::block(move || {
        let outcome = sim::run(&pool, &settings, &|_, _| {}).expect("the simulation runs");
        let mut conn = pool.get().unwrap();
        assert_eq!(
            outcome.applications,
            u64::from(settings.days * settings.per_day)
        );
        let report = sim::report::gather(&mut conn, &settings).unwrap();
        sim::report::write(&report, &settings, &out).unwrap();
        report
    })
    .await
    .unwrap();
    (app, dir, report)
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn a_simulated_week_is_repeatable_consistent_and_reported_as_the_api_reports_it() {
    let (app, dir, report) = simulate("week", settings(&[])).await;
    // Run again with the branches dealt out to two lanes, each on a connection of its own
    // acting beside the other (on PostgreSQL; SQLite runs one lane whatever is asked).
    let two_lanes = Settings {
        lanes: 2,
        ..settings(&[])
    };
    let (_again, dir_again, _) = simulate("week-again", two_lanes).await;

    // The same seed: the same report, byte for byte, however the branches are spread.
    let (first, second) = (files(&dir), files(&dir_again));
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        [
            "courier_load.csv",
            "courier_load.svg",
            "daily.csv",
            "daily.svg",
            "index.html",
            "outcomes.csv",
            "paths.csv",
            "sla.csv",
            "sla.svg",
            "time_in_state.csv"
        ]
    );
    for (name, bytes) in &first {
        assert!(bytes == &second[name], "{name} differs between two runs");
    }

    // The run walked the paths it models.
    for state in [
        ShipmentState::Collected,
        ShipmentState::IssuedAtCon,
        ShipmentState::Lost,
        ShipmentState::PlacedInCell,
    ] {
        assert!(report.entered(state) > 0, "no document entered {state}");
    }
    // Issue 23 traps 1–3, each through its workflow.
    for event in [
        "lost",
        "brought_back",
        "postamat_changed",
        "rerouted_to_con",
        "removed_early",
    ] {
        assert!(report.path_total(event) > 0, "no document took {event}");
    }
    let paths = String::from_utf8(first["paths.csv"].clone()).unwrap();
    assert!(paths.contains("the ЦОН instead of the postamat"), "{paths}");

    let pool = app.pool.clone();
    let settings = settings(&[]);
    let end = settings.end();
    let (moves, backlog) = actix_web::web::block(move || {
        let mut conn = pool.get().unwrap();
        let ids: Vec<_> = report::shipments_now(&mut conn)
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        let moves = report::moves_of(&mut conn, &ids).unwrap();
        (moves, report::backlog(&mut conn, end).unwrap())
    })
    .await
    .unwrap();

    // Every move any shipment made is one the state machine allows, by that actor, on the
    // route it was on then: a document re-routed to the ЦОН (issue 23) was on the postamat
    // route up to and including the re-route.
    assert!(moves.len() > 1000, "{}", moves.len());
    let rerouted: std::collections::HashMap<_, _> = moves
        .iter()
        .filter(|m| m.event == "rerouted_to_con")
        .map(|m| (m.shipment_id, m.occurred_at))
        .collect();
    for m in moves.iter().filter(|m| m.from.is_some()) {
        let method = match rerouted.get(&m.shipment_id) {
            Some(at) if m.occurred_at <= *at => {
                postamat::domain::shipment::DeliveryMethod::Postamat
            }
            _ => m.delivery_method,
        };
        let from = ShipmentState::parse(m.from.as_deref().unwrap()).unwrap();
        let to = ShipmentState::parse(&m.to).unwrap();
        let event = ShipmentEvent::parse(&m.event)
            .unwrap_or_else(|| panic!("unknown event {} in history", m.event));
        let actor = match &m.actor_role {
            Some(role) => Actor::Role(role.parse::<Role>().unwrap()),
            None => Actor::Sweeper,
        };
        let allowed =
            transition(from, event, method, actor).unwrap_or_else(|e| panic!("{m:?}: {e}"));
        assert_eq!(allowed.to, to, "{m:?}");
    }

    // The last sweep left nothing due behind.
    assert_eq!(backlog.due_deadlines, 0, "{backlog:?}");

    // sla.csv is what the endpoint answers for the period.
    let supervisor = app.token(Role::Supervisor, None).await;
    let answered = app
        .get(
            "/api/v1/reports/sla?from=2026-03-02&to=2026-03-06&format=csv",
            Some(&supervisor),
        )
        .await;
    assert_eq!(answered.status.as_u16(), 200, "{}", answered.text);
    assert_eq!(
        answered.text.as_bytes(),
        first["sla.csv"].as_slice(),
        "sla.csv vs the SLA endpoint"
    );
    assert!(answered.text.lines().count() > 4, "{}", answered.text);

    // Everything the page links to is beside it, and the charts are whole SVG documents.
    let html = String::from_utf8(first["index.html"].clone()).unwrap();
    let links = regex::Regex::new(r#"(?:src|href)="([^"]+)""#).unwrap();
    for link in links.captures_iter(&html) {
        assert!(
            first.contains_key(&link[1]),
            "index.html links to a missing {}",
            &link[1]
        );
    }
    for (name, bytes) in first.iter().filter(|(n, _)| n.ends_with(".svg")) {
        let svg = String::from_utf8_lossy(bytes);
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{name}"
        );
        assert!(svg.contains("<text"), "{name} has no labels");
    }
    // The report renders in a browser without errors.
    crate::printed::screenshot(
        "simulation report",
        &dir.join("index.html"),
        &dir.join("index.png"),
    );
}

/// Every deadline the API shows for the applications of one branch and day, by number and kind.
async fn due_dates(app: &TestApp, branch: &str, day: &str) -> BTreeMap<(String, String), String> {
    let clerk = app.token(Role::AccumulationClerk, Some(branch)).await;
    let mut due = BTreeMap::new();
    for n in 1..=50 {
        let number = format!("{branch}-{day}-{n:05}");
        let view: Value = app
            .get(&format!("/api/v1/applications/{number}"), Some(&clerk))
            .await
            .assert_status(200);
        for shipment in view["shipments"].as_array().unwrap() {
            for deadline in shipment["deadlines"].as_array().unwrap() {
                due.insert(
                    (
                        number.clone(),
                        deadline["kind"].as_str().unwrap().to_owned(),
                    ),
                    deadline["due_at"].as_str().unwrap().to_owned(),
                );
            }
        }
    }
    due
}

#[actix_web::test]
async fn a_force_majeure_period_moves_the_deadlines_it_covers_and_closes_the_branch() {
    let fm = "ALM01:2026-03-03..2026-03-04";
    let (plain, _, plain_report) = simulate("plain", settings(&[])).await;
    let (closed, _, closed_report) = simulate("force-majeure", settings(&[fm])).await;
    let spec: ForceMajeureSpec = fm.parse().unwrap();

    let before = due_dates(&plain, "ALM01", "20260302").await;
    let after = due_dates(&closed, "ALM01", "20260302").await;
    let mut moved = 0;
    for (key, due) in &after {
        if let Some(plain_due) = before.get(key) {
            assert!(due >= plain_due, "{key:?}: {due} earlier than {plain_due}");
            moved += usize::from(due > plain_due);
        }
    }
    assert!(moved > 0, "no deadline moved: {after:?}");

    // The branch did nothing while closed; the other branch worked as usual.
    let handovers_on = |r: &sim::report::Report, branch: &str| {
        r.handovers
            .iter()
            .filter(|h| h.1 == branch)
            .filter(|h| {
                let day = h.0.with_timezone(&chrono_tz::Asia::Almaty).date_naive();
                spec.first <= day && day <= spec.last
            })
            .count()
    };
    assert!(handovers_on(&plain_report, "ALM01") > 0);
    assert_eq!(handovers_on(&closed_report, "ALM01"), 0);
    assert_eq!(
        handovers_on(&closed_report, "AST01"),
        handovers_on(&plain_report, "AST01")
    );
}

/// Issue 25: every table of the pilot report as CSV holds the same figures as the JSON, row by
/// row and column by column.
pub fn assert_csv_is_the_json(report: &Value, table: &str, csv: &str) {
    let rows = report[table]
        .as_array()
        .unwrap_or_else(|| panic!("no table {table}"));
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let body: Vec<&str> = lines.collect();
    assert_eq!(body.len(), rows.len(), "{table}: {csv}");
    for (line, row) in body.iter().zip(rows) {
        let cells = split_csv(line);
        assert_eq!(cells.len(), header.len(), "{table}: {line}");
        for (column, cell) in header.iter().zip(cells) {
            let value = &row[*column];
            let expected = match value {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(cell, expected, "{table}.{column}: {line} vs {row}");
        }
    }
}

fn split_csv(line: &str) -> Vec<String> {
    let (mut cells, mut cell, mut quoted, mut chars) =
        (Vec::new(), String::new(), false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => cells.push(std::mem::take(&mut cell)),
            (c, _) => cell.push(c),
        }
    }
    cells.push(cell);
    cells
}

/// Issue 25: a simulated month's pilot report, written by `postamat simulate`, is what
/// `GET /api/v1/reports/pilot` answers over its database — JSON and each table's CSV — and its
/// figures add up.
#[actix_web::test]
async fn a_simulated_months_pilot_report_is_what_the_api_answers_over_its_database() {
    let mut month = settings(&[]);
    month.days = 31;
    month.per_day = 20;
    let (app, dir, report) = simulate("month", month.clone()).await;
    let written: Value =
        serde_json::from_slice(&std::fs::read(dir.join("pilot/pilot.json")).unwrap()).unwrap();
    assert_eq!(written, serde_json::to_value(&report.pilot).unwrap());
    app.clock.set(month.end());
    let supervisor = app.token(Role::Supervisor, None).await;
    let url = format!(
        "/api/v1/reports/pilot?from={}&to={}",
        month.from,
        month.last_day()
    );
    let answered = app.get(&url, Some(&supervisor)).await.assert_status(200);
    assert_eq!(answered, written, "the API and the simulation read alike");
    for table in postamat::reports::pilot::TABLES {
        let csv = app
            .get(
                &format!("{url}&format=csv&table={table}"),
                Some(&supervisor),
            )
            .await;
        assert_eq!(csv.status.as_u16(), 200, "{}", csv.text);
        let file = std::fs::read_to_string(dir.join(format!("pilot/{table}.csv"))).unwrap();
        assert_eq!(csv.text, file, "{table}.csv");
        assert_csv_is_the_json(&answered, table, &csv.text);
    }
    // The figures hold together: the total row adds up the branches, and every collected
    // postamat document of the month is in the headline.
    let volumes = answered["volumes"].as_array().unwrap();
    let total = volumes.last().unwrap();
    assert_eq!(total["branch"], "all");
    for column in ["applications_postamat", "executed", "placed", "collected"] {
        let sum: i64 = volumes[..volumes.len() - 1]
            .iter()
            .map(|r| r[column].as_i64().unwrap())
            .sum();
        assert_eq!(total[column].as_i64().unwrap(), sum, "{column}");
    }
    assert_eq!(
        total["applications_postamat"].as_i64().unwrap()
            + total["applications_con"].as_i64().unwrap(),
        31 * 20
    );
    let headline = answered["headline"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(
        headline["postamat_deliveries"].as_i64().unwrap() > 100,
        "{headline}"
    );
    assert!(
        headline["without_exception"].as_i64().unwrap()
            < headline["postamat_deliveries"].as_i64().unwrap(),
        "{headline}"
    );
    let legs: Vec<&str> = answered["time_to_citizen"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["branch"] == "all")
        .map(|r| r["measure"].as_str().unwrap())
        .collect();
    assert_eq!(
        legs,
        [
            "execution_to_collection",
            "execution_to_issue",
            "execution_to_intake",
            "intake_to_handover",
            "handover_to_acceptance",
            "acceptance_to_placement",
            "placement_to_collection"
        ]
    );
    // A branch supervisor sees their branch only; another branch is not found.
    let branch = app.token(Role::Supervisor, Some("ALM01")).await;
    let own = app.get(&url, Some(&branch)).await.assert_status(200);
    assert_eq!(own["branch"], "ALM01");
    app.get(&format!("{url}&branch=AST01"), Some(&branch))
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("{url}&format=csv"), Some(&supervisor))
        .await
        .assert_problem(400, "invalid_query");

    // `postamat report pilot` writes the same figures to files, and the printable page in both
    // languages, which renders in Chromium without an error.
    let out_dir = dir.join("cli-report");
    let _ = std::fs::remove_dir_all(&out_dir);
    let (database_url, from, to, out) = (
        app.database_url.clone(),
        month.from.to_string(),
        month.last_day().to_string(),
        out_dir.display().to_string(),
    );
    let run = actix_web::web::block(move || {
        crate::cli::postamat(
            &database_url,
            &[
                "report", "pilot", "--from", &from, "--to", &to, "--out", &out,
            ],
        )
    })
    .await
    .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let by_cli: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("pilot.json")).unwrap()).unwrap();
    // Read at the wall clock, not the simulated one: the figures of a finished month agree.
    for table in [
        "headline",
        "volumes",
        "time_to_citizen",
        "returns",
        "losses",
        "duplicates",
    ] {
        assert_eq!(by_cli[table], written[table], "{table}");
    }
    for (language, heading) in [
        ("kk", "Пилоттық жобаның нәтижелері"),
        ("ru", "Результаты пилотного проекта"),
    ] {
        let page = out_dir.join(format!("pilot-{language}.html"));
        let html = std::fs::read_to_string(&page).unwrap();
        assert!(html.contains(heading), "{language}");
        assert!(html.matches("<svg").count() >= 2, "{language}: charts");
        crate::printed::screenshot(
            &format!("pilot report {language}"),
            &page,
            &page.with_extension("png"),
        );
    }
}
