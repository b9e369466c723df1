//! The report's tables: one row type each, with its name and CSV columns, and the report
//! written out as `pilot.json` and a CSV per table.

use super::PilotReport;
use crate::domain::deadline::DeadlineKind;
use serde::Serialize;
use utoipa::ToSchema;

/// A table of the report: its rows' fields in the order the CSV writes them.
pub trait Table: Serialize {
    const NAME: &'static str;
    const COLUMNS: &'static [&'static str];
}

macro_rules! table {
    ($ty:ident, $name:literal, [$($col:literal),+ $(,)?]) => {
        impl Table for $ty {
            const NAME: &'static str = $name;
            const COLUMNS: &'static [&'static str] = &[$($col),+];
        }
    };
}

/// The headline: postamat deliveries that reached the citizen in the period, and how many of
/// them without any exception — no deadline missed, no discrepancy, no change of way, no
/// early removal, no delay reported.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Headline {
    pub branch: String,
    pub postamat_deliveries: i64,
    pub without_exception: i64,
    /// `without_exception / postamat_deliveries`, 0 when there were none.
    pub share_without_exception: f64,
}

table!(
    Headline,
    "headline",
    [
        "branch",
        "postamat_deliveries",
        "without_exception",
        "share_without_exception"
    ]
);

/// How many did each step in the period.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Volumes {
    pub branch: String,
    /// Applications submitted, by the way of delivery they have now (п.3).
    pub applications_postamat: i64,
    pub applications_con: i64,
    /// Originals executed by the registry office (п.8).
    pub executed: i64,
    /// Taken in by the accumulation sector (п.7).
    pub taken_in: i64,
    /// Accepted at the Kaspi point (п.18).
    pub handed_to_kaspi: i64,
    /// Placed in a cell (п.19), a placement again after an early removal included.
    pub placed: i64,
    /// Collected by the citizen (п.29).
    pub collected: i64,
    /// Not collected in time: storage ran out (п.30).
    pub returned: i64,
    pub issued_at_con: i64,
    /// Handed on after a month at the issuance sector (п.35).
    pub transferred_after_storage: i64,
    pub lost: i64,
    /// Issue 23: the way of delivery changed before placement.
    pub postamat_changed: i64,
    pub rerouted_to_con: i64,
}

table!(
    Volumes,
    "volumes",
    [
        "branch",
        "applications_postamat",
        "applications_con",
        "executed",
        "taken_in",
        "handed_to_kaspi",
        "placed",
        "collected",
        "returned",
        "issued_at_con",
        "transferred_after_storage",
        "lost",
        "postamat_changed",
        "rerouted_to_con"
    ]
);

/// Hours from one step to another for the documents that reached the citizen in the period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TimeToCitizen {
    pub branch: String,
    /// `execution_to_collection` (postamat) and `execution_to_issue` (ЦОН), and each leg of the
    /// postamat way: `execution_to_intake`, `intake_to_handover`, `handover_to_acceptance`,
    /// `acceptance_to_placement`, `placement_to_collection`.
    pub measure: String,
    pub documents: i64,
    pub p50_hours: f64,
    pub p90_hours: f64,
    pub max_hours: f64,
}

table!(
    TimeToCitizen,
    "time_to_citizen",
    [
        "branch",
        "measure",
        "documents",
        "p50_hours",
        "p90_hours",
        "max_hours"
    ]
);

/// Deadlines falling due in the period by clause (DOMAIN.md §5), and who missed them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Deadlines {
    pub branch: String,
    pub deadline: DeadlineKind,
    pub clause: String,
    pub met_on_time: i64,
    pub met_late: i64,
    /// Passed unmet and not met since.
    pub breached: i64,
    pub missed_by_state_corporation: i64,
    pub missed_by_kaspi: i64,
    pub missed_by_registry_office: i64,
}

table!(
    Deadlines,
    "deadlines",
    [
        "branch",
        "deadline",
        "clause",
        "met_on_time",
        "met_late",
        "breached",
        "missed_by_state_corporation",
        "missed_by_kaspi",
        "missed_by_registry_office"
    ]
);

/// Documents not collected in time (п.29–30), as a share of placements, and where they are now.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Returns {
    pub branch: String,
    pub placed: i64,
    pub returned: i64,
    pub share_returned: f64,
    /// Collected after all (the citizen came after the storage ran out).
    pub then_collected: i64,
    pub then_issued_at_con: i64,
    pub then_transferred: i64,
    pub then_lost: i64,
    /// Still on the way back, or waiting at the issuance sector.
    pub still_on_the_way: i64,
}

table!(
    Returns,
    "returns",
    [
        "branch",
        "placed",
        "returned",
        "share_returned",
        "then_collected",
        "then_issued_at_con",
        "then_transferred",
        "then_lost",
        "still_on_the_way"
    ]
);

/// Losses recorded in the period by side (п.22–23), and their acts (п.24).
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Losses {
    pub branch: String,
    /// `kaspi` or `state_corporation`.
    pub side: String,
    pub losses: i64,
    pub acts_drawn: i64,
}

