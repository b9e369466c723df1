//! An application's way to a packed envelope: registration, the registry office's events,
//! Kaspi's order, intake and the label; and the citizen's changes of route before placement.

use super::{Pilot, iin};
use serde_json::{Value, json};

impl Pilot {
    pub fn application(number: &str, method: &str) -> Value {
        let mut body = json!({
            "application_number": number,
            "applicant_iin": iin(12),
            "applicant_name": "Нұрланова Айгерім",
            "phone": "8 (701) 123-45-67",
            "language": "kk",
            "delivery_method": method,
            "registry_office_code": "RAGS-ALM-3",
            "branch": "ALM01",
            "submitted_at": "2026-03-16T10:00:00+05:00",
        });
        if method == "postamat" {
            body["postamat_id"] = json!("PST-ALA-1");
        }
        body
    }

    pub async fn register(&self, number: &str, method: &str) -> Value {
        self.register_in(number, method, "kk").await
    }

    /// Registers an application whose applicant reads `language` ("kk" or "ru").
    pub async fn register_in(&self, number: &str, method: &str, language: &str) -> Value {
        let mut body = Self::application(number, method);
        body["language"] = json!(language);
        self.app
            .post(
                "/api/v1/integrations/kaspi/applications",
                Some(&self.kaspi),
                &body,
            )
            .await
            .assert_status(201)
    }

    pub async fn execute(&self, number: &str) -> Value {
        self.app
            .post(
                "/api/v1/integrations/registry-office/events",
                Some(&self.registry_office),
                &json!({"event_id": format!("ro-{number}"), "application_number": number, "status": "executed", "occurred_at": "2026-03-18T15:00:00+05:00"}),
            )
            .await
            .assert_status(200)
    }

    pub async fn executed_at(&self, number: &str, at: &str) -> Value {
        self.app
            .post(
                "/api/v1/integrations/registry-office/events",
                Some(&self.registry_office),
                &json!({"event_id": format!("ro-{number}"), "application_number": number,
                        "status": "executed", "occurred_at": at}),
            )
            .await
            .assert_status(200)
    }

    pub async fn order(&self, number: &str, occurred_at: &str) -> Value {
        self.app
            .post(
                "/api/v1/integrations/kaspi/orders",
                Some(&self.kaspi),
                &json!({"event_id": format!("ord-{number}"), "application_number": number, "kaspi_order_id": format!("K-{number}"), "waybill": format!("WB-{number}"), "occurred_at": occurred_at}),
            )
            .await
            .assert_status(200)
    }

    pub async fn intake(&self, numbers: &[&str], registry: Option<&str>) -> Value {
        let mut body = json!({"application_numbers": numbers});
        if let Some(r) = registry {
            body["registry_office_registry"] = json!(r);
        }
        self.app
            .post("/api/v1/intake", Some(&self.clerk), &body)
            .await
            .assert_status(200)
    }

    /// Registered, executed, ordered, taken in and labelled: a packed envelope.
    pub async fn packed(&self, number: &str) -> String {
        self.packed_in(number, "kk").await
    }

    /// [`Pilot::packed`] for an applicant who reads `language`.
    pub async fn packed_in(&self, number: &str, language: &str) -> String {
        self.register_in(number, "postamat", language).await;
        self.execute(number).await;
        self.order(number, "2026-03-19T10:00:00+05:00").await;
        let taken = self.intake(&[number], None).await;
        let id = taken["items"][0]["shipment_id"]
            .as_str()
            .unwrap()
            .to_owned();
        self.app
            .post(
                &format!("/api/v1/shipments/{id}/label"),
                Some(&self.clerk),
                &json!({"waybill": format!("WB-{number}")}),
            )
            .await
            .assert_status(200);
        id
    }

    /// Registered, executed and ordered on `day`, taken in and labelled: a packed envelope.
    pub async fn packed_on(&self, number: &str, day: &str) -> String {
        self.register(number, "postamat").await;
        self.executed_at(number, &format!("{day}T09:00:00+05:00"))
            .await;
        self.order(number, &format!("{day}T09:30:00+05:00")).await;
        let taken = self.intake(&[number], None).await;
        let id = taken["items"][0]["shipment_id"]
            .as_str()
            .unwrap()
            .to_owned();
        self.app
            .post(
                &format!("/api/v1/shipments/{id}/label"),
                Some(&self.clerk),
                &json!({"waybill": format!("WB-{number}")}),
            )
            .await
            .assert_status(200);
        id
    }

    pub async fn cancel(&self, number: &str) -> crate::common::Response {
        self.app
            .post(
                "/api/v1/integrations/registry-office/events",
                Some(&self.registry_office),
                &json!({"event_id": format!("cancel-{number}"), "application_number": number, "status": "cancelled", "occurred_at": "2026-11-23T09:00:00+05:00"}),
            )
            .await
    }

    /// Kaspi reports another postamat for the application.
    pub async fn change_postamat(
        &self,
        number: &str,
        event_id: &str,
        postamat: &str,
        reason: &str,
    ) -> crate::common::Response {
        self.app
            .post(
                &format!("/api/v1/integrations/kaspi/applications/{number}/postamat"),
                Some(&self.kaspi),
                &json!({"event_id": event_id, "occurred_at": "2026-03-26T09:00:00+05:00",
                        "postamat_id": postamat, "reason": reason}),
            )
            .await
    }

    /// Kaspi reports that the citizen asked for the ЦОН in the app.
    pub async fn con_instead_by_kaspi(&self, number: &str) -> Value {
        self.app
            .post(
                &format!("/api/v1/integrations/kaspi/applications/{number}/reroute-to-con"),
                Some(&self.kaspi),
                &json!({"event_id": format!("con-{number}"), "occurred_at": "2026-03-26T11:00:00+05:00",
                        "reason": "citizen_request"}),
            )
            .await
            .assert_status(200)
    }

    /// The clerk records that the citizen asked for the ЦОН at the counter.
    pub async fn con_instead_at_the_con(&self, number: &str) -> crate::common::Response {
        self.app
            .post(
                &format!("/api/v1/applications/{number}/reroute-to-con"),
                Some(&self.clerk),
                &json!({"reason": "citizen_request"}),
            )
            .await
    }
}
