//! Table tests for the assessment. The fixtures are snapshots of real rollouts on the 20.10
//! test bed (`GET /services/{id}` and `GET /tasks`, trimmed to the fields read here).

use std::collections::HashSet;

use bollard::models::Task;
use serde_json::{Value, json};

use super::super::failures::ended_task_ids;
use super::super::recorded::{
    CONTINUE, GLOBAL, GLOBAL_JOB, JOB, JOB_FAILING, NEW_BAD, PAUSE, ROLLBACK, START_FIRST, Snap,
    load,
};
use super::{FailurePolicy, Observation, Verdict, assess};

fn summary(service: &Value, tasks: &[Task], down: &[&str], known: &HashSet<String>) -> String {
    let down: HashSet<String> = down.iter().map(|d| (*d).to_owned()).collect();
    let seen = Observation {
        service,
        tasks,
        down_nodes: &down,
    };
    let policy = FailurePolicy {
        max_task_failures: 3,
        known,
    };
    let a = match assess(&seen, &policy) {
        Ok(a) => a,
        Err(err) => return format!("error: {err}"),
    };
    let verdict = match &a.verdict {
        Verdict::InProgress => "in progress".to_owned(),
        Verdict::Converged => "converged".to_owned(),
        Verdict::Paused { message } => format!("paused: {message}"),
        Verdict::RolledBack { message } => format!("rolled back: {message}"),
        Verdict::RollbackPaused { message } => format!("rollback paused: {message}"),
        Verdict::Failed { message } => format!("failed: {message}"),
    };
    let (updated, desired, state) = (a.updated, a.desired, a.state);
    let (in_flight, failures) = (a.batch.in_flight, a.failures.len());
    format!("{updated}/{desired} {state} in_flight={in_flight} failures={failures} | {verdict}")
}

const UNHEALTHY: &str = "task: non-zero exit (1): dockerexec: unhealthy container";

fn check_recording(name: &str, fixture: &str, expected: &[String]) {
    let known = HashSet::new();
    let seen: Vec<String> = load(fixture)
        .iter()
        .map(|s| summary(&s.service, &s.tasks, &[], &known))
        .collect();
    assert_eq!(seen, expected, "{name}");
}

fn in_progress<S: AsRef<str>>(rows: &[S]) -> Vec<String> {
    rows.iter()
        .map(|r| format!("{} | in progress", r.as_ref()))
        .collect()
}

fn gave_up(n: u32, error: &str) -> String {
    format!("failed: {n} tasks failed (stackctl gives up after 3); the last: {error}")
}

#[test]
fn recorded_updates_read_as_they_happened() {
    let mut start_first = in_progress(&[
        "1/3 updating in_flight=1 failures=0",
        "2/3 updating in_flight=0 failures=0",
        "2/3 updating in_flight=1 failures=0",
        // Every slot is replaced, but swarm is still monitoring: not converged yet.
        "3/3 updating in_flight=0 failures=0",
    ]);
    start_first.push("3/3 completed in_flight=0 failures=0 | converged".into());
    check_recording("start-first, 3 replicas", START_FIRST, &start_first);

    let mut rollback = in_progress(&[
        "0/2 updating in_flight=1 failures=0",
        "0/2 updating in_flight=1 failures=0",
        // The spec is the old one again: the failed app:bad task no longer counts.
        "1/2 rollback_started in_flight=1 failures=0",
    ]);
    rollback.push(
        "2/2 rollback_started in_flight=0 failures=0 | rolled back: update rolled back due to \
         failure or early termination of task hwfmc7hjop8wxl0k7vp7irllk"
            .into(),
    );
    rollback.push(
        "2/2 rollback_completed in_flight=0 failures=0 | rolled back: rollback completed".into(),
    );
    check_recording("failure action rollback", ROLLBACK, &rollback);

    let paused = "0/2 paused in_flight=1 failures=1 | paused: update paused due to failure or \
                  early termination of task yfsgzet3n1yxgtscyep8lmzuh";
    let mut pause = in_progress(&["0/2 updating in_flight=1 failures=0"; 2]);
    pause.extend([paused.to_owned(), paused.to_owned()]);
    check_recording("failure action pause", PAUSE, &pause);

    // Swarm completes the update while every new task fails; we give up at the third failure.
    let mut cont = in_progress(&[
        "0/2 updating in_flight=1 failures=0",
        "0/2 updating in_flight=1 failures=0",
        "0/2 updating in_flight=2 failures=1",
        "0/2 updating in_flight=2 failures=1",
        "0/2 updating in_flight=2 failures=2",
    ]);
    for (state, n) in [
        ("updating", 3),
        ("completed", 3),
        ("completed", 5),
        ("completed", 7),
    ] {
        let verdict = gave_up(n, UNHEALTHY);
        cont.push(format!("0/2 {state} in_flight=2 failures={n} | {verdict}"));
    }
    check_recording("failure action continue", CONTINUE, &cont);
}

