//! The pilot report's page (issue 25): printable, in Kazakh or Russian, with its charts as
//! inline SVG. The console shows it inside its layout (`/console/reports/pilot`); `postamat
//! report pilot` writes it as a page of its own. The figures are [`PilotReport`]'s, as the API
//! answers them.

use super::i18n::Lang;
use super::named_svg;
use crate::reports::charts;
use crate::reports::pilot::{ALL, PilotReport};
use maud::{DOCTYPE, Markup, PreEscaped, html};

/// The page's words: key, Kazakh, Russian.
static LABELS: &[(&str, &str, &str)] = &[
    (
        "title",
        "Пилоттық жобаның нәтижелері",
        "Результаты пилотного проекта",
    ),
    (
        "subtitle",
        "Туу туралы куәлікті Kaspi постаматтары арқылы беру",
        "Выдача свидетельств о рождении через постаматы Kaspi",
    ),
    ("period", "Кезең", "Период"),
    ("branch", "Филиал", "Филиал"),
    ("all", "Барлығы", "Всего"),
    ("all_branches", "Барлық филиалдар", "Все филиалы"),
    (
        "headline",
        "Ерекше жағдайсыз жеткізілген",
        "Доставлено без исключений",
    ),
    (
        "headline_note",
        "Азаматқа постамат арқылы жеткен құжаттардың мерзімі бұзылмай, сәйкессіздіксіз, жолы өзгертілмей жеткендерінің үлесі.",
        "Доля документов, дошедших до гражданина через постамат без нарушенного срока, расхождения, изменения способа или задержки.",
    ),
    (
        "postamat_deliveries",
        "Постамат арқылы жеткізілді",
        "Доставлено через постамат",
    ),
    ("without_exception", "Ерекше жағдайсыз", "Без исключений"),
    ("share_without_exception", "Үлесі", "Доля"),
    ("volumes", "Көлемдер", "Объёмы"),
    (
        "applications_postamat",
        "Өтініштер: постамат",
        "Заявки: постамат",
    ),
    ("applications_con", "Өтініштер: ХҚКО", "Заявки: ЦОН"),
    ("executed", "Орындалды", "Исполнено"),
    ("taken_in", "Қабылданды", "Принято"),
    ("handed_to_kaspi", "Kaspi-ге тапсырылды", "Передано в Kaspi"),
    ("placed", "Ұяшыққа салынды", "Заложено в ячейку"),
    ("collected", "Алынды", "Получено"),
    ("returned", "Қайтарылды", "Возвращено"),
    ("issued_at_con", "ХҚКО-да берілді", "Выдано в ЦОН"),
    (
        "transferred_after_storage",
        "Сақтаудан кейін тапсырылды",
        "Передано после хранения",
    ),
    ("lost", "Жоғалды", "Утеряно"),
    (
        "postamat_changed",
        "Постамат ауыстырылды",
        "Постамат изменён",
    ),
    (
        "rerouted_to_con",
        "ХҚКО-ға ауыстырылды",
        "Перенаправлено в ЦОН",
    ),
    (
        "time_to_citizen",
        "Азаматқа дейінгі уақыт, сағат",
        "Время до гражданина, часы",
    ),
    ("measure", "Кезең", "Этап"),
    ("documents", "Құжаттар", "Документы"),
    ("p50_hours", "Медиана", "Медиана"),
    ("p90_hours", "90-шы перцентиль", "90-й перцентиль"),
    ("max_hours", "Ең көбі", "Максимум"),
    (
        "execution_to_collection",
        "Орындалғаннан алынғанға дейін",
        "От исполнения до получения",
    ),
    (
        "execution_to_issue",
        "Орындалғаннан ХҚКО-да берілгенге дейін",
        "От исполнения до выдачи в ЦОН",
    ),
    (
        "execution_to_intake",
        "Орындалғаннан қабылданғанға дейін",
        "От исполнения до приёма",
    ),
    (
        "intake_to_handover",
        "Қабылданғаннан курьерге дейін",
        "От приёма до курьера",
    ),
    (
        "handover_to_acceptance",
        "Курьерден Kaspi пунктіне дейін",
        "От курьера до пункта Kaspi",
    ),
    (
        "acceptance_to_placement",
        "Пункттен ұяшыққа дейін",
        "От пункта до ячейки",
    ),
    (
        "placement_to_collection",
        "Ұяшықтан алынғанға дейін",
        "От ячейки до получения",
    ),
    ("deadlines", "Мерзімдер", "Сроки"),
    ("deadline", "Мерзім", "Срок"),
    ("clause", "Тармақ", "Пункт"),
    ("met_on_time", "Мерзімінде", "В срок"),
    ("met_late", "Кешігіп", "С опозданием"),
    ("breached", "Бұзылды", "Нарушено"),
    (
        "missed_by_state_corporation",
        "Мемлекеттік корпорация",
        "Госкорпорация",
    ),
    ("missed_by_kaspi", "Kaspi", "Kaspi"),
    (
        "missed_by_registry_office",
        "Тіркеуші орган",
        "Регистрирующий орган",
    ),
    ("returns", "Қайтарулар", "Возвраты"),
    ("share_returned", "Үлесі", "Доля"),
    ("then_collected", "Кейін алынды", "Затем получено"),
    (
        "then_issued_at_con",
        "Кейін ХҚКО-да берілді",
        "Затем выдано в ЦОН",
    ),
    ("then_transferred", "Кейін тапсырылды", "Затем передано"),
    ("then_lost", "Кейін жоғалды", "Затем утеряно"),
    ("still_on_the_way", "Әлі жолда", "Ещё в пути"),
    ("losses", "Жоғалтулар", "Утери"),
    ("side", "Тарап", "Сторона"),
    ("acts_drawn", "Акт жасалды", "Акт составлен"),
    ("duplicates", "Телнұсқалар", "Дубликаты"),
    ("requested", "Сұралды", "Запрошено"),
    (
        "issued_in_time",
        "3 жұмыс күнінде берілді",
        "Выдано за 3 рабочих дня",
    ),
    ("issued_late", "Кешігіп берілді", "Выдано с опозданием"),
    ("overdue", "Мерзімі өтті", "Просрочено"),
    ("pending", "Күтуде", "Ожидает"),
    ("disputes", "Даулар", "Споры"),
    ("opened", "Ашылды", "Открыто"),
    ("settled", "Шешілді", "Урегулировано"),
    ("open", "Ашық", "Открыты"),
    ("force_majeure", "Форс-мажор", "Форс-мажор"),
    ("periods", "Кезеңдер", "Периоды"),
    ("days", "Күндер", "Дни"),
    (
        "noticed_in_time",
        "Уақытында хабарланды",
        "Уведомлено вовремя",
    ),
    ("noticed_late", "Кешігіп хабарланды", "Уведомлено поздно"),
    ("not_noticed", "Хабарланбады", "Не уведомлено"),
    ("national", "Республикалық", "Республиканский"),
    ("messages", "Хабарламалар", "Сообщения"),
    ("kind", "Түрі", "Вид"),
    ("channel", "Арна", "Канал"),
    ("written", "Жазылды", "Создано"),
    ("sent", "Жіберілді", "Отправлено"),
    ("dead", "Жеткізілмеді", "Не доставлено"),
    ("retried", "Қайталанды", "Повторялось"),
    (
        "held_by_quiet_hours",
        "Тыныш сағаттарда күтті",
        "Ждало тихих часов",
    ),
    ("requests", "Жүйелерге сұраулар", "Запросы к системам"),
    ("destination", "Кімге", "Кому"),
    ("volumes_chart", "Кезеңдегі қадамдар", "Шаги за период"),
    (
        "times_chart",
        "Азаматқа дейінгі уақыт (медиана), сағат",
        "Время до гражданина (медиана), часы",
    ),
    ("hours", "сағат", "часы"),
    ("count", "саны", "количество"),
    ("none", "Жоқ", "Нет"),
];

