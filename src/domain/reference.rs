//! Reference data identifiers and values (DOMAIN.md §3): parsed once at the boundary, so that
//! nothing after it checks them again.

use super::schema::{CONTROL_CHARS, StringSchema, string_schema};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

/// State Corporation branch code, e.g. `ALM01`: it prefixes registry and loss-act numbers
/// (`ALM01-2026-000123`, DOMAIN.md §8), so it is short, upper-case Latin letters and digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BranchCode(String);

impl BranchCode {
    pub const MIN_LEN: usize = 2;
    pub const MAX_LEN: usize = 16;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_schema!(
    BranchCode,
    StringSchema {
        description: "State Corporation branch code: a Latin letter, then Latin letters and \
                      digits (upper-cased when stored)",
        min_length: BranchCode::MIN_LEN,
        max_length: BranchCode::MAX_LEN,
        pattern: Some(format!(
            "^[A-Za-z][A-Za-z0-9]{{{},{}}}$",
            BranchCode::MIN_LEN - 1,
            BranchCode::MAX_LEN - 1
        )),
        example: "ALM01",
    }
);

impl TryFrom<String> for BranchCode {
    type Error = InvalidValue;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let code = value.trim().to_ascii_uppercase();
        let valid = (Self::MIN_LEN..=Self::MAX_LEN).contains(&code.len())
            && code.starts_with(|c: char| c.is_ascii_uppercase())
            && code
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if valid {
            Ok(BranchCode(code))
        } else {
            Err(InvalidValue(format!(
                "branch code must be {} to {} Latin letters and digits starting with a letter, got '{}'",
                Self::MIN_LEN,
                Self::MAX_LEN,
                value.chars().take(40).collect::<String>()
            )))
        }
    }
}

impl FromStr for BranchCode {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BranchCode::try_from(s.to_owned())
    }
}

impl From<BranchCode> for String {
    fn from(code: BranchCode) -> String {
        code.0
    }
}

impl fmt::Display for BranchCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// The IANA zone a branch keeps its deadlines in. Only Kazakhstan's zones are accepted: a
/// branch in any other zone is a typing mistake that would shift every deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BranchTimeZone(Tz);

impl utoipa::PartialSchema for BranchTimeZone {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::Type(
                utoipa::openapi::schema::Type::String,
            ))
            .description(Some("One of Kazakhstan's IANA time zones"))
            .enum_values(Some(Self::KAZAKHSTAN.map(|tz| tz.name())))
            .into()
    }
}

impl utoipa::ToSchema for BranchTimeZone {}

impl BranchTimeZone {
    /// Zones of Kazakhstan in the tz database (zone1970.tab, country KZ).
    pub const KAZAKHSTAN: [Tz; 7] = [
        Tz::Asia__Almaty,
        Tz::Asia__Qostanay,
        Tz::Asia__Qyzylorda,
        Tz::Asia__Aqtobe,
        Tz::Asia__Aqtau,
        Tz::Asia__Atyrau,
        Tz::Asia__Oral,
    ];

    pub fn tz(self) -> Tz {
        self.0
    }

    /// The IANA name, as stored.
    pub fn as_str(self) -> &'static str {
        self.0.name()
    }

    pub fn parse(name: &str) -> Option<BranchTimeZone> {
        Self::KAZAKHSTAN
            .into_iter()
            .find(|tz| tz.name() == name.trim())
            .map(BranchTimeZone)
    }
}

impl Default for BranchTimeZone {
    fn default() -> Self {
        BranchTimeZone(Tz::Asia__Almaty)
    }
}

impl TryFrom<String> for BranchTimeZone {
    type Error = InvalidValue;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value).ok_or_else(|| {
            InvalidValue(format!(
                "time zone must be one of Kazakhstan's IANA zones ({}), got '{}'",
                Self::KAZAKHSTAN.map(|tz| tz.name()).join(", "),
                value.chars().take(40).collect::<String>()
            ))
        })
    }
}

impl From<BranchTimeZone> for String {
    fn from(tz: BranchTimeZone) -> String {
        tz.0.name().to_owned()
    }
}

/// Kaspi's own identifier of a postamat: Latin letters, digits, `-`, `_` and `.` (it appears in
/// URLs).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KaspiPostamatId(String);

impl KaspiPostamatId {
    pub const MAX_LEN: usize = 64;
    /// The characters allowed besides Latin letters and digits (`-` last: it is literal there
    /// in a pattern's character class).
    const PUNCTUATION: &'static str = "._-";

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_schema!(
    KaspiPostamatId,
    StringSchema {
        description: "Kaspi's identifier of a postamat",
        min_length: 1,
        max_length: KaspiPostamatId::MAX_LEN,
        pattern: Some(format!("^[A-Za-z0-9{}]+$", KaspiPostamatId::PUNCTUATION)),
        example: "PST-ALA-0042",
    }
);

impl TryFrom<String> for KaspiPostamatId {
    type Error = InvalidValue;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let valid = (1..=Self::MAX_LEN).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || Self::PUNCTUATION.as_bytes().contains(&b));
        if valid {
            Ok(KaspiPostamatId(value))
        } else {
            Err(InvalidValue(format!(
                "Kaspi postamat id must be 1 to {} Latin letters, digits, '-', '_' or '.'",
                Self::MAX_LEN
            )))
        }
    }
}

