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

mod application;
mod con;
mod kaspi;
pub mod model;
pub mod regions;
pub mod report;
mod settings;
mod setup;

pub use settings::{ForceMajeureSpec, Settings};

use crate::config::DispatchConfig;
use crate::db::models::api_key::{self, Principal};
use crate::db::models::branch::{self, BranchScope};
use crate::db::models::deadline;
use crate::db::models::loss_act;
use crate::db::{DbConnection, DbPool};
use crate::domain::calendar::CalendarSnapshot;
use crate::domain::deadline::DeadlineKind;
use crate::domain::identifiers::{ApplicationNumber, Iin, Waybill};
use crate::domain::ids::{BranchId, DisputeId, LossActId, RegistryId, ShipmentId};
use crate::domain::reference::{BranchCode, BranchTimeZone, KaspiPostamatId};
use crate::domain::registry::RegistryKind;
use crate::domain::role::Role;
use crate::jobs::calendar_refresh::CalendarCache;
use crate::jobs::dispatcher::Dispatcher;
use crate::workflows::{Actor, EventContext, WorkflowError, sweep};
use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Days, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use model::{Fate, Model};
use setup::{maintain, prepare, reference_data};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

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
    Handover(Handover),
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

/// A sealed registry the State courier takes (п.17): to Kaspi's point, or, for a return
/// pickup, back to the issuance sector.
#[derive(Debug, Clone)]
struct Handover {
    branch: usize,
    registry: RegistryId,
    number: String,
    kind: RegistryKind,
    docs: Vec<usize>,
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

fn sweep(
    conn: &mut DbConnection,
    at: DateTime<Utc>,
    calendar: &CalendarCache,
) -> anyhow::Result<()> {
    sweep::sweep(conn, at, &calendar.current())?;
    Ok(())
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

    /// `who` of `branch` acting at `at`, on their branch's records.
    fn staff<'s>(
        &self,
        branch: usize,
        who: fn(&Branch) -> &Actor,
        at: DateTime<Utc>,
        snapshot: &'s CalendarSnapshot,
    ) -> EventContext<'s> {
        let branch = &self.branches[branch];
        EventContext::now(who(branch).clone(), at, snapshot).within(branch.scope.clone())
    }

    /// `who` of document `d`'s branch acting at `at`, on their branch's records.
    fn staff_at<'s>(
        &self,
        d: usize,
        who: fn(&Branch) -> &Actor,
        at: DateTime<Utc>,
        snapshot: &'s CalendarSnapshot,
    ) -> EventContext<'s> {
        self.staff(self.docs[d].branch, who, at, snapshot)
    }

    fn act(&mut self, at: DateTime<Utc>, action: Action) -> anyhow::Result<()> {
        let snapshot = self.snapshot();
        self.outcome.workflow_calls += 1;
        match action {
            Action::Submit(d) => self.submit(d, at, &snapshot)?,
            Action::Execute(d) => self.execute(d, at, &snapshot)?,
            Action::Intake(b) => self.intake(b, at, &snapshot)?,
            Action::ReturnPickup(b) => self.return_pickup(b, at, &snapshot)?,
            Action::Handover(handover) => self.hand_over(handover, at, &snapshot)?,
            Action::KaspiAccept {
                branch,
                registry,
                docs,
            } => self.kaspi_accepts(branch, registry, docs, at, &snapshot)?,
            Action::KaspiDelayed(d, date) => self.kaspi_delayed(d, date, at, &snapshot)?,
            Action::KaspiPlaced(d) => self.kaspi_placed(d, at, &snapshot)?,
            Action::KaspiCollected(d) => self.kaspi_collected(d, at, &snapshot)?,
            Action::KaspiRemoved(d) => self.kaspi_removed(d, at, &snapshot)?,
            Action::KaspiRemovedEarly(d) => self.removed_from_cell(d, at, &snapshot)?,
            Action::KaspiReturned(d) => self.kaspi_returned(d, at, &snapshot)?,
            Action::KaspiLost(d) => self.kaspi_lost(d, at, &snapshot)?,
            Action::BringBack(d) => self.bring_back(d, at, &snapshot)?,
            Action::PostamatChange(d) => self.postamat_change(d, at, &snapshot)?,
            Action::ConInstead(d) => self.con_instead(d, at, &snapshot)?,
            Action::ConVisit(d) => self.citizen_collects(d, at, &snapshot)?,
            Action::Transfer(d) => self.transfer(d, at, &snapshot)?,
            Action::DrawAct(d, act) => self.draw_act(d, act, at, &snapshot)?,
            Action::Cancel(d) => self.cancel(d, at, &snapshot)?,
            Action::Duplicate(d) => self.duplicate(d, at, &snapshot)?,
            Action::DuplicateReady(d) => self.duplicate_ready(d),
            Action::OpenDispute(d) => self.open_dispute(d, at, &snapshot)?,
            Action::SettleDispute(id, d) => self.settle_dispute(id, d, at, &snapshot)?,
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
}

fn number_of(code: &BranchCode, doc: &Doc) -> String {
    format!("{code}-{}-{:05}", doc.day.format("%Y%m%d"), doc.n)
}

fn refused(number: &ApplicationNumber, what: &str, e: WorkflowError) -> anyhow::Error {
    anyhow!("{what} of {number} refused: {e}")
}
