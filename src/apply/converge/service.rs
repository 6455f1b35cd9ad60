//! The parts of a service's raw JSON the assessment reads, with swarm's defaults filled in.

use std::time::Duration;

use bollard::models::{Task, TaskSpec};
use serde_json::Value;

use super::assess::{DEFAULT_MONITOR, MalformedService, Mode, UpdateState};

/// One service as the assessment sees it.
pub(super) struct Service<'a> {
    pub(super) id: &'a str,
    pub(super) name: &'a str,
    pub(super) mode: Mode,
    pub(super) state: UpdateState,
    pub(super) message: Option<String>,
    /// The config swarm is applying now: `RollbackConfig` during a rollback, else `UpdateConfig`.
    pub(super) config: RolloutConfig,
    /// `Spec.TaskTemplate` through bollard's model, `Runtime` cleared (see the module docs).
    template: TaskSpec,
    job_iteration: u64,
    restart_condition_none: bool,
    restart_max_attempts: u64,
}

/// An `UpdateConfig` or `RollbackConfig` with swarm's defaults (§6.2 of the reference).
pub(super) struct RolloutConfig {
    pub(super) parallelism: u64,
    pub(super) delay: Duration,
    pub(super) monitor: Duration,
    pub(super) is_continue: bool,
}

impl<'a> Service<'a> {
    pub(super) fn read(raw: &'a Value) -> Result<Self, MalformedService> {
        let id = raw.get("ID").and_then(Value::as_str).unwrap_or_default();
        let malformed = |reason: &str| MalformedService {
            service: id.to_owned(),
            reason: reason.to_owned(),
        };
        let spec = raw.get("Spec").ok_or_else(|| malformed("no Spec"))?;
        let state = UpdateState::from_status(raw.get("UpdateStatus"));
        let template = template(spec).map_err(|err| malformed(&err))?;
        let restart = spec.pointer("/TaskTemplate/RestartPolicy");
        Ok(Self {
            id,
            name: spec.get("Name").and_then(Value::as_str).unwrap_or(id),
            mode: mode(spec).ok_or_else(|| malformed("unrecognized service mode"))?,
            state,
            message: raw
                .pointer("/UpdateStatus/Message")
                .and_then(Value::as_str)
                .map(str::to_owned),
            config: RolloutConfig::read(spec, state),
            template,
            job_iteration: u64_at(raw, "/JobStatus/JobIteration/Index").unwrap_or(0),
            restart_condition_none: restart
                .and_then(|r| r.get("Condition"))
                .is_some_and(|c| c == "none"),
            restart_max_attempts: restart.and_then(|r| u64_at(r, "/MaxAttempts")).unwrap_or(0),
        })
    }

    /// Whether the task runs the current spec: the current job iteration for jobs, else an equal
    /// task template (see the module docs of `assess` for the rule and its blind spots).
    pub(super) fn is_current(&self, task: &Task) -> bool {
        if self.mode.is_job() {
            let iteration = task.job_iteration.as_ref().and_then(|v| v.index);
            return iteration.unwrap_or(0) == self.job_iteration;
        }
        task.spec
            .as_ref()
            .is_some_and(|spec| is_same_template(spec, &self.template))
    }

    /// How many failed tasks fail the rollout (see `FailurePolicy`).
    pub(super) fn failure_limit(&self, max_task_failures: u32) -> u32 {
        let mut limit = max_task_failures.max(1);
        if self.restart_condition_none {
            limit = 1;
        }
        if self.restart_max_attempts > 0 {
            let budget = u32::try_from(self.restart_max_attempts + 1).unwrap_or(u32::MAX);
            limit = limit.min(budget);
        }
        limit
    }

    /// Whether task failures may fail the rollout now, rather than make swarm pause or roll back.
    pub(super) fn may_fail_on_tasks(&self) -> bool {
        if self.mode.is_job() {
            return true;
        }
        match self.state {
            UpdateState::None | UpdateState::Completed | UpdateState::RollbackCompleted => true,
            UpdateState::Updating | UpdateState::RollbackStarted => self.config.is_continue,
            UpdateState::Paused | UpdateState::RollbackPaused => false,
        }
    }
}

impl RolloutConfig {
    fn read(spec: &Value, state: UpdateState) -> Self {
        let key = if state.is_rollback() {
            "RollbackConfig"
        } else {
            "UpdateConfig"
        };
        let Some(config) = spec.get(key) else {
            return Self {
                parallelism: 1,
                delay: Duration::ZERO,
                monitor: DEFAULT_MONITOR,
                is_continue: false,
            };
        };
        let nanos = |field: &str| Duration::from_nanos(u64_at(config, field).unwrap_or(0));
        let monitor = nanos("/Monitor");
        Self {
            // Present but without the field: Go's zero value, which swarm reads as "all at once".
            parallelism: u64_at(config, "/Parallelism").unwrap_or(0),
            delay: nanos("/Delay"),
            monitor: if monitor.is_zero() {
                DEFAULT_MONITOR
            } else {
                monitor
            },
            is_continue: config.get("FailureAction").is_some_and(|a| a == "continue"),
        }
    }
}

fn u64_at(value: &Value, pointer: &str) -> Option<u64> {
    value.pointer(pointer).and_then(Value::as_u64)
}

fn mode(spec: &Value) -> Option<Mode> {
    let mode = spec.get("Mode")?;
    if let Some(replicated) = mode.get("Replicated") {
        let replicas = u64_at(replicated, "/Replicas").unwrap_or(1);
        return Some(Mode::Replicated { replicas });
    }
    if mode.get("Global").is_some() {
        return Some(Mode::Global);
    }
    if let Some(job) = mode.get("ReplicatedJob") {
        // The API's defaults: TotalCompletions = MaxConcurrent = 1.
        let concurrent = u64_at(job, "/MaxConcurrent").unwrap_or(1);
        let total_completions = u64_at(job, "/TotalCompletions").unwrap_or(concurrent);
        return Some(Mode::ReplicatedJob { total_completions });
    }
    mode.get("GlobalJob").map(|_| Mode::GlobalJob)
}

fn template(spec: &Value) -> Result<TaskSpec, String> {
    let raw = spec.get("TaskTemplate").cloned().unwrap_or_default();
    let mut template: TaskSpec = if raw.is_null() {
        TaskSpec::default()
    } else {
        serde_json::from_value(raw).map_err(|err| format!("unreadable TaskTemplate: {err}"))?
    };
    template.runtime = None;
    Ok(template)
}

fn is_same_template(task: &TaskSpec, template: &TaskSpec) -> bool {
    let mut task = task.clone();
    task.runtime = None;
    if task == *template {
        return true;
    }
    task.placement.clone_from(&template.placement);
    task == *template
}
