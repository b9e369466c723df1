//! The console in a real browser: Debian's headless Chromium, driven through chromedriver
//! (WebDriver, by `fantoccini`), against the `postamat` binary serving a database the test
//! filled through the API. A clerk signs in with the keyboard, finds an envelope by waybill
//! and reads its timeline; a supervisor of another branch is refused it; a national supervisor
//! opens the exception queue, the SLA report and the calendar; after signing out every page is
//! refused. Each page is saved as a PNG under `target/console-screenshots/<backend>/`.
//!
//! Without Chromium and chromedriver on the machine the test says so and passes, unless
//! `POSTAMAT_REQUIRE_CHROMIUM` is set (`.ci/run` sets it after installing both).

use crate::common::Pilot;
use crate::printed::on_path;
use fantoccini::{Client, ClientBuilder, Locator};
use postamat::domain::role::Role;
use serde_json::json;
use std::io::BufRead;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not listen on {port}");
}

/// The service binary on `database_url`, listening on a free port, and what it logs.
fn serve(database_url: &str) -> (Running, u16, Arc<Mutex<String>>) {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_postamat"))
        .arg("serve")
        .env_clear()
        .env("POSTAMAT_DATABASE_URL", database_url)
        .env("POSTAMAT_BIND", format!("127.0.0.1:{port}"))
        .env("POSTAMAT_POOL_SIZE", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the postamat binary starts");
    let log = Arc::new(Mutex::new(String::new()));
    let (pipe, sink) = (child.stderr.take().unwrap(), log.clone());
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
            let mut log = sink.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    let running = Running(child);
    wait_for_port(port, "postamat");
    (running, port, log)
}

/// chromedriver and Chromium, or `None` (saying so) when they are not installed and not
/// required.
fn browser_or_skip() -> Option<(PathBuf, PathBuf)> {
    let chromium = on_path(&["chromium", "chromium-browser", "google-chrome"]);
    let driver = on_path(&["chromedriver"]);
    match (chromium, driver) {
        (Some(c), Some(d)) => Some((c, d)),
        _ => {
            assert!(
                std::env::var_os("POSTAMAT_REQUIRE_CHROMIUM").is_none(),
                "POSTAMAT_REQUIRE_CHROMIUM is set but Chromium or chromedriver is not on PATH"
            );
            eprintln!("no Chromium or chromedriver on PATH: the console's browser test is skipped");
            None
        }
    }
}

struct Screens {
    dir: PathBuf,
}

impl Screens {
    fn new(backend: &str) -> Screens {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target/console-screenshots")
            .join(backend);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Screens { dir }
    }

    async fn save(&self, c: &Client, name: &str) {
        let png = c.screenshot().await.expect("a screenshot");
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 5_000,
            "{name}: not a PNG"
        );
        std::fs::write(self.dir.join(format!("{name}.png")), png).unwrap();
    }
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .text()
        .await
        .unwrap()
}

