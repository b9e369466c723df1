//! The `postamat` command: its arguments, the start-up every command shares, and `migrate`;
//! serving, the operator's commands and the reports each have a file.

mod operations;
mod reports;
mod serve;

use crate::api;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::{self, DbPool};
use crate::domain::ids::KeyId;
use crate::domain::reference::BranchCode;
use crate::domain::role::Role;
use crate::jobs::calendar_refresh::{self};
use crate::observability::{self};
use anyhow::Context;
use clap::{Parser, Subcommand};
use operations::{backup, doctor, keys, sweep};
use reports::{simulate, write_report};
use serve::serve;
use std::process::ExitCode;

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