table!(Losses, "losses", ["branch", "side", "losses", "acts_drawn"]);

/// Free duplicates requested in the period (п.26) and whether issued within 3 working days.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Duplicates {
    pub branch: String,
    pub requested: i64,
    pub issued_in_time: i64,
    pub issued_late: i64,
    /// Its 3 working days passed and it is not issued.
    pub overdue: i64,
    pub pending: i64,
}

table!(
    Duplicates,
    "duplicates",
    [
        "branch",
        "requested",
        "issued_in_time",
        "issued_late",
        "overdue",
        "pending"
    ]
);

/// Disputes opened in the period (п.36) and whether the commission settled them.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Disputes {
    pub branch: String,
    pub opened: i64,
    pub settled: i64,
    pub open: i64,
}

table!(
    Disputes,
    "disputes",
    ["branch", "opened", "settled", "open"]
);

/// Force-majeure periods overlapping the period (п.37–39): how many, how many of its days
/// they covered, and whether noticed in time.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ForceMajeureDays {
    /// A branch, or `national`.
    pub branch: String,
    pub periods: i64,
    /// Days of the report's period they covered (a day partly covered counts).
    pub days: i64,
    pub noticed_in_time: i64,
    pub noticed_late: i64,
    /// No notice yet: still awaited, or missing.
    pub not_noticed: i64,
}

table!(
    ForceMajeureDays,
    "force_majeure",
    [
        "branch",
        "periods",
        "days",
        "noticed_in_time",
        "noticed_late",
        "not_noticed"
    ]
);

/// Messages to citizens written in the period, by kind and channel (DOMAIN.md §7).
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Messages {
    pub branch: String,
    pub kind: String,
    pub channel: String,
    pub written: i64,
    /// Delivered to the gateway.
    pub sent: i64,
    pub pending: i64,
    /// Given up on (dead-lettered).
    pub dead: i64,
    /// Tried more than once.
    pub retried: i64,
    /// SMS written in the quiet hours, held back to the morning.
    pub held_by_quiet_hours: i64,
}

table!(
    Messages,
    "messages",
    [
        "branch",
        "kind",
        "channel",
        "written",
        "sent",
        "pending",
        "dead",
        "retried",
        "held_by_quiet_hours"
    ]
);

/// Requests to Kaspi and the registry office written in the period (national).
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Requests {
    pub destination: String,
    pub kind: String,
    pub written: i64,
    pub sent: i64,
    pub pending: i64,
    pub dead: i64,
    pub retried: i64,
}

table!(
    Requests,
    "requests",
    [
        "destination",
        "kind",
        "written",
        "sent",
        "pending",
        "dead",
        "retried"
    ]
);

/// A table as CSV: the header, then each row's fields in [`Table::COLUMNS`] order, each written
/// from the row's JSON value (so the CSV and the JSON hold the same figures).
pub fn csv<R: Table>(rows: &[R]) -> String {
    let mut out = R::COLUMNS.join(",");
    out.push('\n');
    for row in rows {
        let value = serde_json::to_value(row).unwrap_or_default();
        let cells: Vec<String> = R::COLUMNS
            .iter()
            .map(|column| match &value[*column] {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) if s.contains([',', '"', '\n']) => {
                    format!("\"{}\"", s.replace('"', "\"\""))
                }
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

impl PilotReport {
    /// Every table as (name, CSV).
    pub fn tables(&self) -> Vec<(&'static str, String)> {
        vec![
            (Headline::NAME, csv(&self.headline)),
            (Volumes::NAME, csv(&self.volumes)),
            (TimeToCitizen::NAME, csv(&self.time_to_citizen)),
            (Deadlines::NAME, csv(&self.deadlines)),
            (Returns::NAME, csv(&self.returns)),
            (Losses::NAME, csv(&self.losses)),
            (Duplicates::NAME, csv(&self.duplicates)),
            (Disputes::NAME, csv(&self.disputes)),
            (ForceMajeureDays::NAME, csv(&self.force_majeure)),
            (Messages::NAME, csv(&self.messages)),
            (Requests::NAME, csv(&self.requests)),
        ]
    }

    /// One table as CSV, by its name.
    pub fn table(&self, name: &str) -> Option<String> {
        self.tables()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, csv)| csv)
    }
}

/// Writes the report to `dir`: `pilot.json` and one `<table>.csv` per table (`postamat report
/// pilot`, and `postamat simulate`'s report).
pub fn write_files(report: &PilotReport, dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("pilot.json"), json + "\n")?;
    for (name, csv) in report.tables() {
        std::fs::write(dir.join(format!("{name}.csv")), csv)?;
    }
    Ok(())
}

/// The names of the tables, for the API's `table` parameter.
pub const TABLES: [&str; 11] = [
    Headline::NAME,
    Volumes::NAME,
    TimeToCitizen::NAME,
    Deadlines::NAME,
    Returns::NAME,
    Losses::NAME,
    Duplicates::NAME,
    Disputes::NAME,
    ForceMajeureDays::NAME,
    Messages::NAME,
    Requests::NAME,
];
