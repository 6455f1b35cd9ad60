//! Two applies of one stack at the same time: the stack's lock makes one wait for the other (or
//! fail at once with `--lock-wait 0s`), and the cluster ends exactly as one set of files says.
//! The lock is renewed while held, taken over atomically when stale, and taken by `rm` and
//! `rollback` too.

use super::apply::{Run, Stack, apply_ok, plan_exit, stack_command};
use super::apply_faults::{SEEN_WITHIN, apply_via};
use super::fault_proxy::{Fault, FaultProxy, Rule};
use super::swarm::docker;
use super::util::Test;
use super::watcher::lock_configs;

/// Service `web` running `image` with a marker variable `WHO`, `replicas` of it, rolled out
/// with `update_config` (a flow mapping's inside).
fn web(image: &str, who: &str, replicas: u32, update_config: &str) -> String {
    format!(
        "services:
  web:
    image: stackctl-test/{image}
    environment:
      WHO: {who}
    deploy:
      replicas: {replicas}
      update_config: {{{update_config}}}
"
    )
}

/// `image` with a marker variable `WHO`: each concurrent apply has its own marker, so each has
/// changes pending whichever runs first, and a mix of the two would show.
fn version(image: &str, who: &str) -> String {
    web(
        image,
        who,
        1,
        "parallelism: 1, monitor: 2s, order: start-first",
    )
}

const WHO: [&str; 2] = ["first", "second"];

/// Start both applies at the same moment; returns their runs in the order `[first, second]` of
/// the files (not of who won).
fn race(stack: &Stack, lock_wait: &str) -> [Run; 2] {
    let tests = WHO.map(|who| {
        Test::new()
            .file("stack.yml", &version("app:2", who))
            .args(&["apply", "-y", "--timeout", "120s", "--lock-wait", lock_wait])
            .args(&["-s", &stack.name, "stack.yml"])
    });
    std::thread::scope(|scope| {
        let handles = tests.each_ref().map(|t| scope.spawn(move || Run::of(t)));
        handles.map(|h| h.join().unwrap())
    })
}

/// The cluster matches `winner`'s files exactly and not `loser`'s, and no lock is left.
fn check_final_state(stack: &Stack, winner: &str, loser: &str, runs: &str) {
    let plan = plan_exit(stack, &version("app:2", winner));
    assert_eq!(plan.code, Some(0), "{}\n{runs}", plan.text());
    let plan = plan_exit(stack, &version("app:2", loser));
    assert_eq!(plan.code, Some(2), "{}\n{runs}", plan.text());
    assert_eq!(lock_configs(stack), "", "{runs}");
}

/// One apply holds the lock (the proxy holds its service update); a second one plans, is seen
/// asking for the lock again and again, and only after the first one ends applies its own
/// files, re-planned against what the first one wrote. Ordered by the proxies, not by timing.
#[test]
fn concurrent_apply_waits_for_the_lock_then_applies_its_files() {
    let stack = Stack::new("aplk-wait");
    apply_ok(&stack, &version("app:1", "nobody"));
    let holder = FaultProxy::start(Rule::new("POST", "/services/*/update*", 1, Fault::Hold));
    let first = apply_via(
        Test::new().file("stack.yml", &version("app:2", WHO[0])),
        &stack,
        Some(&holder),
        &[],
    );
    let started = std::time::Instant::now();
    let first = first.spawn();
    holder.wait_held(1, SEEN_WITHIN);
    // Breaks nothing: only there to count the second apply's requests.
    let counter = FaultProxy::start(Rule::new("GET", "/never", 1, Fault::Hold));
    let second = apply_via(
        Test::new().file("stack.yml", &version("app:2", WHO[1])),
        &stack,
        Some(&counter),
        &["--lock-wait", "2m"],
    );
    let second = second.spawn();
    counter.wait_requests("GET", "/configs?*stackctl-lock_*", 2, SEEN_WITHIN);
    holder.release();
    let runs = [
        Run::of_child(first, started),
        Run::of_child(second, started),
    ];
    let both = format!("{}\n{}", runs[0].text(), runs[1].text());
    assert!(runs.iter().all(|r| r.code == Some(0)), "{both}");
    let replanned = "The cluster changed since the plan was shown";
    assert!(!runs[0].stderr.contains(replanned), "{both}");
    assert!(runs[1].stderr.contains(replanned), "{both}");
    let service = stack.service_name("web");
    for run in &runs {
        assert_eq!(
            run.summary_of(&service),
            format!("  ok   {service}: converged")
        );
    }
    check_final_state(&stack, WHO[1], WHO[0], &both);
}

