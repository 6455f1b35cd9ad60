//! One deploy, two callers (`stackctl apply` and the watcher): plan, take the stack's lock,
//! re-plan under it, apply while renewing it, record the apply in the stack's history.

use std::time::Duration;

use crate::apply::lock::{LockError, StackLock};
use crate::apply::record::{self, Entry, SUCCEEDED};
use crate::apply::{
    ApplyEvent, ApplyOptions, ApplyReport, Events, Halted, ServiceOutcome, Written, apply,
};
use crate::convert::Desired;
use crate::engine::registry_auth::credentials_for;
use crate::engine::{Engine, EngineError};
use crate::model::StackName;
use crate::observe::images::{ResolveImage, resolve_images};
use crate::observe::observe;
use crate::plan::render::change_lines;
use crate::plan::{Action, Plan, PlanError, PlanOptions, build};

/// How to plan and apply one stack.
#[derive(Clone, Debug, Default)]
pub struct DeployOptions {
    pub plan: PlanOptions,
    pub resolve_image: ResolveImage,
    /// Its `registry_auth` also decides whether the registry is asked with credentials.
    pub apply: ApplyOptions,
    /// How long to wait for another holder of the lock; `None` waits until stopped.
    pub lock_wait: Option<Duration>,
    /// Refuse a plan removing more services, networks, configs and secrets than this.
    pub max_removals: Option<usize>,
}

/// What the history record says the files came from.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    /// Files, or where the watcher took them from.
    pub source: String,
    pub revision: Option<String>,
    /// Digest of every file the stack read.
    pub inputs: Option<String>,
}

/// A plan and what is worth telling about it.
#[derive(Clone, Debug)]
pub struct Planned {
    pub plan: Plan,
    pub warnings: Vec<String>,
}

/// How a deploy ended (errors aside).
#[derive(Debug)]
pub struct Deployed {
    /// The plan applied: computed again under the lock, so it may differ from the one shown.
    pub plan: Plan,
    pub report: ApplyReport,
    /// The history entry written (or that failed to be written, see `warnings`).
    pub entry: Option<Entry>,
    /// Lock renewal or history problems: the apply itself went as `report` says.
    pub warnings: Vec<String>,
}

impl Deployed {
    #[must_use]
    pub fn is_success(&self) -> bool {
        self.report.is_success()
    }

    /// Stopping was asked for while services were still rolling out or not started.
    #[must_use]
    pub fn was_stopped(&self) -> bool {
        self.report.services.iter().any(|(_, o)| o.is_stopped())
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DeployError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Lock(#[from] LockError),
    /// The apply stopped on an error, after writing what the error's help lists (recorded in
    /// the stack's history).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Apply(#[from] Halted),
    #[error("the plan removes {count} objects, more than the {max} allowed; nothing was applied")]
    #[diagnostic(
        code(stackctl::deploy::too_many_removals),
        help("check the files (a deleted service?); raise max_removals if this is intended")
    )]
    TooManyRemovals { count: usize, max: usize },
    #[error("stopped while waiting for the stack's lock; nothing was applied")]
    #[diagnostic(code(stackctl::deploy::stopped))]
    Stopped,
    #[error("the cluster changed while waiting for the lock; nothing was applied")]
    #[diagnostic(code(stackctl::deploy::moved))]
    Moved,
}

/// Observe the stack, pin image digests as asked, and build its plan (five list calls, plus
/// one registry lookup per image to pin).
pub async fn plan<E: Engine>(
    engine: &E,
    stack: &StackName,
    desired: &Desired,
    options: &DeployOptions,
) -> Result<Planned, DeployError> {
    let live = observe(engine, stack).await?;
    let mut desired = desired.clone();
    let registry_auth = options.apply.registry_auth;
    let auth = |image: &str| registry_auth.then(|| credentials_for(image)).flatten();
    let mut warnings =
        resolve_images(engine, &mut desired, &live, options.resolve_image, &auth).await;
    for service in desired.services.values() {
        let ignored = crate::diff::ignored_by_daemon(&service.spec, live.api);
        if !ignored.is_empty() {
            let keys: Vec<String> = ignored
                .iter()
                .map(|(key, since)| format!("{key} (needs {since})"))
                .collect();
            warnings.push(format!(
                "service {}: this daemon (Engine API 1.{}) ignores {}",
                service.name,
                live.api.minor,
                keys.join(", ")
            ));
        }
    }
    let plan = build(stack, &desired, &live, options.plan)?;
    check_removals(&plan, options.max_removals)?;
    Ok(Planned { plan, warnings })
}

