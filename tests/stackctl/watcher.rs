//! A running `stackctl watch` for the watch tests: started from a config (or flags) with its
//! own state directory and `/status` port, read over real HTTP, stopped with SIGTERM (or killed).

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::apply::Stack;
use super::git_server::Repo;
use super::swarm::docker;

/// Bound on a deploy seen through the watcher (a loaded machine pulls and starts tasks slowly).
pub(crate) const DEPLOYED: Duration = Duration::from_secs(90);

/// A commit id as the watcher's log shows it.
pub(crate) fn short(revision: &str) -> &str {
    &revision[..12]
}

/// One git source `repo` at `url` (branch `main`, polled every second, extra source keys in
/// `source_keys`, indented lines) and the stack `stack` from its `stacks/app.yml`, with extra
/// stack keys (`"self_heal: true"`).
pub(crate) fn watch_config(
    url: &str,
    source_keys: &str,
    stack: &Stack,
    stack_keys: &[&str],
) -> String {
    let mut config =
        format!("sources:\n  repo:\n    git: {url}\n    branch: main\n    interval: 1s\n");
    for line in source_keys.lines().filter(|l| !l.trim().is_empty()) {
        let _ = writeln!(config, "    {}", line.trim());
    }
    let _ = write!(
        config,
        "stacks:\n  {}:\n    source: repo\n    files: [stacks/app.yml]\n",
        stack.name
    );
    for key in stack_keys {
        let _ = writeln!(config, "    {key}");
    }
    config
}

/// Commit `content` as `stacks/app.yml` and push it; the new commit id.
pub(crate) fn push_stack(repo: &Repo, content: &str, message: &str) -> String {
    let revision = repo.commit(&[("stacks/app.yml", content)], message);
    repo.push();
    revision
}

/// Push app:1 with one replica to a new repo, watch it with `stack_keys` and `controller`
/// lines, and wait until it is deployed: the repo, the watcher and the revision.
pub(crate) fn deployed(
    stack: &Stack,
    stack_keys: &[&str],
    controller: &str,
) -> (Repo, Watcher, String) {
    let repo = Repo::new();
    let revision = push_stack(&repo, &app_stack("stackctl-test/app:1", 1), "one");
    let watcher = Watcher::start(
        &watch_config(&repo.file_url(), "", stack, stack_keys),
        controller,
    );
    watcher.wait_deployed(&stack.name, &revision, DEPLOYED);
    (repo, watcher, revision)
}

/// The swarm's version of service `key`: it moves on every write to the service.
pub(crate) fn version(stack: &Stack, key: &str) -> u64 {
    stack.inspect(key)["Version"]["Index"]
        .as_u64()
        .expect("a service has a version")
}

/// The stack's lock configs (none once no apply runs).
pub(crate) fn lock_configs(stack: &Stack) -> String {
    let filter = format!("label=com.stackctl.lock={}", stack.name);
    docker(&["config", "ls", "-q", "--filter", &filter])
}

/// The stack's history as stored: the ids of its history configs and their entries, oldest
/// first.
pub(crate) fn history(stack: &Stack) -> (Vec<String>, Vec<Value>) {
    use base64::Engine as _;
    let filter = format!("label=com.stackctl.history={}", stack.name);
    let ids: Vec<String> = docker(&["config", "ls", "-q", "--filter", &filter])
        .lines()
        .map(str::to_owned)
        .collect();
    let mut entries = Vec::new();
    for id in &ids {
        let inspected: Value =
            serde_json::from_str(&docker(&["config", "inspect", id])).expect("inspect is JSON");
        let data = inspected[0]["Spec"]["Data"].as_str().unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("config data is base64");
        let list: Vec<Value> = serde_json::from_slice(&bytes).expect("history entries are JSON");
        entries.extend(list);
    }
    (ids, entries)
}

/// A free TCP port on every interface, loopback included (bound, then released for a server
/// or a published service to take).
pub(crate) fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("0.0.0.0:0").expect("bind a port");
    listener.local_addr().unwrap().port()
}

/// `GET path` on `127.0.0.1:port`: (status code, body); `None` until something answers.
pub(crate) fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_owned()))
}

/// `GET /status` on `127.0.0.1:port`, parsed when it answers 200.
pub(crate) fn http_status(port: u16) -> Option<Value> {
    let (code, body) = http_get(port, "/status")?;
    (code == 200)
        .then(|| serde_json::from_str(&body).ok())
        .flatten()
}

