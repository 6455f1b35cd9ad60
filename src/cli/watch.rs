//! The flags of `stackctl watch`: a config file, or one stack from one repository or folder.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args};

use super::EngineArgs;
use crate::apply::OnFailure;
use crate::watch::config::{LogFormat, StackMode};

/// `stackctl watch --config watch.yml`, or the single-stack form:
/// `stackctl watch --repo URL --path stacks/web.yml --stack web`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("single").multiple(true).args([
    "repo", "dir", "branch", "tag", "commit", "paths", "stack", "env_file", "profiles",
    "interval", "resync", "self_heal", "prune", "max_removals", "mode", "on_failure",
    "token_file", "token_env", "username", "ssh_key_file", "ssh_key_passphrase_file",
    "known_hosts_file", "max_concurrent",
])))]
pub struct WatchArgs {
    /// Watch the sources and stacks described in this file (see examples/watch/watch.yml);
    /// of the other flags only -H, --listen, --state-dir and --log-format are allowed with it
    /// (they override the file's `controller:` keys, e.g. for a service's command line).
    #[arg(long, value_name = "FILE", conflicts_with = "single")]
    pub config: Option<PathBuf>,

    /// Git repository to follow: https://…, ssh://…, user@host:path or file://….
    #[arg(long, value_name = "URL", conflicts_with = "dir", requires_all = ["paths", "stack"])]
    pub repo: Option<String>,
    /// Follow this branch of --repo (default: main).
    #[arg(long, value_name = "BRANCH", requires = "repo", conflicts_with_all = ["tag", "commit"])]
    pub branch: Option<String>,
    /// Follow this tag of --repo (a moved tag is followed).
    #[arg(long, value_name = "TAG", requires = "repo", conflicts_with = "commit")]
    pub tag: Option<String>,
    /// Deploy this commit of --repo (4 to 40 hex digits); fetched once, never polled again.
    #[arg(long, value_name = "SHA", requires = "repo")]
    pub commit: Option<String>,
    /// Folder to watch instead of a repository (changes are seen through file-system events).
    #[arg(long, value_name = "DIR", requires_all = ["paths", "stack"])]
    pub dir: Option<PathBuf>,

    /// Stack file inside the repository or folder, relative to its root (repeatable; merged in
    /// order).
    #[arg(long = "path", value_name = "FILE")]
    pub paths: Vec<String>,
    /// The stack's name.
    #[arg(long, value_name = "NAME")]
    pub stack: Option<String>,
    /// Variables file for `${VAR}` interpolation, inside the repository or folder.
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<String>,
    /// Activate services that list this profile (repeatable).
    #[arg(long = "profile", value_name = "NAME")]
    pub profiles: Vec<String>,

    /// Time between two polls of --repo (at least 1s).
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration, default_value = "60s")]
    pub interval: Duration,
    /// Time between two full re-plans that catch drift in the cluster (at least 1s).
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration, default_value = "5m")]
    pub resync: Duration,
    /// Re-apply when the cluster drifts from the files, not only when the files change.
    #[arg(long)]
    pub self_heal: bool,
    /// Remove stack objects the files no longer describe.
    #[arg(long)]
    pub prune: bool,
    /// Refuse a reconcile that would remove more than N objects.
    #[arg(long, value_name = "N")]
    pub max_removals: Option<usize>,
    /// apply: plan and apply; plan: plan and report only, never write to the cluster.
    #[arg(long, value_enum, default_value_t = StackMode::Apply)]
    pub mode: StackMode,
    /// When a rollout fails: stop starting new ones, continue, or roll back this apply's updates.
    #[arg(long, value_enum, default_value_t = OnFailure::Stop)]
    pub on_failure: OnFailure,

    /// HTTPS: a file holding the access token (trailing newline ignored).
    #[arg(
        long,
        value_name = "FILE",
        requires = "repo",
        conflicts_with = "token_env"
    )]
    pub token_file: Option<PathBuf>,
    /// HTTPS: an environment variable holding the access token.
    #[arg(long, value_name = "VAR", requires = "repo")]
    pub token_env: Option<String>,
    /// The user name sent with the token (HTTPS, default x-access-token), or the SSH user when
    /// the URL names none (default git).
    #[arg(long, value_name = "NAME", requires = "repo")]
    pub username: Option<String>,
    /// SSH: private key file (default: ask the ssh agent).
    #[arg(long, value_name = "FILE", requires = "repo")]
    pub ssh_key_file: Option<PathBuf>,
    /// SSH: a file holding the key's passphrase.
    #[arg(long, value_name = "FILE", requires = "ssh_key_file")]
    pub ssh_key_passphrase_file: Option<PathBuf>,
    /// SSH: the `known_hosts` file the server's key must be in (default `~/.ssh/known_hosts`).
    #[arg(long, value_name = "FILE", requires = "repo")]
    pub known_hosts_file: Option<PathBuf>,

    /// Serve /healthz and /status on this address (e.g. 127.0.0.1:9090).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Where checkouts and apply records are kept.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Log lines for people (human, the default) or one JSON object per line (json).
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Stacks reconciled at the same time (at least 1).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub max_concurrent: usize,

    #[command(flatten)]
    pub engine: EngineArgs,
}