#[test]
fn recorded_jobs_and_new_services_read_as_they_happened() {
    let mut job = in_progress(&["0/2 none in_flight=2 failures=0"; 3]);
    job.push("2/2 none in_flight=0 failures=0 | converged".into());
    check_recording("replicated job, 2 completions", JOB, &job);

    let mut failing =
        in_progress(&[0, 0, 1, 1, 2, 2].map(|n| format!("0/1 none in_flight=1 failures={n}")));
    for n in [3, 3, 4, 4] {
        let verdict = gave_up(n, "task: non-zero exit (3)");
        failing.push(format!("0/1 none in_flight=1 failures={n} | {verdict}"));
    }
    check_recording(
        "replicated job exiting 3, restarted every second",
        JOB_FAILING,
        &failing,
    );

    let mut global = in_progress(&["0/1 none in_flight=1 failures=0"]);
    global.push("1/1 none in_flight=0 failures=0 | converged".into());
    check_recording("global, one node", GLOBAL, &global);

    let mut global_job = in_progress(&["0/1 none in_flight=1 failures=0"; 2]);
    global_job.push("1/1 none in_flight=0 failures=0 | converged".into());
    check_recording("global job, one node", GLOBAL_JOB, &global_job);

    let mut new_bad = in_progress(&[
        "0/1 none in_flight=1 failures=0",
        "0/1 none in_flight=1 failures=1",
        "0/1 none in_flight=1 failures=2",
    ]);
    let verdict = gave_up(3, UNHEALTHY);
    let row = format!("0/1 none in_flight=1 failures=3 | {verdict}");
    new_bad.extend([row.clone(), row]);
    check_recording("new service whose tasks keep failing", NEW_BAD, &new_bad);
}

/// The last moment of the start-first rollout: 3 replicas of app:2, `completed`.
fn converged_start_first() -> Snap {
    load(START_FIRST).pop().unwrap()
}

/// A task of `service` in `slot`, on `image`, built from a real task of the fixture.
fn task(id: &str, slot: i64, image: &str, desired: &str, state: &str) -> Value {
    let mut task = serde_json::to_value(&converged_start_first().tasks[1]).unwrap();
    task["ID"] = json!(id);
    task["Slot"] = json!(slot);
    task["Spec"]["ContainerSpec"]["Image"] = json!(format!("stackctl-test/app:{image}"));
    task["DesiredState"] = json!(desired);
    task["Status"] = json!({"State": state, "Timestamp": format!("2026-01-01T00:00:0{slot}Z")});
    task
}

fn tasks(values: Vec<Value>) -> Vec<Task> {
    values
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect()
}

const NODE: &str = "ttmzfmmocdohtwblf6vf9m1wc";

/// (what it shows, service, tasks, down nodes, expected summary)
type CountCase<'a> = (&'a str, Value, Vec<Value>, Vec<&'a str>, &'a str);

/// (what it shows, service, tasks, failures known before the watch, expected summary)
type FailureCase<'a> = (&'a str, Value, &'a [Task], &'a HashSet<String>, String);

