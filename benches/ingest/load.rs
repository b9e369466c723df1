//! The measured runs against a server: the event phases, and the clerk read path.

use crate::client::{Answer, Request, run};
use crate::clocks::Clocks;
use crate::measure::Measure;
use crate::seed::Document;
use crate::server::Server;
use awc::Client;
use serde_json::Value;
use std::time::Duration;

/// Counts the events of each answer that were not applied (a 2xx answer's own outcomes).
fn not_applied(answer: &Answer) -> usize {
    let Ok(body) = serde_json::from_slice::<Value>(&answer.body) else {
        return 0;
    };
    let outcomes: Vec<&Value> = match body.get("results") {
        Some(results) => results.as_array().unwrap().iter().collect(),
        None => vec![&body],
    };
    outcomes
        .iter()
        .filter(|r| r["outcome"] != "applied")
        .count()
}

/// Runs the four phases; one measure over all of them.
pub async fn ingest(
    client: &Client,
    server: &Server,
    phases: &[Vec<Request>],
    connections: usize,
    label: String,
) -> Measure {
    let mut latencies = Vec::new();
    let (mut elapsed, mut events, mut failures, mut unavailable, mut refused) =
        (Duration::ZERO, 0, 0, 0, 0);
    let clocks = Clocks::read(server);
    for phase in phases {
        let (answers, took) = run(client, &server.base, phase, connections).await;
        elapsed += took;
        for (answer, request) in answers.iter().zip(phase) {
            latencies.push(answer.latency);
            events += request.event_ids.len();
            match answer.status {
                200..=299 => refused += not_applied(answer),
                503 => unavailable += 1,
                _ => failures += 1,
            }
        }
    }
    if refused > 0 {
        println!("  ({refused} events answered but not applied in {label})");
    }
    Measure {
        label,
        count: events,
        elapsed,
        latencies,
        failures,
        server_unavailable: unavailable,
        rss_kib: server.rss_kib(),
        cpu: Some(clocks.since(server)),
    }
}

/// The clerk read path: `reads` GETs of `documents`' shipments in turn, `connections` in flight.
pub async fn read_path(
    client: &Client,
    server: &Server,
    documents: &[Document],
    clerk: &str,
    reads: usize,
    connections: usize,
) -> Measure {
    let reads: Vec<Request> = (0..reads)
        .map(|i| {
            Request::get(
                format!(
                    "/api/v1/shipments/{}",
                    documents[i % documents.len()].shipment
                ),
                clerk,
            )
        })
        .collect();
    let clocks = Clocks::read(server);
    let (answers, elapsed) = run(client, &server.base, &reads, connections).await;
    Measure {
        label: format!("GET a shipment, {connections} conn"),
        count: answers.len(),
        elapsed,
        failures: answers
            .iter()
            .filter(|a| !(200..300).contains(&a.status))
            .count(),
        server_unavailable: answers.iter().filter(|a| a.status == 503).count(),
        latencies: answers.iter().map(|a| a.latency).collect(),
        rss_kib: server.rss_kib(),
        cpu: Some(clocks.since(server)),
    }
}
