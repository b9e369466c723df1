//! The dispatcher against a real HTTP gateway on loopback: retries, permanent failures,
//! dead letters, quiet hours, both languages and the signed request to Kaspi.

use crate::common::{KASPI_SECRET, Pilot, accepted_event, placed_event};
use actix_web::web;
use chrono::{DateTime, Utc};
use postamat::config::{DispatchConfig, Gateway};
use postamat::db::models::outbox::{self, NewNotification};
use postamat::domain::notification::{
    Channel, GatewayMessage, KaspiRequest, Language, NotificationKind,
};
use postamat::domain::role::Role;
use postamat::domain::webhook::WebhookSecret;
use postamat::jobs::dispatcher::{DispatchReport, Dispatcher};
use serde_json::json;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};

/// A request the test gateway received.
#[derive(Debug, Clone)]
struct Hit {
    headers: Vec<(String, String)>,
    body: String,
}

impl Hit {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP server on loopback answering with scripted statuses (then 200).
struct TestGateway {
    url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
}

impl TestGateway {
    fn start(script: &[u16]) -> TestGateway {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/send", listener.local_addr().unwrap());
        let hits = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(
            script.iter().copied().collect::<VecDeque<u16>>(),
        ));
        let (h, s) = (hits.clone(), script.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { break };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut headers = Vec::new();
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                loop {
                    line.clear();
                    reader.read_line(&mut line).unwrap();
                    let trimmed = line.trim_end();
                    if trimmed.is_empty() {
                        break;
                    }
                    if let Some((k, v)) = trimmed.split_once(':') {
                        headers.push((k.trim().to_owned(), v.trim().to_owned()));
                    }
                }
                let length: usize = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                h.lock().unwrap().push(Hit {
                    headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                });
                let status = s.lock().unwrap().pop_front().unwrap_or(200);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                );
            }
        });
        TestGateway { url, hits, script }
    }

    fn gateway(&self) -> Option<Gateway> {
        Some(Gateway {
            url: self.url.clone(),
            token: Some("gw-token".into()),
        })
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    fn then(&self, statuses: &[u16]) {
        self.script.lock().unwrap().extend(statuses);
    }
}

fn config(sms: Option<Gateway>, app: Option<Gateway>, kaspi: Option<Gateway>) -> DispatchConfig {
    DispatchConfig {
        sms,
        kaspi_app: app,
        kaspi_api: kaspi,
        registry_office_api: None,
        max_attempts: 4,
        sms_max_segments: 3,
        quiet_hours: (
            chrono::NaiveTime::from_hms_opt(21, 0, 0).unwrap(),
            chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        ),
        interval: None,
        extra_roots: Vec::new(),
    }
}

#[actix_web::test]
async fn a_gateway_that_fails_twice_receives_the_message_exactly_once() {
    let p = Pilot::new().await;
    p.placed_shipment("G-1").await;
    let gateway = TestGateway::start(&[500, 503]);
    let metrics = postamat::observability::Metrics::new();
    let dispatcher = Arc::new(
        Dispatcher::new(config(None, gateway.gateway(), None), &[]).with_metrics(metrics.clone()),
    );
    // The create-order request to Kaspi goes to the local sink (no Kaspi API configured).
    assert_eq!(
        p.dispatch(&dispatcher, "2026-11-23T06:00:00Z").await,
        DispatchReport {
            sent: 1,
            retried: 1,
            ..Default::default()
        }
    );
    assert_eq!(
        p.dispatch(&dispatcher, "2026-11-23T06:00:01Z").await,
        DispatchReport::default(),
        "not due yet"
    );
    assert_eq!(
        p.dispatch(&dispatcher, "2026-11-23T08:00:00Z").await,
        DispatchReport {
            retried: 1,
            ..Default::default()
        }
    );
    assert_eq!(
        p.dispatch(&dispatcher, "2026-11-23T10:00:00Z").await,
        DispatchReport {
            sent: 1,
            ..Default::default()
        }
    );
    assert_eq!(
        p.dispatch(&dispatcher, "2026-11-24T10:00:00Z").await,
        DispatchReport::default()
    );
    let hits = gateway.hits();
    assert_eq!(hits.len(), 3, "two failures and one success");
    let key = hits[0].header("idempotency-key").unwrap().to_owned();
    assert!(
        hits.iter()
            .all(|h| h.header("idempotency-key") == Some(key.as_str()))
    );
    assert_eq!(hits[2].header("authorization"), Some("Bearer gw-token"));
    let body: serde_json::Value = serde_json::from_str(&hits[2].body).unwrap();
    assert_eq!(body["channel"], "kaspi_app");
    assert_eq!(body["recipient"], "+77011234567");
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .contains("Kaspi постаматында"),
        "{body}"
    );
    let text = metrics.render(&p.app.pool);
    assert!(
        text.contains(
            "postamat_outbox_messages_total{channel=\"kaspi_app\",outcome=\"retried\"} 2"
        ),
        "{text}"
    );
    assert!(
        text.contains("postamat_outbox_messages_total{channel=\"kaspi_app\",outcome=\"sent\"} 1"),
        "{text}"
    );
}

