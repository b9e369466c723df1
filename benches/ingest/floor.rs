//! The floor of this stack (issue 26): the least an actix-web + diesel service can do for one
//! Kaspi event, on the same route and body as the service — verify the Standard Webhooks
//! signature (the service's own `webhook::verify`), parse the event (the service's own
//! `KaspiEvent`), and in one transaction UPDATE the documents by waybill, INSERT their history
//! lines and INSERT the event: BEGIN, 3 statements, COMMIT. No idempotency, deadlines, messages,
//! authentication or rules: what is left once the work the order asks for is taken away.
//!
//! It runs as its own process (this bench binary again, with `--floor-serve`), so its CPU is
//! measured apart from the load generator's, on its own tables in the run's database, seeded
//! with the same waybills, and is sent the very requests the service was sent.

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;
use postamat::db::{self, DbPool, write_transaction};
use postamat::domain::kaspi::KaspiEvent;
use postamat::domain::webhook::{self, WebhookSecret};
use std::process::Command;

/// The floor's tables, made afresh and holding `waybills`, each a document in `packed`.
pub fn prepare(pool: &DbPool, waybills: &[String]) {
    let mut conn = pool.get().unwrap();
    conn.batch_execute(
        "DROP TABLE IF EXISTS floor_documents; DROP TABLE IF EXISTS floor_history; \
         DROP TABLE IF EXISTS floor_events; \
         CREATE TABLE floor_documents (waybill TEXT PRIMARY KEY, state TEXT NOT NULL, \
             version INTEGER NOT NULL); \
         CREATE TABLE floor_history (id TEXT PRIMARY KEY, waybill TEXT NOT NULL, \
             state TEXT NOT NULL, event_id TEXT NOT NULL, at TIMESTAMP NOT NULL); \
         CREATE TABLE floor_events (event_id TEXT PRIMARY KEY, type TEXT NOT NULL, \
             payload TEXT NOT NULL, received_at TIMESTAMP NOT NULL);",
    )
    .unwrap();
    for chunk in waybills.chunks(1000) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|w| format!("('{}', 'packed', 0)", w.replace('\'', "''")))
            .collect();
        conn.batch_execute(&format!(
            "INSERT INTO floor_documents (waybill, state, version) VALUES {}",
            rows.join(",")
        ))
        .unwrap();
    }
}

/// Starts the floor on `port` as a process of its own (this binary, `--floor-serve`).
pub fn start(url: &str, port: u16, connections: u32) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--floor-serve",
            url,
            &port.to_string(),
            &connections.to_string(),
        ])
        .spawn()
        .expect("start the floor")
}

struct Floor {
    pool: DbPool,
    secrets: Vec<WebhookSecret>,
}

/// The floor process: serves until killed.
pub fn serve(url: &str, port: u16, connections: u32, secret: &str) -> ! {
    let pool = db::connect(&db::DatabaseLocation::parse(url).unwrap(), connections).unwrap();
    let floor = web::Data::new(Floor {
        pool,
        secrets: vec![WebhookSecret::parse(secret).unwrap()],
    });
    actix_web::rt::System::new()
        .block_on(async move {
            HttpServer::new(move || {
                App::new()
                    .app_data(floor.clone())
                    .route("/api/v1/integrations/kaspi/events", web::post().to(event))
            })
            .bind(("127.0.0.1", port))?
            .run()
            .await
        })
        .expect("the floor serves");
    std::process::exit(0)
}

async fn event(floor: web::Data<Floor>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let verified = webhook::verify(
        &header("webhook-id"),
        &header("webhook-timestamp"),
        &header("webhook-signature"),
        &body,
        &floor.secrets,
        chrono::Utc::now(),
    );
    if verified.is_err() {
        return HttpResponse::Unauthorized().finish();
    }
    let Ok(event) = serde_json::from_slice::<KaspiEvent>(&body) else {
        return HttpResponse::BadRequest().finish();
    };
    let waybills: Vec<String> = match &event.body {
        postamat::domain::kaspi::KaspiEventBody::AcceptedAtPoint {
            accepted_waybills, ..
        } => accepted_waybills.iter().map(|w| w.to_string()).collect(),
        other => other.waybill().map(|w| w.to_string()).into_iter().collect(),
    };
    let kind = event.body.type_name();
    let event_id = event.event_id.to_string();
    let payload = String::from_utf8_lossy(&body).into_owned();
    let pool = floor.pool.clone();
    let written = web::block(move || {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        let at = chrono::Utc::now().naive_utc();
        write_transaction(&mut conn, |conn| {
            let list = waybills
                .iter()
                .map(|w| format!("'{}'", w.replace('\'', "''")))
                .collect::<Vec<_>>()
                .join(",");
            diesel::sql_query(format!(
                "UPDATE floor_documents SET state = $1, version = version + 1 \
                 WHERE waybill IN ({list})"
            ))
            .bind::<diesel::sql_types::Text, _>(kind)
            .execute(conn)?;
            let history = waybills
                .iter()
                .map(|w| {
                    format!(
                        "('{}', '{}', '{kind}', '{}', '{}')",
                        uuid::Uuid::now_v7(),
                        w.replace('\'', "''"),
                        event_id.replace('\'', "''"),
                        at.format("%Y-%m-%d %H:%M:%S%.6f")
                    )
                })
                .collect::<Vec<_>>()
                .join(",");
            diesel::sql_query(format!(
                "INSERT INTO floor_history (id, waybill, state, event_id, at) VALUES {history}"
            ))
            .execute(conn)?;
            diesel::sql_query(
                "INSERT INTO floor_events (event_id, type, payload, received_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind::<diesel::sql_types::Text, _>(&event_id)
            .bind::<diesel::sql_types::Text, _>(kind)
            .bind::<diesel::sql_types::Text, _>(&payload)
            .bind::<diesel::sql_types::Timestamp, _>(at)
            .execute(conn)?;
            Ok::<_, diesel::result::Error>(event_id)
        })
        .map_err(|e| e.to_string())
    })
    .await;
    match written {
        Ok(Ok(event_id)) => {
            HttpResponse::Ok().json(serde_json::json!({"event_id": event_id, "outcome": "applied"}))
        }
        _ => HttpResponse::ServiceUnavailable().finish(),
    }
}
