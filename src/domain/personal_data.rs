//! What each role sees of a citizen's personal data (security review, issue 28 finding 3): one
//! rule, used by the API and the console alike.
//!
//! - The integrations see it whole: Kaspi and the registry office sent it themselves (п.9, 12).
//! - Clerks and supervisors see the citizen's name (a document is issued at the desk to a
//!   person, п.34), the last four digits of the IIN (enough to tell two citizens apart and to
//!   check an ID card) and the last two of the phone (enough to confirm it with the citizen).
//! - The State courier and the operator see none of it: a handover needs the application number
//!   and the waybill, never the citizen (п.16–17). Nor do they see the messages sent to the
//!   citizen, nor may they look a citizen up by IIN.

use crate::domain::role::Role;

/// How much of a citizen's personal data a role is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disclosure {
    /// Every field whole.
    Full,
    /// The name whole; the IIN and the phone with all but their last digits hidden.
    Masked,
    /// Nothing: every personal field is absent.
    Withheld,
}

/// Digits of an IIN a masked view keeps.
pub const IIN_SHOWN: usize = 4;
/// Digits of a phone number a masked view keeps.
pub const PHONE_SHOWN: usize = 2;

impl Disclosure {
    pub fn of(role: Role) -> Disclosure {
        match role {
            Role::Kaspi | Role::RegistryOffice => Disclosure::Full,
            Role::AccumulationClerk | Role::IssuanceClerk | Role::Supervisor => Disclosure::Masked,
            Role::StateCourier | Role::Admin => Disclosure::Withheld,
        }
    }

    pub fn iin(self, iin: &str) -> Option<String> {
        self.digits(iin, IIN_SHOWN)
    }

    pub fn phone(self, phone: &str) -> Option<String> {
        self.digits(phone, PHONE_SHOWN)
    }

    /// A citizen's or a representative's name, or the reference of a power of attorney.
    pub fn name(self, name: &str) -> Option<String> {
        match self {
            Disclosure::Full | Disclosure::Masked => Some(name.to_owned()),
            Disclosure::Withheld => None,
        }
    }

    /// Whether the role may look a citizen up by IIN, or read the messages sent to them.
    pub fn reaches_the_citizen(self) -> bool {
        self != Disclosure::Withheld
    }

    fn digits(self, value: &str, shown: usize) -> Option<String> {
        match self {
            Disclosure::Full => Some(value.to_owned()),
            Disclosure::Masked => Some(masked(value, shown)),
            Disclosure::Withheld => None,
        }
    }
}

/// `value` with all but its last `shown` characters replaced by `•`.
pub fn masked(value: &str, shown: usize) -> String {
    let count = value.chars().count();
    let hidden = count.saturating_sub(shown);
    let kept: String = value.chars().skip(hidden).collect();
    format!("{}{kept}", "•".repeat(hidden))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_sees_what_its_work_needs() {
        let iin = "900101300123";
        let phone = "+77011234567";
        let seen = |role| {
            let d = Disclosure::of(role);
            (d.iin(iin), d.phone(phone), d.name("Айгерим"))
        };
        for role in [Role::Kaspi, Role::RegistryOffice] {
            assert_eq!(
                seen(role),
                (Some(iin.into()), Some(phone.into()), Some("Айгерим".into()))
            );
        }
        for role in [
            Role::AccumulationClerk,
            Role::IssuanceClerk,
            Role::Supervisor,
        ] {
            assert_eq!(
                seen(role),
                (
                    Some("••••••••0123".into()),
                    Some("••••••••••67".into()),
                    Some("Айгерим".into())
                )
            );
        }
        for role in [Role::StateCourier, Role::Admin] {
            assert_eq!(seen(role), (None, None, None));
            assert!(!Disclosure::of(role).reaches_the_citizen());
        }
    }

    #[test]
    fn masking_counts_characters_and_keeps_short_values_whole() {
        assert_eq!(masked("12", 4), "12");
        assert_eq!(masked("", 2), "");
        assert_eq!(masked("абвгд", 2), "•••гд");
    }
}
