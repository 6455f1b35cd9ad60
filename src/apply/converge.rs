//! The rollout watcher: polls one stack until each watched service converges, rolls back,
//! pauses, fails or runs out of time, reporting progress on the way.
//!
//! Each tick costs three reads however many services are watched: one `GET /services` for the
//! stack (status and specs), one `GET /tasks` for every service still watched, one `GET /nodes`
//! (tasks on down nodes do not count). The pure [`assess`] reads them; a [`Tracker`] per
//! service adds time (the monitor window). The tick is the poll: nothing sleeps a fixed time to
//! let a rollout finish. Dropping the future cancels the watch; nothing runs in the background.

mod assess;
mod count;
mod event;
mod failures;
#[cfg(test)]
mod recorded;
mod service;
mod tracker;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use bollard::models::{Node, NodeState, Task};
use miette::Diagnostic;
use serde_json::Value;
use thiserror::Error;

pub use assess::{
    Assessment, Batch, DEFAULT_MONITOR, FailurePolicy, MalformedService, Mode, Observation,
    TaskFailure, UpdateState, Verdict, assess,
};
pub use event::{ProgressEvent, RolloutEvent, ServiceId};
pub use failures::ended_task_ids;
pub use tracker::{Outcome, Tracker};

use crate::engine::{Engine, EngineError};

/// How the watcher polls and when it gives up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolloutOptions {
    /// Time between the starts of two polls (default 300 ms; the docker CLI uses 200 ms per
    /// service, so this is gentler on the daemon as soon as two services are watched).
    pub tick: Duration,
    /// Total time before every unfinished service is [`Outcome::TimedOut`] (default: none;
    /// swarm waits forever on tasks it cannot schedule, so callers should set one).
    pub timeout: Option<Duration>,
    /// See [`FailurePolicy`] (default 3).
    pub max_task_failures: u32,
    /// Retryable read errors in a row ([`EngineError::is_retryable`]) tolerated before the watch
    /// fails: the next tick is the retry (default 10, about 3 s of a daemon that does not answer).
    pub max_read_errors: u32,
}

impl Default for RolloutOptions {
    fn default() -> Self {
        Self {
            tick: Duration::from_millis(300),
            timeout: None,
            max_task_failures: 3,
            max_read_errors: 10,
        }
    }
}

/// Why a watch stopped without outcomes.
#[derive(Debug, Error, Diagnostic)]
pub enum ConvergeError {
    /// A read failed for good: not retryable, or retryable too many times in a row.
    #[error("watching the rollout failed")]
    #[diagnostic(code(stackctl::converge::engine))]
    Engine(#[from] EngineError),

    #[error(transparent)]
    #[diagnostic(code(stackctl::converge::malformed))]
    Malformed(#[from] MalformedService),
}

/// Watches services of one stack (they must carry its namespace label).
#[derive(Debug)]
pub struct RolloutWatcher<'e, E> {
    engine: &'e E,
    stack: String,
    options: RolloutOptions,
}

impl<'e, E: Engine> RolloutWatcher<'e, E> {
    #[must_use]
    pub fn new(engine: &'e E, stack: &str, options: RolloutOptions) -> Self {
        Self {
            engine,
            stack: stack.to_owned(),
            options,
        }
    }

    /// Watch `services` until each has an outcome; `on_event` hears every change of progress and
    /// each outcome as it happens. Returns the outcome of every service.
    pub async fn follow(
        &self,
        services: &[ServiceId],
        mut on_event: impl FnMut(&RolloutEvent),
    ) -> Result<BTreeMap<ServiceId, Outcome>, ConvergeError> {
        let started = Instant::now();
        let deadline = self.options.timeout.map(|t| started + t);
        let mut watch = Following::new(services, self.options.max_task_failures);
        let mut read_errors = 0;
        while !watch.pending.is_empty() {
            let tick = Instant::now();
            match self.observe(&watch.pending_ids()).await {
                Ok(snapshot) => {
                    read_errors = 0;
                    watch.take(&snapshot, Instant::now(), &mut on_event)?;
                }
                Err(err) if err.is_retryable() && read_errors < self.options.max_read_errors => {
                    read_errors += 1;
                }
                Err(err) => return Err(err.into()),
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                watch.time_out(&mut on_event);
                break;
            }
            let next = tick + self.options.tick;
            let wake = deadline.map_or(next, |d| next.min(d));
            tokio::time::sleep_until(wake.into()).await;
        }
        Ok(watch.done)
    }

