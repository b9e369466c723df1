//! `postamat simulate`: a period of the pilot driven through the same workflows the API uses,
//! with a simulated clock. Citizens apply in the Kaspi app, the registry office executes,
//! Kaspi creates orders, the accumulation sector takes documents in and seals registries on
//! working days, State couriers hand them over, Kaspi reports acceptance, placement and
//! collection, citizens who never come send documents back, a few are lost and disputed —
//! each as the workflow an integration or a clerk would call, with the sweeper and the
//! dispatcher running every simulated hour as in production (messages go to the local sink).
//! Nothing here decides a rule: it only decides, from [`model`], who does what when.
//!
//! The run is deterministic for a seed: every random choice comes from one seeded generator in
//! the run's order, every identifier the run makes up is numbered, and the report
//! ([`report`]) shows no database id and no wall-clock time.

pub mod model;
pub mod regions;
pub mod report;

use crate::config::DispatchConfig;
use crate::db::models::api_key::{self, NewKey, Principal};
use crate::db::models::branch::{self, BranchFields, BranchScope};
use crate::db::models::deadline;
use crate::db::models::loss_act;
use crate::db::models::postamat::{self, PostamatFields};
use crate::db::{DbConnection, DbPool};
use crate::domain::application::PilotWindow;
use crate::domain::application::{DeliveryChangeReason, FinalStatus};
use crate::domain::deadline::DeadlineKind;
use crate::domain::identifiers::{ApplicationNumber, ExternalId, Iin, Phone, Waybill};
use crate::domain::ids::{BranchId, DisputeId, LossActId, RegistryId, ShipmentId};
use crate::domain::kaspi::{KaspiEvent, KaspiEventBody, KaspiLossAct};
use crate::domain::notification::Language;
use crate::domain::reference::{BranchCode, BranchTimeZone, CityCode, KaspiPostamatId, Text};
use crate::domain::registry::RegistryKind;
use crate::domain::role::Role;
use crate::domain::shipment::DeliveryMethod;
use crate::jobs::calendar_refresh::CalendarCache;
use crate::jobs::dispatcher::Dispatcher;
use crate::workflows::{
    Actor, EventContext, Source, WorkflowError, delivery, disputes, duplicate, force_majeure,
    intake, issuance, kaspi_events, kaspi_order, label, loss, register, registries,
    registry_office, sweep,
};
use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Days, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use diesel::RunQueryDsl;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use model::{Collection, Fate, LossPoint, Model, Rates};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::str::FromStr;
use std::sync::Arc;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Settings {
    pub from: NaiveDate,
    pub days: u32,
    pub branches: Vec<BranchCode>,
    /// Applications a day, over all branches (split evenly).
    pub per_day: u32,
    pub seed: u64,
    pub rates: Rates,
    pub force_majeure: Vec<ForceMajeureSpec>,
    /// The days postamat delivery may be chosen (the service's settings, order п.6).
    pub pilot: PilotWindow,
    /// How the dispatcher delivers: quiet hours, attempts (gateways are never used: the run's
    /// messages go to the local sink).
    pub dispatch: DispatchConfig,
    /// Lanes on PostgreSQL: the branches are dealt out to this many connections, which act
    /// side by side between the run's shared moments. The outcome does not depend on it.
    /// SQLite runs one lane.
    pub lanes: u32,
}

impl Settings {
    /// The first instant after the period (midnight, Almaty).
    pub fn end(&self) -> DateTime<Utc> {
        local(self.from + Days::new(u64::from(self.days)), 0, 0)
    }

    /// The period's last day.
    pub fn last_day(&self) -> NaiveDate {
        self.from + Days::new(u64::from(self.days.max(1)) - 1)
    }

    pub fn check(&self) -> anyhow::Result<()> {
        self.rates.check().map_err(|e| anyhow!(e))?;
        if self.days == 0 || self.days > 366 {
            bail!("--days must be from 1 to 366, got {}", self.days);
        }
        if self.branches.is_empty() {
            bail!("--branches names no branch");
        }
        if !(1..=16).contains(&self.lanes) {
            bail!("--lanes must be from 1 to 16, got {}", self.lanes);
        }
        if self.per_day == 0 {
            bail!("--per-day must be at least 1");
        }
        if self.last_day() > self.pilot.ends_on {
            bail!(
                "the period ends on {}, after the pilot window (postamat delivery until {}, \
                 POSTAMAT_PILOT_ENDS_ON): simulate an earlier period or move the window",
                self.last_day(),
                self.pilot.ends_on
            );
        }
        if self.from < self.pilot.starts_on {
            bail!(
                "the period starts on {}, before the pilot window (postamat delivery from {}, \
                 POSTAMAT_PILOT_STARTS_ON): simulate a later period or move the window",
                self.from,
                self.pilot.starts_on
            );
        }
        for fm in &self.force_majeure {
            if !self.branches.contains(&fm.branch) {
                bail!(
                    "--force-majeure names {}, which is not simulated",
                    fm.branch
                );
            }
        }
        Ok(())
    }
}

/// A force-majeure period of one branch, whole days: `ALM01:2026-03-10..2026-03-11`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForceMajeureSpec {
    pub branch: BranchCode,
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl FromStr for ForceMajeureSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage =
            || format!("'{s}': expected BRANCH:FIRST..LAST, e.g. ALM01:2026-03-10..2026-03-11");
        let (branch, days) = s.split_once(':').ok_or_else(usage)?;
        let (first, last) = days.split_once("..").ok_or_else(usage)?;
        let spec = ForceMajeureSpec {
            branch: branch.parse().map_err(|e| format!("{}: {e}", usage()))?,
            first: first.parse().map_err(|_| usage())?,
            last: last.parse().map_err(|_| usage())?,
        };
        if spec.last < spec.first {
            return Err(format!("'{s}': the last day is before the first"));
        }
        Ok(spec)
    }
}

impl ForceMajeureSpec {
    fn starts(&self) -> DateTime<Utc> {
        local(self.first, 0, 0)
    }

    fn ends(&self) -> DateTime<Utc> {
        local(self.last + Days::new(1), 0, 0)
    }
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub applications: u64,
    /// Workflow calls made (each one transaction, as an API call would be).
    pub workflow_calls: u64,
    pub sweeps: u64,
    pub messages_delivered: u64,
    /// Each simulated day: the wall-clock seconds it took and the workflow calls it made, in
    /// order (how the run keeps its pace as the tables grow).
    pub days: Vec<(f64, u64)>,
}

