//! Helpers for tests on the real test-bed Swarm: stacks deployed with the docker CLI (the
//! oracle), read back with it, and always removed.

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

/// A unique stack name for this process and test.
pub(crate) fn unique_stack(prefix: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

pub(crate) fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI runs");
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A stack deployed by `docker stack deploy`; removed (and waited for) on drop.
pub(crate) struct DockerStack {
    pub(crate) name: String,
}

impl DockerStack {
    pub(crate) fn deploy(name: &str, files: &[&str]) -> Self {
        let stack = Self {
            name: name.to_owned(),
        };
        let mut args = vec![
            "stack",
            "deploy",
            "--resolve-image",
            "never",
            "--detach=true",
        ];
        for file in files {
            args.extend(["-c", file]);
        }
        args.push(name);
        docker(&args);
        stack
    }

    /// `docker service inspect` of every service of the stack, by name.
    pub(crate) fn services(&self) -> HashMap<String, Value> {
        let filter = format!("label=com.docker.stack.namespace={}", self.name);
        let ids = docker(&["service", "ls", "-q", "--filter", &filter]);
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if ids.is_empty() {
            return HashMap::new();
        }
        let mut args = vec!["service", "inspect"];
        args.extend(&ids);
        let all: Vec<Value> = serde_json::from_str(&docker(&args)).unwrap();
        all.into_iter()
            .map(|s| (s["Spec"]["Name"].as_str().unwrap().to_owned(), s))
            .collect()
    }

    /// Names of the stack's objects of one kind (`network`, `config`, `secret`).
    pub(crate) fn object_names(&self, kind: &str) -> Vec<String> {
        let filter = format!("label=com.docker.stack.namespace={}", self.name);
        let out = docker(&[kind, "ls", "--filter", &filter, "--format", "{{.Name}}"]);
        let mut names: Vec<String> = out.lines().map(str::to_owned).collect();
        names.sort();
        names
    }
}

/// Network IDs to names (the daemon stores attachment targets as IDs).
pub(crate) fn network_names() -> HashMap<String, String> {
    docker(&[
        "network",
        "ls",
        "--no-trunc",
        "--format",
        "{{.ID}} {{.Name}}",
    ])
    .lines()
    .filter_map(|l| {
        l.split_once(' ')
            .map(|(id, name)| (id.to_owned(), name.to_owned()))
    })
    .collect()
}

impl Drop for DockerStack {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["stack", "rm", &self.name])
            .output();
        let filter = format!("label=com.docker.stack.namespace={}", self.name);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let left = ["service", "network", "config", "secret"]
                .iter()
                .any(|kind| {
                    Command::new("docker")
                        .args([kind, "ls", "-q", "--filter", &filter])
                        .output()
                        .is_ok_and(|o| !o.stdout.is_empty())
                });
            if !left {
                return;
            }
            // A network is removable only once its tasks are gone.
            let _ = Command::new("docker")
                .args(["stack", "rm", &self.name])
                .output();
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// Every example stack, as the files to pass together (the override pair is one stack).
pub(crate) const EXAMPLES: &[&[&str]] = &[
    &["agent-global.yml"],
    &["anchors.yml"],
    &["jobs.yml"],
    &["monitoring.yml"],
    &["reverse-proxy.yml"],
    &["rollout.yml"],
    &["secrets.yml"],
    &["web-db-cache.yml"],
    &["override/base.yml", "override/prod.yml"],
];
