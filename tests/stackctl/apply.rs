//! Shared helpers for the `stackctl apply` tests on the real Swarm: a stack guard that removes
//! the stack whatever happens, one run of the binary with its output parsed, and read-backs.
//!
//! The tests themselves live in `apply_*.rs`, one file per promise of the apply issue.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::swarm::{docker, unique_stack};
use super::util::{Test, stderr, stdout};

/// Bound on every apply in these tests: a rollout that hangs fails the test instead.
pub(crate) const APPLY_TIMEOUT: &str = "150s";

/// A stack the test applies; removed on drop (also when the test panics), first with
/// `stackctl rm`, then, if that left anything, with the docker CLI.
pub(crate) struct Stack {
    pub(crate) name: String,
}

impl Stack {
    pub(crate) fn new(prefix: &str) -> Self {
        Self {
            name: unique_stack(prefix),
        }
    }

    /// The full name of the service `key`.
    pub(crate) fn service_name(&self, key: &str) -> String {
        format!("{}_{key}", self.name)
    }

    /// `docker service inspect` of service `key`.
    pub(crate) fn inspect(&self, key: &str) -> Value {
        let out = docker(&["service", "inspect", &self.service_name(key)]);
        let mut all: Vec<Value> = serde_json::from_str(&out).unwrap();
        all.remove(0)
    }

