//! `--statements`: pg_stat_statements per event, for the service's single events and the floor's.

use crate::database::pool;
use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;
use postamat::db::DbPool;

/// pg_stat_statements on the run's database (`--statements`, PostgreSQL with the extension
/// preloaded): what each statement cost, per event, between a reset and a read.
pub struct Statements {
    pool: DbPool,
}

impl Statements {
    pub fn new(url: &str) -> Statements {
        let pool = pool(url, 1);
        pool.get()
            .unwrap()
            .batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .expect("pg_stat_statements needs shared_preload_libraries and a superuser");
        Statements { pool }
    }

    pub fn reset(&self) {
        self.pool
            .get()
            .unwrap()
            .batch_execute("SELECT pg_stat_statements_reset()")
            .unwrap();
    }

    /// The statements of this database since the reset, costliest first, per one of `events`.
    pub fn read(&self, events: usize) -> String {
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
