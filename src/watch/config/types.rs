//! The watcher's settings, once checked: what to watch, what to reconcile, how the controller runs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::apply::OnFailure;
use crate::model::StackName;
use crate::watch::source::{GitRef, GitRemote};

/// Everything `stackctl watch` runs from. Serializes without secrets: the configuration holds
/// only where tokens and keys are read from (files, variable names), never their values.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WatchConfig {
    pub sources: Vec<SourceConfig>,
    pub stacks: Vec<StackConfig>,
    pub controller: ControllerConfig,
}

/// A named place desired state comes from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SourceConfig {
    pub name: String,
    #[serde(flatten)]
    pub kind: SourceKind,
    /// Between two polls of a git remote; for a folder (watched by file-system events), the
    /// period of the fallback rescan.
    #[serde(serialize_with = "go_duration")]
    pub interval: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SourceKind {
    Git(GitRemote),
    /// An absolute folder (relative paths are resolved against the config file's directory).
    Dir(PathBuf),
}

/// A stack the controller keeps in the state its files describe.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StackConfig {
    #[serde(serialize_with = "display")]
    pub name: StackName,
    /// The name of one of [`WatchConfig::sources`].
    pub source: String,
    /// Stack files, relative to the source's root, normalized, merged in order.
    pub files: Vec<PathBuf>,
    /// Variables file for `${VAR}`, relative to the source's root.
    pub env_file: Option<PathBuf>,
    pub profiles: Vec<String>,
    pub prune: bool,
    /// Refuse a reconcile that would remove more objects than this (`None`: no limit).
    pub max_removals: Option<usize>,
    /// Re-apply when the cluster drifts from the files, not only when the files change.
    pub self_heal: bool,
    pub mode: StackMode,
    /// Watched and reported, never reconciled.
    pub suspend: bool,
    /// Stacks reconciled (successfully) before this one.
    #[serde(serialize_with = "display_all")]
    pub depends_on: Vec<StackName>,
    #[serde(serialize_with = "on_failure")]
    pub on_failure: OnFailure,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum StackMode {
    /// Plan and apply.
    #[default]
    Apply,
    /// Plan and report only; never write to the cluster.
    Plan,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// How the controller itself runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ControllerConfig {
    /// Where `/healthz` and `/status` are served; `None`: no HTTP server.
    pub listen: Option<SocketAddr>,
    /// Where checkouts and records live; `None`: the caller's default.
    pub state_dir: Option<PathBuf>,
    /// Period of the full re-plan of every stack (drift detection), whatever the sources do.
    #[serde(serialize_with = "go_duration")]
    pub resync: Duration,
    /// Stacks reconciled at the same time.
    pub max_concurrent: usize,
    /// Self-heals of one stack within `heal_window` before healing stops for that stack (a heal
    /// that keeps being undone is a fight with someone, not drift).
    pub heal_limit: u32,
    #[serde(serialize_with = "go_duration")]
    pub heal_window: Duration,
    pub log_format: LogFormat,
}

pub const DEFAULT_RESYNC: Duration = Duration::from_secs(300);
pub const DEFAULT_MAX_CONCURRENT: usize = 4;
pub const DEFAULT_HEAL_LIMIT: u32 = 3;
pub const DEFAULT_HEAL_WINDOW: Duration = Duration::from_secs(600);

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            listen: None,
            state_dir: None,
            resync: DEFAULT_RESYNC,
            max_concurrent: DEFAULT_MAX_CONCURRENT,
            heal_limit: DEFAULT_HEAL_LIMIT,
            heal_window: DEFAULT_HEAL_WINDOW,
            log_format: LogFormat::Human,
        }
    }
}

/// The keys of `watch.yml`: `git` and its settings, or `dir`.
impl Serialize for SourceKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match self {
            Self::Dir(path) => map.serialize_entry("dir", path)?,
            Self::Git(remote) => {
                map.serialize_entry("git", &remote.url)?;
                let (key, name) = match &remote.reference {
                    GitRef::Branch(n) => ("branch", n),
                    GitRef::Tag(n) => ("tag", n),
                    GitRef::Commit(n) => ("commit", n),
                };
                map.serialize_entry(key, name)?;
                let paths = [
                    ("token_file", &remote.token_file),
                    ("ssh_key_file", &remote.ssh_key_file),
                    ("ssh_key_passphrase_file", &remote.ssh_key_passphrase_file),
                    ("known_hosts_file", &remote.known_hosts_file),
                ];
                for (key, path) in paths {
                    if let Some(path) = path {
                        map.serialize_entry(key, path)?;
                    }
                }
                for (key, text) in [
                    ("token_env", &remote.token_env),
                    ("username", &remote.username),
                ] {
                    if let Some(text) = text {
                        map.serialize_entry(key, text)?;
                    }
                }
            }
        }
        map.end()
    }
}

/// `1m30s`, as the configuration writes durations.
fn go_duration<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&model_duration(*d))
}

/// A duration as stack files count it (nanoseconds, saturating).
pub(crate) fn model_duration(d: Duration) -> crate::model::Duration {
    crate::model::Duration(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn display<S: Serializer>(name: &StackName, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(name)
}

fn display_all<S: Serializer>(names: &[StackName], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(names.iter().map(StackName::as_str))
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `serialize_with` passes a reference
fn on_failure<S: Serializer>(value: &OnFailure, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match value {
        OnFailure::Stop => "stop",
        OnFailure::Continue => "continue",
        OnFailure::Rollback => "rollback",
    })
}
