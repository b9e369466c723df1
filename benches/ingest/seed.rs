//! Seeding through the API: the reference data, the keys, and packed envelopes handed over on
//! registries, ready for Kaspi's delivery events.

use crate::client::{Request, must};
use awc::Client;
use chrono::{Duration as ChronoDuration, Utc};
use serde_json::json;

/// The API keys seeding and the read path use.
pub struct Tokens {
    kaspi: String,
    registry_office: String,
    pub clerk: String,
    courier: String,
}

async fn key(client: &Client, base: &str, admin: &str, role: &str, branch: Option<&str>) -> String {
    let body = json!({"name": format!("bench {role}"), "role": role, "branch": branch});
    let created = must(
        client,
        base,
        &[Request::json(
            "POST",
            "/api/v1/admin/keys".into(),
            admin,
            body,
        )],
        1,
    )
    .await;
    created[0]["token"].as_str().unwrap().to_owned()
}

/// The branch, the postamat and an API key for each role the run plays.
pub async fn reference_data(client: &Client, base: &str, admin: &str) -> Tokens {
    // Cities are compared by their КАТО code (order п.4): Almaty's is 750000000.
    let branch = json!({"name_kk": "Алматы қаласы бойынша №1 ХҚКО", "name_ru": "ЦОН №1 города Алматы",
        "city": "Алматы", "city_code": "750000000", "address_kk": "Алматы қ., Абай даңғ., 10", "address_ru": "г. Алматы, пр. Абая, 10"});
    let postamat = json!({"city": "Алматы", "city_code": "750000000", "address_kk": "Төле би к-сі, 55", "address_ru": "ул. Толе би, 55"});
    must(
        client,
        base,
        &[
            Request::json("PUT", "/api/v1/branches/ALM01".into(), admin, branch),
            Request::json("PUT", "/api/v1/postamats/PST-ALA-1".into(), admin, postamat),
        ],
        1,
    )
    .await;
    Tokens {
        kaspi: key(client, base, admin, "kaspi", None).await,
        registry_office: key(client, base, admin, "registry_office", None).await,
        clerk: key(client, base, admin, "accumulation_clerk", Some("ALM01")).await,
        courier: key(client, base, admin, "state_courier", Some("ALM01")).await,
    }
}

/// A valid IIN for a serial.
fn iin(serial: u32) -> String {
    postamat::domain::identifiers::synthetic_iin("870412", 3, serial)
}

/// A packed, handed-over document: its shipment id, waybill and registry number.
pub struct Document {
    pub shipment: String,
    pub waybill: String,
    pub registry: String,
}

/// Seeds `count` documents named `prefix-N` through the API, handed over on registries of
/// `registry_size` envelopes.
pub async fn seed(
    client: &Client,
    base: &str,
    tokens: &Tokens,
    prefix: &str,
    count: usize,
    registry_size: usize,
    connections: usize,
) -> Vec<Document> {
    let now = Utc::now();
    let numbers: Vec<String> = (0..count).map(|i| format!("{prefix}-{i}")).collect();
    let register: Vec<Request> = numbers
        .iter()
        .enumerate()
        .map(|(i, n)| {
            Request::json(
                "POST",
                "/api/v1/integrations/kaspi/applications".into(),
                &tokens.kaspi,
                json!({"application_number": n, "applicant_iin": iin(i as u32), "applicant_name": "Нұрланова Айгерім",
                       "phone": "8 701 123 45 67", "language": "kk", "delivery_method": "postamat", "postamat_id": "PST-ALA-1",
                       "registry_office_code": "RAGS-ALM-3", "branch": "ALM01", "submitted_at": (now - ChronoDuration::hours(2)).to_rfc3339()}),
            )
        })
        .collect();
    must(client, base, &register, connections).await;
    let execute: Vec<Request> = numbers
        .iter()
        .map(|n| {
            Request::json(
                "POST",
                "/api/v1/integrations/registry-office/events".into(),
                &tokens.registry_office,
                json!({"event_id": format!("ro-{n}"), "application_number": n, "status": "executed",
                       "occurred_at": (now - ChronoDuration::hours(1)).to_rfc3339()}),
            )
        })
        .collect();
    must(client, base, &execute, connections).await;
    let order: Vec<Request> = numbers
        .iter()
        .map(|n| {
            Request::json(
                "POST",
                "/api/v1/integrations/kaspi/orders".into(),
                &tokens.kaspi,
                json!({"event_id": format!("ord-{n}"), "application_number": n, "kaspi_order_id": format!("K-{n}"),
                       "waybill": format!("WB-{n}"), "occurred_at": (now - ChronoDuration::minutes(50)).to_rfc3339()}),
            )
        })
        .collect();
    must(client, base, &order, connections).await;
    let intake: Vec<Request> = numbers
        .chunks(500)
        .map(|chunk| {
            Request::json(
                "POST",
                "/api/v1/intake".into(),
                &tokens.clerk,
                json!({"application_numbers": chunk}),
            )
        })
        .collect();
    let taken = must(client, base, &intake, 1).await;
    let shipments: Vec<String> = taken
        .iter()
        .flat_map(|t| t["items"].as_array().unwrap().clone())
        .map(|item| item["shipment_id"].as_str().expect("taken in").to_owned())
        .collect();
    let label: Vec<Request> = shipments
        .iter()
        .zip(&numbers)
        .map(|(id, n)| {
            Request::json(
                "POST",
                format!("/api/v1/shipments/{id}/label"),
                &tokens.clerk,
                json!({"waybill": format!("WB-{n}")}),
            )
        })
        .collect();
    must(client, base, &label, connections).await;
    let drafts: Vec<Request> = numbers
        .chunks(registry_size)
        .map(|chunk| {
            Request::json(
                "POST",
                "/api/v1/registries".into(),
                &tokens.clerk,
                json!({"application_numbers": chunk}),
            )
        })
        .collect();
    let drafted = must(client, base, &drafts, connections).await;
    let ids: Vec<String> = drafted
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    let seal: Vec<Request> = ids
        .iter()
        .map(|id| {
            Request::json(
                "POST",
                format!("/api/v1/registries/{id}/seal"),
                &tokens.clerk,
                json!({}),
            )
        })
        .collect();
    let sealed = must(client, base, &seal, connections).await;
    let hand_over: Vec<Request> = ids
        .iter()
        .map(|id| {
            Request::json(
                "POST",
                format!("/api/v1/registries/{id}/handover"),
                &tokens.courier,
                json!({"courier_name": "Ерлан"}),
            )
        })
        .collect();
    must(client, base, &hand_over, connections).await;
    let registries: Vec<String> = sealed
        .iter()
        .flat_map(|r| {
            let number = r["number"].as_str().unwrap().to_owned();
            std::iter::repeat_n(number, registry_size)
        })
        .collect();
    shipments
        .into_iter()
        .zip(numbers)
        .zip(registries)
        .map(|((shipment, n), registry)| Document {
            shipment,
            waybill: format!("WB-{n}"),
            registry,
        })
        .collect()
}
