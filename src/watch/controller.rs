//! The controller: one loop that owns every stack's state. Triggers (source revisions, file
//! changes, drift, resync, timers) come in on one channel; a stack is reconciled by at most one
//! task at a time, triggers arriving meanwhile merge into one follow-up, different stacks run
//! side by side (bounded), and `depends_on` holds a stack until its dependencies are in sync at
//! the same revision.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::clock;
use super::config::{SourceKind, StackConfig, StackMode, WatchConfig};
use super::follow::{self, Drifted, FolderFollower, GitFollower, SourceEvent};
use super::memory::Memory;
use super::reconcile::{Action, Context, Job, reconcile};
use super::trigger::Reason;
use crate::apply::record;
use crate::engine::Engine;

/// Wait after a drift event for the rest of a burst (a `docker service update` sends several).
const DRIFT_SETTLE: Duration = Duration::from_millis(300);
/// How long a stop waits for reconciles under way (each stops its own waiting at once).
const STOP_GRACE: Duration = Duration::from_secs(10);

enum Message {
    Source(Box<SourceEvent>),
    Drift(Drifted),
    DriftSettled(String),
    Resync,
    Timer {
        stack: String,
        generation: u64,
    },
    Done {
        stack: String,
        memory: Box<Memory>,
        action: Action,
    },
}

struct Slot {
    config: StackConfig,
    /// `None` while a reconcile has it.
    memory: Option<Memory>,
    pending: Option<Reason>,
    /// Bumped on every requeue, so an older timer firing late is ignored.
    generation: u64,
    drift_settling: bool,
}

impl Slot {
    fn is_running(&self) -> bool {
        self.memory.is_none()
    }
}

#[derive(Default)]
struct SourceSlot {
    revision: Option<String>,
    root: Option<PathBuf>,
    /// How the history names the source.
    origin: String,
}

pub struct Controller<E> {
    ctx: Arc<Context<E>>,
    config: WatchConfig,
    state_dir: PathBuf,
    stacks: BTreeMap<String, Slot>,
    sources: BTreeMap<String, SourceSlot>,
    limit: Arc<Semaphore>,
    sender: UnboundedSender<Message>,
    receiver: UnboundedReceiver<Message>,
}

