//! What the tests read back: a shipment, its deadlines, the messages to its citizen, the loss
//! acts, the discrepancies and the exception queue.

use super::Pilot;
use actix_web::web;
use postamat::domain::role::Role;
use serde_json::Value;

/// A message to a citizen as the tests look at it.
#[derive(Debug)]
pub struct Note {
    pub kind: String,
    pub channel: String,
    pub language: String,
    pub body: String,
}

impl Pilot {
    pub async fn shipment(&self, id: &str) -> Value {
        let response = self
            .app
            .get(&format!("/api/v1/shipments/{id}"), Some(&self.clerk))
            .await;
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

    pub async fn notifications(&self, id: &str) -> Vec<Note> {
        let pool = self.app.pool.clone();
        let id: postamat::domain::ids::ShipmentId = id.parse().unwrap();
        let rows = web::block(move || {
            postamat::db::models::outbox::notifications_of(&mut pool.get().unwrap(), id).unwrap()
        })
        .await
        .unwrap();
        rows.into_iter()
            .map(|n| Note {
                kind: n.kind.as_str().to_owned(),
                channel: n.channel.as_str().to_owned(),
                language: n.language.as_str().to_owned(),
                body: n.body,
            })
            .collect()
    }

    pub async fn told(&self, id: &str, kind: &str) -> Vec<Note> {
        self.notifications(id)
            .await
            .into_iter()
            .filter(|n| n.kind == kind)
            .collect()
    }

    pub async fn act_of(&self, number: &str) -> Value {
        let acts = self
            .app
            .get("/api/v1/loss-acts", Some(&self.clerk))
            .await
            .assert_status(200);
        acts["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["application_number"] == number)
            .unwrap()
            .clone()
    }

    pub async fn discrepancy_kinds(&self) -> Vec<String> {
        let supervisor = self.app.token(Role::Supervisor, None).await;
        let found = self
            .app
            .get("/api/v1/discrepancies", Some(&supervisor))
            .await
            .assert_status(200);
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["kind"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The national supervisor's queue of one kind at the clock's time: (reference, side, or ""
    /// for an item that names none).
    pub async fn queue_of(&self, kind: &str) -> Vec<(String, String)> {
        let supervisor = self.app.token(Role::Supervisor, None).await;
        let queue: Value = self
            .app
            .get(
                &format!("/api/v1/exceptions?kind={kind}"),
                Some(&supervisor),
            )
            .await
            .assert_status(200);
        queue
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                assert_eq!(e["kind"], kind);
                assert_eq!(e["branch"], "ALM01");
                (
                    e["reference"].as_str().unwrap().to_owned(),
                    e["side"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    }
}

pub fn deadline<'a>(shipment: &'a Value, kind: &str) -> &'a Value {
    shipment["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} deadline in {shipment}"))
}

pub fn deadline_state(shipment: &Value, kind: &str) -> String {
    shipment["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == kind)
        .map(|d| d["state"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no {kind} deadline"))
}
