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
    docker_with_env(args, &[])
}

/// [`docker`] with extra environment variables (stack files may interpolate them).
pub(crate) fn docker_with_env(args: &[&str], env: &[(&str, String)]) -> String {
    let out = Command::new("docker")
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
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
        Self::deploy_with_env(name, files, &[])
    }

    /// [`Self::deploy`] with extra environment variables (the files may interpolate them).
    pub(crate) fn deploy_with_env(name: &str, files: &[&str], env: &[(&str, String)]) -> Self {
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
        docker_with_env(&args, env);
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
        let anonymous = remove_services_and_containers(&self.name);
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
                remove_stack_leftovers(&self.name);
                remove_volumes(&anonymous);
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

/// One shipped example as the tests deploy it.
pub(crate) struct Example {
    /// The files, passed together (relative to `examples/stacks`).
    pub(crate) files: &'static [&'static str],
    /// What `docker stack deploy` gets for the same stack when `files` use compose-spec keys
    /// docker refuses (written out by hand); `None`: the same files.
    pub(crate) docker_files: Option<&'static [&'static str]>,
    /// The files use the external objects of `externals.yml` (see [`Externals`]).
    pub(crate) externals: bool,
}

const fn example(files: &'static [&'static str]) -> Example {
    Example {
        files,
        docker_files: None,
        externals: false,
    }
}

/// Every example stack. Together they use every key the loader accepts (a test checks it).
pub(crate) const EXAMPLES: &[Example] = &[
    example(&["agent-global.yml"]),
    example(&["anchors.yml"]),
    Example {
        docker_files: Some(&["compose-spec/as-docker.yml"]),
        ..example(&["compose-spec.yml"])
    },
    Example {
        externals: true,
        ..example(&["externals.yml"])
    },
    example(&["jobs.yml"]),
    example(&["legacy.yml"]),
    example(&["monitoring.yml"]),
    example(&["reverse-proxy.yml"]),
    example(&["rollout.yml"]),
    example(&["secrets.yml"]),
    example(&["web-db-cache.yml"]),
    example(&["override/base.yml", "override/prod.yml"]),
];

impl Example {
    /// A short name for stack names and messages: `override-base`.
    pub(crate) fn stem(&self) -> String {
        self.files[0].trim_end_matches(".yml").replace('/', "-")
    }
}

/// The objects `examples/stacks/externals.yml` expects to exist, created under unique names
/// (passed to the file through its environment variables) and removed on drop.
pub(crate) struct Externals {
    env: Vec<(&'static str, String)>,
}

impl Externals {
    pub(crate) fn create(prefix: &str) -> Self {
        let name = |what: &str| format!("{prefix}-{what}");
        let externals = Self {
            env: vec![
                ("PROXY_NETWORK", name("proxy")),
                ("OPS_NETWORK", name("ops")),
                ("AUDIT_NETWORK", name("audit")),
                ("BACKUP_VOLUME", name("backups")),
                ("REGISTRY_TOKEN", name("registry-token")),
                ("LEGACY_TOKEN", name("legacy-token")),
                ("MOTD", name("motd")),
                ("LEGACY_MOTD", name("legacy-motd")),
            ],
        };
        let get = |key: &str| externals.value(key).to_owned();
        docker(&[
            "network",
            "create",
            "--driver",
            "overlay",
            "--attachable",
            &get("PROXY_NETWORK"),
        ]);
        docker(&[
            "network",
            "create",
            "--driver",
            "overlay",
            &get("OPS_NETWORK"),
        ]);
        docker(&["volume", "create", &get("BACKUP_VOLUME")]);
        for (kind, key) in [
            ("secret", "REGISTRY_TOKEN"),
            ("secret", "LEGACY_TOKEN"),
            ("config", "MOTD"),
            ("config", "LEGACY_MOTD"),
        ] {
            let file = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(file.path(), format!("{key} of {prefix}\n")).unwrap();
            docker(&[
                kind,
                "create",
                &get(key),
                &file.path().display().to_string(),
            ]);
        }
        externals
    }

