//! Reference data the tests create: branches and the cities they are in.

use serde_json::{Value, json};

/// The КАТО code of a city the tests use (п.4 compares cities by it).
pub fn kato(city: &str) -> &'static str {
    match city
        .trim()
        .trim_start_matches("г. ")
        .trim_end_matches(" қ.")
    {
        "Алматы" => "750000000",
        "Астана" => "710000000",
        "Шымкент" => "790000000",
        other => panic!("no КАТО code for {other} in the tests"),
    }
}

pub fn branch_body(city: &str) -> Value {
    json!({
        "name_kk": format!("{city} қаласы бойынша №1 ХҚКО"),
        "name_ru": format!("ЦОН №1 города {city}"),
        "city": city,
        "city_code": kato(city),
        "address_kk": format!("{city} қ., Абай даңғ., 10"),
        "address_ru": format!("г. {city}, пр. Абая, 10"),
    })
}