#[actix_web::test]
async fn a_4xx_is_final_and_a_supervisor_can_queue_it_again() {
    let p = Pilot::new().await;
    p.placed_shipment("G-2").await;
    let gateway = TestGateway::start(&[400]);
    let dispatcher = Arc::new(Dispatcher::new(config(None, gateway.gateway(), None), &[]));
    assert_eq!(
        p.dispatch(&dispatcher, "2026-11-23T06:00:00Z").await,
        DispatchReport {
            sent: 1,
            dead: 1,
            ..Default::default()
        }
    );
    assert_eq!(
        p.dispatch(&dispatcher, "2026-11-24T06:00:00Z").await,
        DispatchReport::default()
    );
    let supervisor = p.app.token(Role::Supervisor, None).await;
    let dead = p
        .app
        .get("/api/v1/outbox/dead", Some(&supervisor))
        .await
        .assert_status(200);
    assert_eq!(dead[0]["last_error"], "HTTP 400");
    let id = dead[0]["id"].as_str().unwrap();
    p.app
        .post(
            &format!("/api/v1/outbox/notifications/{id}/requeue"),
            Some(&supervisor),
            &json!({}),
        )
        .await
        .assert_status(204);
    p.app
        .post(
            &format!("/api/v1/outbox/notifications/{id}/requeue"),
            Some(&supervisor),
            &json!({}),
        )
        .await
        .assert_problem(404, "not_found");
    // Requeued at the test clock's now (2026-11-23 05:00Z).
    assert_eq!(
        p.dispatch(&dispatcher, "2026-11-23T06:00:00Z").await,
        DispatchReport {
            sent: 1,
            ..Default::default()
        }
    );
    assert_eq!(gateway.hits().len(), 2);
}

#[actix_web::test]
async fn too_many_failures_dead_letter_a_message() {
    let p = Pilot::new().await;
    p.placed_shipment("G-3").await;
    let gateway = TestGateway::start(&[502, 502, 502, 502]);
    let dispatcher = Arc::new(Dispatcher::new(config(None, gateway.gateway(), None), &[]));
    for hour in ["06", "08", "10"] {
        assert_eq!(
            p.dispatch(&dispatcher, &format!("2026-11-23T{hour}:00:00Z"))
                .await
                .retried,
            1
        );
    }
    assert_eq!(
        p.dispatch(&dispatcher, "2026-11-23T12:00:00Z").await,
        DispatchReport {
            dead: 1,
            ..Default::default()
        }
    );
    gateway.then(&[200]);
    assert_eq!(
        p.dispatch(&dispatcher, "2026-11-24T12:00:00Z").await,
        DispatchReport::default()
    );
}