fn check_removals(plan: &Plan, max: Option<usize>) -> Result<(), DeployError> {
    let Some(max) = max else { return Ok(()) };
    let objects = plan
        .networks
        .iter()
        .chain(&plan.configs)
        .chain(&plan.secrets);
    // A superseded config or secret version is replaced, not lost.
    let count = plan
        .services
        .iter()
        .filter(|s| s.action == Action::Remove)
        .count()
        + objects
            .filter(|o| o.action == Action::Remove && !o.superseded)
            .count();
    if count > max {
        return Err(DeployError::TooManyRemovals { count, max });
    }
    Ok(())
}

/// What the caller decides when the plan under the lock differs from the one shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnMoved {
    /// Apply the current plan (after telling the user).
    Proceed,
    /// Apply nothing (a reviewed plan file must hold exactly).
    Refuse,
}

/// One stack's deploy: what to deploy, where, how, and where it came from.
pub struct Deploy<'a, E> {
    pub engine: &'a E,
    pub stack: &'a StackName,
    pub desired: &'a Desired,
    pub options: &'a DeployOptions,
    pub origin: &'a Origin,
}

impl<E: Engine> Deploy<'_, E> {
    /// The plan as things are now.
    pub async fn plan(&self) -> Result<Planned, DeployError> {
        plan(self.engine, self.stack, self.desired, self.options).await
    }

    /// Take the lock, plan again, apply while renewing the lock, record. `on_moved` hears a
    /// plan that differs from `shown`. A plan without changes under the lock writes nothing.
    /// The lock is released however the work ends (a stop included).
    pub async fn run(
        &self,
        shown: &Plan,
        events: &Events<'_>,
        on_moved: &mut (dyn FnMut(&Plan) -> OnMoved + Send),
    ) -> Result<Deployed, DeployError> {
        let engine = self.engine;
        let lock = lock(engine, self.stack, self.options).await?;
        events.emit(&ApplyEvent::Locked);
        let work = self.run_locked(shown, events, on_moved);
        let (result, lost) = lock.hold(engine, work).await;
        let released = lock.release(engine).await;
        let mut warnings: Vec<String> = lost.iter().map(ToString::to_string).collect();
        if let Err(err) = released {
            warnings.push(err.to_string());
        }
        match result {
            Ok(mut deployed) => {
                deployed.warnings.extend(warnings);
                Ok(deployed)
            }
            Err(err) => {
                for warning in warnings {
                    events.emit(&ApplyEvent::Warning(warning));
                }
                Err(err)
            }
        }
    }

    async fn run_locked(
        &self,
        shown: &Plan,
        events: &Events<'_>,
        on_moved: &mut (dyn FnMut(&Plan) -> OnMoved + Send),
    ) -> Result<Deployed, DeployError> {
        // The cluster may have moved while the plan was read or the lock awaited.
        let plan = self.plan().await?.plan;
        // Placement is about the nodes, not the changes: it does not make the plan move.
        let same = plan.comparable() == shown.comparable();
        if !same && on_moved(&plan) == OnMoved::Refuse {
            return Err(DeployError::Moved);
        }
        if !plan.has_changes() {
            return Ok(Deployed {
                plan,
                report: ApplyReport::default(),
                entry: None,
                warnings: Vec::new(),
            });
        }
        let mut rounds = Rounds::default();
        let first = apply(self.engine, &plan, &self.options.apply, events).await;
        rounds.add(&plan, first);
        if rounds.error.is_none() {
            self.replan_conflicts(&plan, events, &mut rounds).await;
        }
        let stopped_early = self.options.apply.stop.is_set()
            && rounds.report.written.is_empty()
            && rounds.error.is_none()
            && rounds.report.services.iter().all(|(_, o)| o.is_stopped());
        let mut warnings = Vec::new();
        let entry = if stopped_early {
            // Stopped before the first write: nothing happened worth a record.
            None
        } else {
            let entry = entry_for(self.origin, &rounds);
            if let Err(err) = record::append(self.engine, self.stack, entry.clone()).await {
                warnings.push(format!(
                    "could not record this apply in the stack's history: {err}"
                ));
            }
            Some(entry)
        };
        if let Some(error) = rounds.error {
            for warning in warnings {
                events.emit(&ApplyEvent::Warning(warning));
            }
            return Err(DeployError::Apply(Halted {
                error,
                written: rounds.report.written,
            }));
        }
        Ok(Deployed {
            plan,
            report: rounds.report,
            entry,
            warnings,
        })
    }

    /// Services whose update met a version conflict (someone changed them after the plan read
    /// them) are planned again against what is there now, the new plan shown as a warning, and
    /// written once more. A second conflict stays one.
    async fn replan_conflicts(&self, plan: &Plan, events: &Events<'_>, rounds: &mut Rounds) {
        let conflicted = conflicted_and_dependents(plan, &rounds.report);
        if conflicted.is_empty() || self.options.apply.stop.is_set() {
            return;
        }
        let fresh = match self.plan().await {
            Ok(planned) => planned.plan,
            Err(err) => {
                let why = format!("changed in the cluster, and planning it again failed: {err}");
                rounds.set_outcomes(&conflicted, &ServiceOutcome::Failed(why));
                return;
            }
        };
        let retry = only_services(&fresh, &conflicted);
        for name in &conflicted {
            let alone = Written {
                updated: vec![name.clone()],
                ..Written::default()
            };
            let lines = change_lines(&written_part(&retry, &alone));
            let now = if lines.is_empty() {
                "it already matches the files: nothing to write".to_owned()
            } else {
                format!("planned again:\n    {}", lines.join("\n    "))
            };
            events.emit(&ApplyEvent::Warning(format!(
                "service {name} was changed by someone else after the plan read it (version conflict); {now}"
            )));
        }
        rounds.set_outcomes(&conflicted, &ServiceOutcome::Converged);
        let second = apply(self.engine, &retry, &self.options.apply, events).await;
        rounds.add(&retry, second);
    }
}

