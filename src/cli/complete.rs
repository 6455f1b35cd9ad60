//! Shell completion: the shells stackctl writes scripts for, and stack names from the cluster.
//!
//! The scripts call back into stackctl (`COMPLETE=bash stackctl -- stackctl status we`) and
//! clap answers from the same argument definitions the parser uses, so completions never drift
//! from the flags; only stack names need a custom answer.

use std::ffi::OsStr;
use std::time::Duration;

use clap::ValueEnum;
use clap_complete::{ArgValueCompleter, CompletionCandidate};

use crate::engine::{ConnectOptions, Engine, connect};

/// The label `docker stack deploy` (and stackctl) puts on every object of a stack.
const NAMESPACE_LABEL: &str = "com.docker.stack.namespace";

/// Completion must not hang a shell on an unreachable daemon: past this, offer nothing.
const CLUSTER_WAIT: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Elvish,
}

impl Shell {
    /// The name clap's completion engine knows the shell by.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Bash => "bash",
            Self::Zsh => "zsh",
            Self::Fish => "fish",
            Self::Powershell => "powershell",
            Self::Elvish => "elvish",
        }
    }
}

/// The completer of a stack-name argument.
#[must_use]
pub fn stack_names() -> ArgValueCompleter {
    ArgValueCompleter::new(complete_stack)
}

/// Stacks with at least one service (what `docker stack ls` lists) whose name starts with what
/// was typed, from the daemon `DOCKER_HOST` or the docker context names; none if it does not
/// answer within [`CLUSTER_WAIT`].
fn complete_stack(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(typed) = current.to_str() else {
        return Vec::new();
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Vec::new();
    };
    let names = runtime
        .block_on(async { tokio::time::timeout(CLUSTER_WAIT, stacks()).await })
        .ok()
        .flatten()
        .unwrap_or_default();
    names
        .into_iter()
        .filter(|name| name.starts_with(typed))
        .map(CompletionCandidate::new)
        .collect()
}

/// Every stack name on the cluster, sorted, or `None` when the daemon cannot be asked.
async fn stacks() -> Option<std::collections::BTreeSet<String>> {
    let engine = connect(&ConnectOptions { host: None }).await.ok()?;
    // An empty prefix lists every service in one call.
    let services = engine.list_services_prefixed("").await.ok()?;
    let names = services
        .iter()
        .filter_map(|s| s.pointer("/Spec/Labels")?.get(NAMESPACE_LABEL)?.as_str())
        .map(str::to_owned)
        .collect();
    Some(names)
}
