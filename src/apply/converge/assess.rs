//! The pure rollout assessment: a service's raw JSON, its tasks and the down nodes -> where its
//! rollout stands (progress counts, update state, task errors, verdict). No I/O, no clock.
//!
//! **Which tasks run the current spec.** The docker CLI asks the daemon with the hidden
//! `_up-to-date` task filter (swarmkit's `IsTaskDirty`: same `SpecVersion`, or an equal
//! `TaskTemplate` and endpoint). Our one task list call has no such filter, and the task's own
//! `Version` is useless here: it is the task object's raft index, bumped by every status change
//! (on 20.10 an old task's index overtakes the service's as it is shut down), and `SpecVersion`
//! is not in the Engine API. So a task is current when its `Spec` equals the service's
//! `Spec.TaskTemplate`, compared through the same bollard model, apart from:
//! * `Runtime`, which the daemon writes into the service's template but never into a task's copy;
//! * `Placement`, when it is the only difference: swarm keeps such tasks if their node still
//!   satisfies the new constraints (we cannot evaluate constraints, so we say "current").
//!
//! Measured on 20.10 for image, env, mounts, networks, secrets, configs, resources, restart and
//! log settings: the two JSON copies are otherwise identical. Two blind spots remain and are
//! covered by the update state: a change of only the `EndpointSpec` (ports) or only the health
//! check (bollard reads `HealthCheck`, the daemon writes `Healthcheck`, so both copies lose it)
//! leaves old tasks looking current. Such an update still runs the updater, which says
//! `updating`, and a service that is `updating` is never converged here, whatever the counts.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use bollard::models::Task;
use serde_json::Value;
use thiserror::Error;

use super::count::count;
use super::failures::{failures_of, waiting_error};
use super::service::Service;

/// The monitor window swarm (and the docker CLI) use when `Monitor` is unset or zero.
pub const DEFAULT_MONITOR: Duration = Duration::from_secs(5);

/// `UpdateStatus.State`, with `None` for a service that has no update status (just created, or
/// last updated without replacing any task, e.g. scaled).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateState {
    None,
    Updating,
    Paused,
    Completed,
    RollbackStarted,
    RollbackPaused,
    RollbackCompleted,
}

impl UpdateState {
    pub(super) fn from_status(status: Option<&Value>) -> Self {
        match status.and_then(|s| s.get("State")).and_then(Value::as_str) {
            None | Some("") => Self::None,
            Some("paused") => Self::Paused,
            Some("completed") => Self::Completed,
            Some("rollback_started") => Self::RollbackStarted,
            Some("rollback_paused") => Self::RollbackPaused,
            Some("rollback_completed") => Self::RollbackCompleted,
            // "updating", and any state a newer daemon invents: never read as finished.
            Some(_) => Self::Updating,
        }
    }

    /// The daemon's spelling (`none` when absent).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Updating => "updating",
            Self::Paused => "paused",
            Self::Completed => "completed",
            Self::RollbackStarted => "rollback_started",
            Self::RollbackPaused => "rollback_paused",
            Self::RollbackCompleted => "rollback_completed",
        }
    }

    #[must_use]
    pub fn is_rollback(self) -> bool {
        matches!(
            self,
            Self::RollbackStarted | Self::RollbackPaused | Self::RollbackCompleted
        )
    }
}

impl fmt::Display for UpdateState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the service schedules tasks, with what "done" means for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Replicated { replicas: u64 },
    Global,
    ReplicatedJob { total_completions: u64 },
    GlobalJob,
}

impl Mode {
    #[must_use]
    pub fn is_job(self) -> bool {
        matches!(self, Self::ReplicatedJob { .. } | Self::GlobalJob)
    }
}

/// What one look at a service says, before any time has been spent verifying stability.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    InProgress,
    /// The target count is reached on the current spec and no update is running.
    Converged,
    /// `paused`, with the daemon's message.
    Paused {
        message: String,
    },
    /// `rollback_completed`, or `rollback_started`, and the count is reached on the restored spec.
    RolledBack {
        message: String,
    },
    RollbackPaused {
        message: String,
    },
    /// Tasks of the current spec keep failing and nothing in swarm will stop it (see
    /// [`FailurePolicy`]).
    Failed {
        message: String,
    },
}

/// The rolling-update batch: the active config (`RollbackConfig` during a rollback) and how many
/// current-spec tasks are on their way to their target state right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Tasks replaced at once; 0 means all at once.
    pub parallelism: u64,
    pub delay: Duration,
    pub in_flight: u64,
}

/// A task of the current spec that failed, was rejected, or (for a service that should keep
/// running) exited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskFailure {
    pub task: String,
    /// `Status.Err`, else `Status.Message`.
    pub error: String,
}

/// Where one service's rollout stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assessment {
    pub name: String,
    pub mode: Mode,
    pub state: UpdateState,
    /// `UpdateStatus.Message`, e.g. "update paused due to failure or early termination of task …".
    pub status_message: Option<String>,
    /// Current-spec tasks in their target state: running, or complete for jobs.
    pub updated: u64,
    /// Replicas, eligible nodes, or job completions.
    pub desired: u64,
    /// `updated` is at the target, whatever the update state (while `updating`, the verdict
    /// still waits for swarm, but the monitor window can already run).
    pub reached: bool,
    pub batch: Batch,
    /// How long the service must stay converged before it counts (the active config's
    /// `Monitor`, else [`DEFAULT_MONITOR`]); jobs are not verified.
    pub monitor: Duration,
    /// Failures not known before the watch began, oldest first.
    pub failures: Vec<TaskFailure>,
    /// During a rollback: the newest new failure of the tasks *not* on the restored spec, i.e.
    /// usually why the update was rolled back (those tasks no longer count as current).
    pub rolled_back_error: Option<String>,
    /// `Status.Err` of a current-spec task that has not reached its target state, e.g.
    /// "no suitable node (…)": why a rollout may wait forever (swarm has no timeout for it).
    pub waiting_error: Option<String>,
    pub verdict: Verdict,
}