/// What the rounds of one apply did (the plan, then conflicted services planned again).
#[derive(Default)]
struct Rounds {
    report: ApplyReport,
    /// The change lines of what was written, round by round.
    changes: Vec<String>,
    error: Option<crate::apply::ApplyError>,
}

impl Rounds {
    fn add(&mut self, plan: &Plan, result: Result<ApplyReport, Halted>) {
        let (services, written) = match result {
            Ok(report) => (report.services, report.written),
            Err(halted) => {
                self.error = Some(halted.error);
                (Vec::new(), halted.written)
            }
        };
        self.changes
            .extend(change_lines(&written_part(plan, &written)));
        self.report.written.extend(written);
        for (name, outcome) in services {
            self.set_outcomes(&[name], &outcome);
        }
    }

    fn set_outcomes(&mut self, names: &[String], outcome: &ServiceOutcome) {
        for name in names {
            match self.report.services.iter_mut().find(|(n, _)| n == name) {
                Some((_, o)) => o.clone_from(outcome),
                None => self.report.services.push((name.clone(), outcome.clone())),
            }
        }
    }
}

/// Services that met a version conflict, and those not started because they depend on one.
fn conflicted_and_dependents(plan: &Plan, report: &ApplyReport) -> Vec<String> {
    let conflicted: Vec<String> = report
        .services
        .iter()
        .filter(|(_, o)| matches!(o, ServiceOutcome::Conflict(_)))
        .map(|(n, _)| n.clone())
        .collect();
    let waiting = report.services.iter().filter(|(name, outcome)| {
        matches!(outcome, ServiceOutcome::NotStarted(_))
            && plan
                .services
                .iter()
                .find(|s| &s.name == name)
                .is_some_and(|s| s.depends_on.iter().any(|d| conflicted.contains(d)))
    });
    let waiting: Vec<String> = waiting.map(|(n, _)| n.clone()).collect();
    conflicted.into_iter().chain(waiting).collect()
}

