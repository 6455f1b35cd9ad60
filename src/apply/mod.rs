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
    /// Not written: someone changed the service between the plan and the write (a version
    /// conflict). The deploy re-plans it against what is there now.
    Conflict(String),
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

/// An apply that stopped on an error, possibly after writing: the error names the call that
/// failed (the cause is interpolated, not chained, so it prints once).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ApplyError {
    #[error("cannot {action} {kind} {name}: {cause}")]
    #[diagnostic(code(stackctl::apply::object))]
    Object {
        kind: &'static str,
        name: String,
        action: &'static str,
        cause: EngineError,
    },
    /// A call made while watching rollouts or rolling back (not a write of the plan's).
    #[error("{call} failed: {cause}")]
    #[diagnostic(code(stackctl::apply::call))]
    Call { call: String, cause: EngineError },
    #[error("{0} (this is a bug in stackctl)")]
    #[diagnostic(code(stackctl::apply::bug))]
    Bug(String),
}

/// What an apply wrote, from the calls that succeeded (not from the plan): services by name,
/// networks, configs and secrets as `network NAME` and so on, in the order written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub removed: Vec<String>,
}

impl Written {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.created.is_empty() && self.updated.is_empty() && self.removed.is_empty()
    }

    fn object(&mut self, kind: ObjectKind, name: &str, action: Action) {
        self.push(action, format!("{} {name}", kind.word()));
    }

    fn push(&mut self, action: Action, name: String) {
        match action {
            Action::Create => self.created.push(name),
            Action::Update => self.updated.push(name),
            Action::Remove => self.removed.push(name),
            Action::Unchanged => {}
        }
    }

    /// Add what a later round of the same apply wrote.
    pub fn extend(&mut self, more: Self) {
        self.created.extend(more.created);
        self.updated.extend(more.updated);
        self.removed.extend(more.removed);
    }

    /// `created network s_default, s_web; updated s_db`, or `nothing`.
    #[must_use]
    pub fn describe(&self) -> String {
        let parts: Vec<String> = [
            ("created", &self.created),
            ("updated", &self.updated),
            ("removed", &self.removed),
        ]
        .iter()
        .filter(|(_, list)| !list.is_empty())
        .map(|(verb, list)| format!("{verb} {}", list.join(", ")))
        .collect();
        if parts.is_empty() {
            "nothing".into()
        } else {
            parts.join("; ")
        }
    }
}

/// An apply ended by an error part-way: the error, and what had been written before it.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct Halted {
    pub error: ApplyError,
    pub written: Written,
}

impl miette::Diagnostic for Halted {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.error.code()
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        let note = if self.written.is_empty() {
            "nothing was written to the cluster; fix the cause and apply again".to_owned()
        } else {
            format!(
                "already written: {}; the next `stackctl apply` continues from there",
                self.written.describe()
            )
        };
        Some(Box::new(note))
    }
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
            cause: source,
        }
    }
}

/// The outcome of each service the plan touched, in plan order, and what was written.
#[derive(Clone, Debug, Default)]
pub struct ApplyReport {
    pub services: Vec<(String, ServiceOutcome)>,
    pub written: Written,
}

impl ApplyReport {
    #[must_use]
    pub fn is_success(&self) -> bool {
        self.services.iter().all(|(_, o)| o.is_success())
    }
}

/// Carry out `plan`. A plan without changes makes no call at all. A stop (see [`Stop`]) is
/// honoured before every write; an error ends the apply with what was written so far.
pub async fn apply<E: Engine>(
    engine: &E,
    plan: &Plan,
    options: &ApplyOptions,
    events: &Events<'_>,
) -> Result<ApplyReport, Halted> {
    let mut written = Written::default();
    match run(engine, plan, options, events, &mut written).await {
        Ok(services) => Ok(ApplyReport { services, written }),
        Err(error) => Err(Halted { error, written }),
    }
}

async fn run<E: Engine>(
    engine: &E,
    plan: &Plan,
    options: &ApplyOptions,
    events: &Events<'_>,
    written: &mut Written,
) -> Result<Vec<(String, ServiceOutcome)>, ApplyError> {
    if !plan.has_changes() {
        return Ok(Vec::new());
    }
    let ids = objects::create_objects(engine, plan, &options.stop, events, written).await?;
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
        return Ok(services);
    }
    let services = services::roll_out(engine, plan, &ids, options, events, written).await?;
    let success = services.iter().all(|(_, o)| o.is_success());
    if (success || options.on_failure == OnFailure::Continue) && !options.stop.is_set() {
        objects::remove_objects(engine, plan, events, written).await;
    }
    Ok(services)
}

#[cfg(test)]
mod tests {
    use super::{Action, ApplyError, Halted, ObjectKind, Written};

    #[test]
    fn what_was_written_is_told_in_one_line_with_kinds_for_objects() {
        let mut written = Written::default();
        assert_eq!(written.describe(), "nothing");
        written.object(ObjectKind::Network, "s_default", Action::Create);
        written.push(Action::Create, "s_web".into());
        written.push(Action::Remove, "s_old".into());
        written.push(Action::Unchanged, "s_same".into());
        assert_eq!(
            written.describe(),
            "created network s_default, s_web; removed s_old"
        );
    }

    #[test]
    fn a_halted_apply_says_what_was_written_and_that_the_next_apply_continues() {
        let halted = |written| Halted {
            error: ApplyError::Bug("x".into()),
            written,
        };
        let help = |h: &Halted| miette::Diagnostic::help(h).unwrap().to_string();
        let mut written = Written::default();
        assert_eq!(
            help(&halted(written.clone())),
            "nothing was written to the cluster; fix the cause and apply again"
        );
        written.push(Action::Update, "s_web".into());
        assert_eq!(
            help(&halted(written)),
            "already written: updated s_web; the next `stackctl apply` continues from there"
        );
    }
}
