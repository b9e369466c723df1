//! The JSON Schemas of the boundary's value types, built from the same constants their parsing
//! uses: the OpenAPI document states the limits the service enforces, and cannot drift from
//! them. A schema may be stricter than the parser where JSON Schema cannot say what the parser
//! forgives (surrounding spaces, which are trimmed; lower-case branch codes, which are
//! upper-cased); it is never looser, except where a rule needs more than a pattern (an IIN's
//! check digit, a real birth date), which the description then names.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};

/// Control characters (Unicode category Cc, what `char::is_control` tests), as a character
/// class body for a pattern.
pub const CONTROL_CHARS: &str = r"\u0000-\u001f\u007f-\u009f";

/// A string schema.
pub struct StringSchema {
    pub description: &'static str,
    pub min_length: usize,
    pub max_length: usize,
    pub pattern: Option<String>,
    pub example: &'static str,
}

impl StringSchema {
    pub fn build(self) -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .description(Some(self.description))
            .min_length(Some(self.min_length))
            .max_length(Some(self.max_length))
            .pattern(self.pattern)
            .examples([serde_json::Value::from(self.example)])
            .into()
    }
}

/// `ToSchema` for a string newtype, its schema named after the type and built by `$schema`.
macro_rules! string_schema {
    ($ty:ident, $schema:expr) => {
        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::domain::schema::StringSchema::build($schema)
            }
        }

        impl utoipa::ToSchema for $ty {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($ty))
            }
        }
    };
}
pub(crate) use string_schema;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_control_class_is_what_char_is_control_tests() {
        let class = regex::Regex::new(&format!("^[{CONTROL_CHARS}]$")).unwrap();
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            assert_eq!(
                class.is_match(&c.to_string()),
                c.is_control(),
                "U+{:04X}",
                c as u32
            );
        }
    }
}
