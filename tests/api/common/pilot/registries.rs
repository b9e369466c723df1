//! Handoff registries: drafted, sealed and signed for by the State courier.

use super::Pilot;
use serde_json::json;

impl Pilot {
    /// Packed envelopes put on one draft handoff registry; returns its id.
    pub async fn draft(&self, numbers: &[&str]) -> String {
        let draft = self
            .app
            .post(
                "/api/v1/registries",
                Some(&self.clerk),
                &json!({"application_numbers": numbers}),
            )
            .await
            .assert_status(201);
        draft["id"].as_str().unwrap().to_owned()
    }

    /// Packed envelopes put on one registry and sealed; returns (registry id, registry number).
    pub async fn seal(&self, numbers: &[&str]) -> (String, String) {
        let registry = self.draft(numbers).await;
        let registry = registry.as_str();
        let sealed = self
            .app
            .post(
                &format!("/api/v1/registries/{registry}/seal"),
                Some(&self.clerk),
                &json!({}),
            )
            .await
            .assert_status(200);
        (
            registry.to_owned(),
            sealed["number"].as_str().unwrap().to_owned(),
        )
    }

    /// The State courier signs for a sealed registry.
    pub async fn sign_for(&self, registry: &str) -> crate::common::Response {
        self.app
            .post(
                &format!("/api/v1/registries/{registry}/handover"),
                Some(&self.courier),
                &json!({"courier_name": "Ерлан"}),
            )
            .await
    }

    /// Packed envelopes put on one registry, sealed and handed to the State courier; returns
    /// (registry id, registry number).
    pub async fn hand_over(&self, numbers: &[&str]) -> (String, String) {
        let (registry, number) = self.seal(numbers).await;
        self.sign_for(&registry).await.assert_status(200);
        (registry, number)
    }

    /// A document handed to the State courier on a sealed registry; returns (shipment id,
    /// registry number).
    pub async fn handed_over(&self, number: &str) -> (String, String) {
        self.handed_over_in(number, "kk").await
    }

    /// [`Pilot::handed_over`] for an applicant who reads `language`.
    pub async fn handed_over_in(&self, number: &str, language: &str) -> (String, String) {
        let id = self.packed_in(number, language).await;
        (id, self.hand_over(&[number]).await.1)
    }
}
