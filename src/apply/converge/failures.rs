//! Task failures: which ended tasks count against a rollout, and their error texts.

use std::collections::HashSet;

use bollard::models::{Task, TaskState};

use super::assess::{Mode, TaskFailure};
use super::count::{is_before, state};

/// IDs of the service's tasks that ended badly (or exited): the baseline a watch starts from.
#[must_use]
pub fn ended_task_ids(service_id: &str, tasks: &[Task]) -> HashSet<String> {
    tasks
        .iter()
        .filter(|t| t.service_id.as_deref() == Some(service_id))
        .filter(|t| state(t).is_some_and(|s| s >= TaskState::COMPLETE && s != TaskState::SHUTDOWN))
        .filter_map(|t| t.id.clone())
        .collect()
}

/// New failures among `tasks`, oldest first.
pub(super) fn failures_of(
    mode: Mode,
    tasks: &[&Task],
    known: &HashSet<String>,
) -> Vec<TaskFailure> {
    let mut failed: Vec<(String, TaskFailure)> = tasks
        .iter()
        .filter(|t| is_failure(mode, t))
        .filter_map(|t| {
            let id = t.id.clone()?;
            (!known.contains(&id)).then(|| (timestamp_key(t), failure(id, t)))
        })
        .collect();
    failed.sort_by(|a, b| a.0.cmp(&b.0));
    failed.into_iter().map(|(_, f)| f).collect()
}

pub(super) fn waiting_error(mode: Mode, current: &[&Task]) -> Option<String> {
    let target = if mode.is_job() {
        TaskState::COMPLETE
    } else {
        TaskState::RUNNING
    };
    current
        .iter()
        .filter(|t| is_before(t, target))
        .filter_map(|t| Some((timestamp_key(t), t.status.as_ref()?.err.clone()?)))
        .filter(|(_, err)| !err.is_empty())
        .max()
        .map(|(_, err)| err)
}

fn is_failure(mode: Mode, task: &Task) -> bool {
    match state(task) {
        Some(TaskState::FAILED | TaskState::REJECTED) => true,
        // A service's task exiting 0 is swarm's "early termination": a failure for the updater.
        Some(TaskState::COMPLETE) => !mode.is_job(),
        _ => false,
    }
}

fn failure(task: String, t: &Task) -> TaskFailure {
    let status = t.status.as_ref();
    let text = |s: Option<&String>| s.filter(|s| !s.is_empty()).cloned();
    let error = text(status.and_then(|s| s.err.as_ref()))
        .or_else(|| text(status.and_then(|s| s.message.as_ref())))
        .unwrap_or_else(|| "the task ended".to_owned());
    TaskFailure { task, error }
}

/// `Status.Timestamp` as a sortable key: RFC 3339 with trailing fraction zeros trimmed does not
/// sort as text (`.5Z` > `.45Z`), so the fraction is padded to nanoseconds.
fn timestamp_key(task: &Task) -> String {
    let stamp = task
        .status
        .as_ref()
        .and_then(|s| s.timestamp.as_deref())
        .unwrap_or_default();
    let (whole, fraction) = stamp
        .trim_end_matches('Z')
        .split_once('.')
        .unwrap_or((stamp, ""));
    format!("{whole}.{fraction:0<9}")
}