/// Signs in with `key` on the form the console sends to: typed, then Enter (no mouse).
async fn sign_in(c: &Client, base: &str, key: &str) {
    c.goto(&format!("{base}/console")).await.unwrap();
    let url = c.current_url().await.unwrap();
    assert_eq!(url.path(), "/console/sign-in", "not signed in: to the form");
    let field = c.find(Locator::Css("#key")).await.unwrap();
    // The field has the focus when the form opens.
    let focused = c
        .execute(
            "return document.activeElement && document.activeElement.id",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(focused, json!("key"));
    field.send_keys(&format!("{key}\n")).await.unwrap();
    arrive(c, "/console").await;
}

async fn sign_out(c: &Client) {
    c.find(Locator::Css("form[action='/console/sign-out'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    arrive(c, "/console/sign-in").await;
}

/// Waits for the navigation a click or an Enter started to land on `path`.
async fn arrive(c: &Client, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let url = c.current_url().await.unwrap();
        let ready = c
            .execute("return document.readyState", vec![])
            .await
            .unwrap();
        if url.path() == path && ready == json!("complete") {
            return;
        }
        assert!(Instant::now() < deadline, "still at {url}, not {path}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Pages must not overflow sideways at 200 % zoom (here: half the width).
async fn fits_at_double_zoom(c: &Client, name: &str) {
    let fits = c
        .execute(
            "return document.querySelector('header').scrollWidth <= window.innerWidth",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(fits, json!(true), "{name}: the header overflows at 200 %");
}

#[actix_web::test]
async fn the_console_in_chromium() {
    let Some((chromium, chromedriver)) = browser_or_skip() else {
        return;
    };
    // The data: a packed envelope of ALM01, made through the API.
    let pilot = Pilot::new().await;
    let id = pilot.packed("WEB-1").await;
    let app = &pilot.app;
    let other_supervisor = app.token(Role::Supervisor, Some("AST01")).await;
    let national = app.token(Role::Supervisor, None).await;
    let backend = app.backend();

    let (_service, port, log) = serve(&app.database_url);
    let base = format!("http://127.0.0.1:{port}");
    let driver_port = free_port();
    let profile = std::env::temp_dir().join(format!("postamat-chromium-{}", uuid::Uuid::now_v7()));
    let _driver = Running(
        Command::new(&chromedriver)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    wait_for_port(driver_port, "chromedriver");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("a WebDriver session");
    let screens = Screens::new(backend);

    // 1. The branch clerk: sign in, find the envelope by waybill, read its timeline.
    c.goto(&format!("{base}/console/sign-in?lang=ru"))
        .await
        .unwrap();
    screens.save(&c, "01-sign-in").await;
    sign_in(&c, &base, &pilot.clerk).await;
    c.goto(&format!("{base}/console/shipments")).await.unwrap();
    c.find(Locator::Css("#by"))
        .await
        .unwrap()
        .select_by_value("waybill")
        .await
        .unwrap();
    c.find(Locator::Css("#q"))
        .await
        .unwrap()
        .send_keys("WB-WEB-1\n")
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::LinkText("WEB-1"))
        .await
        .expect("the envelope is found");
    screens.save(&c, "02-search").await;
    c.find(Locator::LinkText("WEB-1"))
        .await
        .expect("the envelope is found")
        .click()
        .await
        .unwrap();
    arrive(&c, &format!("/console/shipments/{id}")).await;
    assert!(text_of(&c, "h1").await.contains("WEB-1"));
    let steps = c
        .find_all(Locator::Css("ol.timeline li"))
        .await
        .unwrap()
        .len();
    assert!(
        steps >= 4,
        "the timeline shows the document's steps ({steps})"
    );
    assert!(text_of(&c, "dd.state").await.contains("Упакован"));
    screens.save(&c, "03-shipment").await;
    c.set_window_size(640, 900).await.unwrap();
    fits_at_double_zoom(&c, "shipment").await;
    screens.save(&c, "04-shipment-narrow").await;
    c.set_window_size(1280, 900).await.unwrap();
    sign_out(&c).await;
    // Signed out: the page is refused (back to the form).
    c.goto(&format!("{base}/console/shipments/{id}"))
        .await
        .unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), "/console/sign-in");

    // 2. A supervisor of another branch is refused the envelope.
    sign_in(&c, &base, &other_supervisor).await;
    c.goto(&format!("{base}/console/shipments/{id}"))
        .await
        .unwrap();
    let alert = text_of(&c, "[role=alert]").await;
    assert!(alert.contains("Не найдено"), "{alert}");
    assert!(!c.source().await.unwrap().contains("WB-WEB-1"));
    screens.save(&c, "05-other-branch-refused").await;
    sign_out(&c).await;

    // 3. A national supervisor: the exception queue, the SLA report, the calendar.
    sign_in(&c, &base, &national).await;
    c.goto(&format!("{base}/console/exceptions")).await.unwrap();
    assert!(text_of(&c, "h1").await.contains("Исключения"));
    screens.save(&c, "06-exceptions").await;
    c.goto(&format!("{base}/console/sla?from=2026-11-01&to=2026-11-30"))
        .await
        .unwrap();
    let table = text_of(&c, "main table").await;
    assert!(table.contains("ALM01"), "{table}");
    assert!(c.find(Locator::Css("figure.chart svg")).await.is_ok());
    screens.save(&c, "07-sla").await;
    c.goto(&format!("{base}/console/calendar/2026?lang=kk"))
        .await
        .unwrap();
    assert!(text_of(&c, "h1").await.contains("Күнтізбе"));
    assert!(c.find_all(Locator::Css("td.day.off")).await.unwrap().len() >= 100);
    screens.save(&c, "08-calendar-kk").await;
    c.goto(&format!("{base}/console/registries")).await.unwrap();
    screens.save(&c, "09-registries").await;
    // Issue 25: the pilot report, in both languages, and its page to print.
    for (lang, heading) in [
        ("ru", "Результаты пилотного проекта"),
        ("kk", "Пилоттық жобаның нәтижелері"),
    ] {
        c.goto(&format!(
            "{base}/console/reports/pilot?from=2026-03-01&to=2026-11-30&lang={lang}"
        ))
        .await
        .unwrap();
        assert!(text_of(&c, "h1").await.contains(heading), "{lang}");
        assert!(c.find_all(Locator::Css("main table")).await.unwrap().len() >= 5);
        assert_eq!(
            c.find_all(Locator::Css("figure.chart svg"))
                .await
                .unwrap()
                .len(),
            2
        );
        screens.save(&c, &format!("10-pilot-report-{lang}")).await;
        c.goto(&format!(
            "{base}/console/reports/pilot/print?from=2026-03-01&to=2026-11-30&lang={lang}"
        ))
        .await
        .unwrap();
        assert!(text_of(&c, "h1").await.contains(heading), "{lang}");
        screens
            .save(&c, &format!("11-pilot-report-print-{lang}"))
            .await;
    }
    // Back to the console (the page to print has no navigation).
    c.goto(&format!("{base}/console/registries")).await.unwrap();
    sign_out(&c).await;
    c.goto(&format!("{base}/console/exceptions")).await.unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), "/console/sign-in");

    c.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&profile);
    let log = log.lock().unwrap();
    assert!(!log.contains("panicked"), "the service panicked:\n{log}");
    assert!(
        !log.contains("\"level\":\"ERROR\""),
        "the service logged an error:\n{log}"
    );
}
