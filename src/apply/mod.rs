//! Applying a plan to the cluster: networks, configs and secrets first, then service rollouts
//! (independent ones side by side, `depends_on` ones after what they depend on has converged),
//! each watched until Swarm reports its outcome; removals last.

pub mod converge;
pub mod lock;
mod objects;
pub mod record;
pub mod remove;
pub mod rollout;
mod services;
pub mod stop;

use std::time::Duration;

pub use stop::{Stop, StopHandle};

use crate::engine::{Engine, EngineError};
use crate::plan::{Action, ObjectKind, ObjectPlan, Plan};

/// What to do with the rest of an apply when a service's rollout fails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OnFailure {
    /// Start no further rollouts (those under way are still watched to their end).
    #[default]
    Stop,
    /// Carry on with the other services.
    Continue,
    /// Roll back every service this apply already updated.
    Rollback,
}

#[derive(Clone, Debug)]
pub struct ApplyOptions {
    pub on_failure: OnFailure,
    /// Services rolled out at the same time.
    pub max_parallel: usize,
    /// Bound on the whole wait for convergence.
    pub timeout: Option<Duration>,
    /// Return right after the writes, without watching rollouts.
    pub detach: bool,
    /// Send registry credentials with service writes (`--with-registry-auth`).
    pub registry_auth: bool,
    /// Asked to stop: start no further write, stop waiting for rollouts.
    pub stop: Stop,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            on_failure: OnFailure::Stop,
            max_parallel: 4,
            timeout: None,
            detach: false,
            registry_auth: false,
            stop: Stop::default(),
        }
    }
}

/// How one service ended up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceOutcome {
    /// Created or updated, and converged.
    Converged,
    /// Written; not watched (`--detach`).
    Written,
    /// Removed (`--prune`).
    Removed,
    /// Swarm rolled the update back (`failure_action` rollback, or `--on-failure rollback`).
    RolledBack(String),
    /// The update is paused (`failure_action` pause); the service runs a mix of versions.
    Paused(String),
    /// Tasks fail, the write was refused, or the wait timed out.
    Failed(String),
    /// Not started, because of an earlier failure, a failed dependency, or a stop.
    NotStarted(String),
    /// Written, then no longer watched because stopping was asked for: Swarm carries on.
    StillRolling,
}

impl ServiceOutcome {
    #[must_use]
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Converged | Self::Written | Self::Removed)
    }

    /// Left unfinished because stopping was asked for (neither a success nor a failure).
    #[must_use]
    pub fn is_stopped(&self) -> bool {
        match self {
            Self::StillRolling => true,
            Self::NotStarted(why) => why == stop::STOPPED,
            _ => false,
        }
    }
}

/// Progress reported while applying, for the live display or the CI log.
#[derive(Clone, Debug)]
pub enum ApplyEvent {
    Object {
        kind: ObjectKind,
        name: String,
        action: Action,
    },
    ServiceWritten {
        name: String,
        action: Action,
    },
    Progress {
        name: String,
        message: String,
    },
    ServiceDone {
        name: String,
        outcome: ServiceOutcome,
    },
    Warning(String),
    /// The stack's lock is held (by the deploy that emits this); writes may start.
    Locked,
}

/// Receives [`ApplyEvent`]s; must not block.
pub struct Events<'a>(pub &'a (dyn Fn(&ApplyEvent) + Send + Sync));

impl Events<'_> {
    pub fn emit(&self, event: &ApplyEvent) {
        (self.0)(event);
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ApplyError {
    #[error("cannot {action} {kind} {name}: {source}")]
    #[diagnostic(code(stackctl::apply::object))]
    Object {
        kind: &'static str,
        name: String,
        action: &'static str,
        source: EngineError,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Engine(#[from] EngineError),
    #[error("{0} (this is a bug in stackctl)")]
    #[diagnostic(code(stackctl::apply::bug))]
    Bug(String),
}

impl ApplyError {
    fn object(object: &ObjectPlan, source: EngineError) -> Self {
        let action = match object.action {
            Action::Create => "create",
            Action::Update => "update",
            Action::Remove => "remove",
            Action::Unchanged => "check",
        };
        Self::Object {
            kind: object.kind.word(),
            name: object.name.clone(),
            action,
            source,
        }
    }
}

/// The outcome of each service the plan touched, in plan order.
#[derive(Clone, Debug, Default)]
pub struct ApplyReport {
    pub services: Vec<(String, ServiceOutcome)>,
}

impl ApplyReport {
    #[must_use]
    pub fn is_success(&self) -> bool {
        self.services.iter().all(|(_, o)| o.is_success())
    }
}

/// Carry out `plan`. A plan without changes makes no call at all.
pub async fn apply<E: Engine>(
    engine: &E,
    plan: &Plan,
    options: &ApplyOptions,
    events: &Events<'_>,
) -> Result<ApplyReport, ApplyError> {
    if !plan.has_changes() {
        return Ok(ApplyReport::default());
    }
    if options.stop.is_set() {
        let services = plan
            .services
            .iter()
            .filter(|s| s.action != Action::Unchanged)
            .map(|s| {
                (
                    s.name.clone(),
                    ServiceOutcome::NotStarted(stop::STOPPED.into()),
                )
            })
            .collect();
        return Ok(ApplyReport { services });
    }
    let ids = objects::create_objects(engine, plan, events).await?;
    let report = services::roll_out(engine, plan, &ids, options, events).await?;
    if report.is_success() || options.on_failure == OnFailure::Continue {
        objects::remove_objects(engine, plan, events).await;
    }
    Ok(report)
}