#[test]
fn counting_rules() {
    let base = converged_start_first().service;
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut service = base.clone();
        f(&mut service);
        service
    };
    let on_node = |mut task: Value, node: &str| {
        task["NodeID"] = json!(node);
        task
    };
    let cases: Vec<CountCase> = vec![
        (
            "per slot: the lowest desired state wins, then the lowest observed state",
            base.clone(),
            vec![
                task("a", 1, "1", "running", "running"),
                task("b", 1, "2", "running", "starting"),
                task("c", 2, "2", "shutdown", "running"),
                task("d", 2, "2", "ready", "ready"),
                task("e", 3, "2", "running", "running"),
                task("f", 3, "2", "shutdown", "failed"),
            ],
            vec![],
            "1/3 completed in_flight=2 failures=1 | in progress",
        ),
        (
            "tasks on down nodes do not count",
            base.clone(),
            (1..=3)
                .map(|slot| task(&format!("t{slot}"), slot, "2", "running", "running"))
                .map(|t| on_node(t, NODE))
                .collect(),
            vec![NODE],
            "0/3 completed in_flight=0 failures=0 | in progress",
        ),
        (
            "zero replicas converge at once",
            edit(&|s| s["Spec"]["Mode"]["Replicated"]["Replicas"] = json!(0)),
            vec![],
            vec![],
            "0/0 completed in_flight=0 failures=0 | converged",
        ),
        (
            "a task whose spec differs only in placement is current (swarm keeps it)",
            edit(&|s| {
                s["Spec"]["TaskTemplate"]["Placement"] =
                    json!({"Constraints": ["node.role==manager"]});
                s["Spec"]["Mode"]["Replicated"]["Replicas"] = json!(1);
            }),
            vec![task("a", 1, "2", "running", "running")],
            vec![],
            "1/1 completed in_flight=0 failures=0 | converged",
        ),
        (
            "an update state this code does not know is read as updating",
            edit(&|s| s["UpdateStatus"]["State"] = json!("reticulating")),
            (1..=3)
                .map(|slot| task(&format!("t{slot}"), slot, "2", "running", "running"))
                .collect(),
            vec![],
            "3/3 updating in_flight=0 failures=0 | in progress",
        ),
        (
            "no update status (a new service) converges on the count",
            edit(&|s| {
                s.as_object_mut().unwrap().remove("UpdateStatus");
            }),
            (1..=3)
                .map(|slot| task(&format!("t{slot}"), slot, "2", "running", "running"))
                .collect(),
            vec![],
            "3/3 none in_flight=0 failures=0 | converged",
        ),
        (
            "global: nodes still on the old spec are waited for",
            edit(&|s| s["Spec"]["Mode"] = json!({"Global": {}})),
            vec![
                on_node(task("a", 0, "2", "running", "running"), "node-a"),
                on_node(task("b", 0, "1", "running", "running"), "node-b"),
                on_node(task("c", 0, "1", "shutdown", "shutdown"), "node-c"),
            ],
            vec![],
            "1/2 completed in_flight=0 failures=0 | in progress",
        ),
    ];
    for (name, service, task_values, down, expected) in cases {
        let known = HashSet::new();
        let seen = summary(&service, &tasks(task_values), &down, &known);
        assert_eq!(seen, expected, "{name}");
    }
}

