//! `plan --out` then `apply --plan-file`: applied while nothing moved, refused once it did.

use super::swarm::{docker, unique_stack};
use super::util::{Test, stderr, stdout};

const STACK: &str =
    "services:\n  web:\n    image: stackctl-test/app:1\n    deploy:\n      replicas: 1\n";

struct Removed(String);

impl Drop for Removed {
    fn drop(&mut self) {
        let _ = Test::new().args(&["rm", &self.0]).run();
    }
}

#[test]
fn a_saved_plan_is_applied_only_while_the_cluster_has_not_moved() {
    let stack = unique_stack("plan-file");
    let _cleanup = Removed(stack.clone());
    let test = Test::new().file("stack.yml", STACK);
    let plan = test.path().join("plan.json").display().to_string();
    let run = |args: &[&str]| Test::new().file("stack.yml", STACK).args(args).run();
    let dir = test.path().display().to_string();
    let file = format!("{dir}/stack.yml");

    let saved = run(&["plan", "-s", &stack, "--out", &plan, &file]);
    assert_eq!(saved.status.code(), Some(0), "{}", stderr(&saved));
    let applied = run(&["apply", "-y", "-s", &stack, "--plan-file", &plan, &file]);
    assert_eq!(
        applied.status.code(),
        Some(0),
        "{}{}",
        stdout(&applied),
        stderr(&applied)
    );

    // A new plan (no changes), then someone scales the service behind our back.
    let changed = STACK.replace("replicas: 1", "replicas: 2");
    let test2 = Test::new().file("stack.yml", &changed);
    let file2 = test2.path().join("stack.yml").display().to_string();
    let plan2 = test2.path().join("plan.json").display().to_string();
    let saved = Test::new()
        .args(&["plan", "-s", &stack, "--out", &plan2, &file2])
        .run();
    assert_eq!(saved.status.code(), Some(0), "{}", stderr(&saved));
    docker(&[
        "service",
        "update",
        "--detach",
        "--label-add",
        "moved=yes",
        &format!("{stack}_web"),
    ]);
    let refused = Test::new()
        .args(&["apply", "-y", "-s", &stack, "--plan-file", &plan2, &file2])
        .run();
    let err = stderr(&refused);
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the saved plan no longer holds")
            && err.contains(&format!("service {stack}_web changed")),
        "{err}"
    );
    // Nothing was written: the replicas are still 1.
    let replicas = docker(&[
        "service",
        "inspect",
        "--format",
        "{{.Spec.Mode.Replicated.Replicas}}",
        &format!("{stack}_web"),
    ]);
    assert_eq!(replicas.trim(), "1");
}