    /// The variables that point the example at these objects.
    pub(crate) fn env(&self) -> &[(&'static str, String)] {
        &self.env
    }

    fn value(&self, key: &str) -> &str {
        self.env
            .iter()
            .find(|(k, _)| *k == key)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// Must not panic. Runs after the stack using the objects is gone (declare it first); the
/// volume is removable once the stack's containers are, which takes a moment.
impl Drop for Externals {
    fn drop(&mut self) {
        let run = |args: &[&str]| {
            Command::new("docker")
                .args(args)
                .output()
                .is_ok_and(|o| o.status.success())
        };
        for (kind, key) in [
            ("secret", "REGISTRY_TOKEN"),
            ("secret", "LEGACY_TOKEN"),
            ("config", "MOTD"),
            ("config", "LEGACY_MOTD"),
        ] {
            run(&[kind, "rm", self.value(key)]);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut left = vec![
            ("network", self.value("PROXY_NETWORK")),
            ("network", self.value("OPS_NETWORK")),
            ("volume", self.value("BACKUP_VOLUME")),
        ];
        while !left.is_empty() && Instant::now() < deadline {
            left.retain(|(kind, name)| !run(&[kind, "rm", name]));
            if !left.is_empty() {
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
}

/// Remove `stack`'s services, then their containers, before anything else of the stack. The
/// 20.10 daemon keeps the containers of finished job tasks (and of failed tasks) after their
/// service is gone, and with them the node's copy of the stack network; Swarm then hands that
/// network's subnet to a new network, whose tasks fail with "Pool overlaps". With the
/// containers gone first, the network goes cleanly. Returns the anonymous volumes those
/// containers had, to remove once the stack is gone. Never panics.
pub(crate) fn remove_services_and_containers(stack: &str) -> Vec<String> {
    let filter = format!("label=com.docker.stack.namespace={stack}");
    // IDs listed by `docker <args> --filter label=...`; none if the CLI fails.
    let list = |args: &[&str]| -> Vec<String> {
        Command::new("docker")
            .args(args)
            .args(["--filter", &filter])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let services = list(&["service", "ls", "-q"]);
    if services.is_empty() {
        return anonymous_volumes(stack);
    }
    // A task already handed to the node still gets its container after its service is removed;
    // so first let every task get past its start (at most 20 s; running ones are stopped below).
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let Ok(out) = Command::new("docker")
            .args(["stack", "ps", stack, "--format", "{{.CurrentState}}"])
            .output()
        else {
            break;
        };
        let states = String::from_utf8_lossy(&out.stdout).into_owned();
        let starting = states.lines().any(|state| {
            [
                "New",
                "Pending",
                "Assigned",
                "Accepted",
                "Preparing",
                "Ready",
                "Starting",
            ]
            .iter()
            .any(|s| state.starts_with(s))
        });
        if !starting {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let anonymous = anonymous_volumes(stack);
    let _ = Command::new("docker")
        .args(["service", "rm"])
        .args(&services)
        .output();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let containers = list(&["container", "ls", "-aq"]);
        if containers.is_empty() || Instant::now() > deadline {
            return anonymous;
        }
        let _ = Command::new("docker")
            .args(["container", "rm", "-f", "-v"])
            .args(&containers)
            .output();
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The anonymous volumes (a mount without a source: no name, no labels) of `stack`'s
/// containers, to remove once the stack is gone. Never panics.
pub(crate) fn anonymous_volumes(stack: &str) -> Vec<String> {
    let filter = format!("label=com.docker.stack.namespace={stack}");
    let Ok(out) = Command::new("docker")
        .args(["container", "ls", "-aq", "--filter", &filter])
        .output()
    else {
        return Vec::new();
    };
    let ids = String::from_utf8_lossy(&out.stdout).into_owned();
    if ids.trim().is_empty() {
        return Vec::new();
    }
    let format = "{{range .Mounts}}{{if eq .Type \"volume\"}}{{.Name}} {{end}}{{end}}";
    let Ok(out) = Command::new("docker")
        .args(["container", "inspect", "--format", format])
        .args(ids.split_whitespace())
        .output()
    else {
        return Vec::new();
    };
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Remove these volumes, retrying for a while as their containers go. Never panics.
pub(crate) fn remove_volumes(names: &[String]) {
    let mut left: Vec<&String> = names.iter().collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !left.is_empty() && Instant::now() < deadline {
        left.retain(|name| {
            !Command::new("docker")
                .args(["volume", "rm", name.as_str()])
                .output()
                .is_ok_and(|o| o.status.success())
        });
        if !left.is_empty() {
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// Remove the local volumes Swarm created for the stack's mounts (labelled with its
/// namespace), retrying while containers still hold them. Never panics.
pub(crate) fn remove_stack_leftovers(stack: &str) {
    let filter = format!("label=com.docker.stack.namespace={stack}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let Ok(out) = Command::new("docker")
            .args(["volume", "ls", "-q", "--filter", &filter])
            .output()
        else {
            return;
        };
        let names = String::from_utf8_lossy(&out.stdout).into_owned();
        if names.trim().is_empty() {
            return;
        }
        let _ = Command::new("docker")
            .arg("volume")
            .arg("rm")
            .args(names.split_whitespace())
            .output();
        std::thread::sleep(Duration::from_millis(500));
    }
}
