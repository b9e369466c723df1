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
//! The floor (issue 26, `ingest/floor.rs`) is sent the same single events right after the
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

use awc::Client;
use chrono::{Duration as ChronoDuration, Utc};
use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl};
use futures_util::StreamExt;
use futures_util::stream;
use postamat::db::{self, DatabaseLocation, DbPool, write_transaction};
use postamat::domain::webhook::WebhookSecret;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "ingest/floor.rs"]
mod floor;

const SECRET: &str = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

struct Args {
    database_url: Option<String>,
    documents: usize,
    /// Documents for the batch run (16 batches of 500 in flight need 8,000).
    batch_documents: Option<usize>,
    connections: usize,
    batch: usize,
    reads: usize,
    registry_size: usize,
    kill: bool,
    /// PostgreSQL: pg_stat_statements per statement for the single events and for the floor.
    statements: bool,
    baseline_seconds: u64,
    /// Another build of the service to measure (e.g. an older commit's).
    server_bin: Option<String>,
}

fn args() -> Args {
    let mut args = Args {
        database_url: None,
        documents: 2000,
        batch_documents: None,
        connections: 16,
        batch: 500,
        reads: 20_000,
        registry_size: 1,
        kill: false,
        statements: false,
        baseline_seconds: 10,
        server_bin: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--bench" => {}
            "--database-url" => args.database_url = Some(value()),
            "--documents" => args.documents = value().parse().expect("--documents N"),
            "--batch-documents" => {
                args.batch_documents = Some(value().parse().expect("--batch-documents N"))
            }
            "--connections" => args.connections = value().parse().expect("--connections N"),
            "--batch" => args.batch = value().parse().expect("--batch N"),
            "--reads" => args.reads = value().parse().expect("--reads N"),
            "--registry-size" => args.registry_size = value().parse().expect("--registry-size N"),
            "--baseline-seconds" => args.baseline_seconds = value().parse().expect("seconds"),
            "--kill" => args.kill = true,
            "--statements" => args.statements = true,
            "--server-bin" => args.server_bin = Some(value()),
            other => panic!("unknown flag {other}; see the header of benches/ingest.rs"),
        }
    }
    args
}

/// The database the run owns.
enum Database {
    Sqlite(std::path::PathBuf),
    Postgres { admin: String, name: String },
}

impl Database {
    fn create(url: Option<&str>) -> (Database, String) {
        match url {
            Some(admin) if admin.starts_with("postgres") => {
                let name = format!("postamat_bench_{}", std::process::id());
                let mut conn = diesel::PgConnection::establish(admin).expect("admin connection");
                diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\""))
                    .execute(&mut conn)
                    .unwrap();
                diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut conn)
                    .unwrap();
                let mut url = url::Url::parse(admin).unwrap();
                url.set_path(&name);
                let db = Database::Postgres {
                    admin: admin.to_owned(),
                    name,
                };
                (db, url.to_string())
            }
            Some(other) => panic!("--database-url must be a postgres:// URL, got {other}"),
            None => {
                let dir =
                    std::env::temp_dir().join(format!("postamat-ingest-{}", std::process::id()));
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(&dir).unwrap();
                let file = dir.join("bench.db");
                let url = format!("sqlite://{}", file.display());
                (Database::Sqlite(dir), url)
            }
        }
    }

    fn backend(&self) -> &'static str {
        match self {
            Database::Sqlite(_) => "sqlite",
            Database::Postgres { .. } => "postgres",
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        match self {
            Database::Sqlite(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Database::Postgres { admin, name } => {
                if let Ok(mut conn) = diesel::PgConnection::establish(admin) {
                    let _ = diesel::sql_query(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    ))
                    .execute(&mut conn);
                }
            }
        }
    }
}

/// What autovacuum would have done by now on a server that runs it (issue 26): seeding rewrites
/// every shipment a dozen times, and without it the dead rows and empty statistics of a server
/// with autovacuum off (as this machine's) are measured instead of the service. PostgreSQL:
/// `VACUUM (ANALYZE)`; SQLite: `ANALYZE`. Says so.
fn settle(url: &str, when: &str) {
    let mut conn = pool(url, 1).get().unwrap();
    let (sql, what) = match &*conn {
        db::DbConnection::Postgres(_) => ("VACUUM (ANALYZE)", "VACUUM (ANALYZE)"),
        db::DbConnection::Sqlite(_) => ("ANALYZE", "ANALYZE"),
    };
    let t = Instant::now();
    conn.batch_execute(sql).unwrap();
    println!(
        "{what} {when}, as autovacuum would ({:.1} s)",
        t.elapsed().as_secs_f64()
    );
}

