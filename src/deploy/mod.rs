//! One deploy, two callers (`stackctl apply` and the watcher): plan, take the stack's lock,
//! re-plan under it, apply while renewing it, record the apply in the stack's history.

use std::time::Duration;

use crate::apply::lock::{LockError, StackLock};
use crate::apply::record::{self, Entry, SUCCEEDED};
use crate::apply::{ApplyError, ApplyOptions, ApplyReport, Events, ServiceOutcome, apply};
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
    #[error(transparent)]
    #[diagnostic(transparent)]
    Apply(#[from] ApplyError),
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
    pub async fn run(
        &self,
        shown: &Plan,
        events: &Events<'_>,
        on_moved: &mut (dyn FnMut(&Plan) -> OnMoved + Send),
    ) -> Result<Deployed, DeployError> {
        let engine = self.engine;
        let lock = lock(engine, self.stack, self.options).await?;
        events.emit(&crate::apply::ApplyEvent::Locked);
        let work = self.run_locked(shown, events, on_moved);
        let (result, lost) = lock.hold(engine, work).await;
        let released = lock.release(engine).await;
        let mut deployed = result?;
        if let Some(lost) = lost {
            deployed.warnings.push(lost.to_string());
        }
        if let Err(err) = released {
            deployed
                .warnings
                .push(format!("could not release the apply lock: {err}"));
        }
        Ok(deployed)
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
        let report = apply(self.engine, &plan, &self.options.apply, events).await?;
        let entry = entry_for(self.origin, &plan, &report);
        let mut warnings = Vec::new();
        if let Err(err) = record::append(self.engine, self.stack, entry.clone()).await {
            warnings.push(format!(
                "could not record this apply in the stack's history: {err}"
            ));
        }
        Ok(Deployed {
            plan,
            report,
            entry: Some(entry),
            warnings,
        })
    }
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
    tokio::select! {
        lock = StackLock::acquire(engine, stack, ttl, wait) => Ok(lock?),
        () = options.apply.stop.wait() => Err(DeployError::Stopped),
    }
}

/// The history entry of an apply: what the plan changed, how each service ended.
#[must_use]
pub fn entry_for(origin: &Origin, plan: &Plan, report: &ApplyReport) -> Entry {
    let mut entry = Entry::now(origin.source.clone());
    entry.revision.clone_from(&origin.revision);
    entry.inputs.clone_from(&origin.inputs);
    entry.changes = change_lines(plan);
    for service in &plan.services {
        let list = match service.action {
            Action::Create => &mut entry.created,
            Action::Update => &mut entry.updated,
            Action::Remove => &mut entry.removed,
            Action::Unchanged => continue,
        };
        list.push(service.name.clone());
    }
    let failed: Vec<String> = report
        .services
        .iter()
        .filter(|(_, o)| !o.is_success())
        .map(|(n, o)| format!("{n}: {}", describe(n, o)))
        .collect();
    entry.outcome = if failed.is_empty() {
        SUCCEEDED.into()
    } else if report
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
    match outcome {
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
    }
}
