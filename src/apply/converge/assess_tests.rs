//! Table tests for the assessment, from snapshots recorded on the 20.10 test bed.

use std::collections::HashSet;

use bollard::models::Task;
use serde_json::Value;

use super::*;

struct Snap {
    at_ms: u64,
    service: Value,
    tasks: Vec<Task>,
}

fn load(json: &str) -> Vec<Snap> {
    let snaps: Vec<Value> = serde_json::from_str(json).unwrap();
    snaps
        .into_iter()
        .map(|s| Snap {
            at_ms: s["at_ms"].as_u64().unwrap(),
            tasks: serde_json::from_value(s["tasks"].clone()).unwrap(),
            service: s["service"].clone(),
        })
        .collect()
}

fn summary(a: &Assessment) -> String {
    let verdict = match &a.verdict {
        Verdict::InProgress => "in progress".to_owned(),
        Verdict::Converged => "converged".to_owned(),
        Verdict::Paused { message } => format!("paused: {message}"),
        Verdict::RolledBack { message } => format!("rolled back: {message}"),
        Verdict::RollbackPaused { message } => format!("rollback paused: {message}"),
        Verdict::Failed { message } => format!("failed: {message}"),
    };
    format!(
        "{}/{} {} in_flight={} failures={} | {verdict}",
        a.updated,
        a.desired,
        a.state,
        a.batch.in_flight,
        a.failures.len()
    )
}

#[test]
fn print_all() {
    for (name, json) in [
        ("start_first", include_str!("fixtures/start_first.json")),
        ("rollback", include_str!("fixtures/rollback.json")),
        ("pause", include_str!("fixtures/pause.json")),
        ("continue", include_str!("fixtures/continue.json")),
        ("job", include_str!("fixtures/job.json")),
        ("job_failing", include_str!("fixtures/job_failing.json")),
        ("global", include_str!("fixtures/global.json")),
        ("global_job", include_str!("fixtures/global_job.json")),
        ("new_bad", include_str!("fixtures/new_bad.json")),
    ] {
        println!("{name}");
        let snaps = load(json);
        let known = HashSet::new();
        for s in &snaps {
            let down = HashSet::new();
            let seen = Observation {
                service: &s.service,
                tasks: &s.tasks,
                down_nodes: &down,
            };
            let a = assess(
                &seen,
                &FailurePolicy {
                    max_task_failures: 3,
                    known: &known,
                },
            )
            .unwrap();
            println!("  {:>6} {}", s.at_ms, summary(&a));
        }
    }
}
