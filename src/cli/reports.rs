//! `postamat report` (the pilot's report and its CSV files) and `postamat simulate`.

use super::{ReportCommand, SimulateArgs, open_database};
use crate::clock::Clock;
use crate::config::Config;
use crate::db::{self};
use crate::domain::reference::BranchCode;
use crate::jobs::calendar_refresh::CalendarCache;
use anyhow::Context;

pub(super) fn write_report(config: &Config, report: ReportCommand) -> anyhow::Result<()> {
    let ReportCommand::Pilot {
        from,
        to,
        branch,
        out,
    } = report;
    let pool = open_database(config)?;
    let mut conn = pool.get().context("cannot get a database connection")?;
    let calendar = CalendarCache::load(&mut conn).context("cannot load the calendar")?;
    let branch = match branch {
        Some(code) => Some(
            crate::db::models::branch::find_by_code(&mut conn, code.as_str())?
                .ok_or_else(|| anyhow::anyhow!("--branch {code}: no such branch"))?
                .id,
        ),
        None => None,
    };
    let request = crate::reports::pilot::Request {
        first: from,
        last: to,
        branch,
        now: Clock::System.now(),
        quiet_hours: config.dispatch.quiet_hours,
    };
    let report = crate::reports::pilot::gather(
        &mut conn,
        &crate::db::models::branch::BranchScope::All,
        request,
        &calendar.current().calendar,
    )?;
    crate::reports::pilot::write_files(&report, &out)
        .with_context(|| format!("writing {}", out.display()))?;
    for language in [
        crate::domain::notification::Language::Kk,
        crate::domain::notification::Language::Ru,
    ] {
        let page = crate::api::console::pilot_report_page(&report, language)?;
        let path = out.join(format!("pilot-{language}.html"));
        std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
    }
    println!("{}", out.display());
    Ok(())
}

/// `postamat simulate`: runs the simulation and writes its report.
pub(super) fn simulate(config: &Config, args: SimulateArgs) -> anyhow::Result<()> {
    use indicatif::{ProgressBar, ProgressStyle};
    let location = match &args.database_url {
        Some(url) => db::DatabaseLocation::parse(url).map_err(|e| anyhow::anyhow!(e))?,
        None => {
            std::fs::create_dir_all(&args.report)
                .with_context(|| format!("creating {}", args.report.display()))?;
            // The report folder's own database: a run replaces the one before.
            let path = args.report.join("simulation.db");
            for file in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{file}", path.display()));
            }
            db::DatabaseLocation::Sqlite(path)
        }
    };
    tracing::info!(database = %location.describe(), "simulation database");
    let settings = crate::sim::Settings {
        from: args.from,
        days: args.days,
        branches: if args.national {
            crate::sim::regions::REGIONS
                .iter()
                .map(|r| r.branch.parse::<BranchCode>())
                .collect::<Result<_, _>>()
                .map_err(|e| anyhow::anyhow!("{e}"))?
        } else {
            args.branches
        },
        per_day: args.per_day,
        seed: args.seed,
        rates: args.rates,
        force_majeure: args.force_majeure,
        pilot: config.pilot,
        dispatch: config.dispatch.clone(),
        lanes: args.lanes,
    };
    settings.check()?;
    let pool = db::connect(&location, args.lanes + 1)?;
    db::run_migrations(&mut *pool.get().context("cannot get a database connection")?)?;
    let bar = ProgressBar::new(1);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} simulated hours ({per_sec}) {msg}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let outcome = crate::sim::run(&pool, &settings, &progress)?;
    bar.finish_and_clear();
    let simulated = started.elapsed();
    let mut conn = pool.get().context("cannot get a database connection")?;
    let report = crate::sim::report::gather(&mut conn, &settings)?;
    crate::sim::report::write(&report, &settings, &args.report)?;
    let seconds = simulated.as_secs_f64().max(0.001);
    println!(
        "simulated {} days: {} applications, {} workflow calls, {} sweeps, {} messages to the \
         local sink in {:.1} s ({:.0} applications/s, {:.0} calls/s); report: {}",
        settings.days,
        outcome.applications,
        outcome.workflow_calls,
        outcome.sweeps,
        outcome.messages_delivered,
        seconds,
        outcome.applications as f64 / seconds,
        outcome.workflow_calls as f64 / seconds,
        args.report.join("index.html").display()
    );
    if let Some((first, last)) = outcome.pace(7) {
        println!(
            "pace: {first:.0} workflow calls/s over the first week, {last:.0} over the last \
             ({:.0} % of the first)",
            100.0 * last / first
        );
    }
    Ok(())
}
