//! Kaspi's signed delivery-status events, and the bodies the tests send.

use super::Pilot;
use crate::common::{KASPI_SECRET, Response};
use actix_web::test::TestRequest;
use postamat::domain::webhook::WebhookSecret;
use serde_json::{Value, json};

pub const EVENTS: &str = "/api/v1/integrations/kaspi/events";

impl Pilot {
    /// Posts a body signed the way Kaspi signs it.
    pub async fn signed(
        &self,
        path: &str,
        body: &Value,
        secret: &str,
        seconds_off: i64,
    ) -> Response {
        let bytes = serde_json::to_vec(body).unwrap();
        let timestamp = self.app.clock.now().timestamp() + seconds_off;
        let id = format!("msg_{}", uuid::Uuid::now_v7().simple());
        let signature = WebhookSecret::parse(secret)
            .unwrap()
            .sign(&id, timestamp, &bytes);
        self.app
            .send(
                TestRequest::post()
                    .uri(path)
                    .insert_header(("content-type", "application/json"))
                    .insert_header(("webhook-id", id))
                    .insert_header(("webhook-timestamp", timestamp.to_string()))
                    .insert_header(("webhook-signature", signature))
                    .set_payload(bytes),
            )
            .await
    }

    /// Sends an event twice: the second time is a duplicate that changes nothing.
    pub async fn twice(&self, body: Value) -> Value {
        let first = self.kaspi_event(body.clone()).await;
        let again = self.kaspi_event(body).await;
        assert_eq!(again["outcome"], "duplicate", "{again}");
        assert_eq!(again["first_outcome"], first["outcome"]);
        assert_eq!(again["state"], first["state"], "a repeat changes nothing");
        first
    }

    pub async fn kaspi_event(&self, body: Value) -> Value {
        let response = self.signed(EVENTS, &body, KASPI_SECRET, 0).await;
        if response.status.as_u16() != 200 {
            for line in crate::common::captured_logs()
                .lines()
                .filter(|l| l.contains("cause") || l.contains("500") || l.contains("ERROR"))
            {
                eprintln!("{line}");
            }
        }
        response.assert_status(200)
    }

    /// A document placed in a cell (one Kaspi-app message written).
    pub async fn placed_shipment(&self, number: &str) -> String {
        self.placed_shipment_in(number, "kk").await
    }

    /// [`Pilot::placed_shipment`] for an applicant who reads `language`.
    pub async fn placed_shipment_in(&self, number: &str, language: &str) -> String {
        let (id, registry) = self.handed_over_in(number, language).await;
        self.kaspi_event(accepted_event(
            &format!("{number}-a"),
            &registry,
            &[&format!("WB-{number}")],
        ))
        .await;
        self.kaspi_event(placed_event(
            &format!("{number}-p"),
            &format!("WB-{number}"),
            "PST-ALA-1",
        ))
        .await;
        id
    }
}

pub fn accepted_event(id: &str, registry: &str, waybills: &[&str]) -> Value {
    json!({"event_id": id, "type": "accepted_at_point", "occurred_at": "2026-03-26T10:00:00+05:00",
           "handoff_registry": registry, "kaspi_registry_number": "KSP-R-1", "accepted_waybills": waybills})
}

pub fn event(id: &str, kind: &str, waybill: &str, at: &str) -> Value {
    json!({"event_id": id, "type": kind, "waybill": waybill, "occurred_at": at})
}

pub fn placed_event(id: &str, waybill: &str, postamat: &str) -> Value {
    json!({"event_id": id, "type": "placed_in_cell", "waybill": waybill, "occurred_at": "2026-03-27T15:00:00+05:00",
           "postamat_id": postamat, "cell": "B-17"})
}
