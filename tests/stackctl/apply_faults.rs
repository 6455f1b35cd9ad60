//! An apply that fails part-way, driven by the fault proxy on the real Swarm: it exits 1 naming
//! the call that failed (never "a bug in stackctl" for what the daemon sent), says what it had
//! already written, records exactly that in the history, and the next apply continues.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::apply::{Run, Stack, apply_command, plan_exit, stack_command};
use super::fault_proxy::{Fault, FaultProxy, Rule};
use super::swarm::docker;
use super::util::Test;
use super::watcher::{history, lock_configs};

/// How long a test waits for the proxy to see a call.
pub(crate) const SEEN_WITHIN: Duration = Duration::from_secs(60);

/// `test` set up to apply `stack`'s `stack.yml`, through `proxy` when given.
pub(crate) fn apply_via(
    test: Test,
    stack: &Stack,
    proxy: Option<&FaultProxy>,
    extra: &[&str],
) -> Test {
    let test = apply_command(test, stack, &["stack.yml"], extra);
    match proxy {
        Some(proxy) => test.env("DOCKER_HOST", &proxy.host()),
        None => test,
    }
}

/// The newest history entry's `created`, `updated`, `removed` and `outcome`, as JSON.
pub(crate) fn last_entry(stack: &Stack) -> Value {
    let (_, entries) = history(stack);
    let last = entries.last().cloned().unwrap_or(Value::Null);
    let field = |key: &str| last.get(key).cloned().unwrap_or_else(|| json!([]));
    json!({
        "created": field("created"),
        "updated": field("updated"),
        "removed": field("removed"),
        "outcome": last["outcome"],
    })
}

pub(crate) fn history_len(stack: &Stack) -> usize {
    history(stack).1.len()
}

const TWO_CONFIGS: &str = "services:
  web:
    image: stackctl-test/app:1
    configs: [one, two]
    deploy: {replicas: 1, update_config: {monitor: 1s}}
configs:
  one: {file: ./one.txt}
  two: {file: ./two.txt}
";

fn two_configs() -> Test {
    Test::new()
        .file("stack.yml", TWO_CONFIGS)
        .file("one.txt", "one\n")
        .file("two.txt", "two\n")
}

/// The daemon refuses the second config: the network and the first config stay written, the
/// history says so, `status` shows the stack without services, and the next apply finishes it.
#[test]
fn a_refused_object_create_is_recorded_with_what_was_written() {
    let stack = Stack::new("apft-object");
    let s = &stack.name;
    // The first config created is the stack's lock, then `one`, then `two`.
    let proxy = FaultProxy::start(Rule::new("POST", "/configs/create", 3, Fault::Status(500)));
    let run = Run::of(&apply_via(two_configs(), &stack, Some(&proxy), &[]));
    assert_eq!(run.code, Some(1), "{}", run.text());
    let flat = run.flat_stderr();
    let error = format!(
        "cannot create config {s}_two: the Docker daemon refused the request (500): injected fault: POST /configs/create refused with 500"
    );
    assert!(flat.contains(&error), "{}", run.text());
    let written = format!(
        "help: already written: created network {s}_default, config {s}_one; the next `stackctl apply` continues from there"
    );
    assert!(flat.contains(&written), "{}", run.text());
    assert!(!flat.contains("bug in stackctl"), "{}", run.text());
    assert_eq!(
        last_entry(&stack),
        json!({
            "created": [format!("network {s}_default"), format!("config {s}_one")],
            "updated": [], "removed": [],
            "outcome": format!("failed: {error}"),
        })
    );
    assert_eq!(lock_configs(&stack), "");

    let status = stack_command("status", &stack, &[]);
    assert_eq!(status.code, Some(0), "{}", status.text());
    let head: Vec<&str> = status.stdout.lines().take(3).collect();
    assert_eq!(
        head,
        [
            "No services.".to_owned(),
            format!("Networks: {s}_default"),
            format!("Configs: {s}_one"),
        ],
        "{}",
        status.text()
    );
    assert!(
        status.stdout.contains(&format!(": failed: {error}\n")),
        "{}",
        status.text()
    );

    let again = Run::of(&apply_via(two_configs(), &stack, None, &[]));
    assert_eq!(again.code, Some(0), "{}", again.text());
    assert_eq!(
        last_entry(&stack),
        json!({
            "created": [format!("config {s}_two"), format!("{s}_web")],
            "updated": [], "removed": [], "outcome": "succeeded",
        })
    );
}

const ONE_SERVICE: &str = "services:
  web:
    image: stackctl-test/app:1
    deploy: {replicas: 1, update_config: {monitor: 1s}}
";