#[test]
fn failure_rules() {
    let bad = load(NEW_BAD);
    let two_failures = &bad[2];
    // The restart policy is part of the template, so the tasks' copies change with it.
    let with_restart = |policy: Value| {
        let mut service = two_failures.service.clone();
        service["Spec"]["TaskTemplate"]["RestartPolicy"] = policy;
        let spec: bollard::models::TaskSpec =
            serde_json::from_value(service["Spec"]["TaskTemplate"].clone()).unwrap();
        let mut tasks = two_failures.tasks.clone();
        for task in &mut tasks {
            task.spec = Some(bollard::models::TaskSpec {
                runtime: None,
                ..spec.clone()
            });
        }
        (service, tasks)
    };
    let (none, none_tasks) = with_restart(json!({"Condition": "none"}));
    let (once, once_tasks) = with_restart(json!({"Condition": "any", "MaxAttempts": 1}));
    let updating_with = |action: &str| {
        let mut service = bad[4].service.clone();
        service["UpdateStatus"] = json!({"State": "updating", "Message": "update in progress"});
        service["Spec"]["UpdateConfig"] = json!({"Parallelism": 1, "FailureAction": action});
        service
    };
    let nothing_known = HashSet::new();
    let first_known: HashSet<String> =
        ended_task_ids(bad[0].service["ID"].as_str().unwrap(), &bad[2].tasks);
    let exhausted =
        format!("failed: 2 tasks failed (stackctl gives up after 1); the last: {UNHEALTHY}");
    let attempts =
        format!("failed: 2 tasks failed (stackctl gives up after 2); the last: {UNHEALTHY}");
    let cases: Vec<FailureCase> = vec![
        (
            "restart condition none: the first failure is final",
            none,
            &none_tasks,
            &nothing_known,
            format!("0/1 none in_flight=1 failures=2 | {exhausted}"),
        ),
        (
            "MaxAttempts 1: two failures exhaust the slot",
            once,
            &once_tasks,
            &nothing_known,
            format!("0/1 none in_flight=1 failures=2 | {attempts}"),
        ),
        (
            "failures from before the watch do not count",
            bad[4].service.clone(),
            &bad[4].tasks,
            &first_known,
            "0/1 none in_flight=1 failures=1 | in progress".to_owned(),
        ),
        (
            "while swarm updates with pause, failures are swarm's to act on",
            updating_with("pause"),
            &bad[4].tasks,
            &nothing_known,
            "0/1 updating in_flight=1 failures=3 | in progress".to_owned(),
        ),
    ];
    for (name, service, task_list, known, expected) in cases {
        assert_eq!(summary(&service, task_list, &[], known), expected, "{name}");
    }
}

#[test]
fn jobs_count_only_their_current_iteration() {
    let done = load(JOB).pop().unwrap();
    let mut rerun = done.service.clone();
    rerun["JobStatus"]["JobIteration"] = json!({"Index": 7});
    let known = HashSet::new();
    let old_runs = summary(&rerun, &done.tasks, &[], &known);
    assert_eq!(old_runs, "0/2 none in_flight=0 failures=0 | in progress");
    let mut tasks = done.tasks.clone();
    for task in &mut tasks {
        task.job_iteration = Some(bollard::models::ObjectVersion { index: Some(7) });
    }
    let this_run = summary(&rerun, &tasks, &[], &known);
    assert_eq!(this_run, "2/2 none in_flight=0 failures=0 | converged");
}

#[test]
fn services_the_daemon_could_not_have_sent() {
    let known = HashSet::new();
    let no_spec = summary(&json!({"ID": "x"}), &[], &[], &known);
    assert_eq!(
        no_spec,
        "error: service x: no Spec (an unexpected answer from the daemon, or a bug in stackctl)"
    );
    let odd_mode = json!({"ID": "y", "Spec": {"Name": "y", "Mode": {"Sideways": {}}}});
    let seen = summary(&odd_mode, &[], &[], &known);
    assert!(
        seen.contains("service y: unrecognized service mode"),
        "{seen}"
    );
}

#[test]
fn the_baseline_holds_every_task_that_ended_but_no_shutdown_one() {
    let snap = load(CONTINUE).pop().unwrap();
    let id = snap.service["ID"].as_str().unwrap();
    let mut ended: Vec<String> = ended_task_ids(id, &snap.tasks).into_iter().collect();
    ended.sort();
    let failed = snap
        .tasks
        .iter()
        .filter(|t| t.status.as_ref().unwrap().state == Some(bollard::models::TaskState::FAILED));
    let mut expected: Vec<String> = failed.map(|t| t.id.clone().unwrap()).collect();
    expected.sort();
    assert_eq!(ended, expected);
    assert_eq!(ended.len(), 7);
    assert!(ended_task_ids("another-service", &snap.tasks).is_empty());
}
