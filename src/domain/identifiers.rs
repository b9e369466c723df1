//! Citizens' and documents' identifiers (DOMAIN.md §8), parsed once at the boundary.

use super::schema::{StringSchema, string_schema};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;

pub use super::reference::InvalidValue;

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::try_from(s.to_owned())
            }
        }
    };
}

/// Individual identification number (ИИН): 12 digits, YYMMDD birth date, a century-and-sex
/// digit 1–6, and a check digit (weights 1..11 mod 11; if 10, weights 3..11,1,2 mod 11; if 10
/// again the IIN is invalid).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Iin(String);
string_newtype!(Iin);

impl Iin {
    pub const LEN: usize = 12;
}

string_schema!(
    Iin,
    StringSchema {
        description: "Individual identification number (ИИН): 12 digits starting with the \
                      birth date (YYMMDD), then a century-and-sex digit 1–6, ending with a \
                      check digit",
        min_length: Iin::LEN,
        max_length: Iin::LEN,
        pattern: Some(format!("^[0-9]{{{}}}$", Iin::LEN)),
        example: "870412300129",
    }
);

impl fmt::Debug for Iin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the whole number, even in a debug dump.
        write!(f, "Iin(********{})", &self.0[8..])
    }
}

/// The check digit of the first 11 digits, or `None` if no valid check digit exists.
pub fn iin_check_digit(first11: &[u32]) -> Option<u32> {
    let weighted = |weights: [u32; 11]| -> u32 {
        first11.iter().zip(weights).map(|(d, w)| d * w).sum::<u32>() % 11
    };
    let first = weighted([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    let check = if first == 10 {
        weighted([3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2])
    } else {
        first
    };
    (check != 10).then_some(check)
}

impl TryFrom<String> for Iin {
    type Error = InvalidValue;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let invalid = |why: &str| InvalidValue(format!("IIN {why}"));
        let digits: Vec<u32> = value.chars().filter_map(|c| c.to_digit(10)).collect();
        if value.len() != Self::LEN || digits.len() != Self::LEN {
            return Err(invalid("must be exactly 12 digits"));
        }
        let century = match digits[6] {
            1 | 2 => 1800,
            3 | 4 => 1900,
            5 | 6 => 2000,
            _ => {
                return Err(invalid(
                    "has an invalid century digit (the 7th must be 1 to 6)",
                ));
            }
        };
        let year = century + (digits[0] * 10 + digits[1]) as i32;
        let month = digits[2] * 10 + digits[3];
        let day = digits[4] * 10 + digits[5];
        if NaiveDate::from_ymd_opt(year, month, day).is_none() {
            return Err(invalid("does not start with a valid birth date (YYMMDD)"));
        }
        if iin_check_digit(&digits[..11]) != Some(digits[11]) {
            return Err(invalid("has a wrong check digit"));
        }
        Ok(Iin(value))
    }
}

/// A Kazakhstan mobile number in E.164, `+77XXXXXXXXX`. Accepts what people type:
/// `8 701 123 45 67`, `+7 (701) 123-45-67`, `87011234567`, `77011234567`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);
string_newtype!(Phone);

impl Phone {
    /// The longest text accepted, spaces and brackets included.
    pub const MAX_LEN: usize = 32;
    /// What may separate the digits as people type them (`+` only first).
    const SEPARATORS: &'static str = " ()-";
    /// 11 digits: `7` or `8`, then the 10-digit national number.
    const DIGITS: usize = 11;
}

string_schema!(
    Phone,
    StringSchema {
        description: "A Kazakhstan mobile number as people type it (`+7 701 123 45 67`, \
                      `8 (701) 123-45-67`): stored as `+77XXXXXXXXX`; mobile codes 70X, 74X–77X",
        min_length: Phone::DIGITS,
        max_length: Phone::MAX_LEN,
        pattern: Some(format!("^\\+?[0-9{}]+$", Phone::SEPARATORS)),
        example: "+77011234567",
    }
);

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone(+7*******{})", &self.0[self.0.len() - 2..])
    }
}

