//! Where desired state comes from: git remotes (git2) and local folders (notify).

pub mod git;

use std::path::PathBuf;
use std::time::Duration;

/// Which point of a remote's history to follow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GitRef {
    /// The tip of a branch (`refs/heads/<name>`); a force-push moves it, and that is normal.
    Branch(String),
    /// A tag (`refs/tags/<name>`), peeled to its commit.
    Tag(String),
    /// A fixed commit (full or abbreviated hex id): fetched once, never polled again.
    Commit(String),
}

/// `branch main`, `tag v1.2.3`, `commit 4f2a9c1`: as logs, errors and `/status` name it.
impl std::fmt::Display for GitRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Branch(name) => write!(f, "branch {name}"),
            Self::Tag(name) => write!(f, "tag {name}"),
            Self::Commit(id) => write!(f, "commit {id}"),
        }
    }
}

impl Default for GitRef {
    fn default() -> Self {
        Self::Branch("main".into())
    }
}

/// A git remote and how to authenticate to it. Secrets are named by where they are read from
/// (a file or an environment variable), never held in the configuration itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GitRemote {
    /// `file://…`, `http(s)://…`, `ssh://[user@]host[:port]/path` or scp-like `user@host:path`.
    pub url: String,
    pub reference: GitRef,
    /// HTTPS basic-auth user name sent with the token (default `x-access-token`, which GitHub
    /// wants; GitLab and Gitea accept any name with a token). For SSH: the user when the URL
    /// names none (default `git`).
    pub username: Option<String>,
    /// HTTPS: a file holding the token (trailing newline ignored).
    pub token_file: Option<PathBuf>,
    /// HTTPS: an environment variable holding the token.
    pub token_env: Option<String>,
    /// SSH: a private key file; without one the ssh agent (`SSH_AUTH_SOCK`) is asked.
    pub ssh_key_file: Option<PathBuf>,
    /// SSH: a file holding the key's passphrase.
    pub ssh_key_passphrase_file: Option<PathBuf>,
    /// SSH: the `known_hosts` file the server's host key must be in (default `~/.ssh/known_hosts`).
    pub known_hosts_file: Option<PathBuf>,
}

/// The default time between two polls of a source.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
