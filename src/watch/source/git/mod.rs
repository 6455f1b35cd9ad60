//! A git remote followed at a branch, tag or commit, fetched into a local cache with git2.
//!
//! The cache is a bare repository owned by one source. It records the remote's URL (never with
//! credentials: those are refused in URLs) and keeps the followed tip under `refs/stackctl/`,
//! so a restarted watcher knows where it was. A poll asks the remote for its refs first and
//! downloads (and writes) nothing when the tip has not moved.
//!
//! http(s) and ssh go through stackctl's own transports (rustls, russh; see `transport`), not
//! the `ssh` program: `~/.ssh/config` (host aliases, `IdentityFile`, `ProxyJump`) does not
//! apply, and host keys are checked here against `known_hosts_file` (default
//! `~/.ssh/known_hosts`; plain and hashed host names, as `ssh-keygen -H` writes them).

mod auth;
mod error;
mod fetch;
mod known_hosts;
mod transport;
mod tree;
mod url;

use std::path::{Path, PathBuf};

use git2::{ErrorCode, Oid, Repository};

pub use error::GitError;
use url::Transport;

use super::{GitRef, GitRemote};

/// Where the cache records which remote it holds: a cache of another URL is not trusted.
const URL_KEY: &str = "stackctl.url";
/// The followed branch or tag, as fetched (force-updated: the remote's tip is the truth).
const TIP_NAMESPACE: &str = "refs/stackctl/";

/// A git remote followed at one [`GitRef`], with its local cache. Blocking: call it from a
/// blocking task.
pub struct GitSource {
    remote: GitRemote,
    transport: Transport,
    cache_dir: PathBuf,
    repo: Repository,
    tip: Option<Oid>,
}

/// What a poll found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Polled {
    /// The tip is the commit already known (full hex id).
    Unchanged(String),
    /// The tip moved (forward, backward or sideways) to this commit, now in the cache.
    Changed(String),
}

impl Polled {
    /// The tip's full hex commit id.
    #[must_use]
    pub fn commit(&self) -> &str {
        match self {
            Self::Unchanged(commit) | Self::Changed(commit) => commit,
        }
    }
}

impl GitSource {
    /// Open (creating if needed) the bare cache repository at `cache_dir` for this remote.
    /// Nothing is fetched. A cache holding an earlier fetch of the same URL is reused and its
    /// tip known; a cache of another URL forgets its tips.
    pub fn open(remote: GitRemote, cache_dir: &Path) -> Result<Self, GitError> {
        let transport = url::parse(&remote.url)?;
        fetch::validate_reference(&remote)?;
        let repo = open_cache(cache_dir)?;
        let mut source = Self {
            remote,
            transport,
            cache_dir: cache_dir.into(),
            repo,
            tip: None,
        };
        source.adopt_cache()?;
        source.tip = source.local_tip()?;
        Ok(source)
    }

    /// Ask the remote where the followed ref points; fetch only when that is not the known tip.
    /// A fixed commit is fetched once (all branches and tags, to find it) and never polled
    /// again.
    pub fn poll(&mut self) -> Result<Polled, GitError> {
        let new = match &self.remote.reference {
            GitRef::Commit(spec) => match self.tip {
                Some(tip) => tip,
                None => self.fetch_commit(spec)?,
            },
            GitRef::Branch(_) | GitRef::Tag(_) => self.follow_ref()?,
        };
        let changed = self.tip != Some(new);
        self.tip = Some(new);
        let commit = new.to_string();
        Ok(if changed {
            Polled::Changed(commit)
        } else {
            Polled::Unchanged(commit)
        })
    }

    /// The commit currently known (after a poll, or from a reused cache), full hex.
    #[must_use]
    pub fn tip(&self) -> Option<String> {
        self.tip.map(|tip| tip.to_string())
    }

    /// The remote's URL (it never holds credentials).
    #[must_use]
    pub fn url(&self) -> &str {
        &self.remote.url
    }

    /// Write the files of `commit` (full or abbreviated hex) into `dir`, which must be empty or
    /// missing: a plain tree, no `.git`, executable bits and symlinks as git records them.
    pub fn checkout(&self, commit: &str, dir: &Path) -> Result<(), GitError> {
        let commit = self.find_commit(commit)?;
        tree::write(&self.repo, &commit, dir)
    }

