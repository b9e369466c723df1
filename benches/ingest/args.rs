//! The harness's flags: `cargo bench --bench ingest -- --documents 200 …` (`-- --help` lists
//! them).

use clap::Parser;

/// Kaspi event ingest, batches and the clerk read path against the real service, beside a
/// baseline measured in the same run.
#[derive(Parser)]
#[command(name = "ingest", args_override_self = true)]
pub struct Args {
    /// A PostgreSQL URL; the run creates its database beside it and drops it after. Without it,
    /// SQLite in a temporary folder.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Documents seeded for the single events (four events each), and for `--kill`.
    #[arg(long, default_value_t = 2000)]
    pub documents: usize,
    /// Documents for the batch run (16 batches of 500 in flight need 8,000); `--documents` if
    /// not given.
    #[arg(long)]
    pub batch_documents: Option<usize>,
    /// Requests, batches or baseline transactions in flight.
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// Events in a batch.
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// GETs of a shipment on the clerk read path.
    #[arg(long, default_value_t = 20_000)]
    pub reads: usize,
    /// Envelopes on each registry handed over while seeding.
    #[arg(long, default_value_t = 1)]
    pub registry_size: usize,
    /// Kill the service with SIGKILL halfway through a run of single events, restart it and
    /// look up every event it had acknowledged.
    #[arg(long)]
    pub kill: bool,
    /// PostgreSQL: pg_stat_statements per statement for the single events and for the floor.
    #[arg(long)]
    pub statements: bool,
    /// How long the baseline (and pgbench) runs, in seconds.
    #[arg(long, default_value_t = 10)]
    pub baseline_seconds: u64,
    /// Another build of the service to measure (e.g. an older commit's).
    #[arg(long)]
    pub server_bin: Option<String>,
    /// Serve as the floor instead (`floor::start` runs this binary so): URL PORT CONNECTIONS.
    #[arg(long, num_args = 3, value_names = ["URL", "PORT", "CONNECTIONS"], hide = true)]
    pub floor_serve: Option<Vec<String>>,
    /// `cargo bench` passes `--bench` to every bench binary; nothing to do with it.
    #[arg(long = "bench", hide = true)]
    _bench: bool,
}