    /// The image service `key` runs now.
    pub(crate) fn image(&self, key: &str) -> String {
        self.inspect(key)["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Names of everything labelled with this stack, by kind, plus stackctl's own history and
    /// lock configs for it.
    pub(crate) fn leftovers(&self) -> Vec<String> {
        self.try_leftovers().expect("docker CLI runs")
    }

    /// [`Self::leftovers`], or `None` if the docker CLI did not run (never panics: drop uses it).
    fn try_leftovers(&self) -> Option<Vec<String>> {
        let namespace = format!("label=com.docker.stack.namespace={}", self.name);
        let history = format!("label=com.stackctl.history={}", self.name);
        let lock = format!("label=com.stackctl.lock={}", self.name);
        let queries: [(&str, &str); 6] = [
            ("service", &namespace),
            ("network", &namespace),
            ("config", &namespace),
            ("secret", &namespace),
            ("config", &history),
            ("config", &lock),
        ];
        let mut found = Vec::new();
        for (kind, filter) in queries {
            let out = Command::new("docker")
                .args([kind, "ls", "--filter", filter, "--format", "{{.Name}}"])
                .output()
                .ok()
                .filter(|o| o.status.success())?;
            for name in String::from_utf8_lossy(&out.stdout).lines() {
                found.push(format!("{kind} {name}"));
            }
        }
        Some(found)
    }

    /// Run `docker` until nothing of the stack is left (networks go asynchronously).
    fn remove_with_docker(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let Some(left) = self.try_leftovers() else {
                return;
            };
            if left.is_empty() {
                super::swarm::remove_stack_leftovers(&self.name);
                return;
            }
            let _ = Command::new("docker")
                .args(["stack", "rm", &self.name])
                .output();
            for entry in left.iter().filter(|l| l.starts_with("config stackctl-")) {
                let name = entry.trim_start_matches("config ");
                let _ = Command::new("docker").args(["config", "rm", name]).output();
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// Must not panic: it also runs while a failed test unwinds.
impl Drop for Stack {
    fn drop(&mut self) {
        let anonymous = super::swarm::remove_services_and_containers(&self.name);
        let _ = Command::new(env!("CARGO_BIN_EXE_stackctl"))
            .args(["rm", &self.name])
            .output();
        self.remove_with_docker();
        super::swarm::remove_volumes(&anonymous);
    }
}

/// One finished run of the binary.
pub(crate) struct Run {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) elapsed: Duration,
}

impl Run {
    pub(crate) fn of(test: &Test) -> Self {
        let started = Instant::now();
        let out = test.run();
        Self {
            code: out.status.code(),
            stdout: stdout(&out),
            stderr: stderr(&out),
            elapsed: started.elapsed(),
        }
    }

    /// Wait for a process started with [`Test::spawn`] at `started`.
    pub(crate) fn of_child(child: std::process::Child, started: Instant) -> Self {
        let out = child.wait_with_output().expect("stackctl ends");
        Self {
            code: out.status.code(),
            stdout: stdout(&out),
            stderr: stderr(&out),
            elapsed: started.elapsed(),
        }
    }

    /// stderr with miette's frame and line wrapping undone, one space between words, for
    /// matching whole messages.
    pub(crate) fn flat_stderr(&self) -> String {
        let mut flat = String::new();
        for line in self.stderr.lines() {
            let line: String = line
                .chars()
                .map(|c| if "│×╰─▶".contains(c) { ' ' } else { c })
                .collect();
            let words = line.split_whitespace().collect::<Vec<_>>().join(" ");
            // miette breaks long names after a hyphen.
            if !flat.is_empty() && !flat.ends_with('-') && !words.is_empty() {
                flat.push(' ');
            }
            flat.push_str(&words);
        }
        flat
    }

    /// Both streams, for assertion messages.
    pub(crate) fn text(&self) -> String {
        format!(
            "exit {:?} after {:.1}s\n--- stdout\n{}--- stderr\n{}",
            self.code,
            self.elapsed.as_secs_f64(),
            self.stdout,
            self.stderr
        )
    }

    /// `(reads, writes)` from the stderr line `Engine API calls: N reads, M writes` (the last
    /// line, or above the error that ended the run).
    pub(crate) fn engine_calls(&self) -> (u64, u64) {
        let line = self
            .stderr
            .lines()
            .rfind(|l| l.starts_with("Engine API calls: "))
            .unwrap_or_default();
        let counts = line
            .strip_prefix("Engine API calls: ")
            .and_then(|rest| rest.split_once(" reads, "))
            .and_then(|(reads, writes)| {
                let writes = writes.strip_suffix(" writes")?;
                Some((reads.parse().ok()?, writes.parse().ok()?))
            });
        counts.unwrap_or_else(|| panic!("no Engine API calls line:\n{}", self.text()))
    }

    /// The summary line of one service, e.g. `  ok   s_web: converged`.
    pub(crate) fn summary_of(&self, service: &str) -> &str {
        let ok = format!("  ok   {service}: ");
        let fail = format!("  FAIL {service}: ");
        self.stdout
            .lines()
            .find(|l| l.starts_with(&ok) || l.starts_with(&fail))
            .unwrap_or_else(|| panic!("no summary line for {service}:\n{}", self.text()))
    }
}

/// `test` set up to run `stackctl apply -y --timeout … -s STACK EXTRA… FILE…`.
pub(crate) fn apply_command(test: Test, stack: &Stack, files: &[&str], extra: &[&str]) -> Test {
    let mut args = vec!["apply", "-y", "--timeout", APPLY_TIMEOUT, "-s", &stack.name];
    args.extend(extra);
    args.extend(files);
    test.args(&args)
}

/// Run [`apply_command`].
pub(crate) fn apply(test: Test, stack: &Stack, files: &[&str], extra: &[&str]) -> Run {
    Run::of(&apply_command(test, stack, files, extra))
}

/// `stackctl apply` of one stack file with this content, which must succeed.
pub(crate) fn apply_ok(stack: &Stack, yaml: &str) -> Run {
    let run = apply(
        Test::new().file("stack.yml", yaml),
        stack,
        &["stack.yml"],
        &[],
    );
    assert_eq!(run.code, Some(0), "apply failed:\n{}", run.text());
    run
}

/// `stackctl plan --detailed-exitcode` of one stack file: 0 when the cluster matches it.
pub(crate) fn plan_exit(stack: &Stack, yaml: &str) -> Run {
    let test = Test::new().file("stack.yml", yaml).args(&[
        "plan",
        "--detailed-exitcode",
        "-s",
        &stack.name,
        "stack.yml",
    ]);
    Run::of(&test)
}

/// `stackctl CMD STACK ARGS…` (status, history, rollback, rm).
pub(crate) fn stack_command(command: &str, stack: &Stack, args: &[&str]) -> Run {
    let mut all = vec![command, &stack.name];
    all.extend(args);
    Run::of(&Test::new().args(&all))
}

/// A one-service stack of `image` with fast health and rollout settings; `update` is the
/// `update_config` body (flow style).
pub(crate) fn web_stack(image: &str, replicas: u32, update: &str) -> String {
    format!(
        "services:
  web:
    image: {image}
    deploy:
      replicas: {replicas}
      update_config: {update}
      rollback_config: {{parallelism: 0, monitor: 2s}}
"
    )
}
