//! A git source's poller: asks the remote for its ref every interval (a ref request only, when
//! nothing moved), checks a new revision out into its own folder, and backs off while the remote
//! cannot be reached.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use super::SourceEvent;
use crate::apply::Stop;
use crate::watch::backoff::Backoff;
use crate::watch::clock;
use crate::watch::log::Log;
use crate::watch::reconcile::short;
use crate::watch::source::GitRemote;
use crate::watch::source::git::{GitError, GitSource};
use crate::watch::status::SharedBoard;

/// Checked-out revisions kept per source (the current one, and the one before it for
/// reconciles still reading it).
const KEEP_CHECKOUTS: usize = 2;

pub struct GitFollower {
    pub name: String,
    pub remote: GitRemote,
    pub interval: Duration,
    pub state_dir: PathBuf,
    pub board: SharedBoard,
    pub log: Log,
    pub stop: Stop,
}

/// Poll until stopped, sending each new revision.
pub async fn follow_git(follower: GitFollower, events: UnboundedSender<SourceEvent>) {
    let cache = follower
        .state_dir
        .join("sources")
        .join(&follower.name)
        .join("repo.git");
    let checkouts = follower.state_dir.join("checkouts").join(&follower.name);
    let mut backoff = Backoff::fetch(follower.interval);
    let mut source: Option<GitSource> = None;
    let mut current: Option<String> = None;
    loop {
        let wait = match poll(
            &mut source,
            &follower.remote,
            &cache,
            &checkouts,
            current.as_deref(),
        )
        .await
        {
            Ok(polled) => {
                backoff.reset();
                if let Some(root) = polled.root {
                    publish(&follower, &polled.commit, root, &events);
                    current = Some(polled.commit);
                }
                checked(&follower, None, follower.interval);
                follower.interval
            }
            Err(err) => {
                if err.is_cache_problem() {
                    source = None;
                    let _ = std::fs::remove_dir_all(&cache);
                }
                let wait = backoff.next().unwrap_or(follower.interval);
                report(&follower, &err, backoff.attempts(), wait);
                checked(&follower, Some(err.to_string()), wait);
                wait
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = follower.stop.wait() => return,
        }
    }
}

/// A poll's result: the remote's commit, and its files' folder when it is new to us.
struct Fetched {
    commit: String,
    root: Option<PathBuf>,
}

/// One poll on the blocking pool (git2 blocks): open the cache if needed, ask for the ref,
/// and check a commit we have not published yet out into its own folder.
async fn poll(
    source: &mut Option<GitSource>,
    remote: &GitRemote,
    cache: &Path,
    checkouts: &Path,
    current: Option<&str>,
) -> Result<Fetched, GitError> {
    let taken = source.take();
    let (remote, cache, checkouts) = (remote.clone(), cache.to_path_buf(), checkouts.to_path_buf());
    let current = current.map(str::to_owned);
    let joined = tokio::task::spawn_blocking(move || {
        let mut git = match taken {
            Some(git) => git,
            None => match GitSource::open(remote, &cache) {
                Ok(git) => git,
                Err(err) => return (None, Err(err)),
            },
        };
        let result = git.poll().and_then(|polled| {
            let commit = polled.commit().to_owned();
            if current.as_deref() == Some(commit.as_str()) {
                return Ok(Fetched { commit, root: None });
            }
            let root = check_out(&git, &commit, &checkouts)?;
            Ok(Fetched {
                commit,
                root: Some(root),
            })
        });
        (Some(git), result)
    })
    .await;
    let (git, polled) = joined.unwrap_or_else(|e| {
        let error = GitError::Git {
            url: String::new(),
            doing: "polling",
            reason: e.to_string(),
        };
        (None, Err(error))
    });
    *source = git;
    polled
}

/// The commit's files in `checkouts/<commit>`, written once; a reconcile never sees a
/// half-written tree, because the folder appears whole (written aside, then renamed).
fn check_out(git: &GitSource, commit: &str, checkouts: &Path) -> Result<PathBuf, GitError> {
    let root = checkouts.join(commit);
    if root.is_dir() {
        return Ok(root);
    }
    let staging = checkouts.join(format!("{commit}.partial"));
    let _ = std::fs::remove_dir_all(&staging);
    git.checkout(commit, &staging)?;
    std::fs::rename(&staging, &root).map_err(|e| GitError::Checkout {
        commit: commit.to_owned(),
        dir: root.clone(),
        reason: e.to_string(),
    })?;
    prune_checkouts(checkouts, commit);
    Ok(root)
}

fn publish(
    follower: &GitFollower,
    commit: &str,
    root: PathBuf,
    events: &UnboundedSender<SourceEvent>,
) {
    follower.log.info(
        &format!("source {}", follower.name),
        &format!("revision {}", short(commit)),
    );
    follower.board.source(&follower.name, |s| {
        s.revision = Some(commit.to_owned());
    });
    let _ = events.send(SourceEvent::Revision {
        source: follower.name.clone(),
        revision: commit.to_owned(),
        root,
    });
}

/// Keep the newest checkouts; older ones are no longer read by anyone.
fn prune_checkouts(checkouts: &Path, keep: &str) {
    let Ok(entries) = std::fs::read_dir(checkouts) else {
        return;
    };
    let mut dirs: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy() != keep)
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    dirs.sort();
    let extra = dirs.len().saturating_sub(KEEP_CHECKOUTS - 1);
    for (_, dir) in dirs.into_iter().take(extra) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn report(follower: &GitFollower, err: &GitError, failures: u32, wait: Duration) {
    let subject = format!("source {}", follower.name);
    let mut message = format!(
        "fetch failed ({failures} in a row, next try in {}s): {err}",
        wait.as_secs()
    );
    if let Some(help) = miette::Diagnostic::help(err) {
        let _ = write!(message, " (help: {help})");
    }
    follower.log.error(&subject, &message);
    follower
        .board
        .source(&follower.name, |s| s.failures = failures);
}

fn checked(follower: &GitFollower, error: Option<String>, next: Duration) {
    follower.board.source(&follower.name, |s| {
        s.polls += 1;
        s.last_check = Some(clock::now());
        s.next_check = Some(clock::in_(next));
        if error.is_none() {
            s.failures = 0;
        }
        s.error = error;
    });
}