#[actix_web::test]
async fn an_sms_in_the_quiet_hours_waits_until_nine_and_both_languages_are_sent() {
    let p = Pilot::new().await;
    let id = p.placed_shipment("Q-1").await;
    let lookup = p
        .app
        .get("/api/v1/applications/Q-1", Some(&p.clerk))
        .await
        .assert_status(200);
    let (pool, app_id) = (
        p.app.pool.clone(),
        lookup["id"].as_str().unwrap().parse().unwrap(),
    );
    let shipment_id = id.parse().unwrap();
    web::block(move || {
        let now: DateTime<Utc> = "2026-11-23T17:00:00Z".parse().unwrap();
        let sms = NewNotification {
            application_id: app_id,
            shipment_id: Some(shipment_id),
            kind: NotificationKind::ReturnedToStateCorporation,
            channel: Channel::Sms1414,
            recipient: "+77011234567",
            language: Language::Ru,
            body: "Свидетельство о рождении передано в ЦОН.",
            dedup_key: "test-sms-1",
        };
        outbox::insert_notification(&mut pool.get().unwrap(), sms, now).unwrap();
    })
    .await
    .unwrap();
    let sms_gateway = TestGateway::start(&[]);
    let app_gateway = TestGateway::start(&[]);
    let dispatcher = Arc::new(Dispatcher::new(
        config(sms_gateway.gateway(), app_gateway.gateway(), None),
        &[],
    ));
    // 22:00 in Almaty: the Kaspi-app message goes, the SMS waits.
    let evening = p.dispatch(&dispatcher, "2026-11-23T17:00:00Z").await;
    assert_eq!(
        evening,
        DispatchReport {
            sent: 2,
            deferred: 1,
            ..Default::default()
        },
        "the app message and the sink's create-order"
    );
    assert!(sms_gateway.hits().is_empty());
    assert_eq!(
        p.dispatch(&dispatcher, "2026-11-24T03:59:00Z").await,
        DispatchReport::default(),
        "08:59 local"
    );
    assert_eq!(
        p.dispatch(&dispatcher, "2026-11-24T04:00:00Z").await,
        DispatchReport {
            sent: 1,
            ..Default::default()
        }
    );
    // The body is the document's `GatewayMessage` (its `webhooks` section).
    let body = &sms_gateway.hits()[0].body;
    let sms: GatewayMessage = serde_json::from_str(body).unwrap();
    assert_eq!(sms.channel, Channel::Sms1414);
    assert!(sms.text.contains("ЦОН"));
    // The gateway's contract, literally.
    let raw: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(raw["channel"], "sms_1414");
    let mut keys: Vec<&str> = raw
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, ["channel", "message_id", "recipient", "text"]);

    // A Russian-speaking applicant gets Russian.
    let (_, registry_number) = p.handed_over_in("Q-2", "ru").await;
    p.kaspi_event(accepted_event("q2-a", &registry_number, &["WB-Q-2"]))
        .await;
    p.kaspi_event(placed_event("q2-p", "WB-Q-2", "PST-ALA-1"))
        .await;
    p.dispatch(&dispatcher, "2026-11-24T05:00:00Z").await;
    let texts: Vec<String> = app_gateway
        .hits()
        .iter()
        .map(|h| {
            serde_json::from_str::<serde_json::Value>(&h.body).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("постаматында")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("ждёт вас в постамате Kaspi")),
        "{texts:?}"
    );
}

#[actix_web::test]
async fn the_create_order_request_to_kaspi_is_signed_like_kaspis_webhooks() {
    let p = Pilot::new().await;
    p.register("KO-1", "postamat").await;
    p.execute("KO-1").await;
    let kaspi = TestGateway::start(&[]);
    let secret = WebhookSecret::parse(KASPI_SECRET).unwrap();
    let dispatcher = Arc::new(Dispatcher::new(
        config(None, None, kaspi.gateway()),
        std::slice::from_ref(&secret),
    ));
    assert_eq!(
        p.dispatch(&dispatcher, "2026-11-23T06:00:00Z").await,
        DispatchReport {
            sent: 1,
            ..Default::default()
        }
    );
    let hit = &kaspi.hits()[0];
    let id = hit.header("webhook-id").unwrap();
    let timestamp: i64 = hit.header("webhook-timestamp").unwrap().parse().unwrap();
    assert_eq!(
        hit.header("webhook-signature").unwrap(),
        secret.sign(id, timestamp, hit.body.as_bytes())
    );
    // The body is the document's `KaspiRequest` (its `webhooks` section), told apart by `request`.
    match serde_json::from_str::<KaspiRequest>(&hit.body).unwrap() {
        KaspiRequest::CreateOrder {
            application_number, ..
        } => assert_eq!(application_number, "KO-1"),
        other => panic!("expected create_order, got {other:?}"),
    }
    let body: serde_json::Value = serde_json::from_str(&hit.body).unwrap();
    assert_eq!(body["request"], "create_order");
}

/// A gateway on loopback behind a CA of the test's own (an internal or national CA): answers
/// 200 to every request it can read; counts them.
struct TlsGateway {
    url: String,
    ca_pem: String,
    hits: Arc<Mutex<usize>>,
}

