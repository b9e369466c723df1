//! The printed documents of the pilot: the handoff registry (п.13, 17), the return pickup
//! registry (п.32–33) and the loss act in two copies (п.24). Official documents of the State
//! Corporation are in the state language and in Russian: every heading and label is printed in
//! Kazakh first, then Russian, with the branch's names and addresses in both; times are the
//! branch's local time in the usual `дд.мм.гггг чч:мм` form; each envelope's waybill is also a
//! Code 128 barcode (inline SVG) that the courier and Kaspi's point can scan.

use crate::db::models::branch::BranchRow;
use crate::domain::loss::LossSide;
use crate::domain::registry::RegistryKind;
use crate::reports::views::{LossAct, Registry};
use barcoders::generators::svg::SVG;
use barcoders::sym::code128::Code128;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use maud::{DOCTYPE, Markup, PreEscaped, html};

/// A label in both languages, Kazakh first.
fn both(kk: &str, ru: &str) -> Markup {
    html! { span lang="kk" { (kk) } " / " span lang="ru" { (ru) } }
}

/// The branch's local time as people there write it.
pub fn local_time(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%d.%m.%Y %H:%M").to_string()
}

/// `value` as a Code 128 barcode (character set B: printable ASCII, which every waybill is), as
/// inline SVG; `None` for a value the symbology cannot carry.
pub fn barcode(value: &str) -> Option<String> {
    let encoded = Code128::new(format!("Ɓ{value}")).ok()?.encode();
    // Two units per module and a 10-module quiet zone on each side, as scanners expect.
    let svg = SVG::new(60).xdim(2).generate(&encoded).ok()?;
    let quiet = 20;
    let width = encoded.len() as u32 * 2 + 2 * quiet;
    let bars = svg
        .split_once('>')
        .and_then(|(_, rest)| rest.rsplit_once("</svg>"))
        .map(|(inner, _)| inner)?;
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"barcode\" role=\"img\" \
         aria-label=\"{label}\" viewBox=\"0 0 {width} 60\" width=\"{width}\" height=\"60\">\
         <rect width=\"{width}\" height=\"60\" fill=\"#fff\"/>\
         <g transform=\"translate({quiet} 0)\">{bars}</g></svg>",
        label = html! { (value) }.into_string(),
    ))
}

/// The one stylesheet of the printed pages, inline so the page needs nothing else.
const STYLE: &str = "
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; width: 100%; }
td, th { border: 1px solid #000; padding: 4px 8px; text-align: left; vertical-align: middle; }
.signatures td { border: none; padding-top: 3em; }
.barcode { display: block; }
.copy { page-break-after: always; margin-bottom: 3em; }
@media print { body { margin: 0; } }
";

/// The Content-Security-Policy of the printed pages: nothing may load or run; the one inline
/// stylesheet is allowed by its hash. Printing needs nothing more.
pub fn content_security_policy() -> &'static str {
    static POLICY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        use base64::Engine;
        use sha2::{Digest, Sha256};
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE));
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; base-uri 'none'; \
             form-action 'none'; frame-ancestors 'none'"
        )
    });
    &POLICY
}

/// The page around a document: print-ready, no script, nothing fetched from elsewhere.
fn page(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="kk" {
            head {
                meta charset="utf-8";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body { (body) }
        }
    }
    .into_string()
}

/// The branch, in both languages.
fn branch_lines(branch: &BranchRow) -> Markup {
    html! {
        (both("Филиал", "Филиал")) ": " (branch.code) " — " (branch.name_kk) " / " (branch.name_ru)
        br;
        (both("Мекенжайы", "Адрес")) ": " (branch.address_kk) " / " (branch.address_ru)
    }
}

/// The printable registry: what the two sides sign (п.13, 17, 32–33).
pub fn registry(registry: &Registry, branch: &BranchRow) -> String {
    let tz = branch.time_zone.tz();
    let (title_kk, title_ru) = registry.kind.title();
    let number = registry.number.as_deref();
    let dated = local_time(registry.sealed_at.unwrap_or(registry.created_at), tz);
    // The signed table stays as it was signed; a line withdrawn since (brought back, п.18, or
    // re-routed to the ЦОН, issue 23) is noted below it.
    let withdrawn: Vec<_> = registry
        .items
        .iter()
        .filter_map(|item| Some((&item.waybill, item.withdrawn_at?)))
        .collect();
    let courier = both("Мемлекеттік корпорация курьері", "Курьер Госкорпорации");
    let hands_over = match registry.kind {
        RegistryKind::KaspiHandoff => both(
            "Жинақтау секторының қызметкері",
            "Работник накопительного сектора",
        ),
        RegistryKind::ReturnPickup => both(
            "Kaspi қабылдау пунктінің қызметкері",
            "Работник пункта приема Kaspi",
        ),
    };
    let body = html! {
        h1 { span lang="kk" { (title_kk) } br; span lang="ru" { (title_ru) } }
        p {
            "№ "
            @match number {
                Some(n) => (n),
                None => (both("ЖОБА — мөрленбеген", "ЧЕРНОВИК — не опечатан")),
            }
        }
        p { (both("Күні", "Дата")) ": " (dated) br; (branch_lines(branch)) }
        table {
            thead {
                tr {
                    th { "№" }
                    th { (both("Өтінім нөмірі", "Номер заявки")) }
                    th { (both("Жүкқұжат", "Накладная")) }
                    th { (both("Штрихкод", "Штрихкод")) }
                }
            }
            tbody {
                @for (i, item) in registry.items.iter().enumerate() {
                    tr {
                        td { (i + 1) }
                        td { (item.application_number) }
                        td { (item.waybill) }
                        td { (PreEscaped(barcode(&item.waybill).unwrap_or_default())) }
                    }
                }
            }
        }
        p { (both("Барлық конверттер", "Всего конвертов")) ": " (registry.items.len()) }
        @if !withdrawn.is_empty() {
            p { (both("Қол қойылғаннан кейінгі белгілер", "Отметки после подписания")) ":" }
            ul.withdrawn {
                @for (waybill, at) in &withdrawn {
                    li {
                        (waybill) " — " (both("тізілімнен алынды", "изъят из реестра")) ": "
                        (local_time(*at, tz))
                    }
                }
            }
        }
        table.signatures {
            tr { td { (hands_over) ": ____________________ / " (registry.sealed_by.as_deref().unwrap_or("")) " /" } }
            tr { td { (courier) ": ____________________ / " (registry.courier_name.as_deref().unwrap_or("")) " /" } }
        }
    };
    page(&format!("{title_ru} № {}", number.unwrap_or("—")), body)
}

