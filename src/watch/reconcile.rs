//! One reconcile of one stack: read its files at the source's revision, plan, and (in apply
//! mode) deploy what changed, or report drift; the result says when to look again.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::backoff::Backoff;
use super::clock;
use super::config::{StackConfig, StackMode};
use super::follow::FOLDER_REVISION;
use super::inputs::{self, Finding, Inputs, StackFiles};
use super::log::{Level, Log};
use super::memory::{Failure, Memory};
use super::status::{Drift, Outcome, SharedBoard};
use super::trigger::Reason;
use crate::apply::{ApplyEvent, ApplyOptions, Events, Stop};
use crate::convert::Desired;
use crate::deploy::{Deploy, DeployError, DeployOptions, OnMoved, Origin};
use crate::engine::Engine;
use crate::plan::PlanOptions;
use crate::plan::render::change_lines;
use crate::sensitive::mask_text;

/// A folder's file modified this recently may still be being written: read it again later.
const SETTLE: Duration = Duration::from_millis(500);

/// What the controller does next with the stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing until a trigger arrives.
    Await,
    /// Reconcile again after this long (a retry, or files still being written).
    RequeueAfter(Duration),
}

/// What every reconcile shares.
pub struct Context<E> {
    pub engine: Arc<E>,
    pub board: SharedBoard,
    pub log: Log,
    pub stop: Stop,
    pub heal_limit: u32,
    pub heal_window: Duration,
}

/// One reconcile's inputs: the stack, where its source is checked out, and why.
#[derive(Clone, Debug)]
pub struct Job {
    pub config: StackConfig,
    /// The source's files at `revision`.
    pub root: PathBuf,
    pub revision: String,
    /// The source, as the history names it.
    pub origin: String,
    pub reason: Reason,
}

impl Job {
    /// A folder source has no revisions of its own ([`FOLDER_REVISION`]): its stacks name
    /// theirs from their files' digest.
    fn is_folder(&self) -> bool {
        self.revision == FOLDER_REVISION
    }
}

/// Reconcile one stack; `memory` comes back updated.
pub async fn reconcile<E: Engine + 'static>(
    ctx: &Context<E>,
    job: &Job,
    mut memory: Memory,
) -> (Memory, Action) {
    let stack = job.config.name.to_string();
    ctx.board.stack(&stack, |s| {
        s.state = "reading files".into();
        s.desired_revision = Some(job.revision.clone());
    });
    let inputs = read_inputs(job).await;
    // A folder has no revisions of its own: its stack's files' digest is one.
    let named;
    let job = match inputs.digest() {
        Some(digest) if job.is_folder() => {
            named = Job {
                revision: format!("files:{}", &digest[..12]),
                ..job.clone()
            };
            ctx.board.stack(&stack, |s| {
                s.desired_revision = Some(named.revision.clone());
            });
            &named
        }
        _ => job,
    };
    let (desired, digest) = match inputs {
        Inputs::Unsettled => {
            ctx.log.info(
                &stack,
                "files are still being written; reading them again in 1s",
            );
            return (memory, Action::RequeueAfter(Duration::from_secs(1)));
        }
        Inputs::Invalid {
            digest,
            findings,
            reads,
        } => {
            memory.reads = reads;
            let unchanged = memory.last_inputs.as_deref() == Some(digest.as_str());
            memory.last_inputs = Some(digest);
            memory.reconciled_revision = Some(job.revision.clone());
            if !(unchanged && job.reason.is_inputs_only()) {
                report_invalid(ctx, job, findings);
            }
            idle(ctx, &stack);
            return (memory, Action::Await);
        }
        Inputs::Valid {
            desired,
            digest,
            warnings,
            reads,
        } => {
            memory.reads = reads;
            for warning in warnings {
                ctx.log.warn(&stack, &warning.to_string());
            }
            (desired, digest)
        }
    };
    if job.reason.is_inputs_only() && memory.last_inputs.as_deref() == Some(digest.as_str()) {
        // A revision that does not touch this stack's files: no cluster call at all.
        memory.reconciled_revision = Some(job.revision.clone());
        idle(ctx, &stack);
        return (memory, Action::Await);
    }
    memory.last_inputs = Some(digest.clone());
    let action = Reconcile {
        ctx,
        job,
        memory: &mut memory,
        desired: &desired,
        digest: &digest,
    }
    .run()
    .await;
    idle(ctx, &stack);
    (memory, action)
}

