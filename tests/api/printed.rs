//! The printed documents as people and browsers see them: their visible text, and a render in
//! headless Chromium (PDF and PNG, kept under `target/tmp/printed/` for a look).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The text a reader sees: tags dropped, entities of the escaper decoded, spaces collapsed.
pub fn visible_text(html: &str) -> String {
    // What is not shown: the title and the stylesheet.
    let mut html = html.to_owned();
    for (open, close) in [("<title>", "</title>"), ("<style>", "</style>")] {
        if let (Some(start), Some(end)) = (html.find(open), html.find(close)) {
            html.replace_range(start..end + close.len(), "");
        }
    }
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let words: Vec<&str> = text.split_whitespace().collect();
    words.join(" ").replace(" :", ":")
}

pub fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// The barcodes a scanner reads off the screenshot (zbar's `zbarimg`), as `CODE-128:<value>`.
fn scan(png: &Path) -> Vec<String> {
    let Some(zbarimg) = on_path(&["zbarimg"]) else {
        assert!(
            std::env::var_os("POSTAMAT_REQUIRE_CHROMIUM").is_none(),
            "POSTAMAT_REQUIRE_CHROMIUM is set but zbarimg is not on PATH"
        );
        return Vec::new();
    };
    let output = Command::new(zbarimg)
        .args(["--quiet", "--raw", "-Sdisable", "-Scode128.enable"])
        .arg(png)
        .output()
        .expect("zbarimg starts");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| format!("CODE-128:{l}"))
        .collect()
}

fn run(chromium: &Path, profile: &Path, args: &[String]) -> String {
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--enable-logging=stderr", "--v=0"])
        .args(args)
        .output()
        .expect("Chromium starts");
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "Chromium failed: {}\n{log}",
        output.status
    );
    log
}

/// Chromium, or `None` (saying so) when it is not installed and not required.
fn chromium_or_skip(name: &str) -> Option<PathBuf> {
    let found = on_path(&["chromium", "chromium-browser", "google-chrome"]);
    if found.is_none() {
        assert!(
            std::env::var_os("POSTAMAT_REQUIRE_CHROMIUM").is_none(),
            "POSTAMAT_REQUIRE_CHROMIUM is set but no Chromium is on PATH"
        );
        eprintln!("no Chromium on PATH: {name} not rendered");
    }
    found
}

/// Screenshots the page at `page` (a file, with what it links beside it) to `png`, and fails
/// on any error the page logs (a resource that does not load, a script error). Without
/// Chromium, as [`render`].
pub fn screenshot(name: &str, page: &Path, png: &Path) {
    let Some(chromium) = chromium_or_skip(name) else {
        return;
    };
    let profile = png.with_extension("profile");
    let _ = std::fs::remove_dir_all(&profile);
    let _ = std::fs::remove_file(png);
    let log = run(
        &chromium,
        &profile,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1100,3000".to_owned(),
            format!("file://{}", page.display()),
        ],
    );
    let errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Failed to load") || l.contains("ERR_"))
        .collect();
    assert!(
        errors.is_empty(),
        "{name}: the page logged errors: {errors:#?}"
    );
    let image = std::fs::read(png).expect("Chromium wrote the screenshot");
    assert!(
        image.starts_with(b"\x89PNG") && image.len() > 10_000,
        "{name}: not a PNG"
    );
    let _ = std::fs::remove_dir_all(&profile);
}

/// Renders `html` in headless Chromium to PDF and PNG, checks both came out and that each of
/// `waybills` scans off the PNG as a Code 128 barcode. Without Chromium (or zbar) on the machine
/// this says so and returns, unless `POSTAMAT_REQUIRE_CHROMIUM` is set (`.ci/run` sets it after
/// installing both), when it fails.
pub fn render(name: &str, html: &str, waybills: &[&str]) {
    let Some(chromium) = chromium_or_skip(name) else {
        return;
    };
    let backend = if std::env::var_os("TEST_POSTGRES_URL").is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("printed");
    std::fs::create_dir_all(&dir).unwrap();
    let stem = dir.join(format!("{name}-{backend}"));
    let page = stem.with_extension("html");
    std::fs::write(&page, html).unwrap();
    let profile = stem.with_extension("profile");
    let _ = std::fs::remove_dir_all(&profile);
    let (pdf, png) = (stem.with_extension("pdf"), stem.with_extension("png"));
    let _ = std::fs::remove_file(&pdf);
    let _ = std::fs::remove_file(&png);
    let url = format!("file://{}", page.display());
    run(
        &chromium,
        &profile,
        &[format!("--print-to-pdf={}", pdf.display()), url.clone()],
    );
    run(
        &chromium,
        &profile,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1240,1754".to_owned(),
            url,
        ],
    );
    let pdf = std::fs::read(&pdf).expect("Chromium wrote the PDF");
    assert!(
        pdf.starts_with(b"%PDF-") && pdf.len() > 1000,
        "{name}: not a PDF"
    );
    let image = std::fs::read(&png).expect("Chromium wrote the screenshot");
    assert!(
        image.starts_with(b"\x89PNG") && image.len() > 1000,
        "{name}: not a PNG"
    );
    if on_path(&["zbarimg"]).is_some() || std::env::var_os("POSTAMAT_REQUIRE_CHROMIUM").is_some() {
        let scanned = scan(&png);
        for waybill in waybills {
            let code = format!("CODE-128:{waybill}");
            assert!(
                scanned.contains(&code),
                "{name}: {code} not scanned: {scanned:?}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&profile);
}
