//! What an operator runs beside the service: `backup`, `doctor`, `sweep` and `keys`.

use super::{KeysCommand, log_location, open_database};
use crate::clock::Clock;
use crate::config::Config;
use crate::db::models::api_key::{self, NewKey};
use crate::db::{self};
use crate::domain::reference::Text;
use crate::jobs::calendar_refresh::CalendarCache;
use crate::workflows::keys::{self, LastAdmin};
use anyhow::Context;

pub(super) fn backup(config: &Config, file: &std::path::Path) -> anyhow::Result<()> {
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

pub(super) fn doctor(config: &Config) -> anyhow::Result<()> {
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

pub(super) fn sweep(
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

pub(super) fn keys(config: &Config, action: KeysCommand) -> anyhow::Result<()> {
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