impl Assessment {
    /// The newest task error of the current spec.
    #[must_use]
    pub fn latest_error(&self) -> Option<&str> {
        self.failures.last().map(|f| f.error.as_str())
    }
}

/// One tick's view of one service.
#[derive(Clone, Copy, Debug)]
pub struct Observation<'a> {
    /// The service as `GET /services` returns it.
    pub service: &'a Value,
    /// Its tasks; tasks of other services are ignored.
    pub tasks: &'a [Task],
    /// IDs of nodes whose `Status.State` is `down`: their tasks are not counted.
    pub down_nodes: &'a HashSet<String>,
}

/// When task failures alone fail a rollout.
///
/// A rollout is `Failed` when its count is not reached and the current spec has at least
/// `min(max_task_failures, restart budget)` failed tasks, where the restart budget is 1 with
/// `RestartPolicy.Condition: none` and `MaxAttempts + 1` when `MaxAttempts` is set (the budget
/// is per slot in swarm; counting all slots together only makes us give up sooner). This only
/// applies while swarm itself will not act: always for jobs, with no update running, after a
/// completed update or rollback, or during one whose `FailureAction` is `continue`. Otherwise
/// the first failure makes swarm pause or roll back, which is the better answer to report.
#[derive(Clone, Copy, Debug)]
pub struct FailurePolicy<'a> {
    pub max_task_failures: u32,
    /// Failed tasks that existed before the watch began (e.g. from an earlier rollout of the same
    /// spec): they say nothing about this one.
    pub known: &'a HashSet<String>,
}

/// The service JSON lacks what every daemon sends.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("service {service}: {reason} (an unexpected answer from the daemon, or a bug in stackctl)")]
pub struct MalformedService {
    pub service: String,
    pub reason: String,
}

/// Assess one service. See the module docs for which tasks count as current.
pub fn assess(
    seen: &Observation<'_>,
    policy: &FailurePolicy<'_>,
) -> Result<Assessment, MalformedService> {
    let service = Service::read(seen.service)?;
    let (current, other): (Vec<&Task>, Vec<&Task>) = seen
        .tasks
        .iter()
        .filter(|t| t.service_id.as_deref() == Some(service.id))
        .partition(|t| service.is_current(t));
    let (updated, desired, in_flight) = count(&service, &current, seen);
    let failures = failures_of(service.mode, &current, policy.known);
    let rolled_back_error = service
        .state
        .is_rollback()
        .then(|| failures_of(service.mode, &other, policy.known).pop())
        .flatten()
        .map(|f| f.error);
    let mut assessment = Assessment {
        name: service.name.to_owned(),
        mode: service.mode,
        state: service.state,
        status_message: service.message.clone(),
        updated,
        desired,
        reached: is_reached(service.mode, updated, desired),
        batch: Batch {
            parallelism: service.config.parallelism,
            delay: service.config.delay,
            in_flight,
        },
        monitor: service.config.monitor,
        failures,
        rolled_back_error,
        waiting_error: waiting_error(service.mode, &current),
        verdict: Verdict::InProgress,
    };
    assessment.verdict = verdict(&service, &assessment, policy.max_task_failures);
    Ok(assessment)
}

fn verdict(service: &Service<'_>, a: &Assessment, max_task_failures: u32) -> Verdict {
    let message = || a.status_message.clone().unwrap_or_default();
    let reached = a.reached;
    match a.state {
        UpdateState::Paused => return Verdict::Paused { message: message() },
        UpdateState::RollbackPaused => return Verdict::RollbackPaused { message: message() },
        _ => {}
    }
    if reached {
        return match a.state {
            _ if a.mode.is_job() => Verdict::Converged,
            UpdateState::RollbackStarted | UpdateState::RollbackCompleted => {
                Verdict::RolledBack { message: message() }
            }
            UpdateState::Updating => Verdict::InProgress,
            _ => Verdict::Converged,
        };
    }
    let limit = service.failure_limit(max_task_failures);
    if service.may_fail_on_tasks() && a.failures.len() as u64 >= u64::from(limit) {
        let last = a.latest_error().unwrap_or_default();
        let n = a.failures.len();
        return Verdict::Failed {
            message: format!(
                "{n} tasks failed (stackctl gives up after {limit}); the last: {last}"
            ),
        };
    }
    Verdict::InProgress
}

/// Jobs count completions, which only grow; services count running tasks, which must match
/// (more running than wanted means a scale-down is still under way).
fn is_reached(mode: Mode, updated: u64, desired: u64) -> bool {
    let counted = match mode {
        Mode::ReplicatedJob { .. } | Mode::GlobalJob => updated >= desired,
        Mode::Replicated { .. } | Mode::Global => updated == desired,
    };
    counted && (desired > 0 || is_zero_ok(mode))
}

/// Zero replicas converge at once; a global service with no eligible node has nothing to wait
/// for yet (its tasks may not exist), so it keeps waiting, as the docker CLI does.
fn is_zero_ok(mode: Mode) -> bool {
    matches!(mode, Mode::Replicated { .. } | Mode::ReplicatedJob { .. })
}

#[cfg(test)]
#[path = "assess_tests.rs"]
mod tests;
