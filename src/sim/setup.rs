//! The database a run starts on: its connections' settings, the reference data (branches in
//! their regions, postamats, staff keys) and the upkeep between simulated days.

use super::model::Model;
use super::settings::Settings;
use super::{Branch, local};
use crate::db::DbConnection;
use crate::db::models::api_key::{self, NewKey, Principal};
use crate::db::models::branch::{self, BranchFields, BranchScope};
use crate::db::models::postamat::{self, PostamatFields};
use crate::domain::reference::{BranchTimeZone, CityCode, KaspiPostamatId, Text};
use crate::domain::role::Role;
use crate::jobs::calendar_refresh::CalendarCache;
use crate::workflows::{Actor, EventContext, force_majeure};
use anyhow::{Context, anyhow};
use chrono::Duration;
use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;
use std::str::FromStr;

/// The page cache of the simulation's SQLite connection, in KiB (SQLite's default is 2,000):
/// one connection does a whole country's work, and as the tables grow past the default the
/// pages it needs again are read back from the file, a system call each.
const SQLITE_CACHE_KIB: u32 = 16 * 1024;

/// A simulation's data is disposable (the database is one made for it, never the service's):
/// on PostgreSQL its commits need not wait for the disk, which is what a sequential run of
/// hundreds of thousands of transactions would otherwise mostly do.
pub(super) fn prepare(conn: &mut DbConnection) -> anyhow::Result<()> {
    match conn {
        DbConnection::Postgres(pg) => {
            diesel::sql_query("SET synchronous_commit TO off").execute(pg)?;
        }
        DbConnection::Sqlite(lite) => {
            lite.batch_execute(&format!("PRAGMA cache_size = -{SQLITE_CACHE_KIB}"))?;
        }
    }
    Ok(())
}

/// Once a simulated day, on PostgreSQL, what autovacuum does for a service over hours: a
/// `VACUUM`, and an `ANALYZE` of each table that has changed by more than autovacuum's
/// threshold since its last (`50 + 10 %` of its rows). A day of the simulation rewrites tens of
/// thousands of rows in seconds; without this (or on a server whose autovacuum is off) dead
/// row versions pile up and the planner keeps the plans it chose for empty tables, and a
/// 93,000-document run slowed from 160 to 36 documents a second. `ANALYZE` every day was the
/// other extreme: at 160,000 documents it read 30,000 pages of the history and took seconds a
/// day, more than the day's work. The data it leaves is the same either way. SQLite is left
/// alone: it keeps no dead row versions, and the service never gives its planner statistics
/// either.
pub(super) fn maintain(conn: &mut DbConnection) -> anyhow::Result<()> {
    #[derive(diesel::QueryableByName)]
    struct Stale {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    if let DbConnection::Postgres(pg) = conn {
        diesel::sql_query("VACUUM").execute(pg)?;
        let stale: Vec<Stale> = diesel::sql_query(
            "SELECT format('%I.%I', s.schemaname, s.relname) AS name \
             FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
             WHERE s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0) \
             ORDER BY 1",
        )
        .load(pg)?;
        for table in stale {
            diesel::sql_query(format!("ANALYZE {}", table.name)).execute(pg)?;
        }
    }
    Ok(())
}

/// The reference data: each branch with its postamats, a key per member of staff, and the
/// force-majeure periods.
pub(super) fn reference_data(
    conn: &mut DbConnection,
    settings: &Settings,
) -> anyhow::Result<Vec<Branch>> {
    let created = local(settings.from, 0, 0) - Duration::days(1);
    let mut branches = Vec::new();
    for (n, code) in settings.branches.iter().enumerate() {
        // A region's branch in its real centre, with its КАТО code and zone ([`regions`]);
        // any other code a made-up city of its own, in Almaty's zone.
        let (city, city_kk, city_code, time_zone) = match super::regions::by_branch(code.as_str()) {
            Some(r) => (
                r.city_ru.to_owned(),
                r.city_kk.to_owned(),
                r.kato.to_owned(),
                BranchTimeZone::try_from(r.zone.name().to_owned())?,
            ),
            None => {
                let city = format!("Город {code}");
                (
                    city.clone(),
                    city,
                    format!("99{n:07}"),
                    BranchTimeZone::default(),
                )
            }
        };
        let city_code = CityCode::try_from(city_code)?;
        let fields = BranchFields {
            name_kk: format!("{city_kk} №1 ХҚКО"),
            name_ru: format!("ЦОН №1, {city}"),
            city: city.clone(),
            city_code: city_code.clone(),
            address_kk: format!("{city_kk}, Абай даңғ., 1"),
            address_ru: format!("{city}, пр. Абая, 1"),
            time_zone,
        };
        let (row, _) = branch::upsert(conn, code.as_str(), &fields, created)?;
        let mut postamats = Vec::new();
        for i in 1..=5 {
            let id = format!("PST-{code}-{i:03}");
            let fields = PostamatFields {
                city: city.clone(),
                city_code: city_code.clone(),
                address_kk: format!("{city_kk}, Төле би к-сі, {i}"),
                address_ru: format!("{city}, ул. Толе би, {i}"),
            };
            postamat::upsert(conn, &id, &fields, created)?;
            postamats.push(KaspiPostamatId::from_str(&id)?);
        }
        let mut key = |role: Role, name: &str| -> anyhow::Result<Principal> {
            let name = Text::try_from(format!("{name} {code} (simulated)"))?;
            let (key, _token) = api_key::create(
                conn,
                NewKey {
                    name: &name,
                    role,
                    branch: Some(code),
                },
                created,
            )
            .map_err(|e| anyhow!("{e}"))?;
            Ok(Principal {
                key_id: key.id,
                name: key.name,
                role,
                scope: BranchScope::Only {
                    id: row.id,
                    code: code.clone(),
                },
            })
        };
        let clerk = key(Role::AccumulationClerk, "Accumulation clerk")?;
        let issuer = key(Role::IssuanceClerk, "Issuance clerk")?;
        let courier = key(Role::StateCourier, "State courier")?;
        let supervisor = key(Role::Supervisor, "Supervisor")?;
        branches.push(Branch {
            code: code.clone(),
            id: row.id,
            scope: clerk.scope.clone(),
            clerk: Actor::from(&clerk),
            issuer: Actor::from(&issuer),
            courier: Actor::from(&courier),
            supervisor,
            postamats,
            model: Model::new(settings.seed, n as u64, settings.rates.clone()),
            next_event: 0,
            ready_postamat: Vec::new(),
            ready_con: Vec::new(),
            returned: Vec::new(),
            brought_back: Vec::new(),
            closed: Vec::new(),
        });
    }
    for fm in &settings.force_majeure {
        let branch = branches
            .iter_mut()
            .find(|b| b.code == fm.branch)
            .expect("checked");
        // Recorded by the branch's supervisor as it starts (п.37–38).
        let snapshot = CalendarCache::load(conn)?.current();
        let ctx = EventContext::by(&branch.supervisor, fm.starts(), &snapshot);
        force_majeure::record(
            conn,
            &force_majeure::NewPeriod {
                branch: Some(fm.branch.clone()),
                starts_at: fm.starts(),
                ends_at: Some(fm.ends()),
                reason: Text::try_from("Simulated force majeure".to_owned())?,
                document_ref: None,
            },
            &ctx,
        )
        .with_context(|| format!("recording force majeure {fm:?}"))?;
        branch.closed.push((fm.starts(), fm.ends()));
    }
    Ok(branches)
}