async fn read_inputs(job: &Job) -> Inputs {
    let config = job.config.clone();
    let root = job.root.clone();
    let folder = job.is_folder();
    let read = tokio::task::spawn_blocking(move || {
        let files = StackFiles {
            root: &root,
            files: &config.files,
            env_file: config.env_file.as_deref(),
            profiles: &config.profiles,
            settle: folder.then_some(SETTLE),
        };
        inputs::read(&config.name, &files)
    });
    read.await.unwrap_or_else(|panic| Inputs::Invalid {
        digest: String::new(),
        findings: vec![Finding {
            severity: "error".into(),
            file: None,
            line: None,
            column: None,
            message: format!("reading the files failed: {panic} (this is a bug in stackctl)"),
            help: None,
        }],
        reads: std::collections::BTreeSet::new(),
    })
}

fn idle<E>(ctx: &Context<E>, stack: &str) {
    ctx.board.stack(stack, |s| "idle".clone_into(&mut s.state));
}

fn report_invalid<E>(ctx: &Context<E>, job: &Job, findings: Vec<Finding>) {
    let stack = job.config.name.to_string();
    let lines: Vec<String> = findings
        .iter()
        .filter(|f| f.severity == "error")
        .map(ToString::to_string)
        .collect();
    let message = format!(
        "revision {} does not load; nothing was changed, the deployed state stays",
        short(&job.revision)
    );
    ctx.log
        .list(Level::Error, &stack, &message, "findings", &lines);
    ctx.board.stack(&stack, |s| {
        s.last_result = Some(outcome(job, "invalid", message, Vec::new(), findings));
    });
}

fn outcome(
    job: &Job,
    result: &'static str,
    message: String,
    changes: Vec<String>,
    findings: Vec<Finding>,
) -> Outcome {
    Outcome {
        at: clock::now(),
        trigger: job.reason.describe(),
        revision: Some(job.revision.clone()),
        result,
        message,
        changes,
        findings,
    }
}

/// A commit id shortened as git shows it; other revisions as they are.
#[must_use]
pub fn short(revision: &str) -> &str {
    if revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit()) {
        &revision[..12]
    } else {
        revision
    }
}

/// The part of a reconcile that talks to the cluster.
struct Reconcile<'a, E> {
    ctx: &'a Context<E>,
    job: &'a Job,
    memory: &'a mut Memory,
    desired: &'a Desired,
    digest: &'a str,
}

impl<E: Engine + 'static> Reconcile<'_, E> {
    fn stack(&self) -> String {
        self.job.config.name.to_string()
    }

    /// Whether this stack is written to: `mode: apply` and not suspended (a suspended stack is
    /// still planned and reported).
    fn writes(&self) -> bool {
        self.job.config.mode == StackMode::Apply && !self.job.config.suspend
    }

    fn options(&self) -> DeployOptions {
        let config = &self.job.config;
        DeployOptions {
            plan: PlanOptions {
                prune: config.prune,
            },
            apply: ApplyOptions {
                on_failure: config.on_failure,
                stop: self.ctx.stop.clone(),
                ..ApplyOptions::default()
            },
            lock_wait: None,
            max_removals: config.max_removals,
            // As `stackctl apply`: images go as tags, no registry round trip per reconcile.
            resolve_image: crate::observe::images::ResolveImage::Never,
        }
    }

    async fn run(mut self) -> Action {
        let stack = self.stack();
        if let Some(wait) = self.retry_pending() {
            return wait;
        }
        self.ctx
            .board
            .stack(&stack, |s| "planning".clone_into(&mut s.state));
        let options = self.options();
        let origin = self.origin();
        let deploy = Deploy {
            engine: self.ctx.engine.as_ref(),
            stack: &self.job.config.name,
            desired: self.desired,
            options: &options,
            origin: &origin,
        };
        let planned = match deploy.plan().await {
            Ok(planned) => planned,
            Err(err) => return self.deploy_failed(&err),
        };
        for warning in &planned.warnings {
            self.ctx.log.warn(&stack, warning);
        }
        let plan = planned.plan;
        if !plan.has_changes() {
            self.in_sync(true);
            return Action::Await;
        }
        let changes = change_lines(&plan);
        let drift = self.memory.deployed_inputs.as_deref() == Some(self.digest);
        if drift {
            if !self.should_heal(&changes) {
                return Action::Await;
            }
        } else if !self.writes() {
            self.planned_only(changes);
            return Action::Await;
        }
        self.deploy(&deploy, &plan, changes, drift).await
    }