impl TlsGateway {
    fn start() -> TlsGateway {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "postamat test national CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&server_key, &ca)
            .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![server.der().clone(), ca.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        )
        .unwrap();
        let config = Arc::new(config);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://{}/send", listener.local_addr().unwrap());
        let hits = Arc::new(Mutex::new(0));
        let counted = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { break };
                let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                    continue;
                };
                let mut tls = rustls::StreamOwned::new(conn, stream);
                // A client that refuses the certificate ends the handshake here.
                let mut reader = BufReader::new(&mut tls);
                let mut line = String::new();
                let mut length = 0;
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        let mut body = vec![0; length];
                        if reader.read_exact(&mut body).is_ok() {
                            *counted.lock().unwrap() += 1;
                            let _ = tls.write_all(
                                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                            );
                            let _ = tls.flush();
                            tls.conn.send_close_notify();
                            let _ = tls.flush();
                        }
                        break;
                    }
                }
            }
        });
        TlsGateway {
            url,
            ca_pem: ca.pem(),
            hits,
        }
    }
}

#[actix_web::test]
async fn a_gateway_behind_the_operators_own_ca_is_reached_once_its_ca_is_set() {
    let p = Pilot::new().await;
    p.placed_shipment("TLS-1").await;
    let gateway = TlsGateway::start();
    let app = Some(Gateway {
        url: gateway.url.clone(),
        token: None,
    });
    // Mozilla's roots alone do not know the CA: the attempt fails and is retried.
    let bundled = Arc::new(Dispatcher::new(config(None, app.clone(), None), &[]));
    let report = p.dispatch(&bundled, "2026-11-23T06:00:00Z").await;
    assert_eq!(report.retried, 1, "{report:?}");
    assert_eq!(*gateway.hits.lock().unwrap(), 0);

    // POSTAMAT_DISPATCH_CA_CERTS names a folder holding the CA: the same message goes through.
    let dir = std::env::temp_dir().join(format!("postamat-ca-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    assert!(
        postamat::config::ca_certificates(&dir).is_err(),
        "an empty folder trusts nothing"
    );
    std::fs::write(dir.join("national-ca.pem"), &gateway.ca_pem).unwrap();
    std::fs::write(dir.join("notes.txt"), "not a certificate").unwrap();
    let extra_roots = postamat::config::ca_certificates(&dir).unwrap();
    assert_eq!(extra_roots.len(), 1);
    let trusted = Arc::new(Dispatcher::new(
        DispatchConfig {
            extra_roots,
            ..config(None, app, None)
        },
        &[],
    ));
    let report = p.dispatch(&trusted, "2026-11-23T08:00:00Z").await;
    assert_eq!(report.sent, 1, "{report:?}");
    assert_eq!(*gateway.hits.lock().unwrap(), 1);

    std::fs::write(
        dir.join("broken.crt"),
        "-----BEGIN CERTIFICATE-----\nnot base64\n",
    )
    .unwrap();
    assert!(postamat::config::ca_certificates(&dir.join("broken.crt")).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[actix_web::test]
async fn metrics_show_the_outboxes_depth_the_oldest_due_deadline_and_kaspis_outcomes() {
    let p = Pilot::new().await;
    p.placed_shipment("M-1").await;
    let metric = |text: &str, line: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(line)?.trim().parse().ok())
    };
    // Read as of before the pilot's events: nothing is due yet.
    let later = p.app.clock.now();
    p.set_clock("2026-01-01T00:00:00Z");
    let text = p.app.get("/metrics", None).await.text;
    assert_eq!(
        metric(&text, "postamat_backlog_read_ok"),
        Some(1.0),
        "{text}"
    );
    // The placement's message to the Kaspi app waits in the citizens' outbox; the create-order
    // request in the systems' one.
    assert_eq!(
        metric(
            &text,
            "postamat_outbox_depth{channel=\"kaspi_app\",outbox=\"citizens\",state=\"pending\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "postamat_outbox_depth{channel=\"kaspi\",outbox=\"systems\",state=\"pending\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, "postamat_kaspi_events_total{outcome=\"applied\"}"),
        Some(2.0),
        "accepted and placed: {text}"
    );
    assert_eq!(
        metric(&text, "postamat_oldest_due_deadline_age_seconds"),
        Some(0.0),
        "nothing due yet: {text}"
    );
    // A repeat is counted as such.
    p.kaspi_event(placed_event("M-1-p", "WB-M-1", "PST-ALA-1"))
        .await;
    let text = p.app.get("/metrics", None).await.text;
    assert_eq!(
        metric(&text, "postamat_kaspi_events_total{outcome=\"duplicate\"}"),
        Some(1.0),
        "{text}"
    );
    // Months on, the storage in the cell is long due and nobody swept: the age says so.
    p.app.clock.set(later);
    let text = p.app.get("/metrics", None).await.text;
    let age = metric(&text, "postamat_oldest_due_deadline_age_seconds").unwrap();
    assert!(age > 86_400.0, "{age}: {text}");
}
