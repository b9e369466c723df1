//! The layering the code is built on (docs/architecture.md, map of `src/`), checked on the
//! source itself: `db` knows rows and queries only, the top-level modules import one another
//! without a cycle, and handlers write nothing themselves.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MODULES: [&str; 11] = [
    "api",
    "cli",
    "clock",
    "config",
    "db",
    "domain",
    "jobs",
    "observability",
    "reports",
    "sim",
    "workflows",
];

fn sources(path: &Path) -> Vec<(PathBuf, String)> {
    if path.is_file() {
        return vec![(path.to_owned(), std::fs::read_to_string(path).unwrap())];
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir(path).unwrap() {
        found.extend(sources(&entry.unwrap().path()));
    }
    found
}

fn module_sources(module: &str) -> Vec<(PathBuf, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let dir = src.join(module);
    if dir.is_dir() {
        sources(&dir)
    } else {
        sources(&src.join(format!("{module}.rs")))
    }
}

/// The top-level modules each module refers to (`crate::<module>`).
fn imports() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    MODULES
        .into_iter()
        .map(|module| {
            let text: String = module_sources(module)
                .into_iter()
                .map(|(_, text)| text)
                .collect();
            let used = MODULES
                .into_iter()
                .filter(|other| *other != module)
                .filter(|other| {
                    text.contains(&format!("crate::{other}::"))
                        || text.contains(&format!("crate::{other};"))
                        || text.contains(&format!("crate::{other} "))
                })
                .collect();
            (module, used)
        })
        .collect()
}

#[test]
fn the_database_layer_knows_nothing_of_http_jobs_or_workflows() {
    for (path, text) in module_sources("db") {
        for forbidden in [
            "crate::api",
            "crate::jobs",
            "crate::workflows",
            "crate::observability",
            "utoipa",
            "actix",
        ] {
            assert!(
                !text.contains(forbidden),
                "{} refers to {forbidden}",
                path.display()
            );
        }
    }
}

#[test]
fn the_top_level_modules_import_one_another_without_a_cycle() {
    let graph = imports();
    // Kahn's algorithm: repeatedly remove modules that import nothing left.
    let mut left: BTreeMap<&str, BTreeSet<&str>> = graph.clone();
    while let Some(free) = left
        .iter()
        .find(|(_, deps)| deps.is_empty())
        .map(|(m, _)| *m)
    {
        left.remove(free);
        for deps in left.values_mut() {
            deps.remove(free);
        }
    }
    assert!(
        left.is_empty(),
        "import cycle among {left:?} (all: {graph:?})"
    );
    assert!(
        graph["domain"].is_empty(),
        "the domain core imports {:?}",
        graph["domain"]
    );
}

#[test]
fn handlers_neither_write_nor_decide_a_shipment_rule() {
    for (path, text) in module_sources("api") {
        for forbidden in [
            "diesel::update(",
            "diesel::insert_into(",
            "diesel::delete(",
            "schema::",
            "transition(",
            "kaspi_plan(",
            "ShipmentState::",
        ] {
            assert!(
                !text.contains(forbidden),
                "{} does {forbidden} itself: that belongs in a workflow or the domain",
                path.display()
            );
        }
    }
}

/// Issue 25: one home for the read side. `reports` reads through `db` and the domain only, so
/// the API, the console, the command line and the simulation read the same way; the
/// simulation imports nothing of the HTTP layer, and the console no handler module.
#[test]
fn the_read_side_has_one_home_that_the_simulation_and_the_console_share() {
    for (path, text) in module_sources("reports") {
        for forbidden in [
            "crate::api",
            "crate::workflows",
            "crate::jobs",
            "crate::sim",
            "actix",
        ] {
            assert!(
                !text.contains(forbidden),
                "{} refers to {forbidden}: the read side reads through db and the domain",
                path.display()
            );
        }
    }
    for (path, text) in module_sources("sim") {
        assert!(
            !text.contains("crate::api"),
            "{} imports the HTTP layer",
            path.display()
        );
    }
    for (path, text) in sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api/console")) {
        for handlers in [
            "crate::api::admin",
            "crate::api::clerks",
            "crate::api::integrations",
            "crate::api::supervisors",
        ] {
            assert!(
                !text.contains(handlers),
                "{} imports a handler module ({handlers})",
                path.display()
            );
        }
    }
}