fn pool(url: &str, size: u32) -> DbPool {
    db::connect(&DatabaseLocation::parse(url).unwrap(), size).unwrap()
}

/// What a run of requests (or transactions) gave.
struct Measure {
    label: String,
    count: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    failures: usize,
    server_unavailable: usize,
    rss_kib: Option<u64>,
    /// CPU time of the service and of the database server during the run.
    cpu: Option<(Duration, Duration)>,
}

/// CPU time (user + system) a process has used, from /proc.
fn cpu_of(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // Fields after the command name (which may hold spaces), see proc(5): utime is the 14th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields
        .get(11..13)
        .map_or(0, |t| t.iter().filter_map(|v| v.parse::<u64>().ok()).sum());
    Duration::from_millis(ticks * 10)
}

/// CPU time used by every process of `name` (the database server's backends).
fn cpu_of_all(name: &str) -> Duration {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == name)
        })
        .map(cpu_of)
        .sum()
}

/// The CPU clocks a run is measured with.
struct Clocks {
    server: Duration,
    database: Duration,
}

impl Clocks {
    fn read(server: &Server) -> Clocks {
        Clocks {
            server: cpu_of(server.child.id()),
            database: cpu_of_all("postgres"),
        }
    }

    fn since(&self, server: &Server) -> (Duration, Duration) {
        let now = Clocks::read(server);
        (
            now.server - self.server,
            now.database.saturating_sub(self.database),
        )
    }
}

impl Measure {
    fn rate(&self) -> f64 {
        self.count as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[index]
    }

    fn print(&self, baseline: Option<f64>) {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let per = |d: Duration| format!("{:.2}", ms(d) / self.count as f64);
        let cpu = self.cpu.map_or("-".to_owned(), |(svc, db)| {
            format!("{} + {}", per(svc), per(db))
        });
        println!(
            "{:<34} {:>7} {:>10.0}/s {:>8.1} {:>8.1} {:>8.1} {:>6} {:>5} {:>9} {:>8} {:>13}",
            self.label,
            self.count,
            self.rate(),
            ms(self.percentile(0.5)),
            ms(self.percentile(0.99)),
            ms(self.latencies.iter().max().copied().unwrap_or_default()),
            self.failures,
            self.server_unavailable,
            self.rss_kib
                .map_or("-".to_owned(), |k| format!("{} MiB", k / 1024)),
            baseline.map_or("-".to_owned(), |b| format!("{:.2}×", self.rate() / b)),
            cpu,
        );
    }
}

impl Measure {
    /// `service`'s figures as ratios to these (the floor's): throughput, p99, and the CPU an
    /// event costs the service and the database.
    fn compare(&self, service: &Measure) {
        let per = |d: Duration, m: &Measure| d.as_secs_f64() * 1000.0 / m.count as f64;
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{:<34} events/s {:.2}× the floor's; p99 {:.1} ms against {:.1} ms",
            "service vs the floor",
            service.rate() / self.rate(),
            ms(service.percentile(0.99)),
            ms(self.percentile(0.99)),
        );
        if let (Some((svc, db)), Some((floor_svc, floor_db))) = (service.cpu, self.cpu) {
            println!(
                "{:<34} CPU per event: service {:.2} ms ({:.1}× the floor's {:.2}), database {:.2} ms ({:.1}× the floor's {:.2})",
                "",
                per(svc, service),
                per(svc, service) / per(floor_svc, self),
                per(floor_svc, self),
                per(db, service),
                per(db, service) / per(floor_db, self).max(f64::EPSILON),
                per(floor_db, self),
            );
        }
    }
}

fn header() {
    println!(
        "{:<34} {:>7} {:>12} {:>8} {:>8} {:>8} {:>6} {:>5} {:>9} {:>8} {:>13}",
        "measure",
        "count",
        "rate",
        "p50 ms",
        "p99 ms",
        "max ms",
        "non2xx",
        "503",
        "RSS",
        "vs base",
        "CPU ms/each"
    );
    println!("{:>127}", "(service + db)");
}