/// Garbage instead of the task list while the rollout is watched: the error names the watch
/// and the answer, blames no bug, and the service written before it is recorded.
#[test]
fn a_garbage_answer_mid_watch_names_the_call_and_records_the_writes() {
    let stack = Stack::new("apft-garbage");
    let s = &stack.name;
    let proxy = FaultProxy::start(Rule::new("GET", "/tasks*", 1, Fault::Garbage));
    let test = apply_via(
        Test::new().file("stack.yml", ONE_SERVICE),
        &stack,
        Some(&proxy),
        &[],
    );
    let run = Run::of(&test);
    assert_eq!(run.code, Some(1), "{}", run.text());
    let flat = run.flat_stderr();
    let error = format!(
        "watching the rollout of {s}_web failed: unexpected exchange with the Docker daemon: its answer about tasks could not be read: "
    );
    assert!(flat.contains(&error), "{}", run.text());
    assert!(!flat.contains("bug in stackctl"), "{}", run.text());
    let written = format!(
        "help: already written: created network {s}_default, {s}_web; the next `stackctl apply` continues from there"
    );
    assert!(flat.contains(&written), "{}", run.text());
    let entry = last_entry(&stack);
    assert_eq!(
        entry["created"],
        json!([format!("network {s}_default"), format!("{s}_web")])
    );
    assert_eq!(
        (entry["updated"].clone(), entry["removed"].clone()),
        (json!([]), json!([]))
    );
    let outcome = entry["outcome"].as_str().unwrap_or_default();
    assert!(
        outcome.starts_with(&format!("failed: {error}")),
        "{outcome}"
    );
    assert_eq!(lock_configs(&stack), "");
    // Everything was written: the files hold, nothing is left to apply.
    let plan = plan_exit(&stack, ONE_SERVICE);
    assert_eq!(plan.code, Some(0), "{}", plan.text());
}

/// The daemon refuses the service create: the apply fails for that service only; the network
/// it created is recorded, the service is not.
#[test]
fn a_refused_service_create_fails_that_service_and_records_the_network() {
    let stack = Stack::new("apft-service");
    let s = &stack.name;
    let proxy = FaultProxy::start(Rule::new("POST", "/services/create", 1, Fault::Status(500)));
    let test = apply_via(
        Test::new().file("stack.yml", ONE_SERVICE),
        &stack,
        Some(&proxy),
        &[],
    );
    let run = Run::of(&test);
    assert_eq!(run.code, Some(1), "{}", run.text());
    let cause = format!(
        "failed: cannot create service {s}_web: the Docker daemon refused the request (500): injected fault: POST /services/create refused with 500"
    );
    assert_eq!(
        run.summary_of(&format!("{s}_web")),
        format!("  FAIL {s}_web: {cause}"),
        "{}",
        run.text()
    );
    let written = format!(
        "Already written: created network {s}_default; the next `stackctl apply` continues from there."
    );
    assert!(run.stderr.contains(&written), "{}", run.text());
    assert_eq!(
        last_entry(&stack),
        json!({
            "created": [format!("network {s}_default")],
            "updated": [], "removed": [],
            "outcome": format!("{s}_web: {cause}"),
        })
    );
    assert_eq!(lock_configs(&stack), "");
}

/// Someone updates the service between the plan and stackctl's write (the write is held by the
/// proxy meanwhile): the daemon refuses the stale version, the apply says so, plans the
/// service again against what is there now, shows that plan and writes it.
#[test]
fn a_version_conflict_on_a_service_update_is_replanned_visibly() {
    let stack = Stack::new("apft-conflict");
    let s = &stack.name;
    let first = Run::of(&apply_via(
        Test::new().file("stack.yml", ONE_SERVICE),
        &stack,
        None,
        &[],
    ));
    assert_eq!(first.code, Some(0), "{}", first.text());
    let proxy = FaultProxy::start(Rule::new("POST", "/services/*/update*", 1, Fault::Hold));
    let next = ONE_SERVICE.replace("app:1", "app:2");
    let test = apply_via(
        Test::new().file("stack.yml", &next),
        &stack,
        Some(&proxy),
        &[],
    );
    let started = Instant::now();
    let child = test.spawn();
    proxy.wait_held(1, SEEN_WITHIN);
    docker(&[
        "service",
        "update",
        "--detach",
        "--label-add",
        "meddler=was-here",
        &format!("{s}_web"),
    ]);
    proxy.release();
    let run = Run::of_child(child, started);
    assert_eq!(run.code, Some(0), "{}", run.text());
    let flat = run.flat_stderr();
    let conflict = format!(
        "warning: service {s}_web was changed by someone else after the plan read it (version conflict); planned again:"
    );
    assert!(flat.contains(&conflict), "{}", run.text());
    // The new plan shows the other writer's change being undone, and the image change.
    let replanned = &flat[flat.find(&conflict).unwrap()..];
    assert!(replanned.contains("meddler"), "{}", run.text());
    assert!(replanned.contains("app:2"), "{}", run.text());
    assert_eq!(stack.image("web"), "stackctl-test/app:2");
    assert_eq!(stack.inspect("web")["Spec"]["Labels"].get("meddler"), None);
    assert_eq!(
        last_entry(&stack),
        json!({"created": [], "updated": [format!("{s}_web")], "removed": [], "outcome": "succeeded"})
    );
}
