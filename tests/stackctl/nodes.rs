//! Multi-node tests on the test bed's own three-node swarm (`scripts/testbed --nodes 3`): where
//! Swarm places tasks, and what `plan` says about placement beforehand. Each test is skipped,
//! saying so on stderr, when the bed has no nodes; CI brings them up (scripts/test).
//!
//! The bed (scripts/testbed-nodes): nodes stackctl-node1..3, zone=a on nodes 1 and 3 and
//! zone=b on node 2, disk=ssd on node 1 and disk=hdd on the others; no node has zone=c.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::apply::APPLY_TIMEOUT;
use super::swarm::unique_stack;
use super::util::{Test, stderr, stdout};

/// Where scripts/testbed-nodes says how to reach the bed's swarm.
const ENV_FILE: &str = "/run/stackctl-testbed/nodes.env";
/// Serialises the tests of this module across test processes too (a file in the temp dir):
/// one of them drains a node, which changes what the others see.
const LOCK_FILE: &str = "stackctl-testbed-nodes.lock";
const NODES: usize = 3;

/// The multi-node bed, held for one test.
struct Bed {
    /// `unix:///run/stackctl-node1/docker.sock`.
    host: String,
    _guard: MutexGuard<'static, ()>,
    _lock: CrossProcessLock,
}

/// An exclusive lock on a file in the temp dir, held by a `flock(1)` child until dropped or
/// until this process dies (its stdin closes). `File::lock` is newer than the crate's MSRV.
struct CrossProcessLock(Child);

