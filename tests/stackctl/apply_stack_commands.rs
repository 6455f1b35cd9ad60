//! `status`, `history`, `rollback` and `rm` on a stack deployed by `apply`.

use super::apply::{Run, Stack, apply, apply_ok, stack_command, web_stack};
use super::util::Test;

fn stack_file(web_image: &str) -> String {
    format!(
        "services:
  web:
    image: {web_image}
    deploy:
      replicas: 2
      update_config: {{parallelism: 0, monitor: 2s, order: start-first}}
      rollback_config: {{parallelism: 0, monitor: 2s}}
  worker:
    image: stackctl-test/app:1
    deploy:
      replicas: 1
"
    )
}

/// The status row of `service`, split into its columns.
fn status_row<'a>(status: &'a Run, service: &str) -> Vec<&'a str> {
    status
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cols| cols.first() == Some(&service))
        .unwrap_or_else(|| panic!("no row for {service}:\n{}", status.text()))
}

fn check_status(stack: &Stack) {
    let status = stack_command("status", stack, &[]);
    assert_eq!(status.code, Some(0), "{}", status.text());
    assert!(
        status
            .stdout
            .starts_with("SERVICE                          MODE             REPLICAS   UPDATE"),
        "{}",
        status.text()
    );
    let web = status_row(&status, &stack.service_name("web"));
    assert_eq!(
        web[1..],
        ["replicated", "2/2", "completed", "stackctl-test/app:2"],
        "{}",
        status.text()
    );
    let worker = status_row(&status, &stack.service_name("worker"));
    assert_eq!(
        worker[1..],
        ["replicated", "1/1", "-", "stackctl-test/app:1"],
        "{}",
        status.text()
    );
    let last = status
        .stdout
        .lines()
        .find(|l| l.starts_with("Last apply: "))
        .unwrap_or_else(|| panic!("no last apply:\n{}", status.text()));
    assert!(last.ends_with(" from stack.yml: succeeded"), "{last}");
}

/// Newest first: the update, then the create.
fn check_history(stack: &Stack) {
    let history = stack_command("history", stack, &[]);
    assert_eq!(history.code, Some(0), "{}", history.text());
    let heads: Vec<&str> = history
        .stdout
        .lines()
        .filter(|l| !l.starts_with(' '))
        .collect();
    assert_eq!(heads.len(), 2, "{}", history.text());
    assert!(
        heads.iter().all(|h| h.ends_with("  succeeded")),
        "{heads:?}"
    );
    // `YYYY-MM-DD HH:MM:SS UTC` sorts as text.
    assert!(heads[0][..19] >= heads[1][..19], "{heads:?}");
    let (web, worker) = (stack.service_name("web"), stack.service_name("worker"));
    let details: Vec<&str> = history
        .stdout
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("  from ") && !l.starts_with("    "))
        .collect();
    assert_eq!(
        details,
        [
            format!("  updated: {web}"),
            format!("  created: network {}_default, {web}, {worker}", stack.name)
        ],
        "{}",
        history.text()
    );
    // The update lists what changed, field by field.
    let changes: Vec<&str> = history
        .stdout
        .lines()
        .filter(|l| l.starts_with("    "))
        .collect();
    assert!(
        changes
            .iter()
            .any(|l| l.starts_with(&format!("    {web}: "))),
        "{}",
        history.text()
    );
}