/// The loss act with both copies (п.24): one stays at the State Corporation, one goes to the
/// authorised body. `number` and `drawn_at` are the drawn act's.
pub fn loss_act(
    act: &LossAct,
    number: &str,
    drawn_at: DateTime<Utc>,
    branch: &BranchRow,
) -> String {
    let tz = branch.time_zone.tz();
    let side = match act.side {
        LossSide::Kaspi => both("«Kaspi Bank» АҚ (22-т.)", "АО «Kaspi Bank» (п.22)"),
        LossSide::StateCorporation => {
            both("Мемлекеттік корпорация (23-т.)", "Госкорпорация (п.23)")
        }
    };
    let employee = both("Жауапты қызметкер", "Ответственный работник");
    let copy = |which: Markup| {
        html! {
            section.copy {
                h1 {
                    span lang="kk" { "Құжаттың жоғалуы туралы акт" } br;
                    span lang="ru" { "Акт об утере документа" } " № " (number)
                }
                p { b { (which) } }
                p { (both("Жасалған күні", "Дата составления")) ": " (local_time(drawn_at, tz)) br; (branch_lines(branch)) }
                table {
                    tr { th { (both("Өтінім нөмірі", "Номер заявки")) } td { (act.application_number) } }
                    tr { th { (both("Тарап", "Сторона")) } td { (side) } }
                    tr { th { (both("Kaspi актісі", "Акт Kaspi")) } td { (act.kaspi_act_number.as_deref().unwrap_or("—")) } }
                    tr { th { (both("Себебі", "Причина")) } td { (act.cause) } }
                    tr { th { (both("Мән-жайлары", "Обстоятельства")) } td { (act.circumstances) } }
                    tr { th { (employee) } td { (act.responsible_employee) } }
                }
                table.signatures {
                    tr { td { (both("Мемлекеттік корпорация қызметкері", "Работник Госкорпорации")) ": ____________________" } }
                    tr { td { (employee) ": ____________________ / " (act.responsible_employee) " /" } }
                }
            }
        }
    };
    let body = html! {
        (copy(both(
            "1-дана — Мемлекеттік корпорацияда қалады",
            "Экземпляр 1 — остается в Госкорпорации",
        )))
        (copy(both(
            "2-дана — уәкілетті органға жіберіледі (24-т.)",
            "Экземпляр 2 — направляется в уполномоченный орган (п.24)",
        )))
    };
    page(&format!("Акт об утере № {number}"), body)
}

/// The printed registry `id` if the scope may see it (this endpoint's page, and the console's).
pub fn registry_page(
    conn: &mut crate::db::DbConnection,
    id: crate::domain::ids::RegistryId,
    scope: &crate::db::models::branch::BranchScope,
) -> diesel::QueryResult<Option<String>> {
    let Some(row) = crate::db::models::registry::find_scoped(conn, id, scope)? else {
        return Ok(None);
    };
    let branch = crate::db::models::branch::get(conn, row.branch_id)?;
    let view = crate::reports::views::registry(conn, row)?;
    Ok(Some(registry(&view, &branch)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waybill_becomes_a_code_128_barcode() {
        let svg = barcode("WB-ALM-000123").unwrap();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains("aria-label=\"WB-ALM-000123\""));
        // Start B, 13 characters, checksum and stop: 11 modules each, 13 for the stop.
        let modules = 11 * (1 + 13 + 1) + 13;
        assert!(svg.contains(&format!("viewBox=\"0 0 {} 60\"", modules * 2 + 40)));
        assert!(svg.matches("<rect").count() > 10);
        assert_ne!(barcode("WB-1"), barcode("WB-2"));
    }

    #[test]
    fn the_policy_allows_exactly_the_pages_stylesheet() {
        use base64::Engine;
        use sha2::{Digest, Sha256};
        let html = page("t", html! { p { "x" } });
        let (_, rest) = html.split_once("<style>").unwrap();
        let (style, _) = rest.split_once("</style>").unwrap();
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(style));
        let policy = content_security_policy();
        assert!(
            policy.contains(&format!("style-src 'sha256-{hash}'")),
            "{policy}"
        );
        assert!(policy.starts_with("default-src 'none'"));
        assert!(!html.contains("<script"));
    }

    #[test]
    fn what_a_clerk_typed_is_text_on_the_printed_page() {
        let branch_code = "<b>&'\"";
        let html = page("t", html! { p { (branch_code) } });
        assert!(html.contains("<p>&lt;b&gt;&amp;'&quot;</p>"), "{html}");
        assert!(
            barcode("A\"<")
                .unwrap()
                .contains("aria-label=\"A&quot;&lt;\"")
        );
    }
}