impl Outcome {
    /// Workflow calls a second over the first and over the last `days` days, when the run has
    /// that many twice over. Calls, not days: the first days of a run are lighter (nothing has
    /// reached a postamat yet).
    pub fn pace(&self, days: usize) -> Option<(f64, f64)> {
        if days == 0 || self.days.len() < 2 * days {
            return None;
        }
        let rate = |s: &[(f64, u64)]| {
            let calls: u64 = s.iter().map(|d| d.1).sum();
            calls as f64 / s.iter().map(|d| d.0).sum::<f64>().max(1e-9)
        };
        let n = self.days.len();
        Some((rate(&self.days[..days]), rate(&self.days[n - days..])))
    }
}

/// The zone the simulated staff and citizens keep their hours in. Each branch carries its own
/// zone, and the service reckons every deadline in it; the run's own clock reads Almaty's,
/// which every zone of Kazakhstan agrees with throughout the pilot year (all keep UTC+5 since
/// March 2024: `regions::tests::every_zone_keeps_utc_plus_five_in_the_pilot_year`).
fn zone() -> Tz {
    BranchTimeZone::default().tz()
}

/// `hour:00` local on `day`, plus `minutes` (which may run past the hour).
fn local(day: NaiveDate, hour: u32, minutes: u32) -> DateTime<Utc> {
    let time = NaiveTime::from_hms_opt(hour, 0, 0).expect("a valid hour");
    zone()
        .from_local_datetime(&day.and_time(time))
        .earliest()
        .expect("Almaty has no gaps")
        .with_timezone(&Utc)
        + Duration::minutes(i64::from(minutes))
}

fn local_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&zone()).date_naive()
}

struct Branch {
    code: BranchCode,
    id: BranchId,
    scope: BranchScope,
    clerk: Actor,
    issuer: Actor,
    courier: Actor,
    supervisor: Principal,
    postamats: Vec<KaspiPostamatId>,
    /// The branch's own generator ([`Model`]).
    model: Model,
    /// The events its integrations have reported so far (their identifiers are numbered).
    next_event: u64,
    /// Executed, waiting for intake.
    ready_postamat: Vec<usize>,
    ready_con: Vec<usize>,
    /// Back at Kaspi's point, waiting for a return pickup registry.
    returned: Vec<usize>,
    /// Brought back by the State courier (not accepted at the point, п.18), packed again for
    /// the next handoff registry.
    brought_back: Vec<usize>,
    /// Force-majeure periods: the branch does nothing then.
    closed: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Branch {
    fn is_closed(&self, at: DateTime<Utc>) -> bool {
        self.closed.iter().any(|(from, to)| *from <= at && at < *to)
    }
}

/// A document of the run. Its application number (`ALM01-20260213-00001`), waybill and IIN are
/// kept in their parts and spelled out when used: a national year holds 400,000 of them.
struct Doc {
    branch: usize,
    /// The day the citizen applied, and which of that day's applications in the branch.
    day: NaiveDate,
    n: u32,
    iin: u64,
    fate: Fate,
    shipment: Option<ShipmentId>,
}

#[derive(Debug, Clone)]
enum Action {
    Submit(usize),
    Execute(usize),
    Intake(usize),
    ReturnPickup(usize),
    Handover {
        branch: usize,
        registry: RegistryId,
        number: String,
        kind: RegistryKind,
        docs: Vec<usize>,
    },
    KaspiAccept {
        branch: usize,
        registry: String,
        docs: Vec<usize>,
    },
    KaspiDelayed(usize, NaiveDate),
    KaspiPlaced(usize),
    KaspiCollected(usize),
    KaspiRemoved(usize),
    KaspiReturned(usize),
    KaspiLost(usize),
    /// The State courier brings back an envelope the point did not accept (п.18).
    BringBack(usize),
    /// Kaspi reports another postamat for a document at its point (п.4).
    PostamatChange(usize),
    /// The citizen asks in the Kaspi app for the ЦОН instead (issue 23).
    ConInstead(usize),
    /// Kaspi takes a document out of its cell before storage ends (п.29).
    KaspiRemovedEarly(usize),
    ConVisit(usize),
    Transfer(usize),
    DrawAct(usize, LossActId),
    Cancel(usize),
    Duplicate(usize),
    DuplicateReady(usize),
    OpenDispute(usize),
    SettleDispute(DisputeId, usize),
}

/// One lane of a run: some of the branches, each with its documents and its generator, the
/// queue of what happens next in them by simulated time, and a connection of its own.
/// Nothing a lane does touches another lane's branches, so lanes act side by side between the
/// run's global moments (the sweeper and the dispatcher, every simulated half hour).
struct Run<'a> {
    conn: &'a mut DbConnection,
    settings: &'a Settings,
    calendar: CalendarCache,
    branches: Vec<Branch>,
    docs: Vec<Doc>,
    /// (when, order of scheduling) of what is to happen; the actions themselves by that order.
    queue: BinaryHeap<Reverse<(DateTime<Utc>, u64)>>,
    actions: HashMap<u64, Action>,
    next_seq: u64,
    outcome: Outcome,
    kaspi: Actor,
    registry_office: Actor,
}

/// The moments the whole run shares: the sweeper on the hour and the dispatcher at half past,
/// as in production, and the end of the period.
const STEP_MINUTES: i64 = 30;