impl TryFrom<String> for Phone {
    type Error = InvalidValue;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let invalid = || {
            InvalidValue(
                "phone must be a Kazakhstan mobile number such as +7 701 123 45 67 or 8 701 123 45 67"
                    .to_owned(),
            )
        };
        let trimmed = value.trim();
        if trimmed.len() > Self::MAX_LEN
            || !trimmed
                .chars()
                .all(|c| c.is_ascii_digit() || c == '+' || Self::SEPARATORS.contains(c))
            || trimmed.chars().skip(1).any(|c| c == '+')
        {
            return Err(invalid());
        }
        let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
        let national = match (trimmed.starts_with('+'), digits.len()) {
            (true, Self::DIGITS) if digits.starts_with('7') => &digits[1..],
            (false, Self::DIGITS) if digits.starts_with('8') || digits.starts_with('7') => {
                &digits[1..]
            }
            _ => return Err(invalid()),
        };
        // Mobile codes are 70X, 74X–77X; 71X and 72X are landline area codes (Astana 7172,
        // Almaty 727), which cannot receive SMS.
        let mobile =
            national.starts_with('7') && matches!(national.as_bytes()[1], b'0' | b'4'..=b'7');
        if !mobile {
            return Err(invalid());
        }
        Ok(Phone(format!("+7{national}")))
    }
}

/// The State Corporation application number ("ID ЦОН"): printable ASCII, at most 64.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApplicationNumber(String);
string_newtype!(ApplicationNumber);
string_schema!(
    ApplicationNumber,
    printable_schema(
        "The State Corporation application number (ID ЦОН)",
        "002641234567"
    )
);

/// The longest identifier another system may give us.
pub const PRINTABLE_MAX_LEN: usize = 64;

/// Printable ASCII without spaces, 1 to 64 characters (identifiers other systems give us).
fn printable(value: &str) -> bool {
    (1..=PRINTABLE_MAX_LEN).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic())
}

/// The schema of [`printable`]: `!` to `~` are ASCII's graphic characters.
fn printable_schema(description: &'static str, example: &'static str) -> StringSchema {
    StringSchema {
        description,
        min_length: 1,
        max_length: PRINTABLE_MAX_LEN,
        pattern: Some("^[!-~]+$".to_owned()),
        example,
    }
}

impl TryFrom<String> for ApplicationNumber {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        if printable(&value) {
            Ok(ApplicationNumber(value))
        } else {
            Err(InvalidValue(format!(
                "application number must be 1 to {PRINTABLE_MAX_LEN} printable ASCII characters without spaces"
            )))
        }
    }
}

/// A Kaspi delivery waybill (накладная) number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Waybill(String);
string_newtype!(Waybill);
string_schema!(
    Waybill,
    printable_schema(
        "A Kaspi delivery waybill (накладная) number",
        "KSP-000123456"
    )
);

impl TryFrom<String> for Waybill {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        if printable(&value) {
            Ok(Waybill(value))
        } else {
            Err(InvalidValue(format!(
                "waybill must be 1 to {PRINTABLE_MAX_LEN} printable ASCII characters without spaces"
            )))
        }
    }
}

/// An identifier another system gives us (Kaspi order id, event id, registry office code).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ExternalId(String);
string_newtype!(ExternalId);
string_schema!(
    ExternalId,
    printable_schema(
        "An identifier another system gives us: printable ASCII without spaces",
        "evt-2026-11-23-0001"
    )
);

impl TryFrom<String> for ExternalId {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        if printable(&value) {
            Ok(ExternalId(value))
        } else {
            Err(InvalidValue(format!(
                "identifier must be 1 to {PRINTABLE_MAX_LEN} printable ASCII characters without spaces"
            )))
        }
    }
}

