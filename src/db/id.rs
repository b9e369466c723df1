//! How ids are stored: `uuid` on PostgreSQL, canonical hyphenated text on SQLite. The id types
//! themselves (one per entity) are `domain::ids`.

use super::MultiBackend;
use crate::domain::ids::*;
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{HasSqlType, SqlType, Text};
use diesel::sqlite::Sqlite;
use std::io::Write;

/// The SQL type of id columns.
#[derive(Debug, Clone, Copy, Default, SqlType, diesel::query_builder::QueryId)]
#[diesel(postgres_type(oid = 2950, array_oid = 2951))]
#[diesel(sqlite_type(name = "Text"))]
pub struct Uuid;

impl HasSqlType<Uuid> for MultiBackend {
    fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
        MultiBackend::lookup_sql_type::<Uuid>(lookup)
    }
}

macro_rules! uuid_columns {
    ($($id:ident),+ $(,)?) => {$(
        const _: () = {
            /// Lets diesel derive the expression and row impls for the domain's id type.
            #[derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
            #[diesel(foreign_derive)]
            #[diesel(sql_type = Uuid)]
            #[allow(dead_code)]
            struct Proxy($id);
        };

        impl ToSql<Uuid, Pg> for $id {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                out.write_all(self.0.as_bytes())?;
                Ok(IsNull::No)
            }
        }

        impl FromSql<Uuid, Pg> for $id {
            fn from_sql(bytes: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                Ok($id(uuid::Uuid::from_slice(bytes.as_bytes())?))
            }
        }

        impl ToSql<Uuid, Sqlite> for $id {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
                out.set_value(self.0.hyphenated().to_string());
                Ok(IsNull::No)
            }
        }

        impl FromSql<Uuid, Sqlite> for $id {
            fn from_sql(bytes: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                let text = <String as FromSql<Text, Sqlite>>::from_sql(bytes)?;
                Ok($id(uuid::Uuid::parse_str(&text)?))
            }
        }

        impl ToSql<Uuid, MultiBackend> for $id {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
                out.set_value((Uuid, self));
                Ok(IsNull::No)
            }
        }

        impl FromSql<Uuid, MultiBackend> for $id {
            fn from_sql(bytes: <MultiBackend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                bytes.from_sql::<$id, Uuid>()
            }
        }
    )+};
}

uuid_columns!(
    ApplicationId,
    ShipmentId,
    BranchId,
    PostamatId,
    KeyId,
    SessionId,
    RegistryId,
    LossActId,
    DisputeId,
    PeriodId,
    DeadlineId,
    MessageId,
    HistoryId,
    DiscrepancyId,
);