/// The baseline: `connections` threads on one pool, each transaction one UPDATE by key and two
/// INSERTs, for `seconds`.
fn baseline(url: &str, connections: usize, seconds: u64) -> Measure {
    let pool = pool(url, connections as u32);
    {
        let mut conn = pool.get().unwrap();
        conn.batch_execute(
            "DROP TABLE IF EXISTS bench_counters; DROP TABLE IF EXISTS bench_log_a; \
             DROP TABLE IF EXISTS bench_log_b; \
             CREATE TABLE bench_counters (id BIGINT PRIMARY KEY, n BIGINT NOT NULL); \
             CREATE TABLE bench_log_a (id TEXT PRIMARY KEY, counter BIGINT NOT NULL, at TIMESTAMP NOT NULL); \
             CREATE TABLE bench_log_b (id TEXT PRIMARY KEY, counter BIGINT NOT NULL, at TIMESTAMP NOT NULL);",
        )
        .unwrap();
        let rows: Vec<String> = (0..10_000).map(|i| format!("({i}, 0)")).collect();
        for chunk in rows.chunks(1000) {
            conn.batch_execute(&format!(
                "INSERT INTO bench_counters (id, n) VALUES {}",
                chunk.join(",")
            ))
            .unwrap();
        }
    }
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let threads: Vec<_> = (0..connections)
        .map(|t| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let mut conn = pool.get().unwrap();
                let mut latencies = Vec::new();
                let mut i: i64 = 0;
                while Instant::now() < deadline {
                    let key = (t as i64 * 7919 + i * 104_729) % 10_000;
                    let id = format!("{t}-{i}");
                    let at = Utc::now().naive_utc();
                    let one = Instant::now();
                    write_transaction(&mut conn, |conn| {
                        diesel::sql_query("UPDATE bench_counters SET n = n + 1 WHERE id = $1")
                            .bind::<diesel::sql_types::BigInt, _>(key)
                            .execute(conn)?;
                        for table in ["bench_log_a", "bench_log_b"] {
                            diesel::sql_query(format!(
                                "INSERT INTO {table} (id, counter, at) VALUES ($1, $2, $3)"
                            ))
                            .bind::<diesel::sql_types::Text, _>(&id)
                            .bind::<diesel::sql_types::BigInt, _>(key)
                            .bind::<diesel::sql_types::Timestamp, _>(at)
                            .execute(conn)?;
                        }
                        Ok::<_, diesel::result::Error>(())
                    })
                    .unwrap();
                    latencies.push(one.elapsed());
                    i += 1;
                }
                latencies
            })
        })
        .collect();
    let latencies: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    Measure {
        label: format!("baseline: 1 UPDATE + 2 INSERT, {connections} conn"),
        count: latencies.len(),
        elapsed: started.elapsed(),
        latencies,
        failures: 0,
        server_unavailable: 0,
        rss_kib: None,
        cpu: None,
    }
}

/// pg_stat_statements on the run's database (`--statements`, PostgreSQL with the extension
/// preloaded): what each statement cost, per event, between a reset and a read.
struct Statements {
    pool: DbPool,
}

impl Statements {
    fn new(url: &str) -> Statements {
        let pool = pool(url, 1);
        pool.get()
            .unwrap()
            .batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .expect("pg_stat_statements needs shared_preload_libraries and a superuser");
        Statements { pool }
    }

    fn reset(&self) {
        self.pool
            .get()
            .unwrap()
            .batch_execute("SELECT pg_stat_statements_reset()")
            .unwrap();
    }