/// A registry or loss-act number: per branch and year, gapless (`ALM01-2026-000123`).
pub fn document_number(branch: &str, year: i32, sequence: i64) -> String {
    format!("{branch}-{year}-{sequence:06}")
}

/// A valid IIN of someone born on `yymmdd` (century and sex digit `century_sex`), from the
/// first serial at or after `serial` (mod 10,000) whose check digit exists: synthetic applicants
/// for the simulation, the load harness, the fault suite and tests.
pub fn synthetic_iin(yymmdd: &str, century_sex: u32, serial: u32) -> String {
    (0..10)
        .map(|bump| format!("{yymmdd}{century_sex}{:04}", (serial + bump) % 10_000))
        .find_map(|first11| {
            let digits: Vec<u32> = first11.chars().filter_map(|c| c.to_digit(10)).collect();
            (digits.len() == 11)
                .then(|| iin_check_digit(&digits))
                .flatten()
                .map(|check| format!("{first11}{check}"))
        })
        .expect("one of ten consecutive serials has a check digit")
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn iins_are_checked_digit_by_digit() {
        let good = synthetic_iin("870412", 3, 12);
        assert!(Iin::try_from(good.clone()).is_ok(), "{good}");
        let mut wrong_check = good.clone();
        let last = good.chars().last().unwrap().to_digit(10).unwrap();
        wrong_check.replace_range(11.., &((last + 1) % 10).to_string());
        assert!(Iin::try_from(wrong_check).is_err());
        for bad in [
            "87041230012",
            "8704123001234",
            "87041230012a",
            "871312300129",
            "870412700129",
        ] {
            assert!(Iin::try_from(bad.to_owned()).is_err(), "{bad}");
        }
        assert!(!format!("{:?}", Iin::try_from(good.clone()).unwrap()).contains(&good[..8]));
    }

    #[test]
    fn the_second_weight_series_is_used_when_the_first_gives_ten() {
        // Find an 11-digit prefix whose first weighting gives 10 and check the IIN accepts the
        // digit the second weighting gives.
        let prefix = (0..10_000)
            .map(|n| format!("9001013{n:04}"))
            .find(|p| {
                let d: Vec<u32> = p.chars().map(|c| c.to_digit(10).unwrap()).collect();
                d.iter().zip(1..=11).map(|(d, w)| d * w).sum::<u32>() % 11 == 10
            })
            .unwrap();
        let digits: Vec<u32> = prefix.chars().map(|c| c.to_digit(10).unwrap()).collect();
        if let Some(check) = iin_check_digit(&digits) {
            assert!(Iin::try_from(format!("{prefix}{check}")).is_ok());
        }
    }

    #[test]
    fn phones_are_normalised_to_e164() {
        for typed in [
            "+7 (701) 123-45-67",
            "8 701 123 45 67",
            "87011234567",
            "77011234567",
            "+77011234567",
        ] {
            assert_eq!(
                Phone::try_from(typed.to_owned()).unwrap().as_str(),
                "+77011234567",
                "{typed}"
            );
        }
        for bad in [
            "+7 727 123 45 67",
            "701 123 45 67",
            "+1 701 123 45 67",
            "8-701-123-45-6",
            "+7+7011234567",
            "phone",
        ] {
            assert!(Phone::try_from(bad.to_owned()).is_err(), "{bad}");
        }
    }

    #[test]
    fn document_numbers_are_zero_padded_per_branch_and_year() {
        assert_eq!(document_number("ALM01", 2026, 123), "ALM01-2026-000123");
    }

    proptest! {
        #[test]
        fn every_generated_iin_is_accepted(serial in 0u32..9990, day in 1u32..28, month in 1u32..12) {
            let iin = synthetic_iin(&format!("90{month:02}{day:02}"), 3, serial);
            prop_assert!(Iin::try_from(iin).is_ok());
        }
    }
}
