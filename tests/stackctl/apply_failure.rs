//! A rollout that fails ends the apply non-zero, saying what happened: swarm's own
//! `failure_action` (rollback, pause, continue) and stackctl's `--on-failure rollback`.

use std::fmt::Write as _;

use super::apply::{Run, Stack, apply, apply_ok, web_stack};
use super::util::Test;

/// Fast failure detection: `app:bad` is never healthy and exits after ~3 s.
fn update_with(action: &str) -> String {
    format!(
        "{{parallelism: 1, delay: 1s, monitor: 3s, order: start-first, failure_action: {action}}}"
    )
}

/// Two replicas on app:1, then an apply to app:bad with `failure_action: action`.
fn bad_update(stack: &Stack, action: &str) -> Run {
    apply_ok(
        stack,
        &web_stack("stackctl-test/app:1", 2, &update_with(action)),
    );
    let bad = web_stack("stackctl-test/app:bad", 2, &update_with(action));
    apply(
        Test::new().file("stack.yml", &bad),
        stack,
        &["stack.yml"],
        &[],
    )
}

#[test]
fn failure_action_rollback_fails_the_apply_and_restores_the_image() {
    let stack = Stack::new("apfl-rollback");
    let run = bad_update(&stack, "rollback");
    let service = stack.service_name("web");
    assert_eq!(run.code, Some(1), "{}", run.text());
    assert!(
        run.summary_of(&service)
            .starts_with(&format!("  FAIL {service}: rolled back: ")),
        "{}",
        run.text()
    );
    assert!(run.stdout.contains("\nApply FAILED in "), "{}", run.text());
    assert_eq!(stack.image("web"), "stackctl-test/app:1");
    let state = &stack.inspect("web")["UpdateStatus"]["State"];
    assert_eq!(state, "rollback_completed");
    // Regression: the outcome's own text was prefixed a second time.
    assert!(
        !run.stdout.contains("rolled back: rolled back:"),
        "stuttering summary:\n{}",
        run.text()
    );
}

#[test]
fn failure_action_pause_fails_the_apply_and_says_how_to_continue() {
    let stack = Stack::new("apfl-pause");
    let run = bad_update(&stack, "pause");
    let service = stack.service_name("web");
    assert_eq!(run.code, Some(1), "{}", run.text());
    let summary = run.summary_of(&service);
    assert!(
        summary.starts_with(&format!("  FAIL {service}: paused: ")),
        "{}",
        run.text()
    );
    assert!(
        summary.contains("resume with `docker service update"),
        "{summary}"
    );
    assert!(summary.contains("`stackctl rollback`"), "{summary}");
    let live = stack.inspect("web");
    assert_eq!(live["UpdateStatus"]["State"], "paused");
    assert_eq!(stack.image("web"), "stackctl-test/app:bad");
}

/// Swarm's `continue` completes the update although the new tasks never run. stackctl judges
/// by the tasks, not by swarm's "update completed": a service none of whose tasks can run has
/// not converged, so the apply fails (after `FailurePolicy`'s three task failures) and leaves
/// the spec as written, since `--on-failure` is `stop`, not `rollback`.
#[test]
fn failure_action_continue_with_failing_tasks_fails_the_apply() {
    let stack = Stack::new("apfl-continue");
    let run = bad_update(&stack, "continue");
    let service = stack.service_name("web");
    assert_eq!(run.code, Some(1), "{}", run.text());
    let line = run.summary_of(&service);
    assert!(
        line.starts_with(&format!("  FAIL {service}: failed: ")) && line.contains("tasks failed"),
        "{}",
        run.text()
    );
    assert_eq!(stack.image("web"), "stackctl-test/app:bad");
    // Regression: the outcome's own text was prefixed a second time.
    assert!(
        !run.stdout.contains("failed: failed:"),
        "stuttering summary:\n{}",
        run.text()
    );
}

/// Services `a` and `b` go app:1 -> app:2 (fine), `c` goes to app:bad with `failure_action`.
fn three_services(image_ab: &str, image_c: &str, action: &str) -> String {
    let update = update_with(action);
    let mut yaml = String::from("services:\n");
    for (key, image) in [("a", image_ab), ("b", image_ab), ("c", image_c)] {
        let _ = write!(
            yaml,
            "  {key}:
    image: {image}
    deploy:
      replicas: 1
      update_config: {update}
      rollback_config: {{parallelism: 0, monitor: 2s}}
"
        );
    }
    yaml
}

/// `--on-failure rollback`: when `c` fails, every service this apply updated returns to its
/// previous image, and the summary names what happened to each.
fn on_failure_rollback(prefix: &str, action: &str) {
    let stack = Stack::new(prefix);
    let app1 = "stackctl-test/app:1";
    apply_ok(&stack, &three_services(app1, app1, action));
    let next = three_services("stackctl-test/app:2", "stackctl-test/app:bad", action);
    let run = apply(
        Test::new().file("stack.yml", &next),
        &stack,
        &["stack.yml"],
        &["--on-failure", "rollback"],
    );
    assert_eq!(run.code, Some(1), "{}", run.text());
    assert!(run.stdout.contains("\nApply FAILED in "), "{}", run.text());
    let c = stack.service_name("c");
    for key in ["a", "b", "c"] {
        let service = stack.service_name(key);
        assert_eq!(stack.image(key), app1, "{service}:\n{}", run.text());
        let line = run.summary_of(&service);
        assert!(
            line.starts_with(&format!("  FAIL {service}: rolled back")),
            "{service}: {}",
            run.text()
        );
        if key != "c" {
            assert!(
                line.contains(&format!("after {c} failed")),
                "{service}: {}",
                run.text()
            );
        }
    }
}

#[test]
fn on_failure_rollback_restores_every_updated_service_after_a_pause() {
    on_failure_rollback("apfl-all-pause", "pause");
}

#[test]
fn on_failure_rollback_restores_every_updated_service_after_failing_tasks() {
    on_failure_rollback("apfl-all-cont", "continue");
}