    /// A failed revision waits for its backoff, or for good once its retries are used up.
    fn retry_pending(&mut self) -> Option<Action> {
        let failure = self.memory.failure.as_ref()?;
        if failure.inputs != self.digest {
            self.memory.failure = None;
            return None;
        }
        let stack = self.stack();
        match failure.retry_at {
            None => {
                let note = format!(
                    "not applying revision {} again: its retries are used up; push a fix or change the stack's settings",
                    short(&self.job.revision)
                );
                if !self.job.reason.is_inputs_only() && self.job.reason.drift.is_none() {
                    self.ctx.log.warn(&stack, &note);
                }
                self.ctx.board.stack(&stack, |s| s.given_up = Some(note));
                Some(Action::Await)
            }
            Some(at) if at > tokio::time::Instant::now() => {
                Some(Action::RequeueAfter(at - tokio::time::Instant::now()))
            }
            Some(_) => None,
        }
    }

    fn origin(&self) -> Origin {
        let files: Vec<String> = self
            .job
            .config
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        Origin {
            source: format!("watch: {} {}", self.job.origin, files.join(" + ")),
            revision: Some(self.job.revision.clone()),
            inputs: Some(self.digest.to_owned()),
        }
    }

    /// The cluster matches the files; `tell` logs it when that is news (a first check, a
    /// startup), not after every drift event our own writes caused.
    fn in_sync(&mut self, tell: bool) {
        let stack = self.stack();
        let revision = self.job.revision.clone();
        let first_sight = self.memory.deployed_inputs.as_deref() != Some(self.digest);
        self.memory.deployed_inputs = Some(self.digest.to_owned());
        self.memory.deployed_revision = Some(revision.clone());
        self.memory.reconciled_revision = Some(revision.clone());
        self.memory.failure = None;
        self.memory.errors = None;
        self.memory.in_sync = true;
        let message = format!("in sync with revision {}", short(&revision));
        if tell && (first_sight || self.job.reason.startup) {
            let why = self.job.reason.describe();
            self.ctx
                .log
                .info(&stack, &format!("{message} (checked: {why})"));
        }
        let result = outcome(self.job, "in sync", message, Vec::new(), Vec::new());
        let digest = self.digest.to_owned();
        self.ctx.board.stack(&stack, |s| {
            s.deployed_revision = Some(revision);
            s.deployed_inputs = Some(digest);
            s.last_result = Some(result);
            // A reported drift is over; a healed one stays visible until the next drift.
            s.drift.take_if(|d| d.action != "healed");
            s.attempts = 0;
            s.next_retry = None;
            s.given_up = None;
        });
    }

    fn planned_only(&mut self, changes: Vec<String>) {
        let stack = self.stack();
        self.memory.reconciled_revision = Some(self.job.revision.clone());
        self.memory.in_sync = false;
        let message = format!(
            "revision {} would change the stack ({}, nothing written)",
            short(&self.job.revision),
            if self.job.config.suspend {
                "suspended"
            } else {
                "mode: plan"
            }
        );
        self.ctx
            .log
            .list(Level::Info, &stack, &message, "changes", &changes);
        let result = outcome(self.job, "planned", message, changes, Vec::new());
        self.ctx
            .board
            .stack(&stack, |s| s.last_result = Some(result));
    }

