//! A folder source: file-system events (notify), debounced so that an editor's save or a copy
//! arrives as one change; a periodic rescan catches events the file system did not deliver.

use std::path::PathBuf;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, new_debouncer};
use tokio::sync::mpsc::UnboundedSender;

use super::SourceEvent;
use crate::apply::Stop;
use crate::watch::log::Log;
use crate::watch::status::SharedBoard;

/// The file-system debouncer's window: it merges an event burst per path (and pairs renames).
const DEBOUNCE: Duration = Duration::from_millis(100);
/// Quiet time after the LAST change before it is reported: a file written in pieces (an
/// editor, a copy, `cat > file`) is read once it is whole, not after its first piece.
const QUIET: Duration = Duration::from_millis(500);

/// The revision a folder source reports: its stacks name their own (a digest of their files).
pub const FOLDER_REVISION: &str = "";

pub struct FolderFollower {
    pub name: String,
    pub dir: PathBuf,
    /// Between two rescans (the source's `interval`).
    pub rescan: Duration,
    pub board: SharedBoard,
    pub log: Log,
    pub stop: Stop,
}

/// Watch until stopped. The folder itself is the revision's root: its stacks read it directly.
pub async fn follow_folder(follower: FolderFollower, events: UnboundedSender<SourceEvent>) {
    let subject = format!("source {}", follower.name);
    let (sender, mut changed) = tokio::sync::mpsc::unbounded_channel::<Vec<PathBuf>>();
    let handler = move |result: DebounceEventResult| {
        let Ok(batch) = result else { return };
        let paths: Vec<PathBuf> = batch
            .into_iter()
            .filter(|e| is_change(e.event.kind))
            .flat_map(|e| e.event.paths)
            .collect();
        if !paths.is_empty() {
            let _ = sender.send(paths);
        }
    };
    let debouncer = new_debouncer(DEBOUNCE, None, handler).and_then(|mut debouncer| {
        debouncer.watch(&follower.dir, RecursiveMode::Recursive)?;
        Ok(debouncer)
    });
    let _debouncer = match debouncer {
        Ok(debouncer) => Some(debouncer),
        Err(err) => {
            let message = format!(
                "cannot watch {} ({err}); falling back to a rescan every {}s",
                follower.dir.display(),
                follower.rescan.as_secs()
            );
            follower.log.warn(&subject, &message);
            follower
                .board
                .source(&follower.name, |s| s.error = Some(message));
            None
        }
    };
    follower.board.source(&follower.name, |s| {
        s.revision = Some("(files)".into());
    });
    let _ = events.send(SourceEvent::Revision {
        source: follower.name.clone(),
        revision: FOLDER_REVISION.into(),
        root: follower.dir.clone(),
    });
    let mut pending: Vec<PathBuf> = Vec::new();
    let mut rescan = tokio::time::Instant::now() + follower.rescan;
    loop {
        // While changes are pending, wait for quiet; otherwise for the next rescan.
        let wake = if pending.is_empty() {
            rescan
        } else {
            tokio::time::Instant::now() + QUIET
        };
        tokio::select! {
            Some(paths) = changed.recv() => pending.extend(paths),
            () = tokio::time::sleep_until(wake) => {
                let paths = std::mem::take(&mut pending);
                if paths.is_empty() {
                    rescan = tokio::time::Instant::now() + follower.rescan;
                }
                let _ = events.send(SourceEvent::Files { source: follower.name.clone(), paths });
            }
            () = follower.stop.wait() => return,
        }
    }
}

/// Whether an event can change a file's content: reading a file (our own reconcile opens every
/// file it loads) is not a change, or the watcher would trigger itself forever.
fn is_change(kind: EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use notify::event::{CreateKind, DataChange, ModifyKind, RemoveKind};

    use super::*;

    #[test]
    fn reads_are_not_changes_writes_are() {
        let cases = [
            (EventKind::Access(AccessKind::Open(AccessMode::Any)), false),
            (
                EventKind::Access(AccessKind::Close(AccessMode::Read)),
                false,
            ),
            (EventKind::Access(AccessKind::Read), false),
            (
                EventKind::Access(AccessKind::Close(AccessMode::Write)),
                true,
            ),
            (EventKind::Modify(ModifyKind::Data(DataChange::Any)), true),
            (EventKind::Create(CreateKind::File), true),
            (EventKind::Remove(RemoveKind::File), true),
        ];
        for (kind, change) in cases {
            assert_eq!(is_change(kind), change, "{kind:?}");
        }
    }
}
