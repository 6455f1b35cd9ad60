//! Ctrl-C (SIGINT) at each phase of an apply, the phase chosen by holding one call in the fault
//! proxy and signalling while it is held (no timing races): the lock is never left behind and
//! the history records exactly what was written, or nothing when nothing was.

use std::time::Instant;

use serde_json::json;

use super::apply::{Run, Stack};
use super::apply_faults::{SEEN_WITHIN, apply_via, history_len, last_entry};
use super::fault_proxy::{Fault, FaultProxy, Rule};
use super::util::Test;
use super::watcher::lock_configs;

/// Apply `test`'s files through a proxy holding the call `method path` (nth occurrence),
/// send SIGINT while it is held, then let it through.
fn interrupt_at(stack: &Stack, test: Test, method: &'static str, path: &str, nth: usize) -> Run {
    let proxy = FaultProxy::start(Rule::new(method, path, nth, Fault::Hold));
    let test = apply_via(test, stack, Some(&proxy), &["--max-parallel-services", "1"]);
    let started = Instant::now();
    let child = test.spawn();
    proxy.wait_held(1, SEEN_WITHIN);
    let pid = child.id().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    proxy.release();
    Run::of_child(child, started)
}

const TWO_SERVICES: &str = "services:
  a:
    image: stackctl-test/app:1
    configs: [site]
    deploy: {replicas: 1, update_config: {monitor: 1s}}
  b:
    image: stackctl-test/app:1
    deploy: {replicas: 1, update_config: {monitor: 1s}}
configs:
  site: {file: ./site.txt}
";

fn files() -> Test {
    Test::new()
        .file("stack.yml", TWO_SERVICES)
        .file("site.txt", "site\n")
}

/// Stopped with nothing written: exit 130, no lock, no history entry, nothing in the stack.
fn check_nothing_written(stack: &Stack, run: &Run) {
    assert_eq!(run.code, Some(130), "{}", run.text());
    assert_eq!(lock_configs(stack), "", "{}", run.text());
    assert_eq!(history_len(stack), 0, "{}", run.text());
    assert_eq!(stack.leftovers(), Vec::<String>::new(), "{}", run.text());
}

/// Stopped after writing: exit 130, no lock, and the entry lists exactly `created`.
fn check_written(stack: &Stack, run: &Run, created: &[String], outcome: &str) {
    assert_eq!(run.code, Some(130), "{}", run.text());
    assert_eq!(lock_configs(stack), "", "{}", run.text());
    assert_eq!(
        last_entry(stack),
        json!({"created": created, "updated": [], "removed": [], "outcome": outcome}),
        "{}",
        run.text()
    );
    assert!(
        run.flat_stderr().contains(&format!(
            "nothing is half-written. Written: created {}.",
            created.join(", ")
        )),
        "{}",
        run.text()
    );
}

#[test]
fn sigint_while_taking_the_lock_applies_nothing() {
    let stack = Stack::new("apin-lock");
    let run = interrupt_at(&stack, files(), "GET", "/configs?*stackctl-lock_*", 1);
    assert!(
        run.stderr
            .contains("Interrupted while waiting for the lock; nothing was applied."),
        "{}",
        run.text()
    );
    check_nothing_written(&stack, &run);
}

/// The plan is read a second time under the lock. A plan lists services once (every
/// `<stack>_…` name, whoever holds it): the second list is the re-plan.
#[test]
fn sigint_during_the_replan_applies_nothing_and_releases_the_lock() {
    let stack = Stack::new("apin-replan");
    let run = interrupt_at(&stack, files(), "GET", "/services?*", 2);
    assert!(
        run.flat_stderr()
            .contains("nothing is half-written. Written: nothing."),
        "{}",
        run.text()
    );
    check_nothing_written(&stack, &run);
}

#[test]
fn sigint_during_object_writes_records_the_objects_written() {
    let stack = Stack::new("apin-objects");
    let s = &stack.name;
    let run = interrupt_at(&stack, files(), "POST", "/networks/create", 1);
    let stopped = "not started: stopping was asked for";
    check_written(
        &stack,
        &run,
        &[format!("network {s}_default")],
        &format!("interrupted: {s}_a: {stopped}; {s}_b: {stopped}"),
    );
}

#[test]
fn sigint_during_service_writes_records_the_services_written() {
    let stack = Stack::new("apin-services");
    let s = &stack.name;
    let run = interrupt_at(&stack, files(), "POST", "/services/create", 1);
    check_written(
        &stack,
        &run,
        &[
            format!("network {s}_default"),
            format!("config {s}_site"),
            format!("{s}_a"),
        ],
        &format!(
            "interrupted: {s}_a: still rolling out in Swarm (stopped watching; see `stackctl status`); {s}_b: not started: stopping was asked for"
        ),
    );
}

#[test]
fn sigint_during_the_watch_records_every_write() {
    let stack = Stack::new("apin-watch");
    let s = &stack.name;
    let one = "services:\n  web:\n    image: stackctl-test/app:1\n    deploy: {replicas: 1}\n";
    let run = interrupt_at(
        &stack,
        Test::new().file("stack.yml", one),
        "GET",
        "/tasks*",
        1,
    );
    check_written(
        &stack,
        &run,
        &[format!("network {s}_default"), format!("{s}_web")],
        &format!(
            "interrupted: {s}_web: still rolling out in Swarm (stopped watching; see `stackctl status`)"
        ),
    );
}

/// `rollback` holds the stack's lock too; Ctrl-C while it watches the rollback ends it with
/// the lock released.
#[test]
fn sigint_during_a_rollback_releases_the_lock() {
    let stack = Stack::new("apin-rollback");
    let one = "services:\n  web:\n    image: stackctl-test/app:1\n    deploy: {replicas: 1, update_config: {monitor: 1s}}\n";
    for file in [one.to_owned(), one.replace("app:1", "app:2")] {
        let run = Run::of(&apply_via(
            Test::new().file("stack.yml", &file),
            &stack,
            None,
            &[],
        ));
        assert_eq!(run.code, Some(0), "{}", run.text());
    }
    let proxy = FaultProxy::start(Rule::new("GET", "/tasks*", 1, Fault::Hold));
    let rollback = Test::new()
        .args(&["rollback", &stack.name])
        .env("DOCKER_HOST", &proxy.host());
    let started = Instant::now();
    let child = rollback.spawn();
    proxy.wait_held(1, SEEN_WITHIN);
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    let run = Run::of_child(child, started);
    proxy.release();
    assert_eq!(run.code, Some(130), "{}", run.text());
    assert!(
        run.stderr
            .contains("Interrupted; the stack's lock is released"),
        "{}",
        run.text()
    );
    assert_eq!(lock_configs(&stack), "", "{}", run.text());
}