    /// Report drift; say whether to heal it (`self_heal` on, apply mode, under the limit).
    fn should_heal(&mut self, changes: &[String]) -> bool {
        let stack = self.stack();
        let config = &self.job.config;
        let window = self.ctx.heal_window;
        let heals = self.memory.heals_within(window);
        let (heal, action) = if !self.writes() {
            (false, "reported (mode plan or suspended)".to_owned())
        } else if !config.self_heal {
            (false, "reported (self_heal is off)".to_owned())
        } else if heals >= self.ctx.heal_limit as usize {
            let action = format!(
                "healing stopped: {heals} heals within {}s (another controller or person keeps changing it?)",
                window.as_secs()
            );
            (false, action)
        } else {
            (true, "healing".to_owned())
        };
        let message = format!(
            "drift: the cluster differs from revision {} (cluster → files), changed outside stackctl; {action}",
            short(&self.job.revision)
        );
        let level = if heal { Level::Info } else { Level::Warn };
        self.ctx
            .log
            .list(level, &stack, &message, "changes", changes);
        let drift = Drift {
            at: clock::now(),
            changes: changes.to_vec(),
            action,
        };
        self.memory.in_sync = false;
        let result = (!heal).then(|| outcome(self.job, "drift", message, changes.to_vec(), vec![]));
        self.ctx.board.stack(&stack, |s| {
            s.drift = Some(drift);
            s.heals = heals as u32;
            if result.is_some() {
                s.last_result = result;
            }
        });
        heal
    }

    /// The error policy: a daemon that does not answer (or a lock that cannot be read) is
    /// retried with [`Backoff::errors`]; a refusal waits for new files; an apply that failed
    /// half-way counts as a failed apply of these files.
    fn deploy_failed(&mut self, err: &DeployError) -> Action {
        let stack = self.stack();
        let message = err.to_string();
        if let DeployError::Apply(_) = err {
            return self.apply_failed(&message, Vec::new());
        }
        let (result, delay) = match err {
            DeployError::Engine(_) | DeployError::Lock(_) => {
                let errors = self.memory.errors.get_or_insert_with(Backoff::errors);
                ("error", errors.next())
            }
            DeployError::Stopped => ("interrupted", None),
            _ => ("refused", None),
        };
        let next = delay.map_or_else(String::new, |d| {
            format!("; trying again in {}s", d.as_secs())
        });
        self.ctx.log.error(&stack, &format!("{message}{next}"));
        let outcome = outcome(self.job, result, message, Vec::new(), Vec::new());
        self.ctx
            .board
            .stack(&stack, |s| s.last_result = Some(outcome));
        self.memory.in_sync = false;
        delay.map_or(Action::Await, Action::RequeueAfter)
    }

    async fn deploy(
        &mut self,
        deploy: &Deploy<'_, E>,
        plan: &crate::plan::Plan,
        changes: Vec<String>,
        healing: bool,
    ) -> Action {
        let stack = self.stack();
        let verb = if healing { "healing" } else { "applying" };
        let message = format!(
            "{verb} revision {} ({})",
            short(&self.job.revision),
            self.job.reason.describe()
        );
        self.ctx
            .log
            .list(Level::Info, &stack, &message, "changes", &changes);
        self.ctx.board.stack(&stack, |s| {
            "applying (waiting for the stack's lock)".clone_into(&mut s.state);
            s.lock = "waiting";
        });
        let started = Instant::now();
        let (log, board) = (self.ctx.log, self.ctx.board.clone());
        let sink = move |event: &ApplyEvent| log_event(log, &board, &stack, event);
        let mut proceed = |_: &crate::plan::Plan| OnMoved::Proceed;
        let result = deploy.run(plan, &Events(&sink), &mut proceed).await;
        self.ctx.board.stack(&self.stack(), |s| s.lock = "free");
        match result {
            Ok(deployed) => self.deployed(&deployed, started.elapsed(), healing),
            Err(err) => self.deploy_failed(&err),
        }
    }