/// Issue 24, item 4: rows hold `DateTime<Utc>`, so the zone-less storage type stays in
/// `db::time`. Outside `db` no code converts an instant for storage or binds one; the domain
/// may still speak of a naive *local* wall-clock time (a branch's 12:00, the quiet hours).
#[test]
fn instants_leave_the_database_as_utc_and_nothing_above_it_converts_them() {
    for module in MODULES.into_iter().filter(|m| *m != "db") {
        for (path, text) in module_sources(module) {
            for forbidden in [
                "to_db_time",
                "from_db_time",
                "time::At(",
                "MaybeAt",
                "UtcTime",
            ] {
                assert!(
                    !text.contains(forbidden),
                    "{} uses {forbidden}: instants are converted in db::time only",
                    path.display()
                );
            }
            if module != "domain" {
                assert!(
                    !text.contains("NaiveDateTime"),
                    "{} holds a zone-less instant: rows and views carry DateTime<Utc>",
                    path.display()
                );
            }
        }
    }
    for (path, text) in module_sources("db") {
        if !path.ends_with("db/time.rs") {
            assert!(
                !text.contains("NaiveDateTime"),
                "{} holds a zone-less instant: only db/time.rs knows the stored form",
                path.display()
            );
        }
    }
}

/// Issue 24, item 5: a file holds one job, so no file in `src/` grows past 700 lines.
#[test]
fn no_source_file_outgrows_one_job() {
    const LIMIT: usize = 700;
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for (path, text) in sources(&src) {
        let lines = text.lines().count();
        assert!(
            lines <= LIMIT,
            "{} has {lines} lines: split it where its jobs part",
            path.strip_prefix(&src).unwrap().display()
        );
    }
}

/// Issue 24, item 2: one vocabulary of refusals. Each problem code is named once: a refusal in
/// `workflows/error.rs`, a code of the transport in `api/error.rs`. No other file maps a code to
/// or from its name, as the hand-written mirror of the refusals once did.
#[test]
fn each_problem_code_is_named_in_one_place() {
    let document: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let codes: Vec<&str> = document["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap())
        .collect();
    assert!(codes.contains(&"waybill_mismatch") && codes.contains(&"invalid_body"));
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for code in codes {
        let naming: Vec<String> = sources(&src)
            .into_iter()
            .filter(|(_, text)| {
                text.contains(&format!("=> \"{code}\"")) || text.contains(&format!("\"{code}\" =>"))
            })
            .map(|(path, _)| path.strip_prefix(&src).unwrap().display().to_string())
            .collect();
        let home = if naming.iter().any(|p| p == "workflows/error.rs") {
            "workflows/error.rs"
        } else {
            "api/error.rs"
        };
        assert_eq!(naming, [home], "`{code}` is named in {naming:?}");
    }
}

/// The code of a source file, without its unit tests.
fn without_tests(text: &str) -> &str {
    text.split("#[cfg(test)]").next().unwrap_or(text)
}

/// Issue 24, item 1: a write's transaction is a workflow's, never a handler's; integration
/// events reach the workflows' inbox, and the simulation delivers Kaspi's events as the webhook
/// does, as a `Batch`, not through the receiving internals.
#[test]
fn transactions_are_the_workflows_and_the_simulation_takes_the_webhooks_path() {
    for (path, text) in module_sources("api") {
        let code = without_tests(&text);
        for opens in ["transaction(", "write_transaction", "build_transaction"] {
            assert!(
                !code.contains(opens),
                "{} opens a transaction ({opens}): that is a workflow's job",
                path.display()
            );
        }
    }
    let sim: String = module_sources("sim")
        .into_iter()
        .map(|(_, text)| text)
        .collect();
    assert!(sim.contains("kaspi_events::Batch::new"));
    for internal in [
        "receive_chunk",
        "kaspi_events::order",
        "CHUNK",
        "integration_event::",
    ] {
        assert!(
            !sim.contains(internal),
            "the simulation reaches {internal}: deliver events as a kaspi_events::Batch"
        );
    }
}
