//! Build script: puts the git commit stackctl is built from into `stackctl --version`.
//!
//! A build from a source tarball (no `.git`) or without a `git` program still succeeds, with
//! the bare package version.

// The build runs git; the product itself never starts subprocesses.
#![allow(clippy::disallowed_methods)]

use std::path::Path;
use std::process::Command;

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_owned());
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let long = match commit(Path::new(&dir)) {
        Some(commit) => format!("{version} ({commit})"),
        None => version,
    };
    println!("cargo:rustc-env=STACKCTL_VERSION={long}");
    println!("cargo:rerun-if-changed=build.rs");
}

/// The commit checked out in `dir`; `None` without a `.git` there (a tarball unpacked inside
/// some other repository must not take that repository's commit) or when git cannot tell.
fn commit(dir: &Path) -> Option<String> {
    if !dir.join(".git").exists() {
        return None;
    }
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
    };
    let commit = git(&["rev-parse", "--short=12", "HEAD"])?;
    // Build again when HEAD moves: a checkout changes HEAD, a commit changes the branch's ref
    // (a loose file, or packed-refs). Paths that do not exist are left out: cargo would rerun
    // the script on every build for them.
    let branch = git(&["symbolic-ref", "-q", "HEAD"]);
    let watched = ["HEAD", "packed-refs"]
        .into_iter()
        .map(str::to_owned)
        .chain(branch);
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--path-format=absolute", "--git-path", &name]) {
            if Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
    Some(commit)
}
