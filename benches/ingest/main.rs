//! Load harness: Kaspi event ingest, batches and the clerk read path against the real service,
//! with a baseline measured in the same run.
//!
//! ```sh
//! cargo bench --bench ingest                                   # SQLite in a temp folder
//! cargo bench --bench ingest -- --database-url postgres://postgres@127.0.0.1:5432/postgres
//! cargo bench --bench ingest -- --documents 2500 --connections 16 --batch 500 --kill
//! cargo bench --bench ingest -- --database-url postgres://… --statements   # pg_stat_statements
//! ```
//!
//! It starts `postamat serve` (release build) on its own database (for PostgreSQL it creates
//! one next to the URL's and drops it after), seeds packed envelopes through the API — register,
//! execute, order, intake, label, registries sealed and handed over — then measures:
//! - single events: each document's four delivery events (accepted at the point, out for
//!   delivery, placed in a cell, collected), pre-signed, `--connections` in flight;
//! - batches of `--batch` events, `--connections` batches in flight;
//! - the clerk read path, `GET /api/v1/shipments/{id}`;
//! - `--kill`: the service is killed with SIGKILL in the middle of a run of single events,
//!   restarted, and every event it had acknowledged is looked up in the database.
//!
//! The floor (issue 26, `floor.rs`) is sent the same single events right after the
//! service: an actix-web + diesel route that verifies the signature, parses the event and in one
//! transaction updates the documents, inserts their history and the event. The service's figures
//! are printed as ratios to it.
//!
//! After seeding, and after filling the floor's tables, the database is settled as autovacuum
//! would have by then (`VACUUM (ANALYZE)`; `ANALYZE` on SQLite): this machine's PostgreSQL runs
//! without autovacuum, and the dead rows of seeding would be measured instead of the service.
//!
//! The baseline runs in the same process against the same database before the service starts:
//! a pool of `--connections` connections, each transaction one UPDATE by key and two INSERTs
//! (the least an applied event must write), and on PostgreSQL `pgbench` with the same
//! statements, prepared, when it is installed.

mod args;
mod baseline;
mod client;
mod clocks;
mod database;
mod events;
mod floor;
mod kill;
mod load;
mod measure;
mod seed;
mod server;
mod statements;

use awc::Client;
use baseline::{baseline, pgbench};
use clap::Parser;
use database::{Database, pool, settle};
use events::events;
use kill::kill_during_load;
use load::{ingest, read_path};
use measure::header;
use postamat::db;
use seed::{reference_data, seed};
use server::{SERVER_BIN, Server};
use statements::Statements;
use std::time::{Duration, Instant};

/// Kaspi's webhook secret: the service and the floor are started with it, the events signed with it.
const SECRET: &str = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

fn main() {
    let args = args::Args::parse();
    if let Some([url, port, connections]) = args.floor_serve.as_deref() {
        let port = port.parse().expect("--floor-serve URL PORT CONNECTIONS");
        let connections = connections
            .parse()
            .expect("--floor-serve URL PORT CONNECTIONS");
        floor::serve(url, port, connections, SECRET);
    }
    if let Some(bin) = &args.server_bin {
        SERVER_BIN.set(bin.clone()).unwrap();
    }
    let (database, url) = Database::create(args.database_url.as_deref());
    let backend = database.backend();
    {
        let pool = pool(&url, 1);
        db::run_migrations(&mut pool.get().unwrap()).unwrap();
    }
    println!(
        "postamat ingest harness: {backend}, {} documents × 4 events, {} connections, batches of {}, registries of {}",
        args.documents, args.connections, args.batch, args.registry_size
    );
    let base = baseline(&url, args.connections, args.baseline_seconds);
    let pgbench_tps = if backend == "postgres" {
        pgbench(&url, args.connections, args.baseline_seconds)
    } else {
        None
    };
    let port = 20_000 + (std::process::id() % 20_000) as u16;
    let mut server = Server::start(&url, port);
    let admin = server
        .admin_token
        .clone()
        .expect("a first start prints the admin token");
    let system = actix_web::rt::System::new();
    system.block_on(async {
        let client = Client::builder()
            .timeout(Duration::from_secs(120))
            .connector(awc::Connector::new().limit(args.connections.max(16)))
            .finish();
        let tokens = reference_data(&client, &server.base, &admin).await;
        let t = Instant::now();
        let single = seed(&client, &server.base, &tokens, "S", args.documents, args.registry_size, args.connections).await;
        let batch_documents = args.batch_documents.unwrap_or(args.documents);
        let batched = seed(&client, &server.base, &tokens, "B", batch_documents, args.registry_size, args.connections).await;
        println!("seeded {} documents in {:.1} s", args.documents + batch_documents, t.elapsed().as_secs_f64());
        settle(&url, "after seeding");
        println!();
        header();
        base.print(None);
        if let Some(tps) = pgbench_tps {
            println!("{:<34} {:>7} {:>10.0}/s", "baseline: pgbench, prepared", "-", tps);
        }
        let reference = pgbench_tps.unwrap_or(base.rate());
        let singles = events(&single, "s", 1);
        let statements = (args.statements && backend == "postgres").then(|| Statements::new(&url));
        statements.iter().for_each(Statements::reset);
        let measure = ingest(&client, &server, &singles, args.connections, format!("single events, {} conn", args.connections)).await;
        measure.print(Some(reference));
        let service_statements = statements.as_ref().map(|s| s.read(measure.count));
        // The floor (issue 26): the same requests, on its own tables holding the same waybills.
        let waybills: Vec<String> = single.iter().map(|d| d.waybill.clone()).collect();
        floor::prepare(&pool(&url, 1), &waybills);
        settle(&url, "after the floor's tables were filled");
        let floor_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let floor_server = Server::attach(floor::start(&url, floor_port, args.connections as u32), floor_port);
        statements.iter().for_each(Statements::reset);
        let floor = ingest(&client, &floor_server, &singles, args.connections, format!("the floor: single events, {} conn", args.connections)).await;
        floor.print(Some(reference));
        drop(floor_server);
        floor.compare(&measure);
        if let (Some(statements), Some(service)) = (&statements, service_statements) {
            println!("\npg_stat_statements per event, the service's single events:");
            println!("{service}");
            println!("pg_stat_statements per event, the floor's:");
            println!("{}", statements.read(floor.count));
        }
        let batches = ingest(&client, &server, &events(&batched, "b", args.batch), args.connections, format!("batches of {}, {} at once", args.batch, args.connections)).await;
        batches.print(Some(reference));
        println!("{:<34} {:>37.2}×", "batches vs single events", batches.rate() / measure.rate());
        let read = read_path(&client, &server, &single, &tokens.clerk, args.reads, args.connections).await;
        read.print(None);
        if args.kill {
            let victims = seed(&client, &server.base, &tokens, "K", args.documents, args.registry_size, args.connections).await;
            let (acknowledged, lost) = kill_during_load(&client, &mut server, &url, port, &events(&victims, "k", 1), args.connections).await;
            println!("kill -9 during load: {acknowledged} events acknowledged before the kill, {lost} of them lost");
            assert_eq!(lost, 0, "an acknowledged event was lost");
        }
    });
    drop(server);
    drop(database);
}
