//! `stackctl --version` names the git commit it was built from; build.rs still builds from a
//! source tarball (no `.git`) and without git.

use std::path::Path;
use std::process::Command;

use crate::util::{Test, repo_root, stderr, stdout};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    stdout(&out).trim().to_owned()
}

#[test]
fn version_names_the_commit_of_this_checkout() {
    let out = Test::new().args(&["--version"]).run();
    assert_eq!(out.status.code(), Some(0));
    let root = repo_root();
    let expected = if root.join(".git").exists() {
        let commit = git(&root, &["rev-parse", "--short=12", "HEAD"]);
        format!("stackctl {} ({commit})\n", env!("CARGO_PKG_VERSION"))
    } else {
        format!("stackctl {}\n", env!("CARGO_PKG_VERSION"))
    };
    assert_eq!(stdout(&out), expected);
}

/// The build script compiled on its own and run as cargo would, in `dir`.
fn build_script_version(scratch: &Path, dir: &Path, path_env: Option<&str>) -> String {
    let binary = scratch.join("build-script");
    if !binary.exists() {
        let compiled = Command::new("rustc")
            .args(["--edition", "2024", "-o"])
            .arg(&binary)
            .arg(repo_root().join("build.rs"))
            .output()
            .expect("rustc runs");
        assert!(compiled.status.success(), "{}", stderr(&compiled));
    }
    let mut run = Command::new(&binary);
    run.env("CARGO_MANIFEST_DIR", dir)
        .env("CARGO_PKG_VERSION", "9.9.9");
    if let Some(path) = path_env {
        run.env("PATH", path);
    }
    let out = run.output().expect("build script runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    printed
        .lines()
        .find_map(|l| l.strip_prefix("cargo:rustc-env=STACKCTL_VERSION="))
        .unwrap_or_else(|| panic!("no version in {printed}"))
        .to_owned()
}

#[test]
fn build_script_reads_a_repository_and_does_without_one() {
    let scratch = tempfile::tempdir().unwrap();
    let repo = scratch.path().join("repo");
    std::fs::create_dir_all(repo.join("unpacked")).unwrap();
    git(&repo, &["init", "-q"]);
    std::fs::write(repo.join("file"), "x").unwrap();
    git(&repo, &["add", "file"]);
    git(
        &repo,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "one",
        ],
    );
    let commit = git(&repo, &["rev-parse", "--short=12", "HEAD"]);
    assert_eq!(
        build_script_version(scratch.path(), &repo, None),
        format!("9.9.9 ({commit})")
    );
    // A source tarball unpacked inside another repository: not that repository's commit.
    let unpacked = repo.join("unpacked");
    assert_eq!(
        build_script_version(scratch.path(), &unpacked, None),
        "9.9.9"
    );
    // A checkout on a machine without git.
    assert_eq!(
        build_script_version(scratch.path(), &repo, Some("/nonexistent")),
        "9.9.9"
    );
}
