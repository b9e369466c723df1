//! The load generator's side of HTTP: prepared requests, Kaspi's signatures, and sending them
//! with a number in flight.

use crate::SECRET;
use awc::Client;
use chrono::Utc;
use futures_util::StreamExt;
use futures_util::stream;
use postamat::domain::webhook::WebhookSecret;
use serde_json::Value;
use std::time::{Duration, Instant};

/// One prepared request.
#[derive(Clone)]
pub struct Request {
    pub method: &'static str,
    pub path: String,
    pub token: Option<String>,
    pub body: Option<Vec<u8>>,
    /// Kaspi's webhook headers.
    pub signed: bool,
    /// Kaspi event ids in it, to look up after a kill.
    pub event_ids: Vec<String>,
}

impl Request {
    pub fn json(method: &'static str, path: String, token: &str, body: Value) -> Request {
        Request {
            method,
            path,
            token: Some(token.to_owned()),
            body: Some(serde_json::to_vec(&body).unwrap()),
            signed: false,
            event_ids: Vec::new(),
        }
    }

    pub fn get(path: String, token: &str) -> Request {
        Request {
            method: "GET",
            path,
            token: Some(token.to_owned()),
            body: None,
            signed: false,
            event_ids: Vec::new(),
        }
    }

    pub fn kaspi(path: &str, body: Value, event_ids: Vec<String>) -> Request {
        Request {
            method: "POST",
            path: path.to_owned(),
            token: None,
            body: Some(serde_json::to_vec(&body).unwrap()),
            signed: true,
            event_ids,
        }
    }
}

/// What a request was answered, and how long it took (status 0: no answer).
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    pub latency: Duration,
}

pub async fn send(
    client: &Client,
    base: &str,
    request: &Request,
    secret: &WebhookSecret,
) -> Answer {
    let url = format!("{base}{}", request.path);
    let mut builder = match request.method {
        "GET" => client.get(url),
        "PUT" => client.put(url),
        _ => client.post(url),
    };
    if let Some(token) = &request.token {
        builder = builder.insert_header(("Authorization", format!("Bearer {token}")));
    }
    if request.signed {
        let id = format!("msg_{}", uuid::Uuid::now_v7().simple());
        let timestamp = Utc::now().timestamp();
        let signature = secret.sign(&id, timestamp, request.body.as_deref().unwrap_or(&[]));
        builder = builder
            .insert_header(("webhook-id", id))
            .insert_header(("webhook-timestamp", timestamp.to_string()))
            .insert_header(("webhook-signature", signature));
    }
    let started = Instant::now();
    let sent = match &request.body {
        Some(body) => {
            builder
                .insert_header(("Content-Type", "application/json"))
                .send_body(body.clone())
                .await
        }
        None => builder.send().await,
    };
    match sent {
        Ok(mut response) => {
            let body = response.body().limit(64 << 20).await.unwrap_or_default();
            Answer {
                status: response.status().as_u16(),
                body: body.to_vec(),
                latency: started.elapsed(),
            }
        }
        Err(_) => Answer {
            status: 0,
            body: Vec::new(),
            latency: started.elapsed(),
        },
    }
}

/// Sends `requests` with `connections` in flight; returns the answers in order and the time.
pub async fn run(
    client: &Client,
    base: &str,
    requests: &[Request],
    connections: usize,
) -> (Vec<Answer>, Duration) {
    let secret = WebhookSecret::parse(SECRET).unwrap();
    let started = Instant::now();
    let mut answers: Vec<(usize, Answer)> = stream::iter(requests.iter().enumerate())
        .map(|(i, r)| {
            let secret = &secret;
            async move { (i, send(client, base, r, secret).await) }
        })
        .buffer_unordered(connections)
        .collect()
        .await;
    let elapsed = started.elapsed();
    answers.sort_by_key(|(i, _)| *i);
    (answers.into_iter().map(|(_, a)| a).collect(), elapsed)
}

/// Sends requests that must succeed (seeding); panics with the first failure.
pub async fn must(
    client: &Client,
    base: &str,
    requests: &[Request],
    connections: usize,
) -> Vec<Value> {
    let (answers, _) = run(client, base, requests, connections).await;
    answers
        .into_iter()
        .zip(requests)
        .map(|(a, r)| {
            assert!(
                (200..300).contains(&a.status),
                "{} {} answered {}: {}",
                r.method,
                r.path,
                a.status,
                String::from_utf8_lossy(&a.body)
            );
            serde_json::from_slice(&a.body).unwrap_or(Value::Null)
        })
        .collect()
}