/// A service stack with fast rollouts: `image` with `replicas`, one service `app`.
pub(crate) fn app_stack(image: &str, replicas: u32) -> String {
    format!(
        "services:
  app:
    image: {image}
    deploy:
      replicas: {replicas}
      update_config: {{parallelism: 0, monitor: 1s, failure_action: rollback}}
      rollback_config: {{parallelism: 0, monitor: 1s}}
"
    )
}

pub(crate) struct Watcher {
    child: Option<Child>,
    dir: tempfile::TempDir,
    port: u16,
}

impl Watcher {
    /// `stackctl watch --config` with `body` (sources and stacks) plus a controller block giving
    /// the port, the state directory and `controller` (extra controller keys, YAML lines).
    pub(crate) fn start(body: &str, controller: &str) -> Self {
        Self::start_env(body, controller, &[])
    }

    /// As [`Self::start`], with these extra environment variables.
    pub(crate) fn start_env(body: &str, controller: &str, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let state = dir.path().join("state");
        let mut config = format!(
            "{body}\ncontroller:\n  listen: 127.0.0.1:{port}\n  state_dir: {}\n",
            state.display()
        );
        for line in controller.lines().filter(|l| !l.trim().is_empty()) {
            let _ = writeln!(config, "  {}", line.trim());
        }
        let path = dir.path().join("watch.yml");
        std::fs::write(&path, config).unwrap();
        let args = [
            "watch".into(),
            "--config".into(),
            path.display().to_string(),
        ];
        Self::spawn(dir, port, &args, env)
    }

    /// The single-stack form: `stackctl watch ARGS --listen … --state-dir …`.
    pub(crate) fn start_flags(args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let mut all: Vec<String> = vec!["watch".into()];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        all.extend(["--listen".into(), format!("127.0.0.1:{port}")]);
        let state = dir.path().join("state").display().to_string();
        all.extend(["--state-dir".into(), state]);
        Self::spawn(dir, port, &all, &[])
    }

    /// Start again on the same state directory and port (a restarted watcher).
    pub(crate) fn restart(mut self) -> Self {
        let _ = self.stop();
        let args = std::fs::read_to_string(self.dir.path().join("args")).unwrap();
        let args: Vec<String> = args.lines().map(str::to_owned).collect();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        let port = self.port;
        drop(self);
        Self::spawn(dir, port, &args, &[])
    }

    fn spawn(dir: tempfile::TempDir, port: u16, args: &[String], env: &[(&str, &str)]) -> Self {
        std::fs::write(dir.path().join("args"), args.join("\n")).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("watch.log"))
            .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_stackctl"));
        command
            .args(args)
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command.spawn().expect("stackctl watch starts");
        let watcher = Self {
            child: Some(child),
            dir,
            port,
        };
        watcher.wait_until("the HTTP server answers", Duration::from_secs(20), |_| true);
        watcher
    }

    /// Everything the watcher logged so far (all runs).
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("watch.log")).unwrap_or_default()
    }

    /// `GET path`: (status code, body).
    pub(crate) fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(self.port, path)
    }

    /// `GET /status`, parsed.
    pub(crate) fn status(&self) -> Option<Value> {
        http_status(self.port)
    }

    /// Poll `/status` until `done` holds; panics after `timeout` with the log and the status.
    pub(crate) fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        let mut last = Value::Null;
        while Instant::now() < deadline {
            if let Some(status) = self.status() {
                if done(&status) {
                    return status;
                }
                last = status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "timed out after {timeout:?} waiting until {what}\n--- status\n{}\n--- log\n{}",
            serde_json::to_string_pretty(&last).unwrap_or_default(),
            self.log()
        );
    }

    /// Wait until stack `stack`'s deployed revision is `revision` and it is idle.
    pub(crate) fn wait_deployed(&self, stack: &str, revision: &str, timeout: Duration) -> Value {
        self.wait_until(&format!("{stack} deployed {revision}"), timeout, |s| {
            let stack = &s["stacks"][stack];
            stack["deployed_revision"] == revision && stack["state"] == "idle"
        })
    }

    /// SIGTERM, then wait (up to 20 s): the exit code and how long it took.
    pub(crate) fn stop(&mut self) -> (Option<i32>, Duration) {
        let Some(mut child) = self.child.take() else {
            return (None, Duration::ZERO);
        };
        let started = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = started + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return (status.code(), started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        (None, started.elapsed())
    }

    /// SIGKILL: a watcher that dies without any chance to clean up.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.kill();
    }
}