#[test]
fn concurrent_apply_without_lock_wait_fails_with_a_lock_message() {
    let stack = Stack::new("aplk-nowait");
    apply_ok(&stack, &version("app:1", "nobody"));
    let runs = race(&stack, "0s");
    let both = format!("{}\n{}", runs[0].text(), runs[1].text());
    let won: Vec<usize> = (0..2).filter(|i| runs[*i].code == Some(0)).collect();
    assert_eq!(won.len(), 1, "exactly one apply must win:\n{both}");
    let (winner, loser) = (won[0], 1 - won[0]);
    let refused = &runs[loser];
    assert_eq!(refused.code, Some(1), "{both}");
    let message = format!("stack {} is being applied by ", stack.name);
    assert!(refused.stderr.contains(&message), "{both}");
    assert!(refused.stderr.contains("--force-unlock"), "{both}");
    assert!(!refused.stderr.contains("updated service"), "{both}");
    check_final_state(&stack, WHO[winner], WHO[loser], &both);
}

/// The lock outlives its unrenewed lifetime while its apply runs: with a 3 s lifetime, the
/// apply's rollout watch is held by the proxy until four renewals went by (more than one
/// lifetime, counted by the proxy, not slept); a second apply then still finds the lock held.
#[test]
fn a_long_apply_renews_its_lock() {
    let stack = Stack::new("aplk-renew");
    apply_ok(&stack, &version("app:1", "nobody"));
    let proxy = FaultProxy::start(Rule::new("GET", "/tasks*", 1, Fault::Hold));
    let long = apply_via(
        Test::new().file("stack.yml", &version("app:2", "first")),
        &stack,
        Some(&proxy),
        &[],
    )
    .env("STACKCTL_LOCK_TTL", "3s");
    let started = std::time::Instant::now();
    let child = long.spawn();
    proxy.wait_held(1, SEEN_WITHIN);
    proxy.wait_requests("POST", "/configs/*/update*", 4, SEEN_WITHIN);
    let second = Run::of(&apply_via(
        Test::new().file("stack.yml", &version("app:2", "second")),
        &stack,
        None,
        &["--lock-wait", "0s"],
    ));
    proxy.release();
    let long = Run::of_child(child, started);
    let both = format!("{}\n{}", long.text(), second.text());
    assert_eq!(long.code, Some(0), "{both}");
    assert_eq!(second.code, Some(1), "{both}");
    let message = format!("stack {} is being applied by ", stack.name);
    assert!(second.stderr.contains(&message), "{both}");
    assert!(!long.stderr.contains("lock was lost"), "{both}");
    check_final_state(&stack, "first", "second", &both);
}

/// A lock whose holder stopped renewing it, as a dead apply leaves it.
fn stale_lock(stack: &Stack) {
    let data = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(data.path(), "dead apply").unwrap();
    let path = data.path().to_str().unwrap();
    let name = format!("stackctl-lock_{}", stack.name);
    let label = |l: &str| format!("com.stackctl.lock{l}");
    docker(&[
        "config",
        "create",
        "--label",
        &format!("{}={}", label(""), stack.name),
        "--label",
        &format!("{}=1", label(".expires")),
        "--label",
        &format!("{}=1", label(".taken")),
        "--label",
        &format!("{}=a dead apply", label(".owner")),
        &name,
        path,
    ]);
}

/// Two applies find the same stale lock and both try to take it over (the proxy holds both
/// takeovers until each has sent its own, so both read the same version): the daemon accepts
/// one, the other is refused, sees the lock held, and fails without writing anything (its
/// refused takeover is not counted as a write).
#[test]
fn two_contenders_on_a_stale_lock_exactly_one_wins() {
    let stack = Stack::new("aplk-stale");
    apply_ok(&stack, &version("app:1", "nobody"));
    stale_lock(&stack);
    let proxy = FaultProxy::start(Rule::every("POST", "/configs/*/update*", Fault::Hold));
    let tests = WHO.map(|who| {
        apply_via(
            Test::new().file("stack.yml", &version("app:2", who)),
            &stack,
            Some(&proxy),
            &["--lock-wait", "0s"],
        )
    });
    let children = tests
        .each_ref()
        .map(|test| (test.spawn(), std::time::Instant::now()));
    proxy.wait_held(2, SEEN_WITHIN);
    proxy.release();
    let runs = children.map(|(child, started)| Run::of_child(child, started));
    let both = format!("{}\n{}", runs[0].text(), runs[1].text());
    let won: Vec<usize> = (0..2).filter(|i| runs[*i].code == Some(0)).collect();
    assert_eq!(won.len(), 1, "exactly one apply must win:\n{both}");
    let (winner, loser) = (won[0], 1 - won[0]);
    assert_eq!(runs[loser].code, Some(1), "{both}");
    let message = format!("stack {} is being applied by ", stack.name);
    assert!(runs[loser].stderr.contains(&message), "{both}");
    assert_eq!(runs[loser].engine_calls().1, 0, "{both}");
    check_final_state(&stack, WHO[winner], WHO[loser], &both);
}

