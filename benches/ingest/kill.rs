//! `--kill`: no acknowledged event is lost when the service is killed with SIGKILL under load.

use crate::SECRET;
use crate::client::{Request, send};
use crate::database::pool;
use crate::server::Server;
use awc::Client;
use diesel::RunQueryDsl;
use futures_util::StreamExt;
use futures_util::stream;
use postamat::domain::webhook::WebhookSecret;
use std::time::Duration;

/// Kills the service in the middle of a run of single events, restarts it and looks up every
/// event it acknowledged. Returns (acknowledged, lost).
pub async fn kill_during_load(
    client: &Client,
    server: &mut Server,
    url: &str,
    port: u16,
    phases: &[Vec<Request>],
    connections: usize,
) -> (usize, usize) {
    let requests: Vec<Request> = phases.concat();
    let secret = WebhookSecret::parse(SECRET).unwrap();
    let base = server.base.clone();
    let half = requests.len() / 2;
    let acknowledged = std::cell::RefCell::new(Vec::<String>::new());
    let killer = async {
        // Kill once half of the events have an answer.
        while acknowledged.borrow().len() < half {
            actix_web::rt::time::sleep(Duration::from_millis(2)).await;
        }
        server.kill();
    };
    let load = stream::iter(requests.iter())
        .map(|r| {
            let (secret, acknowledged, base) = (&secret, &acknowledged, &base);
            async move {
                let answer = send(client, base, r, secret).await;
                if (200..300).contains(&answer.status) {
                    acknowledged
                        .borrow_mut()
                        .extend(r.event_ids.iter().cloned());
                }
            }
        })
        .buffer_unordered(connections)
        .collect::<Vec<()>>();
    futures_util::future::join(load, killer).await;
    *server = Server::start(url, port);
    let acknowledged = acknowledged.into_inner();
    let pool = pool(url, 1);
    let mut conn = pool.get().unwrap();
    let mut lost = 0;
    for chunk in acknowledged.chunks(500) {
        let list = chunk
            .iter()
            .map(|id| format!("'{id}'"))
            .collect::<Vec<_>>()
            .join(",");
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let found: Count = diesel::sql_query(format!(
            "SELECT COUNT(*) AS n FROM kaspi_events WHERE event_id IN ({list})"
        ))
        .get_result(&mut conn)
        .unwrap();
        lost += chunk.len() - found.n as usize;
    }
    (acknowledged.len(), lost)
}