    /// The paths (relative to the repository root) that differ between two commits, sorted.
    pub fn changed_paths(&self, from: &str, to: &str) -> Result<Vec<PathBuf>, GitError> {
        let (from, to) = (self.find_commit(from)?, self.find_commit(to)?);
        tree::changed_paths(&self.repo, &from, &to).map_err(|e| self.cache_error(&e))
    }

    /// Record the URL in a new cache; forget the tips of a cache made for another URL.
    fn adopt_cache(&mut self) -> Result<(), GitError> {
        let mut config = self.repo.config().map_err(|e| self.cache_error(&e))?;
        let recorded = config.get_string(URL_KEY).ok();
        if recorded.as_deref() == Some(self.remote.url.as_str()) {
            return Ok(());
        }
        let tips: Vec<String> = self
            .repo
            .references_glob(&format!("{TIP_NAMESPACE}*"))
            .and_then(|mut refs| refs.names().map(|name| name.map(String::from)).collect())
            .map_err(|e| self.cache_error(&e))?;
        for name in tips {
            let mut reference = self
                .repo
                .find_reference(&name)
                .map_err(|e| self.cache_error(&e))?;
            reference.delete().map_err(|e| self.cache_error(&e))?;
        }
        config
            .set_str(URL_KEY, &self.remote.url)
            .map_err(|e| self.cache_error(&e))
    }

    /// The tip the cache holds for the followed ref, if any.
    fn local_tip(&self) -> Result<Option<Oid>, GitError> {
        if let GitRef::Commit(spec) = &self.remote.reference {
            return self.find_local_commit(spec);
        }
        let name = fetch::local_ref(&self.remote.reference).expect("a branch or tag has one");
        match self.repo.find_reference(&name) {
            Ok(reference) => {
                let commit = reference
                    .peel_to_commit()
                    .map_err(|e| self.cache_error(&e))?;
                Ok(Some(commit.id()))
            }
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(self.cache_error(&e)),
        }
    }

    fn has_commit(&self, id: Oid) -> bool {
        self.repo.find_commit(id).is_ok()
    }

    /// A commit in the cache by full or abbreviated hex id, or `None`.
    fn find_local_commit(&self, spec: &str) -> Result<Option<Oid>, GitError> {
        if !fetch::is_hex_id(spec) {
            return Err(self.commit_not_found(spec));
        }
        match self.repo.find_commit_by_prefix(spec) {
            Ok(commit) => Ok(Some(commit.id())),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(e) if e.code() == ErrorCode::Ambiguous => Err(self.commit_not_found(spec)),
            Err(e) if e.class() == git2::ErrorClass::Object => Ok(None),
            Err(e) => Err(self.cache_error(&e)),
        }
    }

    fn find_commit(&self, spec: &str) -> Result<git2::Commit<'_>, GitError> {
        let id = self
            .find_local_commit(spec)?
            .ok_or_else(|| self.commit_not_found(spec))?;
        self.repo.find_commit(id).map_err(|e| self.cache_error(&e))
    }

    fn commit_not_found(&self, spec: &str) -> GitError {
        GitError::CommitNotFound {
            url: self.remote.url.clone(),
            commit: spec.to_string(),
        }
    }

    fn cache_error(&self, err: &git2::Error) -> GitError {
        GitError::Cache {
            path: self.cache_dir.clone(),
            reason: err.message().to_string(),
        }
    }
}

/// Open the bare cache at `dir`, or create it when `dir` is missing or empty.
fn open_cache(dir: &Path) -> Result<Repository, GitError> {
    let cache_error = |reason: String| GitError::Cache {
        path: dir.into(),
        reason,
    };
    let is_empty = tree::is_empty_or_missing(dir).map_err(|e| cache_error(e.to_string()))?;
    let repo = if is_empty {
        Repository::init_bare(dir)
    } else {
        Repository::open_bare(dir)
    };
    repo.map_err(|e| cache_error(e.message().to_string()))
}

#[cfg(test)]
mod tests;