impl FromStr for KaspiPostamatId {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KaspiPostamatId::try_from(s.to_owned())
    }
}

impl From<KaspiPostamatId> for String {
    fn from(id: KaspiPostamatId) -> String {
        id.0
    }
}

impl fmt::Display for KaspiPostamatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// The reference key of a city (п.4: "любой постамат в своем городе"): its code in the
/// Classifier of administrative-territorial objects (КАТО), nine digits, e.g. `750000000` for
/// Almaty. Branch and postamat reference data both carry it, and cities are compared by it —
/// never by the free-text name, in which "г. Алматы" and "Алматы қ." are the same city.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CityCode(String);

impl CityCode {
    pub const LEN: usize = 9;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_schema!(
    CityCode,
    StringSchema {
        description: "The city's КАТО code (Classifier of administrative-territorial objects): \
                      nine digits",
        min_length: CityCode::LEN,
        max_length: CityCode::LEN,
        pattern: Some(format!("^[0-9]{{{}}}$", CityCode::LEN)),
        example: "750000000",
    }
);

impl TryFrom<String> for CityCode {
    type Error = InvalidValue;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        if value.len() == Self::LEN && value.bytes().all(|b| b.is_ascii_digit()) {
            Ok(CityCode(value))
        } else {
            Err(InvalidValue(format!(
                "city code must be the city's КАТО code, {} digits, got '{}'",
                Self::LEN,
                value.chars().take(20).collect::<String>()
            )))
        }
    }
}

impl From<CityCode> for String {
    fn from(code: CityCode) -> String {
        code.0
    }
}

impl fmt::Display for CityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// Human text (names, cities, addresses): trimmed, non-empty, at most 300 characters, no
/// control characters — it is printed on registries and sent in SMS.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Text(String);

impl Text {
    pub const MAX_CHARS: usize = 300;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_schema!(
    Text,
    StringSchema {
        description: "Text for people: not blank, no control characters (surrounding spaces \
                      are trimmed)",
        min_length: 1,
        max_length: Text::MAX_CHARS,
        // At least one character that is not a space; no control character anywhere.
        pattern: Some(format!(
            "^[^{CONTROL_CHARS}]*[^\\s{CONTROL_CHARS}][^{CONTROL_CHARS}]*$"
        )),
        example: "Алматы",
    }
);

impl TryFrom<String> for Text {
    type Error = InvalidValue;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(InvalidValue("must not be empty".to_owned()));
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(InvalidValue(format!(
                "must be at most {} characters",
                Self::MAX_CHARS
            )));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(InvalidValue(
                "must not contain control characters".to_owned(),
            ));
        }
        Ok(Text(trimmed.to_owned()))
    }
}

impl From<Text> for String {
    fn from(text: Text) -> String {
        text.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_codes_are_normalised_to_upper_case() {
        assert_eq!("alm01".parse::<BranchCode>().unwrap().as_str(), "ALM01");
        for bad in ["", "A", "1ALM", "ALM-01", "ALMATY-CENTRAL-0001", "АЛМ01"] {
            assert!(bad.parse::<BranchCode>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn only_kazakhstan_time_zones_are_accepted() {
        let tz = BranchTimeZone::try_from("Asia/Qostanay".to_owned()).unwrap();
        assert_eq!(tz.tz(), Tz::Asia__Qostanay);
        assert!(BranchTimeZone::try_from("Europe/Moscow".to_owned()).is_err());
        assert!(BranchTimeZone::try_from("Almaty".to_owned()).is_err());
        assert_eq!(BranchTimeZone::default().tz(), Tz::Asia__Almaty);
    }

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(
            Text::try_from("  Алматы ".to_owned()).unwrap().as_str(),
            "Алматы"
        );
        assert!(Text::try_from("   ".to_owned()).is_err());
        assert!(Text::try_from("a\u{0}b".to_owned()).is_err());
        assert!(Text::try_from("я".repeat(301)).is_err());
        assert!(Text::try_from("я".repeat(300)).is_ok());
    }

    #[test]
    fn kaspi_postamat_ids_are_printable_ascii() {
        assert!("PST-1".parse::<KaspiPostamatId>().is_ok());
        assert!("PST 1".parse::<KaspiPostamatId>().is_err());
        assert!("PST/1".parse::<KaspiPostamatId>().is_err());
        assert!("".parse::<KaspiPostamatId>().is_err());
    }
}
