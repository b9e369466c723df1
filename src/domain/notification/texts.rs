//! The texts themselves: what each message says, from its facts, in Kazakh or Russian.

use super::{Language, LostWhere, NotificationKind, ReturnedWhy};
use chrono::NaiveDate;

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
    /// п.25: cancelled after a loss; a free duplicate at the State Corporation (п.26).
    CancelledAfterLoss {
        application_number: &'a str,
        branch_address: &'a str,
        lost: LostWhere,
    },
    /// п.34: removed from the postamat and moved to the State Corporation; where to collect it,
    /// and why it came back.
    ReturnedToStateCorporation {
        application_number: &'a str,
        branch_address: &'a str,
        why: ReturnedWhy,
    },
    /// A day before storage ends (п.29): the last day to collect.
    StorageReminder {
        application_number: &'a str,
        collect_by: NaiveDate,
    },
    /// Issue 23, п.4: the postamat it now goes to.
    PostamatChanged {
        application_number: &'a str,
        postamat_address: &'a str,
    },
    /// Issue 23, п.14: the branch that will issue it; `pilot_ended`: because the pilot ended
    /// (issue 25, order п.6), not at the citizen's request.
    ReroutedToCon {
        application_number: &'a str,
        branch_address: &'a str,
        pilot_ended: bool,
    },
}

impl Facts<'_> {
    pub fn kind(&self) -> NotificationKind {
        match self {
            Facts::PlacedInCell { .. } => NotificationKind::PlacedInCell,
            Facts::DeliveryLate { .. } => NotificationKind::DeliveryLate,
            Facts::StorageReminder { .. } => NotificationKind::StorageReminder,
            Facts::CancelledAfterLoss { .. } => NotificationKind::CancelledAfterLoss,
            Facts::ReturnedToStateCorporation { .. } => {
                NotificationKind::ReturnedToStateCorporation
            }
            Facts::PostamatChanged { .. } => NotificationKind::PostamatChanged,
            Facts::ReroutedToCon { .. } => NotificationKind::ReroutedToCon,
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
            Facts::CancelledAfterLoss {
                application_number,
                branch_address,
                lost,
            },
            Language::Ru,
        ) => {
            let lost = match lost {
                LostWhere::AtStateCorporation => "в Госкорпорации",
                LostWhere::InDelivery => "при доставке",
            };
            format!(
                "Заявка {application_number} отменена: свидетельство о рождении утеряно {lost}. Дубликат бесплатно выдадут за 3 рабочих дня в ЦОН: {branch_address}. Возьмите удостоверение личности."
            )
        }
        (
            Facts::CancelledAfterLoss {
                application_number,
                branch_address,
                lost,
            },
            Language::Kk,
        ) => {
            let lost = match lost {
                LostWhere::AtStateCorporation => "Мемлекеттік корпорацияда",
                LostWhere::InDelivery => "жеткізу кезінде",
            };
            format!(
                "{application_number} өтінім жойылды: туу туралы куәлік {lost} жоғалды. Телнұсқаны ХҚКО 3 жұмыс күнінде тегін береді: {branch_address}. Жеке куәлігіңізді алыңыз."
            )
        }
        (
            Facts::ReturnedToStateCorporation {
                application_number,
                branch_address,
                why: ReturnedWhy::NotCollected,
            },
            Language::Ru,
        ) => format!(
            "Свидетельство о рождении по заявке {application_number} не было получено из постамата и передано в Госкорпорацию. Получите его в ЦОН: {branch_address}."
        ),
        (
            Facts::ReturnedToStateCorporation {
                application_number,
                branch_address,
                why: ReturnedWhy::NotCollected,
            },
            Language::Kk,
        ) => format!(
            "{application_number} өтінім бойынша туу туралы куәлік постаматтан алынбай, Мемлекеттік корпорацияға тапсырылды. Оны ХҚКО-дан алыңыз: {branch_address}."
        ),
        (
            Facts::ReturnedToStateCorporation {
                application_number,
                branch_address,
                why: ReturnedWhy::Rerouted,
            },
            Language::Ru,
        ) => format!(
            "Свидетельство о рождении по заявке {application_number} передано в Госкорпорацию, как вы просили. Получите его в ЦОН: {branch_address}."
        ),
        (
            Facts::ReturnedToStateCorporation {
                application_number,
                branch_address,
                why: ReturnedWhy::Rerouted,
            },
            Language::Kk,
        ) => format!(
            "{application_number} өтінім бойынша туу туралы куәлік өтінішіңіз бойынша Мемлекеттік корпорацияға тапсырылды. Оны ХҚКО-дан алыңыз: {branch_address}."
        ),
        (
            Facts::ReturnedToStateCorporation {
                application_number,
                branch_address,
                why: ReturnedWhy::RemovedEarly,
            },
            Language::Ru,
        ) => format!(
            "Свидетельство о рождении по заявке {application_number} было изъято из постамата и передано в Госкорпорацию. Получите его в ЦОН: {branch_address}."
        ),
        (
            Facts::ReturnedToStateCorporation {
                application_number,
                branch_address,
                why: ReturnedWhy::RemovedEarly,
            },
            Language::Kk,
        ) => format!(
            "{application_number} өтінім бойынша туу туралы куәлік постаматтан алынып, Мемлекеттік корпорацияға тапсырылды. Оны ХҚКО-дан алыңыз: {branch_address}."
        ),
        (
            Facts::PostamatChanged {
                application_number,
                postamat_address,
            },
            Language::Ru,
        ) => format!(
            "Свидетельство о рождении по заявке {application_number} будет доставлено в другой постамат Kaspi: {postamat_address}."
        ),
        (
            Facts::PostamatChanged {
                application_number,
                postamat_address,
            },
            Language::Kk,
        ) => format!(
            "{application_number} өтінім бойынша туу туралы куәлік басқа Kaspi постаматына жеткізіледі: {postamat_address}."
        ),
        (
            Facts::ReroutedToCon {
                application_number,
                branch_address,
                pilot_ended: false,
            },
            Language::Ru,
        ) => format!(
            "Свидетельство о рождении по заявке {application_number} выдадут не в постамате, а в ЦОН: {branch_address}. Возьмите удостоверение личности."
        ),
        (
            Facts::ReroutedToCon {
                application_number,
                branch_address,
                pilot_ended: false,
            },
            Language::Kk,
        ) => format!(
            "{application_number} өтінім бойынша туу туралы куәлікті постаматта емес, ХҚКО-да береді: {branch_address}. Жеке куәлігіңізді алыңыз."
        ),
        (
            Facts::ReroutedToCon {
                application_number,
                branch_address,
                pilot_ended: true,
            },
            Language::Ru,
        ) => format!(
            "Выдача через постаматы Kaspi завершена. Свидетельство о рождении по заявке {application_number} получите в ЦОН: {branch_address}. Возьмите удостоверение личности."
        ),
        (
            Facts::ReroutedToCon {
                application_number,
                branch_address,
                pilot_ended: true,
            },
            Language::Kk,
        ) => format!(
            "Kaspi постаматтары арқылы беру аяқталды. {application_number} өтінім бойынша туу туралы куәлікті ХҚКО-дан алыңыз: {branch_address}. Жеке куәлігіңізді алыңыз."
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
