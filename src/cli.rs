//! The `postamat` command: `serve` (default), `migrate`, `keys …`, `openapi`.

use crate::api::{self, AppState};
use crate::clock::Clock;
use crate::config::Config;
use crate::db::key_cache::{self, KeyCache};
use crate::db::models::api_key::{self, NewKey};
use crate::db::writer::Writer;
use crate::db::{self, DbPool};
use crate::domain::ids::KeyId;
use crate::domain::reference::{BranchCode, Text};
use crate::domain::role::Role;
use crate::jobs::Stop;
use crate::jobs::calendar_refresh::{self, CalendarCache};
use crate::jobs::dispatcher::{self, Dispatcher};
use crate::observability::{self, Metrics};
use crate::workflows::keys::{self, LastAdmin};
use actix_web::{HttpServer, web};
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(
    name = "postamat",
    version = crate::VERSION,
    about = "Birth certificates through Kaspi postamats: the State Corporation service"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP service (the default): applies migrations first.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        action: KeysCommand,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Write a consistent copy of a SQLite database to FILE while the service runs (SQLite's
    /// VACUUM INTO). For PostgreSQL use pg_dump (see docs/operations.md).
    Backup {
        /// Where to write the copy; must not exist yet.
        file: std::path::PathBuf,
    },
    /// What an operator runs first when something is wrong: the configuration (secrets
    /// masked), where the database is and its schema version, the calendar years loaded, the
    /// deadlines and messages waiting. Changes nothing; exits 1 if the database is unusable.
    Doctor,
    /// Simulate a period of the pilot through the service's own workflows, with a simulated
    /// clock, on an empty database; write a report with SLA statistics and charts.
    Simulate(Box<SimulateArgs>),
    /// Write a report to files.
    Report {
        #[command(subcommand)]
        report: ReportCommand,
    },
    /// Apply every deadline due by now (or by --as-of) once, then exit (for cron, or to replay
    /// a moment).
    Sweep {
        /// The instant to sweep as of, RFC 3339 (e.g. 2026-03-31T01:00:00+05:00). An instant
        /// in the future needs --dry-run or --allow-future.
        #[arg(long)]
        as_of: Option<chrono::DateTime<chrono::FixedOffset>>,
        /// Print what the sweep would do, and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Really sweep as of a future instant (deadlines breached and messages queued with
        /// future times).
        #[arg(long, conflicts_with = "dry_run")]
        allow_future: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ReportCommand {
    /// The pilot's results for a period (issue 25): pilot.json, one CSV per table, and the
    /// printable page in Kazakh and Russian with its charts — the figures
    /// `GET /api/v1/reports/pilot` answers.
    Pilot {
        /// First day (Almaty), inclusive.
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Last day (Almaty), inclusive; at most a year after --from.
        #[arg(long)]
        to: chrono::NaiveDate,
        /// One branch's figures only.
        #[arg(long)]
        branch: Option<crate::domain::reference::BranchCode>,
        /// The folder to write to (created if missing).
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

/// `postamat simulate`'s options.
#[derive(Debug, clap::Args)]
struct SimulateArgs {
    /// The first day simulated.
    #[arg(long)]
    from: chrono::NaiveDate,
    /// How many days.
    #[arg(long, default_value_t = 31)]
    days: u32,
    /// The branches, comma-separated. A code of one of Kazakhstan's regions (`--national`
    /// lists them) is simulated in that region's centre, with its КАТО code and time zone.
    #[arg(long, value_delimiter = ',', default_value = "ALM01,AST01,SHY01")]
    branches: Vec<BranchCode>,
    /// One branch in each of Kazakhstan's 20 regions (17 oblasts and 3 cities of national
    /// significance), each in its centre: ALM01, AST01, SHY01, SEM01, KOK01, AKT01, KON01,
    /// ATY01, URA01, TAR01, TAL01, KAR01, KOS01, KZO01, AKU01, PAV01, PET01, TUR01, ZHE01,
    /// UKA01. Replaces --branches.
    #[arg(long, conflicts_with = "branches")]
    national: bool,
    /// Applications a day, over all branches (split evenly).
    #[arg(long, default_value_t = 400)]
    per_day: u32,
    /// On PostgreSQL, how many connections the branches are dealt out to, acting side by side
    /// between the sweeper's and the dispatcher's half-hourly runs; the outcome is the same for
    /// any number (SQLite runs one).
    #[arg(long, default_value_t = 2)]
    lanes: u32,
    /// The seed: the same seed and options give the same run and byte-identical CSV files.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// An empty database to simulate in (default: a new SQLite file, simulation.db, in the
    /// report folder). Never the service's own: a database with branches or keys is refused.
    #[arg(long)]
    database_url: Option<String>,
    /// Where the report goes (index.html, CSV files, SVG charts).
    #[arg(long, default_value = "report")]
    report: std::path::PathBuf,
    /// A branch closed by force majeure, whole days: ALM01:2026-03-10..2026-03-11 (repeatable).
    #[arg(long = "force-majeure")]
    force_majeure: Vec<crate::sim::ForceMajeureSpec>,
    #[command(flatten)]
    rates: crate::sim::model::Rates,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create a key; its token is printed once, as the last line of standard output.
    Create {
        /// kaspi, registry_office, accumulation_clerk, issuance_clerk, state_courier,
        /// supervisor or admin.
        #[arg(long)]
        role: Role,
        /// The branch code, for branch staff and branch supervisors.
        #[arg(long)]
        branch: Option<BranchCode>,
        /// Who or what uses the key.
        #[arg(long)]
        name: Option<String>,
    },
    /// List keys (never their tokens).
    List,
    /// Revoke a key: it stops working at once. The last active admin key is kept unless
    /// `--force` is given (the CLI can then create a new one; HTTP administration cannot).
    Revoke {
        id: KeyId,
        /// Revoke it even if it is the last active admin key.
        #[arg(long)]
        force: bool,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Openapi = command {
        println!(
            "{}",
            api::openapi().to_pretty_json().expect("OpenAPI serialises")
        );
        return ExitCode::SUCCESS;
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    let mut config = config;
    if matches!(command, Command::Simulate(_)) && std::env::var_os("POSTAMAT_LOG").is_none() {
        // Every simulated message goes to the local sink, one log line each: keep them out.
        config.log_filter = "warn".to_owned();
    }
    observability::init_logging(&config);
    let result = match command {
        Command::Serve => serve(config),
        Command::Migrate => migrate(&config),
        Command::Keys { action } => keys(&config, action),
        Command::Sweep {
            as_of,
            dry_run,
            allow_future,
        } => sweep(&config, as_of, dry_run, allow_future),
        Command::Doctor => doctor(&config),
        Command::Simulate(args) => simulate(&config, *args),
        Command::Report { report } => write_report(&config, report),
        Command::Backup { file } => backup(&config, &file),
        Command::Openapi => unreachable!("handled above"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Connects and brings the schema up to date.
fn open_database(config: &Config) -> anyhow::Result<DbPool> {
    log_location(config);
    let pool = db::connect(&config.database, config.pool_size)?;
    let mut conn = pool.get().context("cannot get a database connection")?;
    let applied = db::run_migrations(&mut conn)?;
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    revise(&mut conn)?;
    if db::autovacuum_off(&mut conn) {
        // Every transition rewrites a shipment row and its deadlines: without autovacuum the
        // dead row versions pile up and the planner's statistics stay those of empty tables
        // (the simulation slowed 4.5-fold on such a server).
        tracing::warn!(
            "PostgreSQL's autovacuum is off on this server: turn it on, or VACUUM (ANALYZE) \
             this database regularly, or queries slow down as the tables grow"
        );
    }
    Ok(pool)
}

/// Logs where the data is, before connecting.
fn log_location(config: &Config) {
    let location = config.database.describe();
    // A relative SQLite path depends on the folder the service starts in: say where the data
    // is, and say it loudly when that is a new, empty file.
    if let db::DatabaseLocation::Sqlite(path) = &config.database
        && !path.exists()
    {
        tracing::warn!(
            database = %location,
            "no database file here: creating a new, empty one (set POSTAMAT_DATABASE_URL to an absolute sqlite:/// path to be sure)"
        );
    }
    tracing::info!(backend = config.database.backend_name(), database = %location, "database");
}

fn backup(config: &Config, file: &std::path::Path) -> anyhow::Result<()> {
    let db::DatabaseLocation::Sqlite(path) = &config.database else {
        anyhow::bail!(
            "backup copies a SQLite database; for PostgreSQL use pg_dump, e.g. \
             pg_dump --format=custom --file=postamat.dump \"$POSTAMAT_DATABASE_URL\""
        );
    };
    if !path.exists() {
        anyhow::bail!("no database file at {}", config.database.describe());
    }
    if file.exists() {
        anyhow::bail!("{} exists already: choose a new file", file.display());
    }
    let pool = db::connect(&config.database, 1)?;
    let mut conn = pool.get().context("cannot get a database connection")?;
    let written = db::backup_sqlite(&mut conn, file)?;
    println!(
        "backed up {} to {} ({written} bytes)",
        config.database.describe(),
        std::path::absolute(file)
            .unwrap_or_else(|_| file.to_path_buf())
            .display()
    );
    Ok(())
}

fn doctor(config: &Config) -> anyhow::Result<()> {
    let env: std::collections::HashMap<String, String> = std::env::vars().collect();
    println!("configuration (secrets masked):");
    for s in crate::config::shown_settings(&env)? {
        println!("  {:<34} = {:<40} ({})", s.env, s.value, s.origin);
    }
    let location = config.database.describe();
    println!("database: {} at {location}", config.database.backend_name());
    if let db::DatabaseLocation::Sqlite(path) = &config.database {
        match std::fs::metadata(path) {
            Ok(meta) => println!("  file: {} bytes", meta.len()),
            Err(_) => anyhow::bail!("no database file at {location}: nothing to check"),
        }
    }
    let pool = db::connect(&config.database, 1)?;
    let mut conn = pool.get().context("cannot get a database connection")?;
    let schema = db::schema_state(&mut conn)?;
    println!(
        "  schema: {} migrations applied, latest {}; pending: {}",
        schema.applied.len(),
        schema.applied.last().map_or("none", String::as_str),
        if schema.pending.is_empty() {
            "none".to_owned()
        } else {
            schema.pending.join(", ")
        }
    );
    if !schema.pending.is_empty() {
        println!(
            "  (the service applies pending migrations when it starts; or run `postamat migrate`)"
        );
        return Ok(());
    }
    let calendar = CalendarCache::load(&mut conn).context("cannot load the calendar")?;
    let snapshot = calendar.current();
    let years: Vec<String> = snapshot
        .calendar
        .years()
        .map(|y| match y.kurban_ait {
            Some(_) => y.year.to_string(),
            None => format!("{} (Kurban Ait not set)", y.year),
        })
        .collect();
    println!(
        "calendar: version {}; years {}",
        snapshot.calendar.version(),
        years.join(", ")
    );
    let backlog = crate::db::models::report::backlog(&mut conn, Clock::System.now())?;
    println!(
        "deadlines: {} pending, {} of them due now{}",
        backlog.pending_deadlines,
        backlog.due_deadlines,
        backlog
            .oldest_due
            .map(|t| format!(" (oldest due {t} UTC)"))
            .unwrap_or_default()
    );
    println!(
        "outbox: citizens' messages {} pending, {} dead; requests to Kaspi and the registry office {} pending, {} dead",
        backlog.notifications_pending,
        backlog.notifications_dead,
        backlog.outbound_pending,
        backlog.outbound_dead
    );
    println!(
        "API keys: {} active, {} of them admin",
        backlog.active_keys, backlog.active_admin_keys
    );
    Ok(())
}

fn migrate(config: &Config) -> anyhow::Result<()> {
    log_location(config);
    let pool = db::connect(&config.database, config.pool_size)?;
    let mut conn = pool.get().context("cannot get a database connection")?;
    let applied = db::run_migrations(&mut conn)?;
    let revised = revise(&mut conn)?;
    println!("{applied} migration(s) applied; the database is current");
    if revised > 0 {
        println!("{revised} pending deadline(s) re-counted under the current rules");
    }
    Ok(())
}

/// The data revisions after the migrations ([`crate::workflows::revisions`]): stored
/// deadlines a change of rule re-counts, once; returns how many moved.
fn revise(conn: &mut db::DbConnection) -> anyhow::Result<usize> {
    let snapshot = calendar_refresh::load_snapshot(conn).context("cannot load the calendar")?;
    crate::workflows::revisions::apply_pending(conn, &snapshot, Clock::System.now())
        .map_err(|e| anyhow::anyhow!("data revision failed: {e}"))
}

fn serve(config: Config) -> anyhow::Result<()> {
    let pool = open_database(&config)?;
    let clock = Clock::System;
    let mut conn = pool.get().context("cannot get a database connection")?;
    if let Some((key, token)) = api_key::bootstrap_admin(&mut conn, clock.now())? {
        // Printed, not logged: the token must never reach a log line.
        println!(
            "\n================================================================\n\
             FIRST START: an admin API key was created. It is shown only now.\n\
             key id: {}\n\
             token:  {token}\n\
             Use it as 'Authorization: Bearer <token>'; create other keys with\n\
             POST /api/v1/admin/keys or `postamat keys create`.\n\
             ================================================================\n",
            key.id
        );
    }
    let calendar = Arc::new(CalendarCache::load(&mut conn).context("cannot load the calendar")?);
    drop(conn);
    let writer = Writer::for_location(&config.database)?.map(Arc::new);
    let keys = Arc::new(KeyCache::default());
    if let db::DatabaseLocation::Postgres(url) = &config.database {
        key_cache::listen(&keys, url.clone()).context("cannot start the key-notice listener")?;
    }
    let metrics = Metrics::new();
    let state = web::Data::new(AppState {
        pool: pool.clone(),
        clock,
        metrics: metrics.clone(),
        calendar: calendar.clone(),
        pilot: config.pilot,
        execution_term: config.execution_term,
        quiet_hours: config.dispatch.quiet_hours,
        kaspi_secrets: config.kaspi_secrets.clone(),
        secure_cookies: config.console_secure_cookies,
        writer,
        storage: Default::default(),
        keys: keys.clone(),
    });
    let body_limit = config.max_body_bytes;
    let refresh = config.calendar_refresh;
    let sweep_every = config.sweep_interval;
    let dispatch = config.dispatch.clone();
    let kaspi_secrets = config.kaspi_secrets.clone();
    let backend = config.database.backend_name();
    actix_web::rt::System::new().block_on(async move {
        let (stop_handle, stop) = Stop::new();
        let mut jobs = Vec::new();
        if let Some(every) = dispatch.interval {
            let dispatcher = Arc::new(
                Dispatcher::new(dispatch.clone(), &kaspi_secrets).with_metrics(metrics.clone()),
            );
            jobs.push(actix_web::rt::spawn(dispatcher::run(
                pool.clone(),
                dispatcher,
                Clock::System,
                every,
                stop.clone(),
            )));
        }
        if let Some(every) = sweep_every {
            jobs.push(actix_web::rt::spawn(crate::jobs::sweeper::run(
                pool.clone(),
                calendar.clone(),
                Clock::System,
                metrics.clone(),
                config.pilot,
                every,
                stop.clone(),
            )));
        }
        jobs.push(actix_web::rt::spawn(calendar_refresh::run(
            calendar, pool, refresh, stop,
        )));
        // On SIGTERM the server stops accepting, lets the requests in flight finish (at most
        // SHUTDOWN_SECS) and returns; then the jobs finish the round in hand. (SIGINT and
        // SIGQUIT stop actix at once; the jobs still finish their round.)
        let server = HttpServer::new(move || api::app(state.clone(), body_limit))
            .shutdown_timeout(SHUTDOWN_SECS)
            .bind(config.bind)
            .with_context(|| format!("cannot listen on {} (POSTAMAT_BIND)", config.bind))?;
        // Only now that the port is ours.
        tracing::info!(
            bind = %config.bind,
            database = backend,
            "postamat listening; API docs at /docs/"
        );
        let served = server.run().await.context("the HTTP server failed");
        tracing::info!("stopping: finishing the background work in hand");
        stop_handle.stop();
        let waited = actix_web::rt::time::timeout(
            std::time::Duration::from_secs(SHUTDOWN_SECS),
            futures_util::future::join_all(jobs),
        )
        .await;
        match waited {
            Ok(_) => tracing::info!("stopped"),
            Err(_) => tracing::warn!(
                "stopped without waiting longer for background work (each round is one \
                 transaction: nothing is left half-done)"
            ),
        }
        served
    })
}

/// How long a stop waits for requests in flight, then for the background work in hand.
const SHUTDOWN_SECS: u64 = 30;

fn sweep(
    config: &Config,
    as_of: Option<chrono::DateTime<chrono::FixedOffset>>,
    dry_run: bool,
    allow_future: bool,
) -> anyhow::Result<()> {
    let now = Clock::System.now();
    let as_of = as_of.map_or(now, |t| t.with_timezone(&chrono::Utc));
    // A future instant would breach deadlines and queue messages dated in the future.
    if as_of > now + chrono::Duration::minutes(1) && !dry_run && !allow_future {
        anyhow::bail!(
            "--as-of {as_of} is in the future: add --dry-run to see what would happen, or \
             --allow-future to really apply it"
        );
    }
    // A dry run writes nothing, schema included: it needs a database that is current.
    let pool = if dry_run {
        log_location(config);
        let pool = db::connect(&config.database, 1)?;
        let mut conn = pool.get().context("cannot get a database connection")?;
        if !db::migrations_current(&mut conn)? {
            anyhow::bail!(
                "the database schema is older than this binary: a dry run does not migrate \
                 (run `postamat migrate` first, or use the binary that matches the database)"
            );
        }
        pool
    } else {
        open_database(config)?
    };
    let mut conn = pool.get().context("cannot get a database connection")?;
    let calendar = CalendarCache::load(&mut conn).context("cannot load the calendar")?;
    if dry_run {
        let planned = crate::workflows::sweep::dry_run(&mut conn, as_of, &calendar.current())?;
        println!("{}", serde_json::to_string(&planned)?);
    } else {
        let report = crate::workflows::sweep::sweep(&mut conn, as_of, &calendar.current())?;
        println!("{}", serde_json::to_string(&report)?);
        // Order п.6 (issue 25): after the pilot's end, what has not gone to Kaspi goes to the ЦОН.
        let ended = crate::workflows::pilot_end::reroute_after_end(
            &mut conn,
            as_of,
            config.pilot,
            &calendar.current(),
        )?;
        if ended != Default::default() {
            println!("{}", serde_json::json!({ "pilot_end": ended }));
        }
    }
    Ok(())
}

fn write_report(config: &Config, report: ReportCommand) -> anyhow::Result<()> {
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

fn keys(config: &Config, action: KeysCommand) -> anyhow::Result<()> {
    let pool = open_database(config)?;
    let mut conn = pool.get().context("cannot get a database connection")?;
    let now = Clock::System.now();
    match action {
        KeysCommand::Create { role, branch, name } => {
            let name = name.unwrap_or_else(|| format!("{role} key"));
            let name = Text::try_from(name).map_err(|e| anyhow::anyhow!("--name {e}"))?;
            let (key, token) = api_key::create(
                &mut conn,
                NewKey {
                    name: &name,
                    role,
                    branch: branch.as_ref(),
                },
                now,
            )?;
            println!(
                "created key {} ({}, role {}{})",
                key.id,
                key.name,
                key.role,
                key.branch
                    .map(|b| format!(", branch {b}"))
                    .unwrap_or_default()
            );
            println!("{token}");
        }
        KeysCommand::List => {
            println!(
                "{:<36}  {:<18}  {:<8}  {:<10}  {:<20}  {:<20}  NAME",
                "ID", "ROLE", "BRANCH", "PREFIX", "CREATED", "REVOKED"
            );
            for key in api_key::list(&mut conn)? {
                println!(
                    "{:<36}  {:<18}  {:<8}  {:<10}  {:<20}  {:<20}  {}",
                    key.id,
                    key.role,
                    key.branch.as_deref().unwrap_or("-"),
                    key.token_prefix,
                    key.created_at.format("%Y-%m-%d %H:%M:%S"),
                    key.revoked_at
                        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                        .unwrap_or_else(|| "-".into()),
                    key.name
                );
            }
        }
        KeysCommand::Revoke { id, force } => {
            let last_admin = if force {
                LastAdmin::Allow
            } else {
                LastAdmin::Refuse
            };
            let (key, _) = keys::revoke(&mut conn, id, last_admin, now)
                .map_err(|e| anyhow::anyhow!(e.chain()))?;
            println!(
                "key {} revoked at {}",
                key.id,
                key.revoked_at
                    .unwrap_or(now)
                    .format("%Y-%m-%d %H:%M:%S UTC")
            );
        }
    }
    Ok(())
}

/// `postamat simulate`: runs the simulation and writes its report.
fn simulate(config: &Config, args: SimulateArgs) -> anyhow::Result<()> {
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
