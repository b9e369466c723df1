//! Fault 2: a bad network between the service and PostgreSQL. The cluster runs in a network
//! namespace the test makes, behind a veth pair; the service reaches it across the pair through
//! a relay inside the namespace. The same pipeline load then runs through: 20 ms ± 10 ms of
//! delay, then 2 % packet loss, then a 20 s blackhole. Every request answers within
//! [`ANSWER_BOUND`] (the pool's 4 s wait, and `POSTAMAT_DB_NETWORK_TIMEOUT_SECS` closing a
//! connection that acknowledges nothing), nothing waits forever on a half-open connection, and
//! after the blackhole the service serves again on its own, with the kill -9 invariants held.
//!
//! This machine's kernel has no `netem` queueing discipline, nor tc's actions: the delay is the
//! relay's (each chunk held 10–30 ms, in order), the loss and the blackhole are iptables'
//! (`statistic --mode random`, and `DROP`) on the namespace's end of the pair — so the packets
//! are really lost and TCP's retransmissions, keepalives and `tcp_user_timeout` meet them.

use crate::cluster::{Cluster, Service, is_root, one_at_a_time, scratch, second_pass, skip};
use crate::pipeline::{Load, Seen, Summary};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// Every answer comes within this, whatever the network does: the pool waits at most 4 s for
/// a connection, and a connection that acknowledges nothing for about 5 s is closed (TCP
/// keepalives from 2 s, `tcp_user_timeout` 5 s) — an authenticated request may meet both once
/// for its key and once for its work.
const ANSWER_BOUND: Duration = Duration::from_secs(20);
/// The service serves again within this of the blackhole's end.
const RECOVERY_BOUND: Duration = Duration::from_secs(10);
const WRITERS: usize = 16;
const READERS: usize = 4;

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

/// A network namespace with a veth pair to it: `host` here, `inside` there. Deleted (with the
/// pair) when dropped.
struct Netns {
    name: String,
    inside_link: String,
    inside: String,
}

impl Netns {
    fn make() -> Option<Netns> {
        let n = std::process::id() % 200 + 20;
        let name = format!("pmfault{n}");
        let (outside_link, inside_link) = (format!("pmf{n}h"), format!("pmf{n}n"));
        let (host, inside) = (format!("10.213.{n}.1"), format!("10.213.{n}.2"));
        // A namespace a killed earlier run left behind goes first.
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(std::process::Stdio::null())
            .status();
        let ns = Netns {
            name,
            inside_link,
            inside,
        };
        let made = ip(&["netns", "add", &ns.name])
            && ip(&[
                "link",
                "add",
                &outside_link,
                "type",
                "veth",
                "peer",
                "name",
                &ns.inside_link,
            ])
            && ip(&["link", "set", &ns.inside_link, "netns", &ns.name])
            && ip(&["addr", "add", &format!("{host}/30"), "dev", &outside_link])
            && ip(&["link", "set", &outside_link, "up"])
            && ns.exec(&[
                "ip",
                "addr",
                "add",
                &format!("{}/30", ns.inside),
                "dev",
                &ns.inside_link,
            ])
            && ns.exec(&["ip", "link", "set", &ns.inside_link, "up"])
            && ns.exec(&["ip", "link", "set", "lo", "up"]);
        made.then_some(ns)
    }

    fn exec(&self, args: &[&str]) -> bool {
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .status()
            .is_ok_and(|s| s.success())
    }

    /// iptables rules on the namespace's end of the pair: `rule` appended to INPUT (in) and
    /// OUTPUT (out), or every rule flushed when `None`.
    fn filter(&self, rule: Option<&[&str]>) {
        let ok = match rule {
            None => self.exec(&["iptables", "-F"]),
            Some(rule) => {
                let link = self.inside_link.as_str();
                let mut input = vec!["iptables", "-A", "INPUT", "-i", link];
                input.extend(rule);
                let mut output = vec!["iptables", "-A", "OUTPUT", "-o", link];
                output.extend(rule);
                self.exec(&input) && self.exec(&output)
            }
        };
        assert!(ok, "iptables in {}: {rule:?}", self.name);
    }