    /// One tick's reads, sent together.
    async fn observe(&self, ids: &[String]) -> Result<Snapshot, EngineError> {
        let (services, tasks, nodes) = futures::try_join!(
            self.engine.list_services_raw(&self.stack),
            self.engine.list_tasks(ids),
            self.engine.list_nodes(),
        )?;
        Ok(Snapshot::new(services, tasks, &nodes))
    }
}

/// What one tick read, sorted by service.
struct Snapshot {
    services: HashMap<String, Value>,
    tasks: HashMap<String, Vec<Task>>,
    down_nodes: HashSet<String>,
}

impl Snapshot {
    fn new(services: Vec<Value>, tasks: Vec<Task>, nodes: &[Node]) -> Self {
        let services = services
            .into_iter()
            .filter_map(|s| Some((s.get("ID")?.as_str()?.to_owned(), s)))
            .collect();
        let mut by_service: HashMap<String, Vec<Task>> = HashMap::new();
        for task in tasks {
            let service = task.service_id.clone().unwrap_or_default();
            by_service.entry(service).or_default().push(task);
        }
        let down_nodes = nodes
            .iter()
            .filter(|n| n.status.as_ref().and_then(|s| s.state) == Some(NodeState::DOWN))
            .filter_map(|n| n.id.clone())
            .collect();
        Self {
            services,
            tasks: by_service,
            down_nodes,
        }
    }
}

/// The watch's state between ticks.
struct Following {
    pending: BTreeMap<ServiceId, Followed>,
    done: BTreeMap<ServiceId, Outcome>,
    max_task_failures: u32,
}

#[derive(Default)]
struct Followed {
    tracker: Tracker,
    last_event: Option<ProgressEvent>,
}

impl Following {
    fn new(services: &[ServiceId], max_task_failures: u32) -> Self {
        Self {
            pending: services
                .iter()
                .map(|id| (id.clone(), Followed::default()))
                .collect(),
            done: BTreeMap::new(),
            max_task_failures,
        }
    }

    fn pending_ids(&self) -> Vec<String> {
        self.pending
            .keys()
            .map(|id| id.as_str().to_owned())
            .collect()
    }

    fn take(
        &mut self,
        snapshot: &Snapshot,
        now: Instant,
        on_event: &mut impl FnMut(&RolloutEvent),
    ) -> Result<(), MalformedService> {
        let mut finished = Vec::new();
        for (id, followed) in &mut self.pending {
            let Some(service) = snapshot.services.get(id.as_str()) else {
                let message = format!("service {id} disappeared from the stack while watched");
                finished.push((id.clone(), id.to_string(), Outcome::Failed { message }));
                continue;
            };
            let tasks = snapshot
                .tasks
                .get(id.as_str())
                .map_or(&[][..], Vec::as_slice);
            let seen = Observation {
                service,
                tasks,
                down_nodes: &snapshot.down_nodes,
            };
            let outcome = followed.observe(id, &seen, self.max_task_failures, now, on_event)?;
            if let Some((name, outcome)) = outcome {
                finished.push((id.clone(), name, outcome));
            }
        }
        for (id, name, outcome) in finished {
            self.finish(id, name, outcome, on_event);
        }
        Ok(())
    }

    fn finish(
        &mut self,
        service: ServiceId,
        name: String,
        outcome: Outcome,
        on_event: &mut impl FnMut(&RolloutEvent),
    ) {
        self.pending.remove(&service);
        on_event(&RolloutEvent::Finished {
            service: service.clone(),
            name,
            outcome: outcome.clone(),
        });
        self.done.insert(service, outcome);
    }

    fn time_out(&mut self, on_event: &mut impl FnMut(&RolloutEvent)) {
        for (id, followed) in std::mem::take(&mut self.pending) {
            let name = followed
                .tracker
                .last()
                .map_or_else(|| id.to_string(), |a| a.name.clone());
            self.finish(id, name, followed.tracker.timed_out(), on_event);
        }
    }
}

impl Followed {
    /// Assess, report progress if it changed, and return the outcome (with the service's name)
    /// once there is one.
    fn observe(
        &mut self,
        id: &ServiceId,
        seen: &Observation<'_>,
        max_task_failures: u32,
        now: Instant,
        on_event: &mut impl FnMut(&RolloutEvent),
    ) -> Result<Option<(String, Outcome)>, MalformedService> {
        let known = self.tracker.known_failures(id.as_str(), seen.tasks);
        let policy = FailurePolicy {
            max_task_failures,
            known,
        };
        let assessment = assess(seen, &policy)?;
        let name = assessment.name.clone();
        let failures = assessment.failures.len() as u64;
        let outcome = self.tracker.step(assessment, now);
        if let Some(last) = self.tracker.last() {
            let event = ProgressEvent::new(id, last, failures, self.tracker.verifying(now));
            if self.last_event.as_ref() != Some(&event) {
                on_event(&RolloutEvent::Progress(event.clone()));
                self.last_event = Some(event);
            }
        }
        Ok(outcome.map(|outcome| (name, outcome)))
    }
}