impl CrossProcessLock {
    fn take() -> Self {
        let path = std::env::temp_dir().join(LOCK_FILE);
        let mut child = Command::new("flock")
            .arg(&path)
            .args(["-c", "echo locked; exec cat"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("flock (util-linux) runs");
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
        assert_eq!(line.trim(), "locked", "flock {} failed", path.display());
        Self(child)
    }
}

impl Drop for CrossProcessLock {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

/// The bed, locked for this test; `None` (and a line on stderr) when it is not up.
fn bed(test: &str) -> Option<Bed> {
    static IN_PROCESS: Mutex<()> = Mutex::new(());
    let host = std::env::var("STACKCTL_TESTBED_NODES_HOST")
        .ok()
        .or_else(|| {
            let env = std::fs::read_to_string(ENV_FILE).ok()?;
            env.lines()
                .find_map(|l| l.strip_prefix("DOCKER_HOST="))
                .map(str::to_owned)
        });
    // Straight to stderr, not eprintln!: the test harness would swallow that for a test that
    // passes, and a skip must be seen.
    let skip = |why: &str| {
        let _ = writeln!(
            std::io::stderr(),
            "skipped: nodes::{test}: {why}; bring the nodes up with `scripts/testbed --nodes 3`"
        );
        None
    };
    let Some(host) = host else {
        return skip(&format!(
            "the multi-node test bed is not up (no {ENV_FILE})"
        ));
    };
    let out = docker_at(&host, &["node", "ls", "--format", "{{.Hostname}}"]);
    let count = String::from_utf8_lossy(&out.stdout).lines().count();
    if !out.status.success() || count < NODES {
        return skip(&format!(
            "the swarm at {host} has {count} node(s), these tests need {NODES}"
        ));
    }
    let guard = IN_PROCESS.lock().unwrap_or_else(PoisonError::into_inner);
    Some(Bed {
        host,
        _guard: guard,
        _lock: CrossProcessLock::take(),
    })
}

fn docker_at(host: &str, args: &[&str]) -> Output {
    Command::new("docker")
        .arg("-H")
        .arg(host)
        .args(args)
        .output()
        .expect("docker CLI runs")
}

impl Bed {
    /// `docker -H <bed> ARGS`, which must succeed; its stdout.
    fn docker(&self, args: &[&str]) -> String {
        let out = docker_at(&self.host, args);
        assert!(
            out.status.success(),
            "docker {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `stackctl ARGS` against the bed, with `stack.yml` holding `yaml`.
    fn stackctl(&self, yaml: &str, args: &[&str]) -> Output {
        Test::new()
            .file("stack.yml", yaml)
            .env("DOCKER_HOST", &self.host)
            .args(args)
            .run()
    }

    /// `plan --format json`, which must succeed.
    fn plan_json(&self, stack: &str, yaml: &str) -> Value {
        let out = self.stackctl(
            yaml,
            &["plan", "--format", "json", "-s", stack, "stack.yml"],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).expect("plan --format json prints JSON")
    }

    /// `apply -y` (extra flags after), which must succeed.
    fn apply(&self, stack: &str, yaml: &str, extra: &[&str]) {
        let mut args = vec!["apply", "-y", "--timeout", APPLY_TIMEOUT, "-s", stack];
        args.extend(extra);
        args.push("stack.yml");
        let out = self.stackctl(yaml, &args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "apply failed:\n{}{}",
            stdout(&out),
            stderr(&out)
        );
    }

    /// Hostnames of the nodes by node ID.
    fn hostnames(&self) -> BTreeMap<String, String> {
        self.docker(&["node", "ls", "--format", "{{.ID}} {{.Hostname}}"])
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(id, name)| (id.to_owned(), name.to_owned()))
            .collect()
    }

    /// The hostnames of the service's running tasks, one entry per task.
    fn running_on(&self, service: &str) -> Vec<String> {
        let names = self.hostnames();
        let tasks = self.docker(&[
            "service",
            "ps",
            "--filter",
            "desired-state=running",
            "--format",
            "{{.Node}} {{.CurrentState}}",
            service,
        ]);
        let mut on: Vec<String> = tasks
            .lines()
            .filter(|l| l.split(' ').nth(1) == Some("Running"))
            .filter_map(|l| l.split(' ').next())
            .map(|node| names.get(node).cloned().unwrap_or_else(|| node.to_owned()))
            .collect();
        on.sort();
        on
    }

    /// Wait (up to a minute) until `done` holds for the service's running tasks' nodes.
    fn wait_running(&self, service: &str, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let on = self.running_on(service);
            if done(&on) || Instant::now() > deadline {
                return on;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// A stack on the bed, removed (and waited for) on drop.
struct BedStack<'a> {
    bed: &'a Bed,
    name: String,
}

impl Drop for BedStack<'_> {
    fn drop(&mut self) {
        let _ = docker_at(&self.bed.host, &["stack", "rm", &self.name]);
        let filter = format!("label=com.docker.stack.namespace={}", self.name);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let left = ["service", "network"].iter().any(|kind| {
                docker_at(&self.bed.host, &[kind, "ls", "-q", "--filter", &filter])
                    .stdout
                    .iter()
                    .any(|b| !b.is_ascii_whitespace())
            });
            if !left {
                return;
            }
            let _ = docker_at(&self.bed.host, &["stack", "rm", &self.name]);
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// A node drained for a test; made active again on drop, whatever happened.
struct Drained<'a> {
    bed: &'a Bed,
    node: String,
}

impl<'a> Drained<'a> {
    fn new(bed: &'a Bed, node: &str) -> Self {
        bed.docker(&["node", "update", "--availability", "drain", node]);
        Self {
            bed,
            node: node.to_owned(),
        }
    }
}

impl Drop for Drained<'_> {
    fn drop(&mut self) {
        let _ = docker_at(
            &self.bed.host,
            &["node", "update", "--availability", "active", &self.node],
        );
    }
}

/// The placement entry of `service` in a JSON plan.
fn placement_of<'p>(plan: &'p Value, service: &str) -> &'p Value {
    plan["placement"]["services"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["name"] == service))
        .unwrap_or_else(|| panic!("no placement for {service}: {plan:#}"))
}

fn warnings(entry: &Value) -> Vec<&str> {
    entry["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

const GLOBAL: &str =
    "services:\n  agent:\n    image: stackctl-test/app:1\n    deploy:\n      mode: global\n";

#[test]
fn a_global_service_runs_on_every_node_then_not_on_a_drained_one() {
    let Some(bed) = bed("a_global_service_runs_on_every_node_then_not_on_a_drained_one") else {
        return;
    };
    let stack = BedStack {
        bed: &bed,
        name: unique_stack("nodes-global"),
    };
    let service = format!("{}_agent", stack.name);
    let plan = bed.plan_json(&stack.name, GLOBAL);
    assert_eq!(plan["placement"]["nodes"], 3, "{plan:#}");
    assert_eq!(plan["placement"]["schedulable_nodes"], 3);
    assert_eq!(placement_of(&plan, &service)["eligible_nodes"], 3);

    bed.apply(&stack.name, GLOBAL, &[]);
    let all = ["stackctl-node1", "stackctl-node2", "stackctl-node3"];
    assert_eq!(bed.wait_running(&service, |on| on == all), all);

    let drained = Drained::new(&bed, "stackctl-node3");
    let rest = ["stackctl-node1", "stackctl-node2"];
    assert_eq!(
        bed.wait_running(&service, |on| on == rest),
        rest,
        "Swarm moves the global service off the drained node"
    );
    let plan = bed.plan_json(&stack.name, GLOBAL);
    for action in ["create", "update", "remove"] {
        assert_eq!(plan["summary"][action], 0, "a drain is no change: {plan:#}");
    }
    assert_eq!(plan["placement"]["nodes"], 3);
    assert_eq!(plan["placement"]["schedulable_nodes"], 2);
    let entry = placement_of(&plan, &service);
    assert_eq!(entry["eligible_nodes"], 2);
    assert!(warnings(entry).is_empty(), "{entry}");
    drop(drained);
}

#[test]
fn a_constraint_no_node_meets_is_named_with_the_zones_there_are() {
    let Some(bed) = bed("a_constraint_no_node_meets_is_named_with_the_zones_there_are") else {
        return;
    };
    let stack = unique_stack("nodes-zone-c");
    let yaml = "services:
  db:
    image: stackctl-test/app:1
    deploy:
      replicas: 2
      placement:
        constraints: [node.labels.zone == c]
";
    let expected = "no node satisfies the placement constraint \"node.labels.zone == c\" (node.labels.zone on the nodes: a, b); none of its 2 task(s) can be scheduled";
    let plan = bed.plan_json(&stack, yaml);
    let entry = placement_of(&plan, &format!("{stack}_db"));
    assert_eq!(entry["eligible_nodes"], 0);
    assert_eq!(warnings(entry), [expected]);

    let out = bed.stackctl(yaml, &["plan", "-s", &stack, "stack.yml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "Placement (3 node(s), 3 taking new tasks):\n  {stack}_db: 0 of 3 node(s) eligible\n    warning: {expected}\n"
        )),
        "{text}"
    );
    let services = bed.docker(&["service", "ls", "-q", "--filter", &format!("name={stack}_")]);
    assert_eq!(services, "", "plan wrote nothing");
}

#[test]
fn spread_over_zones_places_tasks_as_swarm_does_and_plan_counts_eligible_nodes() {
    let Some(bed) =
        bed("spread_over_zones_places_tasks_as_swarm_does_and_plan_counts_eligible_nodes")
    else {
        return;
    };
    let stack = BedStack {
        bed: &bed,
        name: unique_stack("nodes-spread"),
    };
    let yaml = "services:
  spread:
    image: stackctl-test/app:1
    deploy:
      replicas: 4
      placement:
        preferences: [spread: node.labels.zone]
  zone-a:
    image: stackctl-test/app:1
    deploy:
      replicas: 2
      placement:
        constraints: [node.labels.zone == a]
";
    let (spread, zone_a) = (
        format!("{}_spread", stack.name),
        format!("{}_zone-a", stack.name),
    );
    let plan = bed.plan_json(&stack.name, yaml);
    assert_eq!(
        placement_of(&plan, &spread)["eligible_nodes"],
        3,
        "{plan:#}"
    );
    assert_eq!(placement_of(&plan, &zone_a)["eligible_nodes"], 2);
    assert!(warnings(placement_of(&plan, &spread)).is_empty());

    bed.apply(&stack.name, yaml, &[]);
    let zone = |node: &str| if node == "stackctl-node2" { "b" } else { "a" };
    let on = bed.wait_running(&spread, |on| on.len() == 4);
    let in_b = on.iter().filter(|n| zone(n) == "b").count();
    assert_eq!(in_b, 2, "half the tasks in each zone: {on:?}");
    let on = bed.wait_running(&zone_a, |on| on.len() == 2);
    assert!(on.iter().all(|n| zone(n) == "a"), "{on:?}");
}

#[test]
fn max_replicas_per_node_below_the_replicas_is_warned_and_swarm_leaves_tasks_pending() {
    let Some(bed) =
        bed("max_replicas_per_node_below_the_replicas_is_warned_and_swarm_leaves_tasks_pending")
    else {
        return;
    };
    let stack = BedStack {
        bed: &bed,
        name: unique_stack("nodes-max"),
    };
    let yaml = "services:
  web:
    image: stackctl-test/app:1
    deploy:
      replicas: 5
      placement:
        max_replicas_per_node: 1
";
    let service = format!("{}_web", stack.name);
    let plan = bed.plan_json(&stack.name, yaml);
    let entry = placement_of(&plan, &service);
    assert_eq!(entry["eligible_nodes"], 3);
    assert_eq!(
        warnings(entry),
        [
            "max_replicas_per_node 1 on 3 eligible node(s) leaves room for 3 of its 5 replicas; 2 will stay pending"
        ]
    );

    // --detach: the rollout can never finish, which is the point.
    bed.apply(&stack.name, yaml, &["--detach"]);
    let on = bed.wait_running(&service, |on| on.len() == 3);
    assert_eq!(on, ["stackctl-node1", "stackctl-node2", "stackctl-node3"]);
    let pending = bed.docker(&[
        "service",
        "ps",
        "--filter",
        "desired-state=running",
        "--format",
        "{{.CurrentState}}|{{.Error}}",
        &service,
    ]);
    let pending: Vec<&str> = pending
        .lines()
        .filter(|l| l.starts_with("Pending"))
        .collect();
    assert_eq!(pending.len(), 2, "{pending:?}");
}

/// The plan's first call is now the node list, which only managers answer: a worker's refusal
/// is still explained with docker's advice (the probe is made then, and only then).
#[test]
fn a_plan_against_a_worker_is_refused_with_advice() {
    let Some(bed) = bed("a_plan_against_a_worker_is_refused_with_advice") else {
        return;
    };
    let worker = bed.docker(&[
        "node",
        "ls",
        "--filter",
        "role=worker",
        "--format",
        "{{.Hostname}}",
    ]);
    let Some(worker) = worker.lines().next() else {
        let _ = writeln!(
            std::io::stderr(),
            "skipped: nodes::a_plan_against_a_worker_is_refused_with_advice: every node is a manager (--managers 3)"
        );
        return;
    };
    let out = Test::new()
        .file("stack.yml", GLOBAL)
        .env("DOCKER_HOST", &format!("unix:///run/{worker}/docker.sock"))
        .args(&["plan", "-s", &unique_stack("nodes-worker"), "stack.yml"])
        .run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = super::plan_cli::unwrapped(&stderr(&out));
    for expected in [
        "this node is not a swarm manager: worker nodes can't view or modify cluster state",
        "help: run stackctl against a manager node, or promote this node",
    ] {
        assert!(err.contains(expected), "{expected:?} not in {err}");
    }
}