    fn deployed(
        &mut self,
        deployed: &crate::deploy::Deployed,
        took: Duration,
        healing: bool,
    ) -> Action {
        let stack = self.stack();
        for warning in &deployed.warnings {
            self.ctx.log.warn(&stack, warning);
        }
        if !deployed.plan.has_changes() {
            self.in_sync(true);
            return Action::Await;
        }
        if deployed.was_stopped() {
            let message = "stopped while applying; Swarm carries on, the next run picks it up";
            self.ctx.log.warn(&stack, message);
            let result = outcome(self.job, "interrupted", message.into(), vec![], vec![]);
            self.ctx
                .board
                .stack(&stack, |s| s.last_result = Some(result));
            return Action::Await;
        }
        let changes = change_lines(&deployed.plan);
        if deployed.is_success() {
            if healing {
                self.memory.heals.push_back(tokio::time::Instant::now());
                let heals = self.memory.heals_within(self.ctx.heal_window) as u32;
                self.ctx.board.stack(&stack, |s| s.heals = heals);
            }
            let message = format!(
                "applied revision {} in {:.1}s",
                short(&self.job.revision),
                took.as_secs_f64()
            );
            self.ctx.log.info(&stack, &message);
            self.in_sync(false);
            // The drift stays on the board, marked healed, until the next one.
            let healed = healing.then(|| Drift {
                at: clock::now(),
                changes: changes.clone(),
                action: "healed".into(),
            });
            let result = outcome(self.job, "applied", message, changes, vec![]);
            self.ctx.board.stack(&stack, |s| {
                s.last_result = Some(result);
                if healed.is_some() {
                    s.drift = healed;
                }
            });
            return Action::Await;
        }
        let why = deployed
            .entry
            .as_ref()
            .map_or_else(|| "failed".to_owned(), |e| e.outcome.clone());
        self.apply_failed(&why, changes)
    }

    fn apply_failed(&mut self, why: &str, changes: Vec<String>) -> Action {
        let stack = self.stack();
        self.memory.in_sync = false;
        self.memory.reconciled_revision = Some(self.job.revision.clone());
        let failure = self.memory.failure.get_or_insert_with(|| Failure {
            inputs: self.digest.to_owned(),
            backoff: Backoff::apply(),
            retry_at: None,
        });
        let delay = failure.backoff.next();
        failure.retry_at = delay.map(|d| tokio::time::Instant::now() + d);
        let attempts = failure.backoff.attempts();
        let next = match delay {
            Some(d) => format!("retry {} in {}s", attempts + 1, d.as_secs()),
            None => "retries used up: not applied again until the files or settings change".into(),
        };
        let message = format!(
            "apply of revision {} FAILED ({why}); {next}",
            short(&self.job.revision)
        );
        self.ctx.log.error(&stack, &message);
        let result = outcome(self.job, "failed", message.clone(), changes, vec![]);
        self.ctx.board.stack(&stack, |s| {
            s.last_result = Some(result);
            s.attempts = attempts;
            s.next_retry = delay.map(clock::in_);
            s.given_up = delay.is_none().then_some(message);
        });
        delay.map_or(Action::Await, Action::RequeueAfter)
    }
}

/// Writes and outcomes as decision-log lines (rollout progress stays in `/status` only).
fn log_event(log: Log, board: &SharedBoard, stack: &str, event: &ApplyEvent) {
    match event {
        ApplyEvent::Locked => board.stack(stack, |s| {
            s.lock = "held";
            "applying".clone_into(&mut s.state);
        }),
        ApplyEvent::Object { kind, name, action } => {
            log.info(stack, &format!("{} {} {name}", verb(*action), kind.word()));
        }
        ApplyEvent::ServiceWritten { name, action } => {
            log.info(stack, &format!("{} service {name}", verb(*action)));
        }
        // Daemon and task messages can echo part of a spec: mask what looks like a secret.
        ApplyEvent::Progress { name, message } => {
            let message = mask_text(message);
            board.stack(stack, |s| s.state = format!("applying: {name}: {message}"));
        }
        ApplyEvent::ServiceDone { name, outcome } => {
            let text = crate::deploy::describe(name, outcome);
            let level = if outcome.is_success() {
                Level::Info
            } else {
                Level::Error
            };
            log.line(level, stack, &format!("{name}: {text}"), &[]);
        }
        ApplyEvent::Warning(message) => log.warn(stack, &mask_text(message)),
    }
}

fn verb(action: crate::plan::Action) -> &'static str {
    match action {
        crate::plan::Action::Create => "created",
        crate::plan::Action::Update => "updated",
        crate::plan::Action::Remove => "removed",
        crate::plan::Action::Unchanged => "checked",
    }
}
