//! The long-running tasks that feed the controller: a poller per git source, a file-system
//! watcher per folder, the swarm's event stream (drift) and the periodic resync.

mod events;
mod folder;
mod git;

use std::path::PathBuf;

pub use events::{Drifted, follow_events};
pub use folder::{FOLDER_REVISION, FolderFollower, follow_folder};
pub use git::{GitFollower, follow_git};

/// What a source reports.
#[derive(Clone, Debug)]
pub enum SourceEvent {
    /// The source's files at a new revision are ready under `root`.
    Revision {
        source: String,
        revision: String,
        root: PathBuf,
    },
    /// Files of a folder source changed (`paths` empty: maybe any, after a rescan).
    Files { source: String, paths: Vec<PathBuf> },
}