#[test]
fn status_history_rollback_and_rm() {
    let stack = Stack::new("apcm");
    apply_ok(&stack, &stack_file("stackctl-test/app:1"));
    apply_ok(&stack, &stack_file("stackctl-test/app:2"));
    check_status(&stack);
    check_history(&stack);

    let rollback = stack_command("rollback", &stack, &["web"]);
    assert_eq!(rollback.code, Some(0), "{}", rollback.text());
    let web = stack.service_name("web");
    assert_eq!(
        rollback.summary_of(&web),
        format!("  ok   {web}: converged"),
        "{}",
        rollback.text()
    );
    assert_eq!(stack.image("web"), "stackctl-test/app:1");
    assert_eq!(stack.image("worker"), "stackctl-test/app:1");

    let rm = stack_command("rm", &stack, &[]);
    assert_eq!(rm.code, Some(0), "{}", rm.text());
    // `rm` waits until everything is really gone, networks included.
    assert_eq!(
        stack.leftovers(),
        Vec::<String>::new(),
        "left after rm:\n{}",
        rm.text()
    );
    let status = stack_command("status", &stack, &[]);
    assert_eq!(status.code, Some(1), "{}", status.text());
    assert!(
        status.stderr.contains("Nothing found in stack"),
        "{}",
        status.text()
    );
}

/// Regression: `rm` returned while Swarm was still deleting the stack's networks, so an apply
/// right after it planned the network as unchanged and every service failed ("network … not
/// found").
#[test]
fn apply_right_after_rm_recreates_the_stack() {
    let stack = Stack::new("apcm-again");
    let file = web_stack("stackctl-test/app:1", 1, "{monitor: 1s}");
    apply_ok(&stack, &file);
    let rm = stack_command("rm", &stack, &[]);
    assert_eq!(rm.code, Some(0), "{}", rm.text());
    let again = apply_ok(&stack, &file);
    let web = stack.service_name("web");
    assert_eq!(again.summary_of(&web), format!("  ok   {web}: converged"));
}

/// Regression: the history config is named after the newest entry's second, so the record of
/// an apply made within the same second as the one before failed with a name conflict and the
/// entry was dropped. Four detached applies of a zero-replica service take well under a second.
#[test]
fn history_keeps_every_apply_even_within_one_second() {
    let stack = Stack::new("apcm-hist");
    let whos = ["a", "b", "c", "d"];
    for who in whos {
        let file = format!(
            "services:
  web:
    image: stackctl-test/app:1
    environment: {{WHO: {who}}}
    deploy: {{replicas: 0}}
"
        );
        let test = Test::new().file("stack.yml", &file);
        let run = apply(test, &stack, &["stack.yml"], &["--detach"]);
        assert_eq!(run.code, Some(0), "{}", run.text());
    }
    let history = stack_command("history", &stack, &[]);
    let entries = history
        .stdout
        .lines()
        .filter(|l| !l.starts_with(' '))
        .count();
    assert_eq!(entries, whos.len(), "{}", history.text());
}

/// `rm` keeps the stack's volumes, as `docker stack rm` does; `rm --volumes` removes them too.
#[test]
fn rm_keeps_volumes_unless_asked_to_remove_them() {
    let volume_names = |stack: &Stack| {
        let filter = format!("label=com.docker.stack.namespace={}", stack.name);
        super::swarm::docker(&["volume", "ls", "-q", "--filter", &filter])
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let file = "services:
  db:
    image: stackctl-test/app:1
    volumes: [data:/data]
volumes:
  data:
";
    let stack = Stack::new("apcm-vol");
    let data = format!("{}_data", stack.name);
    apply_ok(&stack, file);
    assert_eq!(volume_names(&stack), std::slice::from_ref(&data));
    let rm = stack_command("rm", &stack, &[]);
    assert_eq!(rm.code, Some(0), "{}", rm.text());
    assert_eq!(
        volume_names(&stack),
        std::slice::from_ref(&data),
        "{}",
        rm.text()
    );

    apply_ok(&stack, file);
    let rm = stack_command("rm", &stack, &["--volumes"]);
    assert_eq!(rm.code, Some(0), "{}", rm.text());
    assert!(
        rm.stderr.contains(&format!("Removing volume {data}")),
        "{}",
        rm.text()
    );
    assert_eq!(volume_names(&stack), Vec::<String>::new(), "{}", rm.text());
    assert_eq!(stack.leftovers(), Vec::<String>::new());
}
