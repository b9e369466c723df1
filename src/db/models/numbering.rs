//! Gapless document numbers (`BRANCH-YEAR-NNNNNN`): registries (п.13, 32) and loss acts (п.24)
//! each have a series per branch and year.

use crate::db::DbConnection;
use crate::db::models::branch::BranchRow;
use crate::domain::identifiers::document_number;
use chrono::{DateTime, Datelike, Utc};
use diesel::prelude::*;

/// A numbered series of documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    Registry,
    LossAct,
}

impl Series {
    fn as_str(self) -> &'static str {
        match self {
            Series::Registry => "registry",
            Series::LossAct => "loss_act",
        }
    }
}

#[derive(QueryableByName)]
struct NextValue {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    last_value: i64,
}

/// The next number of the branch's series for the year `at` falls in, in the branch's zone.
/// Gapless, because it is taken in the same transaction as the document that uses it, and one
/// statement, so two first documents of a year cannot both insert the counter. (`$n`
/// placeholders work on both backends.)
pub fn next_number(
    conn: &mut DbConnection,
    branch: &BranchRow,
    series: Series,
    at: DateTime<Utc>,
) -> QueryResult<String> {
    let year = at.with_timezone(&branch.time_zone.tz()).year();
    let next = diesel::sql_query(
        "INSERT INTO number_sequences (branch_id, year, series, last_value) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (branch_id, year, series) DO UPDATE SET last_value = number_sequences.last_value + 1 \
         RETURNING last_value",
    )
    .bind::<crate::db::id::Uuid, _>(branch.id)
    .bind::<diesel::sql_types::Integer, _>(year)
    .bind::<diesel::sql_types::Text, _>(series.as_str())
    .get_result::<NextValue>(conn)?;
    Ok(document_number(&branch.code, year, next.last_value))
}
