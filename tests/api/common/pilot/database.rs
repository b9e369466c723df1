//! The database under the API: the messages written for other systems, the statements a step
//! costs, and a deadline stored as an earlier rule left it.

use super::Pilot;
use actix_web::web;
use diesel::Connection;
use diesel::connection::{InstrumentationEvent, SimpleConnection};
use postamat::domain::kaspi::{KaspiEvent, Outcome};
use postamat::workflows::Actor;
use postamat::workflows::kaspi_events::{Batch, Delivery};
use serde_json::Value;
use std::sync::{Arc, Mutex};

impl Pilot {
    pub async fn outbound(&self) -> Vec<(String, Value)> {
        let pool = self.app.pool.clone();
        actix_web::web::block(move || {
            use diesel::prelude::*;
            use postamat::db::schema::outbound_messages::dsl::*;
            outbound_messages
                .select((kind, payload))
                .load::<(String, String)>(&mut pool.get().unwrap())
                .unwrap()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|(k, p)| (k, serde_json::from_str(&p).unwrap()))
        .collect()
    }

    pub async fn outbound_kinds(&self) -> Vec<String> {
        let pool = self.app.pool.clone();
        web::block(move || {
            use diesel::prelude::*;
            use postamat::db::schema::outbound_messages::dsl::*;
            outbound_messages
                .select(kind)
                .load::<String>(&mut pool.get().unwrap())
                .unwrap()
        })
        .await
        .unwrap()
    }

    /// Runs `read` on a connection that records its statements; returns its answer and them.
    pub async fn recorded<T: Send + 'static>(
        &self,
        read: impl FnOnce(&mut postamat::db::DbConnection) -> T + Send + 'static,
    ) -> (T, Vec<String>) {
        let pool = self.app.pool.clone();
        web::block(move || {
            let mut conn = pool.get().unwrap();
            let statements = Arc::new(Mutex::new(Vec::new()));
            let log = statements.clone();
            conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
                if let InstrumentationEvent::StartQuery { query, .. } = event {
                    log.lock().unwrap().push(query.to_string());
                }
            });
            let answer = read(&mut conn);
            conn.set_instrumentation(|_: InstrumentationEvent<'_>| {});
            let statements = statements.lock().unwrap().clone();
            (answer, statements)
        })
        .await
        .unwrap()
    }

    /// Receives one event through the workflow on a connection that counts its statements;
    /// returns them.
    pub async fn counted(&self, body: Value) -> Vec<String> {
        let event: KaspiEvent = serde_json::from_value(body).unwrap();
        let (cache, now) = (self.app.calendar.clone(), self.app.clock.now());
        let ((), statements) = self
            .recorded(move |conn| applied(conn, &event, &cache, now))
            .await;
        statements
    }

    /// Stores one deadline of a shipment as an earlier rule left it (`set`, an SQL `SET` list),
    /// then runs the migration that re-reads such deadlines (`[postgres, sqlite]` texts) again.
    pub async fn as_the_old_rule_stored(
        &self,
        shipment_id: &str,
        kind: &str,
        set: &str,
        migration: [&'static str; 2],
    ) {
        let pool = self.app.pool.clone();
        let (shipment_id, kind, set) = (shipment_id.to_owned(), kind.to_owned(), set.to_owned());
        actix_web::web::block(move || {
            let mut conn = pool.get().unwrap();
            let (migration, id) = match &*conn {
                postamat::db::DbConnection::Postgres(_) => {
                    (migration[0], format!("'{shipment_id}'::uuid"))
                }
                postamat::db::DbConnection::Sqlite(_) => (migration[1], format!("'{shipment_id}'")),
            };
            conn.batch_execute(&format!(
                "UPDATE deadlines SET {set} WHERE kind = '{kind}' AND shipment_id = {id}"
            ))
            .unwrap();
            conn.batch_execute(migration).unwrap();
        })
        .await
        .unwrap();
    }
}

/// Receives `event` through the workflow, as Kaspi's webhook does; it must apply.
pub fn applied(
    conn: &mut postamat::db::DbConnection,
    event: &KaspiEvent,
    calendar: &postamat::jobs::calendar_refresh::CalendarCache,
    now: chrono::DateTime<chrono::Utc>,
) {
    let actor = Actor::kaspi("Kaspi webhook counted");
    let snapshot = calendar.current();
    let delivery = Delivery {
        actor: &actor,
        now,
        calendar: &snapshot,
    };
    let mut batch = Batch::new(vec![Ok(event.clone())]);
    for chunk in batch.chunks() {
        batch.answered(chunk.receive(conn, delivery).unwrap());
    }
    let received = batch.answers().unwrap();
    assert_eq!(received[0].outcome, Outcome::Applied, "{received:?}");
}
