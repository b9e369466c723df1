//! Kaspi's delivery events for seeded documents, signed requests ready to send.

use crate::client::Request;
use crate::seed::Document;
use chrono::{Duration as ChronoDuration, Utc};
use serde_json::{Value, json};

/// Each document's four delivery events, phase by phase (every acceptance first, then every
/// courier, …), as single events (`batch` 1) or in batches.
pub fn events(documents: &[Document], tag: &str, batch: usize) -> Vec<Vec<Request>> {
    let now = Utc::now();
    let at = |step: i64| (now - ChronoDuration::seconds(10 - step)).to_rfc3339();
    let mut accepted: Vec<(String, Vec<String>)> = Vec::new();
    for doc in documents {
        match accepted.last_mut() {
            Some((registry, waybills)) if *registry == doc.registry => {
                waybills.push(doc.waybill.clone())
            }
            _ => accepted.push((doc.registry.clone(), vec![doc.waybill.clone()])),
        }
    }
    let phases: Vec<Vec<Value>> = vec![
        accepted
            .iter()
            .map(|(registry, waybills)| {
                json!({"event_id": format!("{tag}-acc-{registry}"), "type": "accepted_at_point", "occurred_at": at(1),
                       "handoff_registry": registry, "kaspi_registry_number": format!("KSP-{registry}"), "accepted_waybills": waybills})
            })
            .collect(),
        documents
            .iter()
            .map(|d| json!({"event_id": format!("{tag}-out-{}", d.waybill), "type": "out_for_delivery", "waybill": d.waybill, "occurred_at": at(2)}))
            .collect(),
        documents
            .iter()
            .map(|d| json!({"event_id": format!("{tag}-cell-{}", d.waybill), "type": "placed_in_cell", "waybill": d.waybill,
                           "postamat_id": "PST-ALA-1", "cell": "B-17", "occurred_at": at(3)}))
            .collect(),
        documents
            .iter()
            .map(|d| json!({"event_id": format!("{tag}-got-{}", d.waybill), "type": "collected", "waybill": d.waybill, "occurred_at": at(4)}))
            .collect(),
    ];
    phases
        .into_iter()
        .map(|phase| {
            if batch <= 1 {
                phase
                    .into_iter()
                    .map(|e| {
                        let id = e["event_id"].as_str().unwrap().to_owned();
                        Request::kaspi("/api/v1/integrations/kaspi/events", e, vec![id])
                    })
                    .collect()
            } else {
                phase
                    .chunks(batch)
                    .map(|chunk| {
                        let ids = chunk
                            .iter()
                            .map(|e| e["event_id"].as_str().unwrap().to_owned())
                            .collect();
                        Request::kaspi(
                            "/api/v1/integrations/kaspi/events/batch",
                            json!({"events": chunk}),
                            ids,
                        )
                    })
                    .collect()
            }
        })
        .collect()
}