/// `plan` with every service but `names` left unchanged (objects as planned).
fn only_services(plan: &Plan, names: &[String]) -> Plan {
    let mut plan = plan.clone();
    for service in &mut plan.services {
        if !names.contains(&service.name) {
            service.action = Action::Unchanged;
        }
    }
    plan.count();
    plan
}

/// The part of `plan` that `written` says was carried out, for the record's change lines.
fn written_part(plan: &Plan, written: &Written) -> Plan {
    let done = |name: String| {
        written.created.contains(&name)
            || written.updated.contains(&name)
            || written.removed.contains(&name)
    };
    let mut plan = plan.clone();
    for service in &mut plan.services {
        if !done(service.name.clone()) {
            service.action = Action::Unchanged;
        }
    }
    for object in plan
        .networks
        .iter_mut()
        .chain(&mut plan.configs)
        .chain(&mut plan.secrets)
    {
        if !done(format!("{} {}", object.kind.word(), object.name)) {
            object.action = Action::Unchanged;
        }
    }
    plan.count();
    plan
}

async fn lock<E: Engine>(
    engine: &E,
    stack: &StackName,
    options: &DeployOptions,
) -> Result<StackLock, DeployError> {
    let ttl = crate::apply::lock::default_ttl();
    // Waiting "forever" is waiting until stopped; a year stands for forever here.
    let wait = options
        .lock_wait
        .unwrap_or(Duration::from_secs(365 * 24 * 3600));
    let stop = &options.apply.stop;
    match StackLock::acquire(engine, stack, ttl, wait, stop).await {
        // Taken while the stop came: give it back before anything else.
        Ok(lock) if stop.is_set() => match lock.release(engine).await {
            Ok(()) => Err(DeployError::Stopped),
            Err(err) => Err(err.into()),
        },
        Ok(lock) => Ok(lock),
        Err(LockError::Stopped { .. }) => Err(DeployError::Stopped),
        Err(err) => Err(err.into()),
    }
}

/// The history entry of an apply: what its calls wrote (not what the plan meant to), how each
/// service ended, and the error that ended it, if one did.
fn entry_for(origin: &Origin, rounds: &Rounds) -> Entry {
    let report = &rounds.report;
    let mut entry = Entry::now(origin.source.clone());
    entry.revision.clone_from(&origin.revision);
    entry.inputs.clone_from(&origin.inputs);
    entry.changes.clone_from(&rounds.changes);
    entry.created.clone_from(&report.written.created);
    entry.updated.clone_from(&report.written.updated);
    entry.removed.clone_from(&report.written.removed);
    let mut failed: Vec<String> = rounds
        .error
        .iter()
        .map(|e| format!("failed: {e}"))
        .collect();
    failed.extend(
        report
            .services
            .iter()
            .filter(|(_, o)| !o.is_success())
            .map(|(n, o)| format!("{n}: {}", describe(n, o))),
    );
    entry.outcome = if failed.is_empty() {
        SUCCEEDED.into()
    } else if rounds.error.is_none()
        && report
            .services
            .iter()
            .all(|(_, o)| o.is_success() || o.is_stopped())
    {
        format!("interrupted: {}", failed.join("; "))
    } else {
        failed.join("; ")
    };
    entry
}

/// A service's outcome in words (`rolled back: task failed ...`).
#[must_use]
pub fn describe(name: &str, outcome: &ServiceOutcome) -> String {
    // The reasons quote task and daemon messages, which can echo part of a spec.
    let text = match outcome {
        ServiceOutcome::Converged => "converged".into(),
        ServiceOutcome::Written => "written (not watched: --detach)".into(),
        ServiceOutcome::Removed => "removed".into(),
        ServiceOutcome::RolledBack(why) => format!("rolled back: {why}"),
        ServiceOutcome::Paused(why) => format!(
            "paused: {why} (resume with `docker service update --detach=false {name}` after fixing it, or `stackctl rollback`)"
        ),
        ServiceOutcome::Failed(why) => format!("failed: {why}"),
        ServiceOutcome::NotStarted(why) => format!("not started: {why}"),
        ServiceOutcome::StillRolling => {
            "still rolling out in Swarm (stopped watching; see `stackctl status`)".into()
        }
        ServiceOutcome::Conflict(why) => format!("conflict: {why}"),
    };
    crate::sensitive::mask_text(&text)
}