    /// The statements of this database since the reset, costliest first, per one of `events`.
    fn read(&self, events: usize) -> String {
        #[derive(diesel::QueryableByName)]
        struct Line {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            calls: i64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            blocks: i64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            dirtied: i64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            wal: i64,
            #[diesel(sql_type = diesel::sql_types::Double)]
            ms: f64,
            #[diesel(sql_type = diesel::sql_types::Text)]
            query: String,
        }
        let lines: Vec<Line> = diesel::sql_query(
            "SELECT calls, (shared_blks_hit + shared_blks_read)::bigint AS blocks, \
             shared_blks_dirtied::bigint AS dirtied, wal_bytes::bigint AS wal, \
             total_exec_time AS ms, query FROM pg_stat_statements \
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND query NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC LIMIT 25",
        )
        .load(&mut self.pool.get().unwrap())
        .unwrap();
        let per = |v: i64| v as f64 / events as f64;
        let mut out = format!(
            "{:>8} {:>8} {:>8} {:>9} {:>8}  statement\n",
            "calls", "blocks", "dirtied", "WAL B", "ms"
        );
        let mut total = (0.0, 0.0, 0.0, 0.0, 0.0);
        for l in &lines {
            let query: String = l.query.split_whitespace().collect::<Vec<_>>().join(" ");
            let shown: String = query.chars().take(90).collect();
            out.push_str(&format!(
                "{:>8.2} {:>8.1} {:>8.2} {:>9.0} {:>8.3}  {shown}\n",
                per(l.calls),
                per(l.blocks),
                per(l.dirtied),
                per(l.wal),
                l.ms / events as f64,
            ));
            total.0 += per(l.calls);
            total.1 += per(l.blocks);
            total.2 += per(l.dirtied);
            total.3 += per(l.wal);
            total.4 += l.ms / events as f64;
        }
        out.push_str(&format!(
            "{:>8.2} {:>8.1} {:>8.2} {:>9.0} {:>8.3}  (all of the above)",
            total.0, total.1, total.2, total.3, total.4
        ));
        out
    }
}

/// pgbench with the baseline's statements, prepared; `None` when pgbench is not installed.
fn pgbench(url: &str, connections: usize, seconds: u64) -> Option<f64> {
    let script = std::env::temp_dir().join(format!("postamat-pgbench-{}.sql", std::process::id()));
    std::fs::write(
        &script,
        "\\set key random(0, 9999)\n\
         BEGIN;\n\
         UPDATE bench_counters SET n = n + 1 WHERE id = :key;\n\
         INSERT INTO bench_log_a (id, counter, at) VALUES (gen_random_uuid()::text, :key, now());\n\
         INSERT INTO bench_log_b (id, counter, at) VALUES (gen_random_uuid()::text, :key, now());\n\
         END;\n",
    )
    .ok()?;
    let output = Command::new("pgbench")
        .args(["-n", "-M", "prepared", "-j", "2"])
        .arg(format!("-c{connections}"))
        .arg(format!("-T{seconds}"))
        .arg("-f")
        .arg(&script)
        .arg(url)
        .output()
        .ok()?;
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
}

/// The service as a child process.
struct Server {
    child: Child,
    base: String,
    admin_token: Option<String>,
}

/// The service binary: this build's, or `--server-bin`.
static SERVER_BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();

impl Server {
    fn start(url: &str, port: u16) -> Server {
        let bin = SERVER_BIN.get_or_init(|| env!("CARGO_BIN_EXE_postamat").to_owned());
        let mut child = Command::new(bin)
            .arg("serve")
            .env("POSTAMAT_DATABASE_URL", url)
            .env("POSTAMAT_BIND", format!("127.0.0.1:{port}"))
            .env("POSTAMAT_KASPI_WEBHOOK_SECRETS", SECRET)
            .env("POSTAMAT_SWEEP_INTERVAL_SECS", "0")
            .env("POSTAMAT_DISPATCH_INTERVAL_SECS", "0")
            .env("POSTAMAT_PILOT_ENDS_ON", "2099-12-31")
            .env("POSTAMAT_LOG_FORMAT", "json")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start postamat serve");
        // The first start prints the admin token in a banner on standard output.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(token) = line.trim().strip_prefix("token:") {
                    let _ = tx.send(token.trim().to_owned());
                }
            }
        });
        let mut server = Server::attach(child, port);
        server.admin_token = rx.recv_timeout(Duration::from_millis(500)).ok();
        server
    }

    /// A server process started elsewhere (the floor), once it accepts on `port`.
    fn attach(child: Child, port: u16) -> Server {
        let ready = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                ready.elapsed() < Duration::from_secs(60),
                "the server on port {port} did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            admin_token: None,
        }
    }

    fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One prepared request.
#[derive(Clone)]
struct Request {
    method: &'static str,
    path: String,
    token: Option<String>,
    body: Option<Vec<u8>>,
    /// Kaspi's webhook headers.
    signed: bool,
    /// Kaspi event ids in it, to look up after a kill.
    event_ids: Vec<String>,
}

impl Request {
    fn json(method: &'static str, path: String, token: &str, body: Value) -> Request {
        Request {
            method,
            path,
            token: Some(token.to_owned()),
            body: Some(serde_json::to_vec(&body).unwrap()),
            signed: false,
            event_ids: Vec::new(),
        }
    }

