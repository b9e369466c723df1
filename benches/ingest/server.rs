//! The service (and the floor) as child processes of the harness.

use crate::SECRET;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The service as a child process.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub admin_token: Option<String>,
}

/// The service binary: this build's, or `--server-bin`.
pub static SERVER_BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();

impl Server {
    pub fn start(url: &str, port: u16) -> Server {
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
    pub fn attach(child: Child, port: u16) -> Server {
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

    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