impl<E: Engine + 'static> Controller<E> {
    #[must_use]
    pub fn new(ctx: Context<E>, config: WatchConfig, state_dir: PathBuf) -> Self {
        let (sender, receiver) = unbounded_channel();
        let limit = Arc::new(Semaphore::new(config.controller.max_concurrent.max(1)));
        Self {
            ctx: Arc::new(ctx),
            config,
            state_dir,
            stacks: BTreeMap::new(),
            sources: BTreeMap::new(),
            limit,
            sender,
            receiver,
        }
    }

    /// Run until stopped; returns once reconciles under way have finished (or the grace ran out).
    pub async fn run(mut self) {
        self.restore().await;
        self.start_followers();
        let stop = self.ctx.stop.clone();
        loop {
            tokio::select! {
                Some(message) = self.receiver.recv() => self.handle(message),
                () = stop.wait() => break,
            }
        }
        self.ctx.board.lock().stopping = true;
        self.ctx.log.info(
            "watch",
            "stopping: no new writes; waiting for reconciles under way",
        );
        self.drain().await;
    }

    /// Every stack's memory from its history in the cluster, so a restart knows what it
    /// deployed and does not apply it again.
    async fn restore(&mut self) {
        let now = clock_secs();
        let names: Vec<_> = self.config.stacks.iter().map(|s| s.name.clone()).collect();
        // Every stack's history from one list call.
        let histories = match record::read_many(self.ctx.engine.as_ref(), &names).await {
            Ok(histories) => histories,
            Err(err) => {
                let message = format!("cannot read the stacks' history: {err}");
                self.ctx.log.warn("watch", &message);
                vec![Vec::new(); names.len()]
            }
        };
        for (config, history) in self.config.stacks.clone().into_iter().zip(histories) {
            let name = config.name.to_string();
            let memory = Memory::from_history(&history, now);
            let source = config.source.clone();
            self.ctx.board.stack(&name, |s| {
                s.source = source;
                s.mode = if config.mode == StackMode::Plan {
                    "plan"
                } else {
                    "apply"
                };
                s.suspended = config.suspend;
                "waiting for its source".clone_into(&mut s.state);
                s.lock = "free";
                s.deployed_revision.clone_from(&memory.deployed_revision);
                s.deployed_inputs.clone_from(&memory.deployed_inputs);
            });
            self.stacks.insert(
                name,
                Slot {
                    config,
                    memory: Some(memory),
                    pending: Some(Reason {
                        startup: true,
                        ..Reason::default()
                    }),
                    generation: 0,
                    drift_settling: false,
                },
            );
        }
    }

    fn start_followers(&mut self) {
        let (sources, sources_rx) = unbounded_channel::<SourceEvent>();
        forward(sources_rx, self.sender.clone(), |e| {
            Message::Source(Box::new(e))
        });
        for source in &self.config.sources {
            let (kind, location, follows) = describe_source(&source.kind);
            self.ctx.board.source(&source.name, |s| {
                s.kind = kind;
                s.location.clone_from(&location);
                s.follows.clone_from(&follows);
            });
            self.sources.insert(
                source.name.clone(),
                SourceSlot {
                    origin: format!("{} ({location}, {follows})", source.name),
                    ..SourceSlot::default()
                },
            );
            self.start_source(source, sources.clone());
        }
        let (drift, drift_rx) = unbounded_channel::<Drifted>();
        forward(drift_rx, self.sender.clone(), Message::Drift);
        let names: Vec<String> = self.stacks.keys().cloned().collect();
        let (engine, log, stop) = (self.ctx.engine.clone(), self.ctx.log, self.ctx.stop.clone());
        tokio::spawn(async move {
            follow::follow_events(engine.as_ref(), &names, drift, log, stop).await;
        });
        let (sender, stop, every) = (
            self.sender.clone(),
            self.ctx.stop.clone(),
            self.config.controller.resync,
        );
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(every) => { let _ = sender.send(Message::Resync); }
                    () = stop.wait() => return,
                }
            }
        });
    }

    fn start_source(
        &self,
        source: &super::config::SourceConfig,
        events: UnboundedSender<SourceEvent>,
    ) {
        let (board, log, stop) = (self.ctx.board.clone(), self.ctx.log, self.ctx.stop.clone());
        match &source.kind {
            SourceKind::Git(remote) => {
                let follower = GitFollower {
                    name: source.name.clone(),
                    remote: remote.clone(),
                    interval: source.interval,
                    state_dir: self.state_dir.clone(),
                    board,
                    log,
                    stop,
                };
                tokio::spawn(follow::follow_git(follower, events));
            }
            SourceKind::Dir(dir) => {
                let follower = FolderFollower {
                    name: source.name.clone(),
                    dir: dir.clone(),
                    rescan: source.interval,
                    board,
                    log,
                    stop,
                };
                tokio::spawn(follow::follow_folder(follower, events));
            }
        }
    }

    fn handle(&mut self, message: Message) {
        match message {
            Message::Source(event) => match *event {
                SourceEvent::Revision {
                    source,
                    revision,
                    root,
                } => self.new_revision(&source, revision, root),
                SourceEvent::Files { source, paths } => self.files_changed(&source, &paths),
            },
            Message::Drift(drifted) => self.drifted(drifted),
            Message::DriftSettled(stack) => {
                if let Some(slot) = self.stacks.get_mut(&stack) {
                    slot.drift_settling = false;
                }
                self.start_if_ready(&stack);
            }
            Message::Resync => {
                let names: Vec<String> = self.stacks.keys().cloned().collect();
                for name in names {
                    self.request(
                        &name,
                        Reason {
                            resync: true,
                            ..Reason::default()
                        },
                    );
                }
            }
            Message::Timer { stack, generation } => {
                if self
                    .stacks
                    .get(&stack)
                    .is_some_and(|s| s.generation == generation)
                {
                    self.request(
                        &stack,
                        Reason {
                            retry: true,
                            ..Reason::default()
                        },
                    );
                }
            }
            Message::Done {
                stack,
                memory,
                action,
            } => self.done(&stack, *memory, action),
        }
    }

    fn new_revision(&mut self, source: &str, revision: String, root: PathBuf) {
        let Some(slot) = self.sources.get_mut(source) else {
            return;
        };
        slot.revision = Some(revision);
        slot.root = Some(root);
        for name in self.stacks_of(source) {
            self.request(
                &name,
                Reason {
                    revision: true,
                    ..Reason::default()
                },
            );
        }
    }

    fn files_changed(&mut self, source: &str, paths: &[PathBuf]) {
        for name in self.stacks_of(source) {
            let Some(slot) = self.stacks.get(&name) else {
                continue;
            };
            // Only the files a stack read concern it (editors' temporary files do not).
            let reads = slot.memory.as_ref().map(|m| &m.reads);
            let concerned = paths.is_empty()
                || reads.is_none_or(|r| r.is_empty() || paths.iter().any(|p| r.contains(p)));
            if concerned {
                self.request(
                    &name,
                    Reason {
                        files: true,
                        ..Reason::default()
                    },
                );
            }
        }
    }

    fn drifted(&mut self, drifted: Drifted) {
        let Some(slot) = self.stacks.get_mut(&drifted.stack) else {
            return;
        };
        if slot.drift_settling {
            return;
        }
        slot.drift_settling = true;
        let reason = Reason {
            drift: Some(drifted.what),
            ..Reason::default()
        };
        slot.pending
            .get_or_insert_with(Reason::default)
            .merge(reason);
        let (sender, stack) = (self.sender.clone(), drifted.stack);
        tokio::spawn(async move {
            tokio::time::sleep(DRIFT_SETTLE).await;
            let _ = sender.send(Message::DriftSettled(stack));
        });
    }

    fn stacks_of(&self, source: &str) -> Vec<String> {
        self.stacks
            .iter()
            .filter(|(_, s)| s.config.source == source)
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Reconcile `name` for `reason` now, or as soon as it can run.
    fn request(&mut self, name: &str, reason: Reason) {
        let Some(slot) = self.stacks.get_mut(name) else {
            return;
        };
        slot.pending
            .get_or_insert_with(Reason::default)
            .merge(reason);
        self.start_if_ready(name);
    }

    fn start_if_ready(&mut self, name: &str) {
        let Some(slot) = self.stacks.get(name) else {
            return;
        };
        if slot.is_running() || slot.pending.is_none() || slot.drift_settling {
            return;
        }
        let Some(source) = self.sources.get(&slot.config.source) else {
            return;
        };
        let (Some(revision), Some(root)) = (source.revision.clone(), source.root.clone()) else {
            return;
        };
        if let Some(waiting) = self.waiting_for(&slot.config) {
            self.ctx
                .board
                .stack(name, |s| s.state = format!("waiting for {waiting}"));
            return;
        }
        let origin = source.origin.clone();
        let Some(slot) = self.stacks.get_mut(name) else {
            return;
        };
        let (Some(memory), Some(reason)) = (slot.memory.take(), slot.pending.take()) else {
            return;
        };
        let job = Job {
            config: slot.config.clone(),
            root,
            revision,
            origin,
            reason,
        };
        let (ctx, limit, sender) = (self.ctx.clone(), self.limit.clone(), self.sender.clone());
        let stack = name.to_owned();
        self.ctx
            .board
            .stack(name, |s| "queued".clone_into(&mut s.state));
        tokio::spawn(async move {
            let _permit = limit.acquire_owned().await;
            // A bug must not leave the stack "running" for ever: it is reported, the stack's
            // memory starts afresh, and it is tried again later.
            let run = std::panic::AssertUnwindSafe(reconcile(&ctx, &job, memory));
            let (memory, action) = futures::FutureExt::catch_unwind(run).await.unwrap_or_else(
                |_| {
                    let message =
                        "the reconcile panicked (this is a bug in stackctl); trying again in 60s";
                    ctx.log.error(&stack, message);
                    let again = Action::RequeueAfter(Duration::from_secs(60));
                    (Memory::default(), again)
                },
            );
            let memory = Box::new(memory);
            let _ = sender.send(Message::Done {
                stack,
                memory,
                action,
            });
        });
    }

    /// The first dependency of `config` not in sync at its source's current revision.
    fn waiting_for(&self, config: &StackConfig) -> Option<String> {
        config
            .depends_on
            .iter()
            .find_map(|dep| {
                let name = dep.to_string();
                let slot = self.stacks.get(&name)?;
                let memory = slot.memory.as_ref()?;
                let revision = self.sources.get(&slot.config.source)?.revision.clone();
                // A folder has no revisions: its stacks name their own, from their files.
                let folder = revision.as_deref() == Some(follow::FOLDER_REVISION);
                let ready = slot.pending.is_none()
                    && memory.in_sync
                    && memory.reconciled_revision.is_some()
                    && (folder || memory.reconciled_revision == revision);
                (!ready).then_some(name)
            })
            .or_else(|| {
                config
                    .depends_on
                    .iter()
                    .map(ToString::to_string)
                    .find(|d| self.stacks.get(d).is_some_and(Slot::is_running))
            })
    }

    fn done(&mut self, name: &str, memory: Memory, action: Action) {
        let Some(slot) = self.stacks.get_mut(name) else {
            return;
        };
        slot.memory = Some(memory);
        slot.generation += 1;
        let next = match action {
            Action::Await => None,
            Action::RequeueAfter(after) => {
                let (sender, stack, generation) =
                    (self.sender.clone(), name.to_owned(), slot.generation);
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    let _ = sender.send(Message::Timer { stack, generation });
                });
                Some(clock::in_(after))
            }
        };
        let resync = self.config.controller.resync;
        self.ctx.board.stack(name, |s| {
            s.next_check = Some(next.unwrap_or_else(|| clock::in_(resync)));
        });
        self.start_if_ready(name);
        let dependents: Vec<String> = self
            .stacks
            .iter()
            .filter(|(_, s)| s.config.depends_on.iter().any(|d| d.as_str() == name))
            .map(|(n, _)| n.clone())
            .collect();
        for dependent in dependents {
            self.request(
                &dependent,
                Reason {
                    dependency: true,
                    ..Reason::default()
                },
            );
        }
    }

    /// After a stop: collect the reconciles still running, up to the grace time.
    async fn drain(&mut self) {
        let deadline = tokio::time::Instant::now() + STOP_GRACE;
        while self.stacks.values().any(Slot::is_running) {
            match tokio::time::timeout_at(deadline, self.receiver.recv()).await {
                Ok(Some(Message::Done { stack, memory, .. })) => {
                    if let Some(slot) = self.stacks.get_mut(&stack) {
                        slot.memory = Some(*memory);
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
    }
}

/// Pass a follower's messages into the controller's channel.
fn forward<T: Send + 'static>(
    mut from: UnboundedReceiver<T>,
    to: UnboundedSender<Message>,
    wrap: fn(T) -> Message,
) {
    tokio::spawn(async move {
        while let Some(item) = from.recv().await {
            if to.send(wrap(item)).is_err() {
                return;
            }
        }
    });
}

fn describe_source(kind: &SourceKind) -> (&'static str, String, String) {
    match kind {
        SourceKind::Git(remote) => ("git", remote.url.clone(), remote.reference.to_string()),
        SourceKind::Dir(dir) => ("dir", dir.display().to_string(), "folder".into()),
    }
}

fn clock_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
