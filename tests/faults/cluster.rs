//! A PostgreSQL cluster of the test's own, and the service serving from it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A reference-data write every fault uses as its load: a branch under `code`.
pub fn branch(code: &str) -> String {
    serde_json::json!({
        "name_kk": format!("{code} ХҚКО"),
        "name_ru": format!("ЦОН {code}"),
        "city": "Алматы",
        "city_code": "750000000",
        "address_kk": "Алматы қ., Абай даңғ., 10",
        "address_ru": "г. Алматы, пр. Абая, 10",
    })
    .to_string()
}

/// A new folder under the system's temporary one, for a fault's logs and files.
pub fn scratch(kind: &str) -> std::path::PathBuf {
    let folder = std::env::temp_dir().join(format!(
        "postamat-fault-{kind}-{}",
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::create_dir_all(&folder).unwrap();
    folder
}

/// A free port on loopback (bound and released; the cluster or service takes it next).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The suite's PostgreSQL pass: the faults bring their own databases, so they already ran in
/// the first pass (skipped, with a message).
pub fn second_pass() -> bool {
    let second = std::env::var_os("TEST_POSTGRES_URL").is_some();
    if second {
        eprintln!("fault suite skipped: it runs in the pass without TEST_POSTGRES_URL");
    }
    second
}

pub fn required() -> bool {
    std::env::var_os("POSTAMAT_REQUIRE_FAULTS").is_some()
}

/// Says why the calling test is skipped, or fails it when faults are required.
pub fn skip(why: &str) {
    assert!(!required(), "POSTAMAT_REQUIRE_FAULTS is set, but {why}");
    eprintln!("fault suite skipped: {why}");
}

/// [`skip`], for a cluster that cannot start.
pub fn unavailable(why: &str) -> Option<Cluster> {
    skip(why);
    None
}

/// PUT a branch `code` with the admin key: a small write of reference data.
pub fn put_branch(
    port: u16,
    admin: &str,
    code: &str,
    limit: Duration,
) -> Option<crate::http::Answer> {
    crate::http::request(
        port,
        "PUT",
        &format!("/api/v1/branches/{code}"),
        Some(admin),
        Some(&branch(code)),
        limit,
    )
}

/// SQLite's own checks of the file at `path`: `integrity_check` is `ok` and no foreign key is
/// broken.
pub fn assert_sqlite_sound(path: &Path) {
    use diesel::{Connection, QueryableByName, RunQueryDsl};
    #[derive(QueryableByName)]
    struct Check {
        #[diesel(sql_type = diesel::sql_types::Text)]
        integrity_check: String,
    }
    #[derive(QueryableByName)]
    struct Broken {
        #[diesel(sql_type = diesel::sql_types::Text)]
        table: String,
    }
    let mut conn = diesel::SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    let check: Vec<Check> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut conn)
        .unwrap();
    let check: Vec<String> = check.into_iter().map(|c| c.integrity_check).collect();
    assert_eq!(check, ["ok"]);
    let broken: Vec<Broken> = diesel::sql_query("PRAGMA foreign_key_check")
        .load(&mut conn)
        .unwrap();
    let broken: Vec<String> = broken.into_iter().map(|b| b.table).collect();
    assert!(broken.is_empty(), "foreign keys broken in {broken:?}");
}

fn server_binaries() -> Option<PathBuf> {
    // The newest major version (by number: 17 after 9.6).
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let major = path
                .file_name()?
                .to_str()?
                .split('.')
                .next()?
                .parse()
                .ok()?;
            Some((major, path.join("bin")))
        })
        .filter(|(_, bin)| bin.join("pg_ctl").exists() && bin.join("initdb").exists())
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

pub struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    pub port: u16,
    /// As root, the server binaries run as `postgres` (initdb refuses root).
    as_postgres: bool,
    /// The network namespace the server runs in, and the address it listens on there.
    netns: Option<String>,
    pub host: String,
}