/// Runs the simulation on an empty database (`pool` must hold `settings.lanes + 1`
/// connections, migrated); `progress(done, total)` is told how far the run has got (simulated
/// hours).
pub fn run(
    pool: &DbPool,
    settings: &Settings,
    progress: &dyn Fn(u64, u64),
) -> anyhow::Result<Outcome> {
    settings.check()?;
    let mut main = pool.get().context("cannot get a database connection")?;
    let existing = branch::codes(&mut main)?;
    if !existing.is_empty() || !api_key::list(&mut main)?.is_empty() {
        bail!(
            "simulate needs an empty database (this one has {} branches and API keys): it must \
             never run against the service's own",
            existing.len()
        );
    }
    prepare(&mut main)?;
    let calendar = CalendarCache::load(&mut main)?;
    for day in [settings.from, settings.last_day() + Days::new(40)] {
        calendar
            .current()
            .calendar
            .is_working_day(day)
            .map_err(|e| anyhow!("the working-day calendar has no {}: {e}", e.0))?;
    }
    drop(calendar);
    let dispatcher = Dispatcher::new(
        DispatchConfig {
            sms: None,
            kaspi_app: None,
            kaspi_api: None,
            registry_office_api: None,
            ..settings.dispatch.clone()
        },
        &[],
    );
    let branches = reference_data(&mut main, settings)?;
    // Loaded after the force-majeure periods are recorded: they move deadlines.
    let calendar = CalendarCache::load(&mut main)?;
    // SQLite takes one writer at a time: its run is one lane, whatever was asked.
    let lanes = match &*main {
        DbConnection::Postgres(_) => settings.lanes.min(branches.len() as u32).max(1),
        DbConnection::Sqlite(_) => 1,
    } as usize;
    let mut conns = Vec::with_capacity(lanes);
    for _ in 0..lanes {
        let mut conn = pool.get().with_context(|| {
            format!(
                "the pool must hold {} connections: the run's and one per lane",
                lanes + 1
            )
        })?;
        prepare(&mut conn)?;
        conns.push(conn);
    }
    // The branches dealt out to the lanes in turn.
    let mut dealt: Vec<Vec<Branch>> = (0..lanes).map(|_| Vec::new()).collect();
    for (n, branch) in branches.into_iter().enumerate() {
        dealt[n % lanes].push(branch);
    }
    let mut runs = Vec::with_capacity(lanes);
    for (conn, branches) in conns.iter_mut().zip(dealt) {
        let calendar = CalendarCache::load(conn)?;
        runs.push(Run {
            conn,
            settings,
            calendar,
            branches,
            docs: Vec::new(),
            queue: BinaryHeap::new(),
            actions: HashMap::new(),
            next_seq: 0,
            outcome: Outcome::default(),
            kaspi: Actor::kaspi("Kaspi (simulated)"),
            registry_office: Actor {
                kind: crate::domain::shipment::Actor::Role(Role::RegistryOffice),
                key_id: None,
                name: "ИС ЗАГС (simulated)".to_owned(),
            },
        });
    }
    let mut outcome = Outcome::default();
    let start = local(settings.from, 0, 0);
    let end = settings.end();
    let hours = (end - start).num_hours().max(1) as u64;
    let steps = (end - start).num_minutes() / STEP_MINUTES;
    let mut day_started = std::time::Instant::now();
    let calls = |outcome: &Outcome, runs: &[Run]| {
        outcome.workflow_calls + runs.iter().map(|r| r.outcome.workflow_calls).sum::<u64>()
    };
    let mut calls_before = 0;
    for step in 0..=steps {
        let at = start + Duration::minutes(step * STEP_MINUTES);
        // A new day: the database is looked after, and each branch's applications of the day
        // are drawn.
        if step % (24 * 60 / STEP_MINUTES) == 0 && at < end {
            if step > 0 {
                maintain(&mut main)?;
                let made = calls(&outcome, &runs);
                let seconds = day_started.elapsed().as_secs_f64();
                outcome.days.push((seconds, made - calls_before));
                calls_before = made;
                day_started = std::time::Instant::now();
            }
            let day = local_day(at);
            for run in &mut runs {
                run.plan_day(day)?;
            }
        }
        // The branches act up to this moment, each lane beside the others.
        if let [run] = runs.as_mut_slice() {
            run.drive_until(at)?;
        } else {
            std::thread::scope(|scope| {
                let lanes: Vec<_> = runs
                    .iter_mut()
                    .map(|run| scope.spawn(move || run.drive_until(at)))
                    .collect();
                lanes
                    .into_iter()
                    .map(|lane| lane.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect::<anyhow::Result<Vec<()>>>()
            })?;
        }
        if at == end {
            break;
        }
        outcome.workflow_calls += 1;
        if step % 2 == 0 {
            sweep(&mut main, at, &calendar)?;
            outcome.sweeps += 1;
        } else {
            outcome.messages_delivered += dispatcher.dispatch(&mut main, at)?.sent as u64;
        }
        progress(((at - start).num_hours().max(0) as u64).min(hours), hours);
    }
    // The last sweep and delivery, as of the end of the period.
    sweep(&mut main, end, &calendar)?;
    outcome.sweeps += 1;
    outcome.messages_delivered += dispatcher.dispatch(&mut main, end)?.sent as u64;
    let made = calls(&outcome, &runs);
    let seconds = day_started.elapsed().as_secs_f64();
    outcome.days.push((seconds, made - calls_before));
    progress(hours, hours);
    for run in &runs {
        outcome.applications += run.outcome.applications;
        outcome.workflow_calls += run.outcome.workflow_calls;
    }
    Ok(outcome)
}

/// The page cache of the simulation's SQLite connection, in KiB (SQLite's default is 2,000):
/// one connection does a whole country's work, and as the tables grow past the default the
/// pages it needs again are read back from the file, a system call each.
const SQLITE_CACHE_KIB: u32 = 16 * 1024;

/// A simulation's data is disposable (the database is one made for it, never the service's):
/// on PostgreSQL its commits need not wait for the disk, which is what a sequential run of
/// hundreds of thousands of transactions would otherwise mostly do.
fn prepare(conn: &mut DbConnection) -> anyhow::Result<()> {
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
fn maintain(conn: &mut DbConnection) -> anyhow::Result<()> {
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

fn sweep(
    conn: &mut DbConnection,
    at: DateTime<Utc>,
    calendar: &CalendarCache,
) -> anyhow::Result<()> {
    sweep::sweep(conn, at, &calendar.current())?;
    Ok(())
}

/// The reference data: each branch with its postamats, a key per member of staff, and the
/// force-majeure periods.
fn reference_data(conn: &mut DbConnection, settings: &Settings) -> anyhow::Result<Vec<Branch>> {
    let created = local(settings.from, 0, 0) - Duration::days(1);
    let mut branches = Vec::new();
    for (n, code) in settings.branches.iter().enumerate() {
        // A region's branch in its real centre, with its КАТО code and zone ([`regions`]);
        // any other code a made-up city of its own, in Almaty's zone.
        let (city, city_kk, city_code, time_zone) = match regions::by_branch(code.as_str()) {
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
        force_majeure::record(
            conn,
            &force_majeure::NewPeriod {
                branch: Some(fm.branch.clone()),
                starts_at: fm.starts(),
                ends_at: Some(fm.ends()),
                reason: Text::try_from("Simulated force majeure".to_owned())?,
                document_ref: None,
            },
            &branch.supervisor,
            fm.starts(),
            &snapshot,
        )
        .with_context(|| format!("recording force majeure {fm:?}"))?;
        branch.closed.push((fm.starts(), fm.ends()));
    }
    Ok(branches)
}

impl Run<'_> {
    fn at(&mut self, at: DateTime<Utc>, action: Action) {
        if at < self.settings.end() {
            self.next_seq += 1;
            self.queue.push(Reverse((at, self.next_seq)));
            self.actions.insert(self.next_seq, action);
        }
    }

    fn snapshot(&self) -> Arc<crate::domain::calendar::CalendarSnapshot> {
        self.calendar.current()
    }

    fn working(&self, day: NaiveDate) -> bool {
        self.snapshot()
            .calendar
            .is_working_day(day)
            .unwrap_or(false)
    }

    /// `hour:minute` on the first working day after `day` on which the branch is open.
    fn next_open(&self, branch: usize, day: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
        let mut day = day;
        loop {
            day = day.succ_opt().expect("a next day");
            let at = local(day, hour, minute);
            if self.working(day) && !self.branches[branch].is_closed(at) {
                return at;
            }
        }
    }

    /// A new identifier of an event the branch's integrations report.
    fn event_id(&mut self, branch: usize, prefix: &str) -> String {
        let b = &mut self.branches[branch];
        b.next_event += 1;
        format!("{prefix}-{}-{:08}", b.code, b.next_event)
    }

    /// One day's applications in each of the lane's branches, and the branch's daily rounds.
    fn plan_day(&mut self, day: NaiveDate) -> anyhow::Result<()> {
        let branches = self.settings.branches.len() as u32;
        for b in 0..self.branches.len() {
            // The day's applications, split evenly over all the run's branches.
            let place = self
                .settings
                .branches
                .iter()
                .position(|code| code == &self.branches[b].code)
                .expect("a lane's branch is one of the run's") as u32;
            let share = self.settings.per_day / branches
                + u32::from(place < self.settings.per_day % branches);
            for n in 0..share {
                let branch = &mut self.branches[b];
                // Citizens apply from 08:00 to 22:00, every day of the week.
                let minute = branch.model.minutes(14 * 60);
                let at = local(day, 8, 0) + Duration::minutes(i64::from(minute));
                let fate = branch.model.fate(branch.postamats.len());
                let iin = branch.model.iin();
                let doc = Doc {
                    branch: b,
                    day,
                    n: n + 1,
                    iin: iin.parse()?,
                    fate,
                    shipment: None,
                };
                // Spelled out once here, so that spelling it out later cannot fail.
                let number = number_of(&branch.code, &doc);
                ApplicationNumber::try_from(number.clone())?;
                Waybill::try_from(format!("WB-{number}"))?;
                Iin::try_from(iin)?;
                self.docs.push(doc);
                let index = self.docs.len() - 1;
                self.at(at, Action::Submit(index));
            }
            self.at(local(day, 14, 0), Action::Intake(b));
            self.at(local(day, 15, 0), Action::ReturnPickup(b));
        }
        Ok(())
    }

    /// Everything the lane's branches do up to `until`, in order. On SQLite the actions of a
    /// step are committed together, each in the savepoint its own transaction becomes, as the
    /// service's writer commits the writes queued together ([`crate::db::writer`]).
    fn drive_until(&mut self, until: DateTime<Utc>) -> anyhow::Result<()> {
        if self.queue.peek().is_none_or(|Reverse((at, _))| *at > until) {
            return Ok(());
        }
        let DbConnection::Sqlite(sqlite) = &mut *self.conn else {
            return self.drive(until);
        };
        AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
        let result = self.drive(until);
        let DbConnection::Sqlite(sqlite) = &mut *self.conn else {
            unreachable!("the connection does not change backend")
        };
        match result {
            Ok(()) => Ok(AnsiTransactionManager::commit_transaction(sqlite)?),
            Err(e) => {
                let _ = AnsiTransactionManager::rollback_transaction(sqlite);
                Err(e)
            }
        }
    }

    fn drive(&mut self, until: DateTime<Utc>) -> anyhow::Result<()> {
        while let Some(&Reverse((at, seq))) = self.queue.peek() {
            if at > until {
                break;
            }
            self.queue.pop();
            let action = self
                .actions
                .remove(&seq)
                .expect("every queued action is kept");
            let what = action.clone();
            self.act(at, action)
                .with_context(|| format!("simulated {what:?} at {at}"))?;
        }
        Ok(())
    }

    fn number(&self, d: usize) -> ApplicationNumber {
        let doc = &self.docs[d];
        ApplicationNumber::try_from(number_of(&self.branches[doc.branch].code, doc))
            .expect("checked when drawn")
    }

    fn waybill(&self, d: usize) -> Waybill {
        Waybill::try_from(format!("WB-{}", self.number(d))).expect("checked when drawn")
    }

    fn iin(&self, d: usize) -> Iin {
        Iin::try_from(format!("{:012}", self.docs[d].iin)).expect("checked when drawn")
    }

    /// The generator of the document's branch.
    fn model(&mut self, d: usize) -> &mut Model {
        let b = self.docs[d].branch;
        &mut self.branches[b].model
    }

    fn staff(&self, branch: usize, who: fn(&Branch) -> &Actor) -> Actor {
        who(&self.branches[branch]).clone()
    }
    fn act(&mut self, at: DateTime<Utc>, action: Action) -> anyhow::Result<()> {
        let snapshot = self.snapshot();
        self.outcome.workflow_calls += 1;
        match action {
            Action::Submit(d) => {
                let model = self.model(d);
                let language = if model.minutes(2) == 0 {
                    Language::Kk
                } else {
                    Language::Ru
                };
                let applicant_name = Text::try_from(model.name().to_owned())?;
                let phone = Phone::try_from(model.phone())?;
                let doc = &self.docs[d];
                let b = &self.branches[doc.branch];
                let new = register::NewApplication {
                    number: self.number(d),
                    applicant_iin: self.iin(d),
                    applicant_name,
                    phone,
                    language,
                    delivery_method: if doc.fate.at_con {
                        DeliveryMethod::Con
                    } else {
                        DeliveryMethod::Postamat
                    },
                    postamat: (!doc.fate.at_con).then(|| b.postamats[doc.fate.postamat].clone()),
                    registry_office_code: ExternalId::try_from(format!("RAGS-{}", b.code))?,
                    branch: b.code.clone(),
                    submitted_at: at,
                    payload_hash: format!("simulated:{}", self.number(d)),
                };
                let ctx = self.reported(d, self.kaspi.clone(), Source::Kaspi, "APP", at, &snapshot);
                register::register(self.conn, &new, self.settings.pilot, &ctx)?;
                self.outcome.applications += 1;
                // The registry office executes it on a working day after (п.8).
                let mut day = local_day(at);
                for _ in 0..=self.docs[d].fate.extra_execution_days {
                    day = snapshot.calendar.next_working_day(day)?;
                }
                let minute = self.model(d).minutes(120);
                self.at(local(day, 11, minute), Action::Execute(d));
            }
            Action::Execute(d) => {
                self.registry_office_reports(d, FinalStatus::Executed, at, &snapshot)?;
                let doc = &self.docs[d];
                if doc.fate.at_con {
                    self.branches[doc.branch].ready_con.push(d);
                } else {
                    // Kaspi creates the delivery order minutes later (п.8–10).
                    let order = kaspi_order::KaspiOrder {
                        application_number: self.number(d).to_string(),
                        order_id: ExternalId::try_from(format!("K-{}", self.number(d)))?,
                        waybill: self.waybill(d),
                    };
                    let branch = doc.branch;
                    let ctx = self.reported(
                        d,
                        self.kaspi.clone(),
                        Source::Kaspi,
                        "ORDER",
                        at + Duration::minutes(5),
                        &snapshot,
                    );
                    kaspi_order::record_order(self.conn, &order, &ctx)?;
                    self.branches[branch].ready_postamat.push(d);
                }
            }
            Action::Intake(b) => self.intake(b, at, &snapshot)?,
            Action::ReturnPickup(b) => self.return_pickup(b, at, &snapshot)?,
            Action::Handover {
                branch,
                registry,
                number,
                kind,
                docs,
            } => {
                if !self.working(local_day(at)) || self.branches[branch].is_closed(at) {
                    let next = self.next_open(branch, local_day(at), 10, 0);
                    self.at(
                        next,
                        Action::Handover {
                            branch,
                            registry,
                            number,
                            kind,
                            docs,
                        },
                    );
                    return Ok(());
                }
                let courier = self.staff(branch, |b| &b.courier);
                let ctx = EventContext::now(courier, at, &snapshot);
                let scope = self.branches[branch].scope.clone();
                registries::hand_over(self.conn, registry, "Курьер (simulated)", &scope, &ctx)?;
                match kind {
                    // Kaspi's point accepts the envelopes within the hour (п.18).
                    RegistryKind::KaspiHandoff => self.at(
                        at + Duration::minutes(60),
                        Action::KaspiAccept {
                            branch,
                            registry: number,
                            docs,
                        },
                    ),
                    // Back at the issuance sector: the citizen is told where to come (п.34).
                    RegistryKind::ReturnPickup => {
                        for d in docs {
                            self.con_visit(d, at);
                        }
                    }
                }
            }
            Action::KaspiAccept {
                branch,
                registry,
                docs,
            } => {
                // An envelope the point does not accept comes back with the State courier the
                // next working day (п.18) and goes onto the next registry.
                let (refused, docs): (Vec<usize>, Vec<usize>) = docs
                    .into_iter()
                    .partition(|&d| self.docs[d].fate.not_accepted);
                for d in refused {
                    self.docs[d].fate.not_accepted = false;
                    let next = self.next_open(self.docs[d].branch, local_day(at), 9, 0);
                    self.at(next, Action::BringBack(d));
                }
                let waybills = docs.iter().map(|&d| self.waybill(d)).collect();
                let kaspi_registry = ExternalId::try_from(format!("KSP-{registry}"))?;
                let body = KaspiEventBody::AcceptedAtPoint {
                    handoff_registry: ExternalId::try_from(registry)?,
                    kaspi_registry_number: kaspi_registry,
                    accepted_waybills: waybills,
                };
                self.kaspi_events(branch, at, vec![(at, body)], &snapshot)?;
                for d in docs {
                    let fate = self.docs[d].fate.clone();
                    if fate.loss == Some(LossPoint::Kaspi) {
                        self.at(at + Duration::hours(20), Action::KaspiLost(d));
                        continue;
                    }
                    // The citizen asks for the ЦОН while it waits at the point: it goes back
                    // by the return path, not to a cell.
                    if fate.con_instead {
                        self.at(at + Duration::hours(2), Action::ConInstead(d));
                        continue;
                    }
                    if fate.postamat_change {
                        self.at(at + Duration::hours(2), Action::PostamatChange(d));
                    }
                    let minute = self.model(d).minutes(8 * 60);
                    let placed = local(
                        local_day(at) + Days::new(1 + u64::from(fate.placement_late_days)),
                        10,
                        minute,
                    );
                    if fate.delay_reported {
                        self.at(
                            at + Duration::hours(20),
                            Action::KaspiDelayed(d, local_day(placed)),
                        );
                    }
                    self.at(placed, Action::KaspiPlaced(d));
                }
            }
            Action::KaspiDelayed(d, date) => {
                let body = KaspiEventBody::Delayed {
                    waybill: self.waybill(d),
                    new_expected_date: date,
                };
                self.kaspi_events(self.docs[d].branch, at, vec![(at, body)], &snapshot)?;
            }
            Action::KaspiPlaced(d) => {
                let doc = &self.docs[d];
                let waybill = self.waybill(d);
                let postamat = self.branches[doc.branch].postamats[doc.fate.postamat].clone();
                let cell = ExternalId::try_from(format!("C-{}", 1 + d % 40))?;
                self.kaspi_events(
                    self.docs[d].branch,
                    at,
                    vec![
                        (
                            at - Duration::minutes(90),
                            KaspiEventBody::OutForDelivery {
                                waybill: waybill.clone(),
                            },
                        ),
                        (
                            at,
                            KaspiEventBody::PlacedInCell {
                                waybill,
                                postamat_id: postamat,
                                cell,
                            },
                        ),
                    ],
                    &snapshot,
                )?;
                if self.docs[d].fate.removed_early {
                    self.at(at + Duration::hours(20), Action::KaspiRemovedEarly(d));
                    return Ok(());
                }
                match self.docs[d].fate.collection {
                    Collection::AfterHours(hours) => {
                        self.at(at + Duration::hours(hours), Action::KaspiCollected(d))
                    }
                    // Storage runs out first; the collection is reported after (a late truth).
                    Collection::AfterExpiry(hours) => {
                        let due = self.storage_due(d)?;
                        self.at(due + Duration::hours(hours), Action::KaspiCollected(d));
                    }
                    Collection::Never => {
                        let due = self.storage_due(d)?;
                        self.at(due + Duration::hours(3), Action::KaspiRemoved(d));
                    }
                }
            }
            Action::KaspiCollected(d) => {
                let body = KaspiEventBody::Collected {
                    waybill: self.waybill(d),
                };
                self.kaspi_events(self.docs[d].branch, at, vec![(at, body)], &snapshot)?;
            }
            Action::KaspiRemoved(d) => {
                // Not before the sweeper has seen storage run out (a force-majeure period may
                // have moved its end since).
                let due = self.storage_due(d)?;
                if at < due + Duration::hours(1) {
                    self.at(due + Duration::hours(3), Action::KaspiRemoved(d));
                    return Ok(());
                }
                let body = KaspiEventBody::RemovedFromCell {
                    waybill: self.waybill(d),
                };
                self.kaspi_events(self.docs[d].branch, at, vec![(at, body)], &snapshot)?;
                let minute = self.model(d).minutes(240);
                self.at(
                    local(local_day(at) + Days::new(1), 10, minute),
                    Action::KaspiReturned(d),
                );
            }
            Action::KaspiRemovedEarly(d) => {
                let body = KaspiEventBody::RemovedFromCell {
                    waybill: self.waybill(d),
                };
                self.kaspi_events(self.docs[d].branch, at, vec![(at, body)], &snapshot)?;
                let minute = self.model(d).minutes(240);
                self.at(
                    local(local_day(at) + Days::new(1), 10, minute),
                    Action::KaspiReturned(d),
                );
            }
            Action::KaspiReturned(d) => {
                let body = KaspiEventBody::ReturnedToPoint {
                    waybill: self.waybill(d),
                };
                self.kaspi_events(self.docs[d].branch, at, vec![(at, body)], &snapshot)?;
                let branch = self.docs[d].branch;
                self.branches[branch].returned.push(d);
            }
            Action::KaspiLost(d) => {
                let number = ExternalId::try_from(format!("KSP-LA-{}", self.number(d)))?;
                let body = KaspiEventBody::Lost {
                    waybill: self.waybill(d),
                    loss_act: KaspiLossAct {
                        number,
                        cause: Text::try_from("Утерян при доставке".to_owned())?,
                        circumstances: Text::try_from("Simulated".to_owned())?,
                        responsible_employee: Text::try_from("Курьер Kaspi".to_owned())?,
                    },
                };
                self.kaspi_events(self.docs[d].branch, at, vec![(at, body)], &snapshot)?;
                let act = self.open_act_of(d)?;
                let next = self.next_open(self.docs[d].branch, local_day(at), 10, 0);
                self.at(next, Action::DrawAct(d, act));
            }
            Action::BringBack(d) => {
                let branch = self.docs[d].branch;
                let courier = self.staff(branch, |b| &b.courier);
                let ctx = EventContext::now(courier, at, &snapshot);
                let scope = self.branches[branch].scope.clone();
                let shipment = self.shipment(d)?;
                registries::bring_back(
                    self.conn,
                    shipment,
                    "not accepted at the Kaspi point (simulated)",
                    &scope,
                    &ctx,
                )?;
                self.branches[branch].brought_back.push(d);
            }
            Action::PostamatChange(d) => {
                let doc = &self.docs[d];
                let postamats = &self.branches[doc.branch].postamats;
                let to = (doc.fate.postamat + 1) % postamats.len();
                let postamat = postamats[to].clone();
                let number = self.number(d);
                let ctx = self.reported(d, self.kaspi.clone(), Source::Kaspi, "PST", at, &snapshot);
                delivery::change_postamat(
                    self.conn,
                    number.as_str(),
                    &postamat,
                    DeliveryChangeReason::PostamatOutOfService,
                    &ctx,
                )?;
                self.docs[d].fate.postamat = to;
            }
            Action::ConInstead(d) => {
                let number = self.number(d);
                let ctx = self.reported(d, self.kaspi.clone(), Source::Kaspi, "CON", at, &snapshot);
                delivery::reroute_to_con(
                    self.conn,
                    number.as_str(),
                    DeliveryChangeReason::CitizenRequest,
                    &BranchScope::All,
                    &ctx,
                )?;
                let branch = self.docs[d].branch;
                self.branches[branch].returned.push(d);
            }
            Action::ConVisit(d) => {
                let branch = self.docs[d].branch;
                if !self.working(local_day(at)) || self.branches[branch].is_closed(at) {
                    let next = self.next_open(branch, local_day(at), 11, 0);
                    self.at(next, Action::ConVisit(d));
                    return Ok(());
                }
                let issuer = self.staff(branch, |b| &b.issuer);
                let ctx = EventContext::now(issuer, at, &snapshot);
                let scope = self.branches[branch].scope.clone();
                let shipment = self.shipment(d)?;
                issuance::issue(
                    self.conn,
                    shipment,
                    issuance::Receiver::Applicant { iin: self.iin(d) },
                    &scope,
                    &ctx,
                )?;
            }
            Action::Transfer(d) => {
                let branch = self.docs[d].branch;
                let issuer = self.staff(branch, |b| &b.issuer);
                let ctx = EventContext::now(issuer, at, &snapshot);
                let scope = self.branches[branch].scope.clone();
                let shipment = self.shipment(d)?;
                let transfer = issuance::Transfer {
                    to_whom: Text::try_from("Архив ЦОН".to_owned())?,
                    reference: Text::try_from(format!("Акт передачи {}", self.number(d)))?,
                };
                issuance::transfer(self.conn, shipment, &transfer, &scope, &ctx)?;
            }
            Action::DrawAct(d, act) => {
                let branch = self.docs[d].branch;
                let key = self.branches[branch].clerk.key_id.expect("staff have keys");
                let scope = self.branches[branch].scope.clone();
                loss::draw_act(self.conn, act, key, &scope, at)?;
                // The registry office receives the act's second copy and cancels (п.24).
                self.at(at + Duration::hours(3), Action::Cancel(d));
                if self.docs[d].fate.disputed {
                    self.at(at + Duration::hours(1), Action::OpenDispute(d));
                }
            }
            Action::Cancel(d) => {
                self.registry_office_reports(d, FinalStatus::Cancelled, at, &snapshot)?;
                let next = self.next_open(self.docs[d].branch, local_day(at), 12, 0);
                self.at(next, Action::Duplicate(d));
            }
            Action::Duplicate(d) => {
                // The citizen asks for the free duplicate (п.25–26).
                let branch = self.docs[d].branch;
                let issuer = self.staff(branch, |b| &b.issuer);
                let ctx = EventContext::now(issuer, at, &snapshot);
                let scope = self.branches[branch].scope.clone();
                let number = self.number(d);
                duplicate::request_duplicate(self.conn, number.as_str(), &scope, &ctx)?;
                self.docs[d].shipment = None;
                // The registry office issues the new certificate the next working day; it is
                // taken in on the ЦОН route.
                let day = snapshot.calendar.next_working_day(local_day(at))?;
                self.at(local(day, 11, 0), Action::DuplicateReady(d));
            }
            Action::DuplicateReady(d) => {
                let branch = self.docs[d].branch;
                self.docs[d].fate.at_con = true;
                self.docs[d].fate.con_visit_hours = Some(4);
                self.branches[branch].ready_con.push(d);
            }
            Action::OpenDispute(d) => {
                let branch = self.docs[d].branch;
                let supervisor = self.branches[branch].supervisor.clone();
                let ctx = EventContext::now(Actor::from(&supervisor), at, &snapshot);
                let shipment = self.shipment(d)?;
                let opened = disputes::open(
                    self.conn,
                    &disputes::OpenDispute {
                        shipment_id: shipment,
                        loss_act_id: None,
                        parties: Text::try_from("Госкорпорация и Kaspi".to_owned())?,
                        subject: Text::try_from("Ответственность за утерю".to_owned())?,
                        opened_on: local_day(at),
                    },
                    supervisor.key_id,
                    &supervisor.scope,
                    &ctx,
                )?;
                self.at(at + Duration::days(5), Action::SettleDispute(opened.id, d));
            }
            Action::SettleDispute(id, d) => {
                let branch = self.docs[d].branch;
                let supervisor = self.branches[branch].supervisor.clone();
                let ctx = EventContext::now(Actor::from(&supervisor), at, &snapshot);
                disputes::settle(
                    self.conn,
                    id,
                    &disputes::Settlement {
                        commission_protocol: Text::try_from("Протокол комиссии".to_owned())?,
                        outcome: Text::try_from("Ответственность установлена".to_owned())?,
                        settled_on: local_day(at),
                    },
                    &supervisor.scope,
                    &ctx,
                )?;
            }
        }
        Ok(())
    }

    fn reported<'s>(
        &mut self,
        d: usize,
        actor: Actor,
        source: Source,
        prefix: &str,
        at: DateTime<Utc>,
        snapshot: &'s crate::domain::calendar::CalendarSnapshot,
    ) -> EventContext<'s> {
        let id = self.event_id(self.docs[d].branch, prefix);
        EventContext::reported(actor, source, id, at, at, snapshot)
    }

    /// The registry office reports a final status of a document's application (п.8, 24).
    fn registry_office_reports(
        &mut self,
        d: usize,
        status: FinalStatus,
        at: DateTime<Utc>,
        snapshot: &crate::domain::calendar::CalendarSnapshot,
    ) -> anyhow::Result<()> {
        let actor = self.registry_office.clone();
        let ctx = self.reported(d, actor, Source::RegistryOffice, "RAGS", at, snapshot);
        let number = self.number(d);
        registry_office::apply_status(
            self.conn,
            number.as_str(),
            status,
            self.settings.pilot,
            &ctx,
        )?;
        Ok(())
    }

    /// Kaspi's events, delivered together as its webhook would (`at` is when they arrive).
    fn kaspi_events(
        &mut self,
        branch: usize,
        at: DateTime<Utc>,
        events: Vec<(DateTime<Utc>, KaspiEventBody)>,
        snapshot: &crate::domain::calendar::CalendarSnapshot,
    ) -> anyhow::Result<()> {
        let mut built = Vec::new();
        for (occurred_at, body) in events {
            built.push(KaspiEvent {
                event_id: ExternalId::try_from(self.event_id(branch, "KSP"))?,
                occurred_at,
                body,
            });
        }
        let refs: Vec<&KaspiEvent> = built.iter().collect();
        let received = kaspi_events::receive_chunk(
            self.conn,
            &refs,
            kaspi_events::Delivery {
                actor: &self.kaspi,
                now: at,
                calendar: snapshot,
            },
        )?;
        for r in &received {
            if r.outcome.as_str() == "rejected" {
                bail!(
                    "Kaspi event {} rejected: {} {}",
                    r.event_id,
                    r.reason.as_deref().unwrap_or(""),
                    r.detail.as_deref().unwrap_or("")
                );
            }
        }
        Ok(())
    }

    fn shipment(&self, d: usize) -> anyhow::Result<ShipmentId> {
        self.docs[d]
            .shipment
            .ok_or_else(|| anyhow!("{} has no shipment yet", self.number(d)))
    }

    /// When the document's storage in the postamat runs out.
    fn storage_due(&mut self, d: usize) -> anyhow::Result<DateTime<Utc>> {
        let shipment = self.shipment(d)?;
        deadline::of_shipment(self.conn, shipment)?
            .into_iter()
            .find(|dl| dl.kind == DeadlineKind::Storage)
            .map(|dl| dl.due_at)
            .ok_or_else(|| anyhow!("{} has no storage deadline", self.number(d)))
    }

    fn open_act_of(&mut self, d: usize) -> anyhow::Result<LossActId> {
        let shipment = self.shipment(d)?;
        let scope = self.branches[self.docs[d].branch].scope.clone();
        loss_act::list(self.conn, &scope, None, 1000)?
            .into_iter()
            .find(|(act, _, _)| act.shipment_id == shipment)
            .map(|(act, _, _)| act.id)
            .ok_or_else(|| anyhow!("no loss act for {}", self.number(d)))
    }

    /// The citizen comes to the ЦОН for a document kept there, or never does (then it is
    /// transferred after its month, п.35).
    fn con_visit(&mut self, d: usize, ready: DateTime<Utc>) {
        match self.docs[d].fate.con_visit_hours {
            Some(hours) => self.at(ready + Duration::hours(hours), Action::ConVisit(d)),
            None => {
                let month = ready + Duration::days(32);
                self.at(month, Action::Transfer(d));
            }
        }
    }

    /// The accumulation sector's afternoon on a working day: intake of what the registry office
    /// executed (п.7, 14), labels (п.15–16), one handoff registry sealed for the courier's
    /// next-working-day visit (п.13, 17).
    fn intake(
        &mut self,
        b: usize,
        at: DateTime<Utc>,
        snapshot: &crate::domain::calendar::CalendarSnapshot,
    ) -> anyhow::Result<()> {
        if !self.working(local_day(at)) || self.branches[b].is_closed(at) {
            return Ok(());
        }
        let clerk = self.staff(b, |b| &b.clerk);
        let ctx = EventContext::now(clerk.clone(), at, snapshot);
        let scope = self.branches[b].scope.clone();
        // The ЦОН route: straight on to the issuance sector with the registry office's registry.
        let con = std::mem::take(&mut self.branches[b].ready_con);
        if !con.is_empty() {
            let numbers: Vec<ApplicationNumber> = con.iter().map(|&d| self.number(d)).collect();
            let registry =
                Text::try_from(format!("RAGS-{}-{}", self.branches[b].code, local_day(at)))?;
            let taken = intake::take_in_all(self.conn, &numbers, Some(&registry), &scope, &ctx)?;
            for (&d, result) in con.iter().zip(taken) {
                let row = result.map_err(|e| refused(&self.number(d), "intake", e))?;
                self.docs[d].shipment = Some(row.id);
                self.con_visit(d, at);
            }
        }
        let postamat = std::mem::take(&mut self.branches[b].ready_postamat);
        // Envelopes the courier brought back go onto today's registry with the new ones.
        let mut packed = std::mem::take(&mut self.branches[b].brought_back);
        let numbers: Vec<ApplicationNumber> = postamat.iter().map(|&d| self.number(d)).collect();
        let taken = if numbers.is_empty() {
            Vec::new()
        } else {
            intake::take_in_all(self.conn, &numbers, None, &scope, &ctx)?
        };
        for (&d, result) in postamat.iter().zip(taken) {
            let row = result.map_err(|e| refused(&self.number(d), "intake", e))?;
            self.docs[d].shipment = Some(row.id);
            if self.docs[d].fate.loss == Some(LossPoint::AccumulationSector) {
                let act = loss::record_state_loss(
                    self.conn,
                    row.id,
                    loss::StateLoss {
                        cause: Text::try_from("Утерян в секторе накопления".to_owned())?,
                        circumstances: Text::try_from("Simulated".to_owned())?,
                        responsible_employee: Text::try_from(clerk.name.clone())?,
                    },
                    &scope,
                    &ctx,
                )?;
                let next = self.next_open(b, local_day(at), 10, 0);
                self.at(next, Action::DrawAct(d, act));
                continue;
            }
            let waybill = self.waybill(d);
            label::label(self.conn, row.id, &waybill, &scope, &ctx)?;
            packed.push(d);
        }
        if packed.is_empty() {
            return Ok(());
        }
        self.seal_for_courier(b, RegistryKind::KaspiHandoff, packed, at, snapshot)
    }

    /// The documents back at Kaspi's point go on a return pickup registry (п.32–33).
    fn return_pickup(
        &mut self,
        b: usize,
        at: DateTime<Utc>,
        snapshot: &crate::domain::calendar::CalendarSnapshot,
    ) -> anyhow::Result<()> {
        if !self.working(local_day(at))
            || self.branches[b].is_closed(at)
            || self.branches[b].returned.is_empty()
        {
            return Ok(());
        }
        let docs = std::mem::take(&mut self.branches[b].returned);
        self.seal_for_courier(b, RegistryKind::ReturnPickup, docs, at, snapshot)
    }

    fn seal_for_courier(
        &mut self,
        b: usize,
        kind: RegistryKind,
        docs: Vec<usize>,
        at: DateTime<Utc>,
        snapshot: &crate::domain::calendar::CalendarSnapshot,
    ) -> anyhow::Result<()> {
        let clerk = self.staff(b, |b| &b.clerk);
        let ctx = EventContext::now(clerk, at + Duration::minutes(30), snapshot);
        let scope = self.branches[b].scope.clone();
        let numbers: Vec<ApplicationNumber> = docs.iter().map(|&d| self.number(d)).collect();
        let branch_id = self.branches[b].id;
        let draft = registries::draft(self.conn, kind, branch_id, &numbers, &scope, &ctx)?;
        let sealed = registries::seal(self.conn, draft.id, &scope, &ctx)?;
        let number = sealed
            .number
            .ok_or_else(|| anyhow!("a sealed registry has a number"))?;
        // Lost after the registry was sealed (issue 23 trap 1): the courier signs for the rest.
        let (lost, docs): (Vec<usize>, Vec<usize>) = docs
            .into_iter()
            .partition(|&d| self.docs[d].fate.loss == Some(LossPoint::AfterSealing));
        for d in lost {
            let clerk = self.staff(b, |b| &b.clerk);
            let act = loss::record_state_loss(
                self.conn,
                self.shipment(d)?,
                loss::StateLoss {
                    cause: Text::try_from("Утерян после закрытия реестра".to_owned())?,
                    circumstances: Text::try_from("Simulated".to_owned())?,
                    responsible_employee: Text::try_from(clerk.name.clone())?,
                },
                &scope,
                &ctx,
            )?;
            let next = self.next_open(b, local_day(at), 10, 0);
            self.at(next, Action::DrawAct(d, act));
        }
        // The State courier comes the next working day by 12:00 (п.17, 33), now and then late;
        // the handoff is met when the point accepts the bag an hour later (п.17, 18).
        let model = &mut self.branches[b].model;
        let hour = if model.courier_late() { 13 } else { 10 };
        let minute = model.minutes(60);
        let next = self.next_open(b, local_day(at), hour, minute);
        self.at(
            next,
            Action::Handover {
                branch: b,
                registry: draft.id,
                number,
                kind,
                docs,
            },
        );
        Ok(())
    }
}

fn number_of(code: &BranchCode, doc: &Doc) -> String {
    format!("{code}-{}-{:05}", doc.day.format("%Y%m%d"), doc.n)
}

fn refused(number: &ApplicationNumber, what: &str, e: WorkflowError) -> anyhow::Error {
    anyhow!("{what} of {number} refused: {e}")
}
