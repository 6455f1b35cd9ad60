//! The time-dependent half of the watch, still pure: per service, turns each tick's
//! [`Assessment`] into an [`Outcome`] once the service has stayed converged for its monitor
//! window. Time is passed in as `Instant`s, so tests need no sleeps.

use std::collections::HashSet;
use std::fmt;
use std::time::{Duration, Instant};

use bollard::models::Task;

use super::assess::{Assessment, UpdateState, Verdict};
use super::failures::ended_task_ids;

/// How one watched rollout ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Target count reached on the current spec and stable for the monitor window (jobs: done).
    Converged,
    /// Swarm rolled the update back and the restored spec is running (and stable). `message` is
    /// swarm's reason (`rollback_started`'s, naming the failed task) when a poll saw it; that
    /// state can last under 300 ms, and then it is `rollback_completed`'s "rollback completed".
    /// `error` is the last task error seen during the watch: usually why the new spec failed.
    RolledBack {
        message: String,
        error: Option<String>,
    },
    /// The update is paused (`FailureAction: pause`); swarm does nothing more until the next
    /// update. `message` is the daemon's.
    Paused {
        message: String,
        error: Option<String>,
    },
    /// A rollback met a failure and stopped halfway.
    RollbackPaused {
        message: String,
        error: Option<String>,
    },
    /// Tasks keep failing and swarm will not stop them (see `FailurePolicy`), or the service
    /// disappeared while watched.
    Failed { message: String },
    /// The watch's time ran out first; the last observation.
    TimedOut {
        state: UpdateState,
        updated: u64,
        desired: u64,
        error: Option<String>,
    },
}

impl Outcome {
    #[must_use]
    pub fn is_converged(&self) -> bool {
        matches!(self, Self::Converged)
    }
}

/// One line for a person, e.g. `update paused: update paused due to failure … (last task
/// error: task: non-zero exit (1))`.
impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (text, error) = match self {
            Self::Converged => ("converged".to_owned(), &None),
            Self::RolledBack { message, error } => (format!("rolled back: {message}"), error),
            Self::Paused { message, error } => (format!("update paused: {message}"), error),
            Self::RollbackPaused { message, error } => {
                (format!("rollback paused: {message}"), error)
            }
            Self::Failed { message } => (format!("failed: {message}"), &None),
            Self::TimedOut {
                state,
                updated,
                desired,
                error,
            } => (
                format!("timed out with {updated}/{desired} tasks (update state: {state})"),
                error,
            ),
        };
        f.write_str(&text)?;
        match error {
            Some(error) => write!(f, " (last task error: {error})"),
            None => Ok(()),
        }
    }
}

/// Follows one service across ticks.
#[derive(Debug, Default)]
pub struct Tracker {
    known: Option<HashSet<String>>,
    seen: HashSet<String>,
    stable: Option<Stable>,
    last_error: Option<String>,
    /// The daemon's first `rollback_started` message, which names the failed task; by the end
    /// the status only says "rollback completed".
    rollback_message: Option<String>,
    last: Option<Assessment>,
}

/// At the target count (on the restored spec when `rolled_back`) since `since`.
#[derive(Clone, Copy, Debug)]
struct Stable {
    since: Instant,
    rolled_back: bool,
}

impl Tracker {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Failed tasks to disregard: those the first observation already showed (fixed then).
    pub fn known_failures(&mut self, service_id: &str, tasks: &[Task]) -> &HashSet<String> {
        self.known
            .get_or_insert_with(|| ended_task_ids(service_id, tasks))
    }

    /// Take one tick's assessment; `Some` when the rollout has ended.
    ///
    /// Reaching the target count starts the monitor window; a new task failure or a drop below
    /// the count restarts it, like the docker CLI's "Detected task failure". The outcome comes
    /// when the window has passed and the verdict is `Converged` or `RolledBack`: the window runs
    /// while swarm still says `updating` (it watches the same tasks for its own `Monitor`), so
    /// the two waits overlap instead of adding up. Jobs end as soon as they complete.
    pub fn step(&mut self, assessment: Assessment, now: Instant) -> Option<Outcome> {
        let mut fresh_failure = false;
        for failure in &assessment.failures {
            fresh_failure |= self.seen.insert(failure.task.clone());
        }
        let error = assessment.latest_error();
        if let Some(error) = error.or(assessment.rolled_back_error.as_deref()) {
            self.last_error = Some(error.to_owned());
        }
        if assessment.state == UpdateState::RollbackStarted && self.rollback_message.is_none() {
            self.rollback_message.clone_from(&assessment.status_message);
        }
        let outcome = self.decide(&assessment, fresh_failure, now);
        self.last = Some(assessment);
        outcome
    }

    fn decide(&mut self, a: &Assessment, fresh_failure: bool, now: Instant) -> Option<Outcome> {
        let error = self.last_error.clone();
        let settled = self.settle(a, fresh_failure, now);
        match &a.verdict {
            Verdict::InProgress => None,
            Verdict::Paused { message } => Some(Outcome::Paused {
                message: message.clone(),
                error,
            }),
            Verdict::RollbackPaused { message } => Some(Outcome::RollbackPaused {
                message: message.clone(),
                error,
            }),
            Verdict::Failed { message } => Some(Outcome::Failed {
                message: message.clone(),
            }),
            Verdict::Converged => (a.mode.is_job() || settled).then_some(Outcome::Converged),
            Verdict::RolledBack { message } => settled.then(|| Outcome::RolledBack {
                message: self
                    .rollback_message
                    .clone()
                    .unwrap_or_else(|| message.clone()),
                error,
            }),
        }
    }

    /// Keep the window: (re)start it on reaching the count, after a new failure, or when a
    /// rollback begins; drop it below the count. Whether it has passed.
    fn settle(&mut self, a: &Assessment, fresh_failure: bool, now: Instant) -> bool {
        if !a.reached {
            self.stable = None;
            return false;
        }
        let rolled_back = a.state.is_rollback();
        let restart = fresh_failure || self.stable.is_none_or(|s| s.rolled_back != rolled_back);
        if restart {
            self.stable = Some(Stable {
                since: now,
                rolled_back,
            });
        }
        let since = self.stable.map_or(now, |s| s.since);
        now.duration_since(since) >= a.monitor
    }

    /// What is left of the monitor window, while one is running.
    #[must_use]
    pub fn verifying(&self, now: Instant) -> Option<Duration> {
        let stable = self.stable?;
        let monitor = self.last.as_ref()?.monitor;
        Some(monitor.saturating_sub(now.duration_since(stable.since)))
    }

    /// The last assessment taken, if any.
    #[must_use]
    pub fn last(&self) -> Option<&Assessment> {
        self.last.as_ref()
    }

    /// The outcome when time runs out now.
    #[must_use]
    pub fn timed_out(&self) -> Outcome {
        let last = self.last.as_ref();
        let waiting = last.and_then(|a| a.waiting_error.clone());
        Outcome::TimedOut {
            state: last.map_or(UpdateState::None, |a| a.state),
            updated: last.map_or(0, |a| a.updated),
            desired: last.map_or(0, |a| a.desired),
            error: self.last_error.clone().or(waiting),
        }
    }
}

#[cfg(test)]
#[path = "tracker_tests.rs"]
mod tests;