/// The faults run one at a time: each measures answer times, which a neighbour's load on a
/// 2-core machine would stretch.
pub fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Cluster {
    /// initdb and start a cluster on a free port, trusting loopback; `None` (skipped) when the
    /// machine cannot.
    pub fn start() -> Option<Cluster> {
        Cluster::start_in(None)
    }

    /// Like [`Cluster::start`], the server running in network namespace `netns` and listening
    /// on `host` there (trusting every address of 10.0.0.0/8).
    pub fn start_in(netns: Option<(&str, &str)>) -> Option<Cluster> {
        if second_pass() {
            return None;
        }
        let Some(bin) = server_binaries() else {
            return unavailable("no PostgreSQL server binaries under /usr/lib/postgresql");
        };
        let as_postgres = is_root();
        let dir = scratch("pg");
        if as_postgres {
            let owned = Command::new("chown")
                .args(["-R", "postgres:", dir.to_str().unwrap()])
                .status()
                .unwrap();
            if !owned.success() {
                return unavailable(
                    "running as root, but the data folder cannot be given to postgres",
                );
            }
        }
        let cluster = Cluster {
            bin,
            dir,
            port: free_port(),
            as_postgres,
            netns: netns.map(|(ns, _)| ns.to_owned()),
            host: netns.map_or("127.0.0.1", |(_, host)| host).to_owned(),
        };
        let data = cluster.data();
        let init = cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        if !init {
            return unavailable("initdb failed");
        }
        if cluster.netns.is_some() {
            use std::io::Write;
            let hba = cluster.dir.join("data").join("pg_hba.conf");
            let mut hba = std::fs::OpenOptions::new().append(true).open(hba).unwrap();
            writeln!(hba, "host all all 10.0.0.0/8 trust").unwrap();
        }
        assert!(cluster.pg_ctl(&["start"]), "the cluster did not start");
        Some(cluster)
    }

    fn data(&self) -> String {
        self.dir.join("data").to_str().unwrap().to_owned()
    }

    fn run(&self, program: &str, args: &[&str]) -> bool {
        let program = self.bin.join(program);
        let mut command = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]);
                c
            }
            None => Command::new("env"),
        };
        if self.as_postgres {
            command.args(["runuser", "-u", "postgres", "--"]);
        }
        command.arg(&program);
        command
            .args(args)
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// `pg_ctl ACTION` with the cluster's options, waiting for it to finish (at most 60 s).
    pub fn pg_ctl(&self, action: &[&str]) -> bool {
        let options = format!(
            "-p {} -k {} -c listen_addresses={} -c fsync=off",
            self.port,
            self.dir.to_str().unwrap(),
            self.host,
        );
        let log = self.dir.join("server.log");
        let data = self.data();
        let mut args = vec!["-D", &data, "-w", "-t", "60", "-o", &options];
        let log = log.to_str().unwrap();
        args.extend(["-l", log]);
        args.extend(action);
        self.run("pg_ctl", &args)
    }

    /// A client program of the same PostgreSQL (`pg_dump`, `pg_restore`, `createdb`), as the
    /// test's own user; its errors go to the test's output.
    pub fn client(&self, program: &str, args: &[&str]) -> bool {
        Command::new(self.bin.join(program))
            .args(args)
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    pub fn url(&self) -> String {
        format!(
            "postgres://postgres@{}:{}/postgres?sslmode=disable&connect_timeout=2",
            self.host, self.port
        )
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.pg_ctl(&["-m", "immediate", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `postamat serve` on a free port against `database_url`; killed when dropped.
pub struct Service {
    child: Child,
    pub port: u16,
    log: PathBuf,
    pub admin: String,
}

impl Service {
    pub fn start(database_url: &str, folder: &Path) -> Service {
        Service::start_on(database_url, folder, free_port())
    }

    /// [`Service::start`] on `port` (a restarted service takes its predecessor's).
    pub fn start_on(database_url: &str, folder: &Path, port: u16) -> Service {
        let env = |command: &mut Command| {
            command
                .env_clear()
                .env("POSTAMAT_DATABASE_URL", database_url)
                .env("POSTAMAT_BIND", format!("127.0.0.1:{port}"))
                .env("POSTAMAT_LOG_FORMAT", "json")
                // The background jobs run often, so they meet the fault too.
                .env("POSTAMAT_SWEEP_INTERVAL_SECS", "1")
                .env("POSTAMAT_DISPATCH_INTERVAL_SECS", "1")
                .env("POSTAMAT_CALENDAR_REFRESH_SECS", "1")
                .env("POSTAMAT_KASPI_WEBHOOK_SECRETS", crate::pipeline::SECRET)
                // The load registers postamat deliveries today, whatever year the suite runs in
                // (the order's own window ends on 31 December 2026).
                .env("POSTAMAT_PILOT_ENDS_ON", "2099-12-31");
        };
        let mut migrate = Command::new(env!("CARGO_BIN_EXE_postamat"));
        env(&mut migrate);
        assert!(migrate.arg("migrate").status().unwrap().success());
        let mut keys = Command::new(env!("CARGO_BIN_EXE_postamat"));
        env(&mut keys);
        let out = keys
            .args(["keys", "create", "--role", "admin", "--name", "faults"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let admin = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap()
            .trim()
            .to_owned();
        let log = folder.join(format!("service-{port}.log"));
        let mut serve = Command::new(env!("CARGO_BIN_EXE_postamat"));
        env(&mut serve);
        let child = serve
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let service = Service {
            child,
            port,
            log,
            admin,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if crate::http::get(port, "/readyz", None, Duration::from_secs(2))
                .is_some_and(|a| a.status == 200)
            {
                return service;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the service did not become ready: {}", service.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Still running (not crashed).
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Still running, with no panic and no 500 `internal` in its log.
    pub fn assert_clean(&mut self) {
        let log = self.log();
        assert!(self.alive(), "the service died: {log}");
        assert!(!log.contains("panicked"), "a panic in the log: {log}");
        assert!(
            !log.contains("\"code\":\"internal\""),
            "an internal error in the log: {log}"
        );
    }
}

impl Service {
    /// SIGKILL, as the kernel's OOM killer or a power cut would stop it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