    fn get(path: String, token: &str) -> Request {
        Request {
            method: "GET",
            path,
            token: Some(token.to_owned()),
            body: None,
            signed: false,
            event_ids: Vec::new(),
        }
    }

    fn kaspi(path: &str, body: Value, event_ids: Vec<String>) -> Request {
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

struct Answer {
    status: u16,
    body: Vec<u8>,
    latency: Duration,
}

async fn send(client: &Client, base: &str, request: &Request, secret: &WebhookSecret) -> Answer {
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
async fn run(
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
async fn must(client: &Client, base: &str, requests: &[Request], connections: usize) -> Vec<Value> {
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

struct Tokens {
    kaspi: String,
    registry_office: String,
    clerk: String,
    courier: String,
}

async fn key(client: &Client, base: &str, admin: &str, role: &str, branch: Option<&str>) -> String {
    let body = json!({"name": format!("bench {role}"), "role": role, "branch": branch});
    let created = must(
        client,
        base,
        &[Request::json(
            "POST",
            "/api/v1/admin/keys".into(),
            admin,
            body,
        )],
        1,
    )
    .await;
    created[0]["token"].as_str().unwrap().to_owned()
}

async fn reference_data(client: &Client, base: &str, admin: &str) -> Tokens {
    // Cities are compared by their КАТО code (order п.4): Almaty's is 750000000.
    let branch = json!({"name_kk": "Алматы қаласы бойынша №1 ХҚКО", "name_ru": "ЦОН №1 города Алматы",
        "city": "Алматы", "city_code": "750000000", "address_kk": "Алматы қ., Абай даңғ., 10", "address_ru": "г. Алматы, пр. Абая, 10"});
    let postamat = json!({"city": "Алматы", "city_code": "750000000", "address_kk": "Төле би к-сі, 55", "address_ru": "ул. Толе би, 55"});
    must(
        client,
        base,
        &[
            Request::json("PUT", "/api/v1/branches/ALM01".into(), admin, branch),
            Request::json("PUT", "/api/v1/postamats/PST-ALA-1".into(), admin, postamat),
        ],
        1,
    )
    .await;
    Tokens {
        kaspi: key(client, base, admin, "kaspi", None).await,
        registry_office: key(client, base, admin, "registry_office", None).await,
        clerk: key(client, base, admin, "accumulation_clerk", Some("ALM01")).await,
        courier: key(client, base, admin, "state_courier", Some("ALM01")).await,
    }
}

/// A valid IIN for a serial.
fn iin(serial: u32) -> String {
    postamat::domain::identifiers::synthetic_iin("870412", 3, serial)
}

/// A packed, handed-over document: its shipment id, waybill and registry number.
struct Document {
    shipment: String,
    waybill: String,
    registry: String,
}

/// Seeds `count` documents named `prefix-N` through the API, handed over on registries of
/// `registry_size` envelopes.
async fn seed(
    client: &Client,
    base: &str,
    tokens: &Tokens,
    prefix: &str,
    count: usize,
    registry_size: usize,
    connections: usize,
) -> Vec<Document> {
    let now = Utc::now();
    let numbers: Vec<String> = (0..count).map(|i| format!("{prefix}-{i}")).collect();
    let register: Vec<Request> = numbers
        .iter()
        .enumerate()
        .map(|(i, n)| {
            Request::json(
                "POST",
                "/api/v1/integrations/kaspi/applications".into(),
                &tokens.kaspi,
                json!({"application_number": n, "applicant_iin": iin(i as u32), "applicant_name": "Нұрланова Айгерім",
                       "phone": "8 701 123 45 67", "language": "kk", "delivery_method": "postamat", "postamat_id": "PST-ALA-1",
                       "registry_office_code": "RAGS-ALM-3", "branch": "ALM01", "submitted_at": (now - ChronoDuration::hours(2)).to_rfc3339()}),
            )
        })
        .collect();
    must(client, base, &register, connections).await;
    let execute: Vec<Request> = numbers
        .iter()
        .map(|n| {
            Request::json(
                "POST",
                "/api/v1/integrations/registry-office/events".into(),
                &tokens.registry_office,
                json!({"event_id": format!("ro-{n}"), "application_number": n, "status": "executed",
                       "occurred_at": (now - ChronoDuration::hours(1)).to_rfc3339()}),
            )
        })
        .collect();
    must(client, base, &execute, connections).await;
    let order: Vec<Request> = numbers
        .iter()
        .map(|n| {
            Request::json(
                "POST",
                "/api/v1/integrations/kaspi/orders".into(),
                &tokens.kaspi,
                json!({"event_id": format!("ord-{n}"), "application_number": n, "kaspi_order_id": format!("K-{n}"),
                       "waybill": format!("WB-{n}"), "occurred_at": (now - ChronoDuration::minutes(50)).to_rfc3339()}),
            )
        })
        .collect();
    must(client, base, &order, connections).await;
    let intake: Vec<Request> = numbers
        .chunks(500)
        .map(|chunk| {
            Request::json(
                "POST",
                "/api/v1/intake".into(),
                &tokens.clerk,
                json!({"application_numbers": chunk}),
            )
        })
        .collect();
    let taken = must(client, base, &intake, 1).await;
    let shipments: Vec<String> = taken
        .iter()
        .flat_map(|t| t["items"].as_array().unwrap().clone())
        .map(|item| item["shipment_id"].as_str().expect("taken in").to_owned())
        .collect();
    let label: Vec<Request> = shipments
        .iter()
        .zip(&numbers)
        .map(|(id, n)| {
            Request::json(
                "POST",
                format!("/api/v1/shipments/{id}/label"),
                &tokens.clerk,
                json!({"waybill": format!("WB-{n}")}),
            )
        })
        .collect();
    must(client, base, &label, connections).await;
    let drafts: Vec<Request> = numbers
        .chunks(registry_size)
        .map(|chunk| {
            Request::json(
                "POST",
                "/api/v1/registries".into(),
                &tokens.clerk,
                json!({"application_numbers": chunk}),
            )
        })
        .collect();
    let drafted = must(client, base, &drafts, connections).await;
    let ids: Vec<String> = drafted
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    let seal: Vec<Request> = ids
        .iter()
        .map(|id| {
            Request::json(
                "POST",
                format!("/api/v1/registries/{id}/seal"),
                &tokens.clerk,
                json!({}),
            )
        })
        .collect();
    let sealed = must(client, base, &seal, connections).await;
    let hand_over: Vec<Request> = ids
        .iter()
        .map(|id| {
            Request::json(
                "POST",
                format!("/api/v1/registries/{id}/handover"),
                &tokens.courier,
                json!({"courier_name": "Ерлан"}),
            )
        })
        .collect();
    must(client, base, &hand_over, connections).await;
    let registries: Vec<String> = sealed
        .iter()
        .flat_map(|r| {
            let number = r["number"].as_str().unwrap().to_owned();
            std::iter::repeat_n(number, registry_size)
        })
        .collect();
    shipments
        .into_iter()
        .zip(numbers)
        .zip(registries)
        .map(|((shipment, n), registry)| Document {
            shipment,
            waybill: format!("WB-{n}"),
            registry,
        })
        .collect()
}

/// Each document's four delivery events, phase by phase (every acceptance first, then every
/// courier, …), as single events (`batch` 1) or in batches.
fn events(documents: &[Document], tag: &str, batch: usize) -> Vec<Vec<Request>> {
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
async fn ingest(
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

/// Kills the service in the middle of a run of single events, restarts it and looks up every
/// event it acknowledged. Returns (acknowledged, lost).
async fn kill_during_load(
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

fn main() {
    // The floor's own process (floor::start): `--floor-serve URL PORT CONNECTIONS`.
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--floor-serve") {
        let number = |i: usize| argv[i].parse().expect("--floor-serve URL PORT CONNECTIONS");
        floor::serve(&argv[2], number(3) as u16, number(4), SECRET);
    }
    let args = args();
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
        let reads: Vec<Request> = (0..args.reads)
            .map(|i| Request::get(format!("/api/v1/shipments/{}", single[i % single.len()].shipment), &tokens.clerk))
            .collect();
        let clocks = Clocks::read(&server);
        let (answers, elapsed) = run(&client, &server.base, &reads, args.connections).await;
        let read = Measure {
            label: format!("GET a shipment, {} conn", args.connections),
            count: answers.len(),
            elapsed,
            failures: answers.iter().filter(|a| !(200..300).contains(&a.status)).count(),
            server_unavailable: answers.iter().filter(|a| a.status == 503).count(),
            latencies: answers.iter().map(|a| a.latency).collect(),
            rss_kib: server.rss_kib(),
            cpu: Some(clocks.since(&server)),
        };
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
