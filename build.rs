//! Records the commit the binary is built from, for `postamat --version`, `GET /` and the
//! `postamat_build_info` metric. `POSTAMAT_COMMIT` set at build time wins (a build from an
//! archive without `.git`, e.g. in a container); without either the commit is `unknown`.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=POSTAMAT_COMMIT");
    let commit = std::env::var("POSTAMAT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=POSTAMAT_COMMIT={}", commit.trim());
}

fn git_commit() -> Option<String> {
    let git = Path::new(".git");
    if !git.exists() {
        return None;
    }
    // Rebuilt when the branch moves: HEAD names the branch, the branch's ref the commit.
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/packed-refs");
    if let Ok(head) = std::fs::read_to_string(git.join("HEAD"))
        && let Some(reference) = head.trim().strip_prefix("ref: ")
    {
        println!("cargo:rerun-if-changed=.git/{reference}");
    }
    let out = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let commit = String::from_utf8(out.stdout).ok()?;
    let commit = commit.trim();
    commit
        .chars()
        .all(|c| c.is_ascii_hexdigit())
        .then(|| commit.to_owned())
}
