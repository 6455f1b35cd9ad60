//! Two applies of one stack at the same time: the stack's lock makes one wait for the other (or
//! fail at once with `--lock-wait 0s`), and the cluster ends exactly as one set of files says.

use super::apply::{Run, Stack, apply_ok, plan_exit};
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

#[test]
fn concurrent_apply_waits_for_the_lock_then_applies_its_files() {
    let stack = Stack::new("aplk-wait");
    apply_ok(&stack, &version("app:1", "nobody"));
    let runs = race(&stack, "2m");
    let both = format!("{}\n{}", runs[0].text(), runs[1].text());
    assert!(runs.iter().all(|r| r.code == Some(0)), "{both}");
    // The one that waited re-planned against what the other had applied.
    let waited: Vec<usize> = (0..2)
        .filter(|i| {
            runs[*i]
                .stderr
                .contains("The cluster changed since the plan was shown")
        })
        .collect();
    assert_eq!(waited.len(), 1, "{both}");
    let (second, first) = (waited[0], 1 - waited[0]);
    assert!(
        runs[second].elapsed > runs[first].elapsed,
        "the waiting apply ended first:\n{both}"
    );
    let service = stack.service_name("web");
    for run in &runs {
        assert_eq!(
            run.summary_of(&service),
            format!("  ok   {service}: converged")
        );
    }
    check_final_state(&stack, WHO[second], WHO[first], &both);
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

/// The lock outlives its unrenewed lifetime while its apply runs: with a 3 s lifetime, a second
/// apply 6 s into a longer rollout still finds it held (it would have taken over an expired one).
#[test]
fn a_long_apply_renews_its_lock() {
    let stack = Stack::new("aplk-renew");
    apply_ok(&stack, &slow("app:1", "nobody"));
    let long = Test::new()
        .file("stack.yml", &slow("app:2", "first"))
        .env("STACKCTL_LOCK_TTL", "3s")
        .args(&[
            "apply",
            "-y",
            "--timeout",
            "120s",
            "-s",
            &stack.name,
            "stack.yml",
        ]);
    let second = Test::new()
        .file("stack.yml", &slow("app:2", "second"))
        .env("STACKCTL_LOCK_TTL", "3s")
        .args(&[
            "apply",
            "-y",
            "--lock-wait",
            "0s",
            "-s",
            &stack.name,
            "stack.yml",
        ]);
    let (long, second) = std::thread::scope(|scope| {
        let long = scope.spawn(|| Run::of(&long));
        std::thread::sleep(std::time::Duration::from_secs(6));
        let second = Run::of(&second);
        (long.join().unwrap(), second)
    });
    let both = format!("{}\n{}", long.text(), second.text());
    assert_eq!(long.code, Some(0), "{both}");
    assert!(
        long.elapsed.as_secs() > 8,
        "the rollout was too short to test renewal:\n{both}"
    );
    assert_eq!(second.code, Some(1), "{both}");
    let message = format!("stack {} is being applied by ", stack.name);
    assert!(second.stderr.contains(&message), "{both}");
    assert!(!long.stderr.contains("lock was lost"), "{both}");
    assert_eq!(lock_configs(&stack), "", "{both}");
}

/// Two replicas rolled one at a time, 4 s apart: an apply of about 10 s.
fn slow(image: &str, who: &str) -> String {
    web(image, who, 2, "parallelism: 1, delay: 4s, monitor: 2s")
}
