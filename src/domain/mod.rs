//! The pure core: no I/O, no clock, no database. Everything here is tested with plain unit and
//! property tests.

/// `ALL`, `as_str`, `parse` and `Display` for an enum that is stored and sent by one name per
/// variant (`names!(Channel { KaspiApp => "kaspi_app", Sms1414 => "sms_1414" })`). `ALL` is an
/// array, so `for x in T::ALL` and `T::ALL.into_iter()` give the variants themselves; `Display`
/// pads, so a width like `{:<18}` lines up columns (`keys list`).
macro_rules! names {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: [$ty; [$($name),+].len()] = [$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }

            pub fn parse(s: &str) -> Option<$ty> {
                match s {
                    $($name => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }
    };
}
pub(crate) use names;

pub mod application;
pub mod calendar;
pub mod deadline;
pub mod force_majeure;
pub mod identifiers;
pub mod ids;
pub mod kaspi;
pub mod loss;
pub mod notification;
pub mod personal_data;
pub mod reference;
pub mod registry;
pub mod role;
pub mod schema;
pub mod shipment;
pub mod stall;
pub mod webhook;
