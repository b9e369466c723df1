//! What the citizen is told (DOMAIN.md §7), in Kazakh or Russian, in the short, polite style of
//! the state's SMS (see `sms-birth-registration-example.ru.md`).

use crate::domain::shipment::NotificationKind;
use chrono::NaiveDate;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Kk,
    Ru,
}

impl Language {
    pub fn parse(s: &str) -> Option<Language> {
        match s {
            "kk" => Some(Language::Kk),
            "ru" => Some(Language::Ru),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Language::Kk => "kk",
            Language::Ru => "ru",
        }
    }
}

/// The facts a message states.
#[derive(Debug, Clone)]
pub enum Facts<'a> {
    /// п.28: the postamat's address and the last day to collect.
    PlacedInCell {
        application_number: &'a str,
        postamat_address: &'a str,
        collect_by: NaiveDate,
    },
    /// п.27: the new expected delivery date.
    DeliveryLate {
        application_number: &'a str,
        new_date: NaiveDate,
    },
    /// A day before storage ends (п.29): the last day to collect.
    StorageReminder {
        application_number: &'a str,
        collect_by: NaiveDate,
    },
}

impl Facts<'_> {
    pub fn kind(&self) -> NotificationKind {
        match self {
            Facts::PlacedInCell { .. } => NotificationKind::PlacedInCell,
            Facts::DeliveryLate { .. } => NotificationKind::DeliveryLate,
            Facts::StorageReminder { .. } => NotificationKind::StorageReminder,
        }
    }
}

/// The text of a message.
pub fn render(facts: &Facts<'_>, language: Language) -> String {
    let date = |d: &NaiveDate| d.format("%d.%m.%Y").to_string();
    match (facts, language) {
        (
            Facts::PlacedInCell {
                application_number,
                postamat_address,
                collect_by,
            },
            Language::Ru,
        ) => format!(
            "Свидетельство о рождении по заявке {application_number} ждёт вас в постамате Kaspi: {postamat_address}. Заберите его до {} включительно.",
            date(collect_by)
        ),
        (
            Facts::PlacedInCell {
                application_number,
                postamat_address,
                collect_by,
            },
            Language::Kk,
        ) => format!(
            "{application_number} өтінім бойынша туу туралы куәлік Kaspi постаматында: {postamat_address}. Оны {} қоса алғанда алып кетіңіз.",
            date(collect_by)
        ),
        (
            Facts::DeliveryLate {
                application_number,
                new_date,
            },
            Language::Ru,
        ) => format!(
            "Доставка свидетельства о рождении по заявке {application_number} задерживается. Новая дата доставки: {}.",
            date(new_date)
        ),
        (
            Facts::DeliveryLate {
                application_number,
                new_date,
            },
            Language::Kk,
        ) => format!(
            "{application_number} өтінім бойынша туу туралы куәлікті жеткізу кешіктірілуде. Жеткізудің жаңа күні: {}.",
            date(new_date)
        ),
        (
            Facts::StorageReminder {
                application_number,
                collect_by,
            },
            Language::Ru,
        ) => format!(
            "Напоминаем: свидетельство о рождении по заявке {application_number} ждёт вас в постамате Kaspi до {} включительно.",
            date(collect_by)
        ),
        (
            Facts::StorageReminder {
                application_number,
                collect_by,
            },
            Language::Kk,
        ) => format!(
            "Еске саламыз: {application_number} өтінім бойынша туу туралы куәлік Kaspi постаматында {} қоса алғанда сақталады.",
            date(collect_by)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placed_in_cell_names_the_postamat_and_the_last_day_in_both_languages() {
        let facts = Facts::PlacedInCell {
            application_number: "A-1",
            postamat_address: "ул. Толе би, 55",
            collect_by: NaiveDate::from_ymd_opt(2027, 1, 2).unwrap(),
        };
        let ru = render(&facts, Language::Ru);
        assert!(
            ru.contains("A-1") && ru.contains("ул. Толе би, 55") && ru.contains("02.01.2027"),
            "{ru}"
        );
        let kk = render(&facts, Language::Kk);
        assert!(
            kk.contains("постаматында") && kk.contains("02.01.2027"),
            "{kk}"
        );
    }

    #[test]
    fn a_delay_gives_the_new_date() {
        let facts = Facts::DeliveryLate {
            application_number: "A-1",
            new_date: NaiveDate::from_ymd_opt(2026, 3, 30).unwrap(),
        };
        assert!(render(&facts, Language::Ru).contains("30.03.2026"));
        assert!(render(&facts, Language::Kk).contains("30.03.2026"));
    }
}
