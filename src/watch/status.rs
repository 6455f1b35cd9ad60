//! What the watcher knows, as `/status` shows it: per source its revision and fetch health,
//! per stack its desired and deployed revisions, last result, drift, lock and next checks.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::Serialize;

use super::inputs::Finding;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Board {
    pub started: String,
    /// Stopping was asked for: no new reconcile starts.
    pub stopping: bool,
    pub sources: BTreeMap<String, SourceStatus>,
    pub stacks: BTreeMap<String, StackStatus>,
    /// Engine API calls since the start: a watcher with nothing to do makes no writes.
    pub engine_calls: EngineCalls,
}

#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct EngineCalls {
    pub reads: u64,
    pub writes: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct SourceStatus {
    /// `git` or `dir`.
    pub kind: &'static str,
    /// The remote's URL (it never holds credentials) or the folder.
    pub location: String,
    /// `branch main`, `tag v1`, `commit abc`, or `folder`.
    pub follows: String,
    pub revision: Option<String>,
    pub last_check: Option<String>,
    pub next_check: Option<String>,
    /// The last fetch error, until a fetch succeeds.
    pub error: Option<String>,
    /// Failed fetches in a row.
    pub failures: u32,
    /// Polls since the start (an unchanged remote costs one ref request each).
    pub polls: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct StackStatus {
    pub source: String,
    pub mode: &'static str,
    pub suspended: bool,
    /// What the stack is doing now: `idle`, `reconciling`, `applying`, `waiting for db`, ...
    pub state: String,
    /// The source revision whose files the stack was last read from.
    pub desired_revision: Option<String>,
    /// The revision the cluster was last seen to match (or last applied successfully).
    pub deployed_revision: Option<String>,
    /// Digest of the files behind `deployed_revision`.
    pub deployed_inputs: Option<String>,
    pub last_result: Option<Outcome>,
    pub drift: Option<Drift>,
    /// `free`, `waiting` or `held` (the stack's apply lock, as this watcher sees it).
    pub lock: &'static str,
    /// Failed applies of the desired revision in a row.
    pub attempts: u32,
    pub next_retry: Option<String>,
    /// Set when retries of the desired revision are used up: it is not applied again until
    /// the files or the settings change.
    pub given_up: Option<String>,
    pub next_check: Option<String>,
    /// Self-heals in the current window.
    pub heals: u32,
}

/// The last reconcile's result.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Outcome {
    pub at: String,
    /// Why it ran: `new revision`, `files changed`, `drift`, `resync`, `retry`, `startup`.
    pub trigger: String,
    pub revision: Option<String>,
    /// `applied`, `in sync`, `planned`, `invalid`, `failed`, `refused`, `drift`, `interrupted`,
    /// `suspended`, `error`.
    pub result: &'static str,
    pub message: String,
    /// The plan's changes, one masked line each.
    pub changes: Vec<String>,
    /// Diagnostics of files that did not load (file, line, column, message).
    pub findings: Vec<Finding>,
}

/// Differences found between the cluster and the deployed revision's files.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Drift {
    pub at: String,
    pub changes: Vec<String>,
    /// `reported (self_heal is off)`, `reported (mode plan or suspended)`, `healing` (while it
    /// is applied back), `healed`, `healing stopped: ...`. Cleared once the cluster is seen to
    /// match the files, except `healed`, kept until the next drift.
    pub action: String,
}

/// The board shared between the controller and the HTTP server.
#[derive(Clone, Debug, Default)]
pub struct SharedBoard(Arc<Mutex<Board>>);

impl SharedBoard {
    /// The board; a panic elsewhere never makes the status unreadable.
    pub fn lock(&self) -> MutexGuard<'_, Board> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn stack(&self, name: &str, update: impl FnOnce(&mut StackStatus)) {
        update(self.lock().stacks.entry(name.to_owned()).or_default());
    }

    pub fn source(&self, name: &str, update: impl FnOnce(&mut SourceStatus)) {
        update(self.lock().sources.entry(name.to_owned()).or_default());
    }

    #[must_use]
    pub fn snapshot(&self) -> Board {
        self.lock().clone()
    }
}
