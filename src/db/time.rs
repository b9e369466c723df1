//! How instants are stored: `timestamp` (without a zone) on PostgreSQL and `%F %T%.f` text on
//! SQLite, both holding UTC. Rows and queries use `DateTime<Utc>`; the zone-less storage type
//! never leaves this file.

use super::MultiBackend;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{HasSqlType, Nullable, SqlType, Timestamp};
use diesel::sqlite::Sqlite;

/// The SQL type of every instant column: an instant in UTC, stored without a zone (the one
/// representation both backends share). Rows load `DateTime<Utc>` from it; values bind as [`At`].
#[derive(Debug, Clone, Copy, Default, SqlType, diesel::query_builder::QueryId)]
#[diesel(postgres_type(oid = 1114, array_oid = 1115))]
#[diesel(sqlite_type(name = "Text"))]
pub struct UtcTime;

impl HasSqlType<UtcTime> for MultiBackend {
    fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
        MultiBackend::lookup_sql_type::<UtcTime>(lookup)
    }
}

/// `MIN`, `MAX` and `ORDER BY` compare instants in time order on both backends (SQLite's text
/// form sorts as the instant does, within [`earliest`] and [`latest`]).
impl diesel::sql_types::SqlOrd for UtcTime {}

/// An instant bound to a `UtcTime` parameter: `deadlines::due_at.le(At(now))`, and the form
/// `Insertable` rows write their instants in (`#[diesel(serialize_as = At)]`).
///
/// Rows hold `DateTime<Utc>` and load it directly, but diesel binds a value through
/// `AsExpression`, which the orphan rule lets no crate but diesel implement for a chrono type (its
/// blanket impl over `Expression` might one day cover it). So binding goes through this local
/// wrapper, and only `db` ever writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsExpression)]
#[diesel(sql_type = UtcTime)]
pub struct At(pub DateTime<Utc>);

impl From<DateTime<Utc>> for At {
    fn from(t: DateTime<Utc>) -> Self {
        At(t)
    }
}

/// [`At`] for a nullable column's field: `#[diesel(serialize_as = MaybeAt)]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaybeAt(pub Option<DateTime<Utc>>);

impl From<Option<DateTime<Utc>>> for MaybeAt {
    fn from(t: Option<DateTime<Utc>>) -> Self {
        MaybeAt(t)
    }
}

impl AsExpression<Nullable<UtcTime>> for MaybeAt {
    type Expression = <Option<At> as AsExpression<Nullable<UtcTime>>>::Expression;
    fn as_expression(self) -> Self::Expression {
        AsExpression::<Nullable<UtcTime>>::as_expression(self.0.map(At))
    }
}

macro_rules! bind_through_instant {
    ($($db:ty),+) => {$(
        impl ToSql<UtcTime, $db> for At {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, $db>) -> serialize::Result {
                <DateTime<Utc> as ToSql<UtcTime, $db>>::to_sql(&self.0, out)
            }
        }
    )+};
}

bind_through_instant!(Pg, Sqlite, MultiBackend);

impl ToSql<UtcTime, Pg> for DateTime<Utc> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <NaiveDateTime as ToSql<Timestamp, Pg>>::to_sql(&self.naive_utc(), &mut out.reborrow())
    }
}

impl FromSql<UtcTime, Pg> for DateTime<Utc> {
    fn from_sql(bytes: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        Ok(<NaiveDateTime as FromSql<Timestamp, Pg>>::from_sql(bytes)?.and_utc())
    }
}

impl ToSql<UtcTime, Sqlite> for DateTime<Utc> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        // The text diesel writes for a `Timestamp`, so rows written before and after read alike.
        out.set_value(self.naive_utc().format("%F %T%.f").to_string());
        Ok(IsNull::No)
    }
}

impl FromSql<UtcTime, Sqlite> for DateTime<Utc> {
    fn from_sql(bytes: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        Ok(<NaiveDateTime as FromSql<Timestamp, Sqlite>>::from_sql(bytes)?.and_utc())
    }
}

impl ToSql<UtcTime, MultiBackend> for DateTime<Utc> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        out.set_value((UtcTime, self));
        Ok(IsNull::No)
    }
}

impl FromSql<UtcTime, MultiBackend> for DateTime<Utc> {
    fn from_sql(bytes: <MultiBackend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        bytes.from_sql::<DateTime<Utc>, UtcTime>()
    }
}

/// A bound that compares below every stored instant on both backends, for a filter whose bound
/// was not asked for. Not chrono's `MIN_UTC`: SQLite compares instants as text, and `+262142-…`
/// sorts before `2026-…`.
pub fn earliest() -> DateTime<Utc> {
    instant(NaiveDate::from_ymd_opt(1000, 1, 1), 0, 0, 0)
}

/// See [`earliest`]: compares above every stored instant.
pub fn latest() -> DateTime<Utc> {
    instant(NaiveDate::from_ymd_opt(9999, 12, 31), 23, 59, 59)
}

fn instant(day: Option<NaiveDate>, h: u32, m: u32, s: u32) -> DateTime<Utc> {
    day.and_then(|d| d.and_hms_opt(h, m, s))
        .expect("a valid instant")
        .and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{ConnectionManager, DatabaseLocation};
    use chrono::TimeZone;
    use diesel::prelude::*;
    use diesel::r2d2::ManageConnection;
    use diesel::sql_types::Text;

    /// An instant bound through `At` is stored as the text diesel's `Timestamp` wrote (rows
    /// written before this type existed read alike), and loads back as the same UTC instant.
    #[test]
    fn an_instant_is_stored_as_before_and_loads_back_as_utc() {
        let mut conn = ConnectionManager::new(DatabaseLocation::Sqlite(":memory:".into()))
            .connect()
            .expect("an in-memory database");
        let t = Utc.with_ymd_and_hms(2026, 2, 13, 9, 30, 5).unwrap()
            + chrono::Duration::microseconds(250);
        let text: String = diesel::select(
            diesel::dsl::sql::<Text>("CAST(")
                .bind::<UtcTime, _>(At(t))
                .sql(" AS TEXT)"),
        )
        .get_result(&mut conn)
        .unwrap();
        assert_eq!(text, "2026-02-13 09:30:05.000250");
        let back: DateTime<Utc> =
            diesel::select(diesel::dsl::sql::<UtcTime>("'2026-02-13 09:30:05.000250'"))
                .get_result(&mut conn)
                .unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn the_bounds_sort_around_every_instant_as_text_and_as_time() {
        let t = Utc.with_ymd_and_hms(2026, 2, 13, 9, 30, 0).unwrap();
        let text = |t: DateTime<Utc>| t.naive_utc().format("%F %T%.f").to_string();
        assert!(earliest() < t && t < latest());
        assert!(text(earliest()) < text(t) && text(t) < text(latest()));
    }
}
