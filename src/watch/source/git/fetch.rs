//! Talking to the remote: list its refs (cheap, writes nothing) and fetch into the cache.

use std::sync::Arc;

use git2::{AutotagOption, Direction, ErrorClass, ErrorCode, FetchOptions, Oid};
use git2::{Reference, Remote, RemoteHead};

use super::auth::Auth;
use super::transport::Scope;
use super::{GitError, GitSource, TIP_NAMESPACE};
use crate::watch::source::{GitRef, GitRemote};

/// Where a fixed commit's search fetches every branch and tag to.
const ALL_REFSPECS: [&str; 2] = [
    "+refs/heads/*:refs/stackctl/all/heads/*",
    "+refs/tags/*:refs/stackctl/all/tags/*",
];

/// A full or abbreviated (at least 4 digits, as git allows) hex commit id.
pub(super) fn is_hex_id(spec: &str) -> bool {
    (4..=40).contains(&spec.len()) && spec.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Refuse a branch or tag name git would refuse, before anything is asked of the remote.
pub(super) fn validate_reference(remote: &GitRemote) -> Result<(), GitError> {
    let valid = match &remote.reference {
        GitRef::Commit(spec) => is_hex_id(spec),
        reference => Reference::is_valid_name(&remote_ref(reference)),
    };
    if valid {
        return Ok(());
    }
    let reference = remote.reference.to_string();
    Err(GitError::InvalidReference {
        url: remote.url.clone(),
        reference,
    })
}

/// The cache's ref for a followed branch or tag; a fixed commit needs none.
pub(super) fn local_ref(reference: &GitRef) -> Option<String> {
    match reference {
        GitRef::Branch(name) => Some(format!("{TIP_NAMESPACE}heads/{name}")),
        GitRef::Tag(name) => Some(format!("{TIP_NAMESPACE}tags/{name}")),
        GitRef::Commit(_) => None,
    }
}

fn remote_ref(reference: &GitRef) -> String {
    match reference {
        GitRef::Branch(name) => format!("refs/heads/{name}"),
        GitRef::Tag(name) => format!("refs/tags/{name}"),
        GitRef::Commit(id) => id.clone(),
    }
}

/// The commit `reference` names among the remote's heads: a tag peeled to its commit.
fn find_tip(heads: &[RemoteHead<'_>], reference: &GitRef) -> Option<Oid> {
    let name = remote_ref(reference);
    let peeled = format!("{name}^{{}}");
    let find = |wanted: &str| {
        heads
            .iter()
            .find(|h| h.name() == wanted)
            .map(RemoteHead::oid)
    };
    find(&peeled).or_else(|| find(&name))
}

impl GitSource {
    /// Ask the remote where the followed branch or tag points (`git ls-remote`) and, when that
    /// is not the known tip, fetch it over the same connection, force-updating the cache's
    /// ref. The tip either way.
    pub(super) fn follow_ref(&self) -> Result<Oid, GitError> {
        let (auth, _scope) = self.auth();
        let mut remote = self.anonymous_remote(&auth)?;
        let mut connection = remote
            .connect_auth(Direction::Fetch, None, None)
            .map_err(|e| self.remote_error(&auth, &e))?;
        let heads = connection
            .list()
            .map_err(|e| self.remote_error(&auth, &e))?;
        let remote_tip =
            find_tip(heads, &self.remote.reference).ok_or_else(|| self.ref_not_found())?;
        if self.tip == Some(remote_tip) && self.has_commit(remote_tip) {
            return Ok(remote_tip);
        }
        let local = local_ref(&self.remote.reference).expect("a branch or tag has a local ref");
        let refspec = format!("+{}:{local}", remote_ref(&self.remote.reference));
        self.download(connection.remote(), &auth, &[refspec])?;
        self.local_tip()?.ok_or_else(|| self.ref_not_found())
    }

    /// Fetch every branch and tag to find a fixed commit, and pin it with a ref of its own.
    pub(super) fn fetch_commit(&self, spec: &str) -> Result<Oid, GitError> {
        let (auth, _scope) = self.auth();
        let mut remote = self.anonymous_remote(&auth)?;
        self.download(&mut remote, &auth, &ALL_REFSPECS.map(String::from))?;
        let id = self
            .find_local_commit(spec)?
            .ok_or_else(|| self.commit_not_found(spec))?;
        let pin = format!("{TIP_NAMESPACE}commits/{id}");
        let pinned = self
            .repo
            .reference(&pin, id, true, "stackctl: fixed commit");
        pinned.map_err(|e| self.cache_error(&e))?;
        Ok(id)
    }

    /// Credentials for this operation's connections, in force until the scope is dropped.
    fn auth(&self) -> (Arc<Auth>, Scope) {
        let auth = Arc::new(Auth::new(&self.remote, &self.transport));
        let scope = Scope::enter(auth.clone());
        (auth, scope)
    }

    fn anonymous_remote(&self, auth: &Auth) -> Result<Remote<'_>, GitError> {
        self.repo
            .remote_anonymous(&self.remote.url)
            .map_err(|e| self.remote_error(auth, &e))
    }

    /// Fetch `refspecs`, connecting unless `remote` is connected already (libgit2 then reuses
    /// the connection and the refs it advertised).
    fn download(
        &self,
        remote: &mut Remote<'_>,
        auth: &Auth,
        refspecs: &[String],
    ) -> Result<(), GitError> {
        let mut options = FetchOptions::new();
        // Only what the refspecs name: no tags tagging along, no FETCH_HEAD file.
        options
            .download_tags(AutotagOption::None)
            .update_fetchhead(false);
        let fetched = remote.fetch(refspecs, Some(&mut options), None);
        fetched.map_err(|e| self.fetch_error(auth, &e))
    }

    fn ref_not_found(&self) -> GitError {
        GitError::RefNotFound {
            url: self.remote.url.clone(),
            reference: self.remote.reference.to_string(),
        }
    }

    /// A failure to reach or list the remote: what a callback saw, else by libgit2's code.
    fn remote_error(&self, auth: &Auth, err: &git2::Error) -> GitError {
        let url = self.remote.url.clone();
        let reason = err.message().to_string();
        auth.failure().unwrap_or(match err.code() {
            ErrorCode::Auth => GitError::AuthFailed { url, reason },
            ErrorCode::Certificate => GitError::Tls { url, reason },
            _ => GitError::Unreachable { url, reason },
        })
    }

    /// As [`Self::remote_error`], but errors of the local object store blame the cache.
    fn fetch_error(&self, auth: &Auth, err: &git2::Error) -> GitError {
        match err.class() {
            ErrorClass::Odb | ErrorClass::Reference | ErrorClass::Object | ErrorClass::Index => {
                auth.failure().unwrap_or_else(|| self.cache_error(err))
            }
            _ => self.remote_error(auth, err),
        }
    }
}
