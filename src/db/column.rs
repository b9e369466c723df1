//! Typed columns: a state, a kind, a language, a channel, an outcome or a time zone is stored as
//! its name and parsed once, when the row loads. A name our own code did not write is a
//! deserialisation error (the row is corrupt), never a silent default.

use super::MultiBackend;
use crate::domain::application::ApplicationStatus;
use crate::domain::calendar::{DayKind, EditAction};
use crate::domain::deadline::{DeadlineKind, DeadlineState};
use crate::domain::identifiers::{ApplicationNumber, Iin, Phone, Waybill};
use crate::domain::kaspi::{DiscrepancyKind, Outcome};
use crate::domain::loss::{LossActState, LossSide};
use crate::domain::notification::{
    Channel, DeliveryState, Destination, Language, NotificationKind, OutboundKind,
};
use crate::domain::reference::BranchTimeZone;
use crate::domain::registry::{RegistryKind, RegistryState};
use crate::domain::role::Role;
use crate::domain::shipment::{DeliveryMethod, IssuedTo, ShipmentKind, ShipmentState};
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;

/// Stores `$ty` as its text and parses it with `$parse` (`&str` to `deserialize::Result<$ty>`)
/// when a row loads.
macro_rules! text_column {
    ($ty:ident, $parse:expr) => {
        const _: () = {
            /// Lets diesel derive the expression and row impls for the domain's type.
            #[derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
            #[diesel(foreign_derive)]
            #[diesel(sql_type = Text)]
            #[allow(dead_code)]
            struct Proxy($ty);
        };

        impl ToSql<Text, Pg> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                <str as ToSql<Text, Pg>>::to_sql(self.as_str(), out)
            }
        }

        impl FromSql<Text, Pg> for $ty {
            fn from_sql(bytes: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                $parse(&<String as FromSql<Text, Pg>>::from_sql(bytes)?)
            }
        }

        impl ToSql<Text, Sqlite> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
                out.set_value(self.as_str());
                Ok(IsNull::No)
            }
        }

        impl FromSql<Text, Sqlite> for $ty {
            fn from_sql(bytes: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                $parse(&<String as FromSql<Text, Sqlite>>::from_sql(bytes)?)
            }
        }

        impl ToSql<Text, MultiBackend> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
                out.set_value((Text, self));
                Ok(IsNull::No)
            }
        }

        impl FromSql<Text, MultiBackend> for $ty {
            fn from_sql(
                bytes: <MultiBackend as Backend>::RawValue<'_>,
            ) -> deserialize::Result<Self> {
                bytes.from_sql::<$ty, Text>()
            }
        }
    };
}

/// Named values (`names!`): a name our own code did not write is an error.
macro_rules! text_columns {
    ($($ty:ident),+ $(,)?) => {$(
        impl $ty {
            fn from_stored(text: &str) -> deserialize::Result<Self> {
                $ty::parse(text).ok_or_else(|| {
                    format!(
                        "unknown {} '{}' in the database",
                        stringify!($ty),
                        text.chars().take(40).collect::<String>()
                    )
                    .into()
                })
            }
        }

        text_column!($ty, $ty::from_stored);
    )+};
}

text_columns!(
    ApplicationStatus,
    BranchTimeZone,
    Channel,
    DayKind,
    DeadlineKind,
    DeadlineState,
    DeliveryMethod,
    DeliveryState,
    Destination,
    DiscrepancyKind,
    EditAction,
    IssuedTo,
    Language,
    LossActState,
    LossSide,
    NotificationKind,
    Outcome,
    OutboundKind,
    RegistryKind,
    RegistryState,
    Role,
    ShipmentKind,
    ShipmentState,
);

/// The boundary newtypes (`domain::identifiers`), stored as their text and parsed again when a
/// row loads: what fails to parse was not written by this service, and is an error.
macro_rules! identifier_columns {
    ($($ty:ident),+ $(,)?) => {$(
        text_column!($ty, |text: &str| -> deserialize::Result<$ty> {
            Ok($ty::try_from(text.to_owned())?)
        });
    )+};
}

identifier_columns!(ApplicationNumber, Iin, Phone, Waybill);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_name_our_code_never_wrote_is_an_error_not_a_default() {
        assert_eq!(Outcome::from_stored("applied").unwrap(), Outcome::Applied);
        let err = Outcome::from_stored("maybe").unwrap_err().to_string();
        assert!(err.contains("unknown Outcome 'maybe'"), "{err}");
        assert!(BranchTimeZone::from_stored("Europe/Paris").is_err());
        assert_eq!(
            BranchTimeZone::from_stored("Asia/Oral").unwrap().as_str(),
            "Asia/Oral"
        );
    }

    /// An identifier loads only as the newtype it was written as: an IIN whose check digit is
    /// wrong was not written by this service, and reading it is an error, not a string.
    #[test]
    fn a_stored_identifier_is_parsed_again_when_its_row_loads() {
        use crate::db::{ConnectionManager, DatabaseLocation};
        use diesel::prelude::*;
        use diesel::r2d2::ManageConnection;
        let mut conn = ConnectionManager::new(DatabaseLocation::Sqlite(":memory:".into()))
            .connect()
            .expect("an in-memory database");
        let read = |conn: &mut crate::db::DbConnection, text: &str| {
            diesel::select(diesel::dsl::sql::<Text>("").bind::<Text, _>(text.to_owned()))
                .get_result::<Iin>(conn)
        };
        assert_eq!(
            read(&mut conn, "870412300129").unwrap().as_str(),
            "870412300129"
        );
        assert!(read(&mut conn, "870412300120").is_err());
        let phone: Phone = diesel::select(diesel::dsl::sql::<Text>("'+77011234567'"))
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(phone.as_str(), "+77011234567");
    }
}