/// The compare-and-swap the takeover relies on, shown on the daemon itself: two label updates
/// of one config naming the same version, the second refused as a version conflict.
#[tokio::test]
async fn the_daemon_accepts_one_update_per_config_version() {
    use stackctl::engine::{ConnectOptions, Engine, EngineError, connect};
    let stack = Stack::new("aplk-cas");
    let name = format!("stackctl-lock_{}", stack.name);
    let engine = connect(&ConnectOptions::default()).await.unwrap();
    let spec: bollard::models::ConfigSpec = serde_json::from_value(serde_json::json!({
        "Name": name,
        "Labels": {"com.stackctl.lock": stack.name},
        "Data": "eA==",
    }))
    .unwrap();
    let id = engine.create_config(&spec).await.unwrap().id;
    let read = engine.list_configs_named(&[name]).await.unwrap();
    let version = read[0].version.as_ref().and_then(|v| v.index).unwrap();
    let mut first = spec.clone();
    first
        .labels
        .as_mut()
        .unwrap()
        .insert("who".into(), "first".into());
    let mut second = spec;
    second
        .labels
        .as_mut()
        .unwrap()
        .insert("who".into(), "second".into());
    engine.update_config(&id, version, &first).await.unwrap();
    let refused = engine.update_config(&id, version, &second).await;
    assert!(
        matches!(refused, Err(EngineError::VersionConflict { .. })),
        "{refused:?}"
    );
}

/// `rm` and `rollback` take the stack's lock too: while an apply holds it (its rollout watch
/// held by the proxy), both refuse and change nothing; the apply then finishes.
#[test]
fn rm_and_rollback_refuse_while_an_apply_holds_the_lock() {
    let stack = Stack::new("aplk-rm");
    apply_ok(&stack, &version("app:1", "nobody"));
    let proxy = FaultProxy::start(Rule::new("GET", "/tasks*", 1, Fault::Hold));
    let test = apply_via(
        Test::new().file("stack.yml", &version("app:2", "first")),
        &stack,
        Some(&proxy),
        &[],
    );
    let started = std::time::Instant::now();
    let child = test.spawn();
    proxy.wait_held(1, SEEN_WITHIN);
    let message = format!("stack {} is being applied by ", stack.name);
    for command in ["rm", "rollback"] {
        let run = stack_command(command, &stack, &[]);
        assert_eq!(run.code, Some(1), "{command}: {}", run.text());
        assert!(run.stderr.contains(&message), "{command}: {}", run.text());
    }
    assert_eq!(stack.image("web"), "stackctl-test/app:2");
    proxy.release();
    let run = Run::of_child(child, started);
    assert_eq!(run.code, Some(0), "{}", run.text());
    check_final_state(&stack, "first", "nobody", &run.text());
}

/// The daemon refuses the lock's removal at the end of an otherwise good apply (on a first
/// apply the only config removal is the lock's): the apply still succeeds, says the lock was
/// left and how to clear it, and `--force-unlock` does.
#[test]
fn a_lock_that_cannot_be_released_says_how_to_clear_it() {
    let stack = Stack::new("aplk-release");
    let proxy = FaultProxy::start(Rule::new("DELETE", "/configs/*", 1, Fault::Status(500)));
    let file = version("app:1", "nobody");
    let run = Run::of(&apply_via(
        Test::new().file("stack.yml", &file),
        &stack,
        Some(&proxy),
        &[],
    ));
    assert_eq!(run.code, Some(0), "{}", run.text());
    let warning = format!(
        "warning: could not release the lock of stack {s}: the Docker daemon refused the request (500): injected fault: DELETE /configs/",
        s = stack.name
    );
    assert!(run.flat_stderr().contains(&warning), "{}", run.text());
    let advice = format!(
        "it expires by itself, or clear it now with `stackctl apply --force-unlock -s {} FILES`",
        stack.name
    );
    assert!(run.flat_stderr().contains(&advice), "{}", run.text());
    assert_ne!(lock_configs(&stack), "", "{}", run.text());
    let unlocked = Run::of(&apply_via(
        Test::new().file("stack.yml", &file),
        &stack,
        None,
        &["--force-unlock"],
    ));
    assert_eq!(unlocked.code, Some(0), "{}", unlocked.text());
    let removed = format!("removed the apply lock of stack {}", stack.name);
    assert!(unlocked.stderr.contains(&removed), "{}", unlocked.text());
    assert_eq!(lock_configs(&stack), "", "{}", unlocked.text());
}
