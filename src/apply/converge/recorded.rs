//! Rollouts recorded on the 20.10 test bed, for tests: each a list of moments, each with the
//! service (`GET /services/{id}`) and its tasks (`GET /tasks`, trimmed to the fields read).

use bollard::models::Task;
use serde_json::Value;

/// One recorded moment of a rollout.
pub(super) struct Snap {
    pub(super) at_ms: u64,
    pub(super) service: Value,
    pub(super) tasks: Vec<Task>,
}

pub(super) fn load(json: &str) -> Vec<Snap> {
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

pub(super) const START_FIRST: &str = include_str!("fixtures/start_first.json");
pub(super) const ROLLBACK: &str = include_str!("fixtures/rollback.json");
pub(super) const PAUSE: &str = include_str!("fixtures/pause.json");
pub(super) const CONTINUE: &str = include_str!("fixtures/continue.json");
pub(super) const JOB: &str = include_str!("fixtures/job.json");
pub(super) const JOB_FAILING: &str = include_str!("fixtures/job_failing.json");
pub(super) const GLOBAL: &str = include_str!("fixtures/global.json");
pub(super) const GLOBAL_JOB: &str = include_str!("fixtures/global_job.json");
pub(super) const NEW_BAD: &str = include_str!("fixtures/new_bad.json");