    /// Packets iptables dropped on the pair so far.
    fn dropped(&self) -> u64 {
        let out = Command::new("ip")
            .args([
                "netns", "exec", &self.name, "iptables", "-L", "-n", "-v", "-x",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("DROP"))
            .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
            .sum()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        ip(&["netns", "del", &self.name]);
    }
}

/// A TCP relay inside the namespace, in front of the cluster, holding each chunk for the delay
/// set in `delay_ms` (± half of it), in order.
struct Relay {
    port: u16,
    delay_ms: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    /// Every socket it relays, shut down when it is dropped (its pumps end with them).
    sockets: Arc<std::sync::Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn start(ns: &str, listen: &str, upstream: (String, u16)) -> Relay {
        let delay_ms = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let (ns, listen) = (ns.to_owned(), listen.to_owned());
        let (delay, stopping) = (delay_ms.clone(), stop.clone());
        let sockets = Arc::new(std::sync::Mutex::new(Vec::<TcpStream>::new()));
        let relayed = sockets.clone();
        std::thread::spawn(move || {
            // This thread (and the ones it starts) lives in the namespace from here on.
            let handle = std::fs::File::open(format!("/var/run/netns/{ns}")).unwrap();
            // SAFETY: setns on this thread only, with a namespace file we hold open.
            let entered = unsafe { libc::setns(handle.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(entered, 0, "setns: {}", std::io::Error::last_os_error());
            let listener = TcpListener::bind((listen.as_str(), 0)).unwrap();
            listener.set_nonblocking(true).unwrap();
            tx.send(listener.local_addr().unwrap().port()).unwrap();
            let mut seed = 0x9e37_79b9_u64;
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let Ok(server) = TcpStream::connect((upstream.0.as_str(), upstream.1))
                        else {
                            continue;
                        };
                        for socket in [&client, &server] {
                            relayed.lock().unwrap().push(socket.try_clone().unwrap());
                        }
                        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        pump(&client, &server, delay.clone(), seed);
                        pump(&server, &client, delay.clone(), seed ^ 0xff);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        let port = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        Relay {
            port,
            delay_ms,
            stop,
            sockets,
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for socket in self.sockets.lock().unwrap().drain(..) {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }
}

/// Copies `from` to `to`, each chunk released `delay ± delay/2` after it arrived and never
/// before the previous one. Ends when either side closes.
fn pump(from: &TcpStream, to: &TcpStream, delay_ms: Arc<AtomicU64>, mut seed: u64) {
    let (mut from, mut to) = (from.try_clone().unwrap(), to.try_clone().unwrap());
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buffer = vec![0_u8; 64 * 1024];
        let mut last = Instant::now();
        loop {
            let n = match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let delay = delay_ms.load(Ordering::Relaxed);
            let jitter = if delay == 0 {
                0
            } else {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed % (delay + 1)
            };
            let release = (Instant::now() + Duration::from_millis(delay / 2 + jitter)).max(last);
            last = release;
            if tx.send((release, buffer[..n].to_vec())).is_err() {
                break;
            }
        }
        let _ = from.shutdown(Shutdown::Read);
    });
    std::thread::spawn(move || {
        for (release, chunk) in rx {
            std::thread::sleep(release.saturating_duration_since(Instant::now()));
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

/// Requests seen between `from` and `to`, summed up.
fn during(seen: &[Seen], from: Instant, to: Instant) -> Summary {
    let window: Vec<&Seen> = seen.iter().filter(|s| s.at >= from && s.at < to).collect();
    Summary::of_refs(&window)
}

#[test]
fn a_bad_network_to_postgresql_delay_loss_and_a_blackhole() {
    if second_pass() {
        return;
    }
    let _one = one_at_a_time();
    let tools = is_root()
        && ip(&["netns", "list"])
        && Command::new("iptables")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !tools {
        return skip("the bad-network fault needs root, iproute2 and iptables");
    }
    let Some(ns) = Netns::make() else {
        panic!("cannot make a network namespace with a veth pair");
    };
    let Some(cluster) = Cluster::start_in(Some((&ns.name, &ns.inside))) else {
        return;
    };
    let relay = Relay::start(&ns.name, &ns.inside, (ns.inside.clone(), cluster.port));
    // No timeout of the URL's own: the service's defaults are what is tested.
    let url = format!(
        "postgres://postgres@{}:{}/postgres?sslmode=disable",
        ns.inside, relay.port
    );
    let folder = scratch("network");
    let mut service = Service::start(&url, &folder);
    let port = service.port;
    let mut load = Load::prepare(port, &service.admin);
    let _stopper = load.stopper();
    load.start(WRITERS, READERS);

    let phase = |what: &str, seconds: u64| {
        eprintln!("fault network: {what} for {seconds} s");
        let started = Instant::now();
        std::thread::sleep(Duration::from_secs(seconds));
        (started, Instant::now())
    };
    let clear = phase("a clear network", 4);
    relay.delay_ms.store(20, Ordering::Relaxed);
    let delayed = phase("20 ms ± 10 ms of delay", 10);
    relay.delay_ms.store(0, Ordering::Relaxed);
    ns.filter(Some(&[
        "-m",
        "statistic",
        "--mode",
        "random",
        "--probability",
        "0.02",
        "-j",
        "DROP",
    ]));
    let lossy = phase("2 % packet loss", 10);
    let lost_packets = ns.dropped();
    ns.filter(None);
    ns.filter(Some(&["-j", "DROP"]));
    let blackhole = phase("a blackhole", 20);
    ns.filter(None);
    let back = Instant::now();
    let after = phase("the network back", 15);
    load.finish();
    let seen = load.seen();

    let all = Summary::of(&seen);
    let (completed, _) = load.completed();
    for (name, window) in [
        ("clear", clear),
        ("delay", delayed),
        ("loss", lossy),
        ("blackhole", blackhole),
        ("after", after),
    ] {
        let s = during(&seen, window.0, window.1);
        eprintln!("fault network {name}: {}", s.line());
    }
    let first_ok_after = Summary::first_success_after(&seen, back);
    eprintln!(
        "fault network: {}; first 2xx {first_ok_after:?} after the blackhole; {}; {lost_packets} \
         packets dropped in the loss phase",
        all.line(),
        load.progress(&seen)
    );
    assert_eq!(all.unanswered, 0, "requests without an answer");
    all.assert_bounded(ANSWER_BOUND);
    assert!(lost_packets > 0, "the loss phase lost nothing");
    for (name, window) in [("delay", delayed), ("loss", lossy)] {
        let s = during(&seen, window.0, window.1);
        assert!(s.ok > 0, "nothing succeeded under {name}");
    }
    let hole = during(&seen, blackhole.0 + Duration::from_secs(10), blackhole.1);
    assert!(hole.unavailable > 0, "the blackhole was never seen");
    let recovered = first_ok_after.expect("no success after the blackhole");
    assert!(
        recovered <= RECOVERY_BOUND,
        "served again only after {recovered:?}"
    );
    let late = during(&seen, back + RECOVERY_BOUND, Instant::now());
    assert_eq!(
        late.unavailable, 0,
        "503s after the recovery bound: a dead connection was kept"
    );
    assert!(completed > 0, "no document went through the pipeline");
    // The invariants, on the database directly (the relay is the path under test).
    let events = load.check(port, &cluster.url());
    eprintln!(
        "fault network: {events} acknowledged events and calls checked, 0 lost, 0 applied twice"
    );
    service.assert_clean();
    drop(service);
    drop(relay);
    drop(cluster);
    drop(ns);
    let _ = std::fs::remove_dir_all(&folder);
}
