//! The harness's flags (`cargo bench --bench ingest -- --documents 200 …`).

pub struct Args {
    pub database_url: Option<String>,
    pub documents: usize,
    /// Documents for the batch run (16 batches of 500 in flight need 8,000).
    pub batch_documents: Option<usize>,
    pub connections: usize,
    pub batch: usize,
    pub reads: usize,
    pub registry_size: usize,
    pub kill: bool,
    /// PostgreSQL: pg_stat_statements per statement for the single events and for the floor.
    pub statements: bool,
    pub baseline_seconds: u64,
    /// Another build of the service to measure (e.g. an older commit's).
    pub server_bin: Option<String>,
}

pub fn args() -> Args {
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
            other => panic!("unknown flag {other}; see the header of benches/ingest/main.rs"),
        }
    }
    args
}
