//! [`GitError`]: every way following a git remote can fail, sorted by what the caller can do.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

/// A failed open, poll, checkout or diff. URLs in it never carry credentials (URLs with
/// credentials are refused up front) and no secret is ever part of a message.
///
/// Retryable ([`GitError::is_retryable`], may pass on its own: back off and retry):
/// `Unreachable` and `Git`. A cache problem ([`GitError::is_cache_problem`]) passes once the
/// caller deletes the cache directory and opens the source again. Everything else needs a
/// person to change the configuration, a key, a `known_hosts` file or the remote; polling again
/// at the normal interval is harmless but a fast retry is pointless.
#[derive(Debug, Error, Diagnostic)]
pub enum GitError {
    /// The URL holds a user name or password (https) or a password (ssh). Not retryable.
    #[error("{url}: credentials in the URL are refused")]
    #[diagnostic(
        code(stackctl::git::credentials_in_url),
        help(
            "a secret in the URL would show in logs and /status: put the user in `username` and \
             the token in `token_file` or `token_env` (https), or use an ssh key"
        )
    )]
    CredentialsInUrl { url: String },

    /// Not a URL this source can follow. Not retryable.
    #[error("{url}: not a git URL stackctl can follow: {reason}")]
    #[diagnostic(code(stackctl::git::invalid_url))]
    InvalidUrl { url: String, reason: &'static str },

    /// The branch, tag or commit to follow is not a valid name or hex id. Not retryable.
    #[error("{url}: {reference} is not a valid branch, tag or commit id")]
    #[diagnostic(code(stackctl::git::invalid_reference))]
    InvalidReference { url: String, reference: String },

    /// A TLS certificate was refused (untrusted, expired, wrong host). Not retryable.
    #[error("{url}: the server's TLS certificate was refused: {reason}")]
    #[diagnostic(
        code(stackctl::git::tls),
        help("is the URL's host right? a private CA must be in the system's trust store")
    )]
    Tls { url: String, reason: String },

    /// The remote refused the credentials, or none were configured. Not retryable.
    #[error("{url}: authentication failed: {reason}")]
    #[diagnostic(code(stackctl::git::auth_failed))]
    AuthFailed { url: String, reason: String },

    /// A token, key, passphrase or `known_hosts` file could not be read. Not retryable.
    #[error("{url}: {reason}")]
    #[diagnostic(code(stackctl::git::secret_unreadable))]
    SecretUnreadable { url: String, reason: String },

    /// The ssh server's host key is not in the `known_hosts` file. Not retryable.
    #[error(
        "{url}: host {host} is unknown: its {key_type} key {fingerprint} is not in {}",
        known_hosts.display()
    )]
    #[diagnostic(code(stackctl::git::host_key_unknown))]
    HostKeyUnknown {
        url: String,
        /// As `known_hosts` files it: `host`, or `[host]:port` off port 22.
        host: String,
        key_type: String,
        fingerprint: String,
        known_hosts: PathBuf,
        #[help]
        advice: String,
    },

    /// The host is known with another key of the same type: a re-installed server, or a
    /// man-in-the-middle. Not retryable.
    #[error(
        "{url}: host key CHANGED for {host}: it presents {key_type} key {fingerprint}, but {}:{line} \
         lists another; someone may be intercepting the connection (man-in-the-middle), nothing \
         was fetched",
        known_hosts.display()
    )]
    #[diagnostic(
        code(stackctl::git::host_key_changed),
        help(
            "ask the server's owner whether its key changed; only then remove the old line \
             (`ssh-keygen -R '{host}' -f FILE`) and add the new key"
        )
    )]
    HostKeyChanged {
        url: String,
        host: String,
        key_type: String,
        fingerprint: String,
        known_hosts: PathBuf,
        line: usize,
    },

    /// The server's host key is marked `@revoked`. Not retryable.
    #[error(
        "{url}: host {host} presents the REVOKED {key_type} key {fingerprint} ({}:{line})",
        known_hosts.display()
    )]
    #[diagnostic(code(stackctl::git::host_key_revoked))]
    HostKeyRevoked {
        url: String,
        host: String,
        key_type: String,
        fingerprint: String,
        known_hosts: PathBuf,
        line: usize,
    },

    /// The remote could not be reached, or holds no repository at that path (connection
    /// refused, DNS, timeout, HTTP 404, "not a git repository"). Retryable.
    #[error("{url}: remote not found or unreachable: {reason}")]
    #[diagnostic(code(stackctl::git::unreachable))]
    Unreachable { url: String, reason: String },

    /// The remote has no such branch or tag. Not retryable (a later poll sees it once pushed).
    #[error("{url}: {reference} not found on the remote")]
    #[diagnostic(code(stackctl::git::ref_not_found))]
    RefNotFound { url: String, reference: String },

    /// A configured (or asked-for) commit is in none of the remote's branches and tags.
    /// Not retryable.
    #[error("{url}: commit {commit} not found")]
    #[diagnostic(
        code(stackctl::git::commit_not_found),
        help("a fixed commit must be reachable from a branch or tag of the remote")
    )]
    CommitNotFound { url: String, commit: String },

    /// The local cache repository cannot be opened or read. Delete the directory and open the
    /// source again (see [`GitError::is_cache_problem`]).
    #[error("local git cache {} is unusable: {reason}", path.display())]
    #[diagnostic(code(stackctl::git::cache))]
    Cache { path: PathBuf, reason: String },

    /// Writing a commit's files failed (disk full, permissions, a directory that is not
    /// empty, an unsafe path in the tree). Not retryable.
    #[error("cannot write the files of {commit} into {}: {reason}", dir.display())]
    #[diagnostic(code(stackctl::git::checkout))]
    Checkout {
        commit: String,
        dir: PathBuf,
        reason: String,
    },

    /// Any other git failure while talking to the remote. Retryable.
    #[error("{url}: git failed while {doing}: {reason}")]
    #[diagnostic(code(stackctl::git::other))]
    Git {
        url: String,
        doing: &'static str,
        reason: String,
    },
}

impl GitError {
    /// May pass on its own: retry with backoff.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unreachable { .. } | Self::Git { .. })
    }

    /// The local cache is at fault: delete the cache directory, open the source again, retry.
    #[must_use]
    pub fn is_cache_problem(&self) -> bool {
        matches!(self, Self::Cache { .. })
    }

    /// A short stable name of the error class, for metrics labels and /status.
    #[must_use]
    pub fn class(&self) -> &'static str {
        match self {
            Self::CredentialsInUrl { .. }
            | Self::InvalidUrl { .. }
            | Self::InvalidReference { .. } => "config",
            Self::Tls { .. } => "tls",
            Self::AuthFailed { .. } | Self::SecretUnreadable { .. } => "auth",
            Self::HostKeyUnknown { .. } => "host_key_unknown",
            Self::HostKeyChanged { .. } | Self::HostKeyRevoked { .. } => "host_key_changed",
            Self::Unreachable { .. } => "unreachable",
            Self::RefNotFound { .. } => "ref_not_found",
            Self::CommitNotFound { .. } => "commit_not_found",
            Self::Cache { .. } => "cache",
            Self::Checkout { .. } => "checkout",
            Self::Git { .. } => "git",
        }
    }
}