/// The navigation's name of the page.
pub fn nav_label(lang: Lang) -> &'static str {
    match lang {
        Lang::Kk => "Пилот нәтижелері",
        Lang::Ru => "Итоги пилота",
    }
}

/// The link to the page of its own.
pub fn print_label(lang: Lang) -> &'static str {
    match lang {
        Lang::Kk => "Басып шығаруға арналған нұсқа",
        Lang::Ru => "Версия для печати",
    }
}

/// The page's title.
pub fn title(lang: Lang) -> &'static str {
    l(lang, "title")
}

fn l(lang: Lang, key: &str) -> &str {
    LABELS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, kk, ru)| match lang {
            Lang::Kk => *kk,
            Lang::Ru => *ru,
        })
        .unwrap_or_else(|| lang.name_of(key))
}

/// The name of a row: a branch code, or "all" in words.
fn branch_name(lang: Lang, branch: &str) -> String {
    match branch {
        ALL => l(lang, "all").to_owned(),
        "national" => l(lang, "national").to_owned(),
        other => other.to_owned(),
    }
}

/// A table of the report with localised headers; the values as the JSON has them.
fn table(lang: Lang, rows: &serde_json::Value, columns: &[&str]) -> Markup {
    let rows = rows.as_array().cloned().unwrap_or_default();
    html! {
        @if rows.is_empty() {
            p { (l(lang, "none")) }
        } @else {
            table {
                thead { tr { @for c in columns { th scope="col" { (l(lang, c)) } } } }
                tbody {
                    @for row in &rows {
                        @let total = row["branch"] == ALL;
                        tr class=[total.then_some("total")] {
                            @for c in columns {
                                @let v = &row[*c];
                                td {
                                    @match (*c, v) {
                                        ("branch", serde_json::Value::String(s)) => (branch_name(lang, s)),
                                        ("measure" | "deadline" | "kind" | "channel" | "side" | "destination", serde_json::Value::String(s)) => (l(lang, s)),
                                        (_, serde_json::Value::String(s)) => (s),
                                        (_, serde_json::Value::Null) => "",
                                        (_, other) => (other.to_string()),
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The report's body: headline, charts and every table.
pub fn body(report: &PilotReport, lang: Lang) -> anyhow::Result<Markup> {
    let json = serde_json::to_value(report)?;
    let total = |table: &str| -> serde_json::Value {
        json[table]
            .as_array()
            .and_then(|rows| rows.iter().rev().find(|r| r["branch"] == ALL).cloned())
            .unwrap_or_default()
    };
    let volumes = total("volumes");
    let steps: Vec<(&str, f64)> = [
        "executed",
        "taken_in",
        "handed_to_kaspi",
        "placed",
        "collected",
        "returned",
        "issued_at_con",
    ]
    .into_iter()
    .map(|k| (l(lang, k), volumes[k].as_f64().unwrap_or(0.0)))
    .collect();
    let volumes_chart = charts::bars(l(lang, "volumes_chart"), l(lang, "count"), &steps)?;
    let times: Vec<(&str, f64)> = report
        .time_to_citizen
        .iter()
        .filter(|r| r.branch == ALL)
        .map(|r| (l(lang, &r.measure), r.p50_hours))
        .collect();
    let times_chart = charts::bars(l(lang, "times_chart"), l(lang, "hours"), &times)?;
    let headline = total("headline");
    let share = headline["share_without_exception"].as_f64().unwrap_or(0.0) * 100.0;
    let section = |key: &str, columns: &[&str]| {
        html! {
            section {
                h2 { (l(lang, key)) }
                (table(lang, &json[key], columns))
            }
        }
    };
    Ok(html! {
        p.subtitle { (l(lang, "subtitle")) }
        p {
            (l(lang, "period")) ": " (report.from.format("%d.%m.%Y")) " — " (report.to.format("%d.%m.%Y"))
            br;
            (l(lang, "branch")) ": "
            (report.branch.clone().unwrap_or_else(|| l(lang, "all_branches").to_owned()))
        }
        section.headline {
            h2 { (l(lang, "headline")) }
            p.big { (format!("{share:.1} %")) " — "
                (headline["without_exception"].to_string()) " / " (headline["postamat_deliveries"].to_string()) }
            p { (l(lang, "headline_note")) }
            (table(lang, &json["headline"], &["branch", "postamat_deliveries", "without_exception", "share_without_exception"]))
        }
        figure.chart { (named_svg(&volumes_chart, l(lang, "volumes_chart"))) }
        (section("volumes", &["branch", "applications_postamat", "applications_con", "executed", "taken_in",
            "handed_to_kaspi", "placed", "collected", "returned", "issued_at_con",
            "transferred_after_storage", "lost", "postamat_changed", "rerouted_to_con"]))
        figure.chart { (named_svg(&times_chart, l(lang, "times_chart"))) }
        (section("time_to_citizen", &["branch", "measure", "documents", "p50_hours", "p90_hours", "max_hours"]))
        (section("deadlines", &["branch", "deadline", "clause", "met_on_time", "met_late", "breached",
            "missed_by_state_corporation", "missed_by_kaspi", "missed_by_registry_office"]))
        (section("returns", &["branch", "placed", "returned", "share_returned", "then_collected",
            "then_issued_at_con", "then_transferred", "then_lost", "still_on_the_way"]))
        (section("losses", &["branch", "side", "losses", "acts_drawn"]))
        (section("duplicates", &["branch", "requested", "issued_in_time", "issued_late", "overdue", "pending"]))
        (section("disputes", &["branch", "opened", "settled", "open"]))
        (section("force_majeure", &["branch", "periods", "days", "noticed_in_time", "noticed_late", "not_noticed"]))
        (section("messages", &["branch", "kind", "channel", "written", "sent", "pending", "dead", "retried",
            "held_by_quiet_hours"]))
        (section("requests", &["destination", "kind", "written", "sent", "pending", "dead", "retried"]))
    })
}

/// The one stylesheet of the page of its own, inline: printable, nothing fetched.
const STYLE: &str = "
body { font-family: sans-serif; margin: 2em; color: #111; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #999; padding: 0.2em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr.total td { font-weight: bold; }
svg { max-width: 100%; height: auto; }
p.big { font-size: 1.6em; }
@media print { body { margin: 0; } section, figure { break-inside: avoid; } }
";

/// Where the page of its own takes its style from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Styled {
    /// Inline, for a file that stands alone (`postamat report pilot`).
    Inline,
    /// The console's stylesheet, which its Content Security Policy allows (no inline style).
    Console,
}

/// The report as a page of its own, to print.
pub fn page(report: &PilotReport, lang: Lang, styled: Styled) -> anyhow::Result<String> {
    let body = body(report, lang)?;
    Ok(html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                title { (l(lang, "title")) }
                @match styled {
                    Styled::Inline => style { (PreEscaped(STYLE)) },
                    Styled::Console => link rel="stylesheet" href="/console/console.css";,
                }
            }
            body {
                h1 { (l(lang, "title")) }
                (body)
            }
        }
    }
    .into_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_is_in_both_languages_and_once() {
        let mut keys = std::collections::BTreeSet::new();
        for (key, kk, ru) in LABELS {
            assert!(!kk.is_empty() && !ru.is_empty(), "{key}");
            assert!(keys.insert(*key), "{key} twice");
        }
    }
}
