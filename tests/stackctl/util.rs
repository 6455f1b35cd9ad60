//! A small builder that runs the real binary in a scratch directory and checks its output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) struct Test {
    dir: tempfile::TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Test {
    pub(crate) fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write a file (parents created) under the scratch directory.
    pub(crate) fn file(self, name: &str, content: &str) -> Self {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
        self
    }

    pub(crate) fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    pub(crate) fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub(crate) fn run(&self) -> Output {
        self.command().output().expect("stackctl runs")
    }

    /// Start the binary without waiting, output captured (to signal it while it runs).
    pub(crate) fn spawn(&self) -> std::process::Child {
        self.command()
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("stackctl starts")
    }

    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_stackctl"));
        command
            .args(&self.args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1");
        for (k, v) in &self.env {
            command.env(k, v);
        }
        command
    }

    /// Run `validate --format json` and return (exit code, parsed report).
    pub(crate) fn validate_json(self) -> (i32, serde_json::Value) {
        let test = self.args(&["--format", "json"]);
        let out = test.run();
        let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap(), report)
    }
}

pub(crate) fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Run `check` on every item at once, each in its own thread, and fail with every item's
/// panic message (named by `label`) rather than only the first. Returns what each check
/// returned, in order, when all passed.
pub(crate) fn check_all<T: Sync, R: Send>(
    items: &[T],
    label: impl Fn(&T) -> String,
    check: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let results: Vec<std::thread::Result<R>> = std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .iter()
            .map(|item| scope.spawn(|| check(item)))
            .collect();
        handles
            .into_iter()
            .map(std::thread::ScopedJoinHandle::join)
            .collect()
    });
    let mut failures = Vec::new();
    let mut passed = Vec::new();
    for (item, result) in items.iter().zip(results) {
        match result {
            Ok(value) => passed.push(value),
            Err(e) => {
                let text = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                failures.push(format!("{}: {text}", label(item)));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    passed
}
