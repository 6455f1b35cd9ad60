//! What the controller remembers about one stack between reconciles, and how it is recovered
//! after a restart from the stack's history in the cluster (never from local files).

use std::collections::{BTreeSet, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

use tokio::time::Instant;

use super::backoff::Backoff;
use crate::apply::record::Entry;

/// Failed applies of one set of inputs.
#[derive(Clone, Debug)]
pub struct Failure {
    /// Digest of the inputs whose apply failed.
    pub inputs: String,
    pub backoff: Backoff,
    /// When the next try is due (`None` once the retries are used up).
    pub retry_at: Option<Instant>,
}

#[derive(Clone, Debug, Default)]
pub struct Memory {
    /// Digest of the inputs last read and acted on: a trigger that only says "files may have
    /// changed" is dropped while they read the same.
    pub last_inputs: Option<String>,
    /// Digest and revision of the files the cluster last matched.
    pub deployed_inputs: Option<String>,
    pub deployed_revision: Option<String>,
    pub failure: Option<Failure>,
    /// Errors talking to the daemon in a row (not failures of the files).
    pub errors: Option<Backoff>,
    /// When the last self-heals happened (for the flapping limit).
    pub heals: VecDeque<Instant>,
    /// Every path the last read looked at (a folder source triggers on those only).
    pub reads: BTreeSet<PathBuf>,
    /// The source revision last reconciled to the end (for `depends_on`).
    pub reconciled_revision: Option<String>,
    /// Whether the last reconcile left the stack as its files say (for `depends_on`).
    pub in_sync: bool,
}

impl Memory {
    /// Recover from the stack's history (oldest first): the last successful apply says what is
    /// deployed; failed applies of the same inputs after it count as retries already made,
    /// their backoff running from the last one's time.
    #[must_use]
    pub fn from_history(entries: &[Entry], now_unix: u64) -> Self {
        let mut memory = Self::default();
        let watched: Vec<&Entry> = entries.iter().filter(|e| e.inputs.is_some()).collect();
        let last_success = watched.iter().rposition(|e| e.succeeded());
        if let Some(i) = last_success {
            memory.deployed_inputs.clone_from(&watched[i].inputs);
            memory.deployed_revision.clone_from(&watched[i].revision);
        }
        let after = last_success.map_or(0, |i| i + 1);
        let failed: Vec<&&Entry> = watched[after..]
            .iter()
            .filter(|e| !e.outcome.starts_with("interrupted"))
            .collect();
        let Some(last) = failed.last() else {
            return memory;
        };
        let inputs = last.inputs.clone().unwrap_or_default();
        let streak = failed
            .iter()
            .rev()
            .take_while(|e| e.inputs.as_deref() == Some(&inputs))
            .count();
        let mut backoff = Backoff::apply();
        let mut delay = None;
        for _ in 0..streak {
            delay = backoff.next();
        }
        let since = Duration::from_secs(now_unix.saturating_sub(last.time));
        let retry_at = delay.map(|d| Instant::now() + d.saturating_sub(since));
        memory.failure = Some(Failure {
            inputs,
            backoff,
            retry_at,
        });
        memory
    }

    /// Heals within `window` up to now.
    pub fn heals_within(&mut self, window: Duration) -> usize {
        let now = Instant::now();
        while self
            .heals
            .front()
            .is_some_and(|t| now.duration_since(*t) > window)
        {
            self.heals.pop_front();
        }
        self.heals.len()
    }

    /// Whether retries of these inputs are used up.
    #[must_use]
    pub fn has_given_up(&self, inputs: &str) -> bool {
        self.failure
            .as_ref()
            .is_some_and(|f| f.inputs == inputs && f.retry_at.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(time: u64, inputs: &str, revision: &str, outcome: &str) -> Entry {
        let mut entry = Entry::now(String::new());
        entry.time = time;
        entry.inputs = Some(inputs.into());
        entry.revision = Some(revision.into());
        entry.outcome = outcome.into();
        entry
    }

    #[tokio::test(start_paused = true)]
    async fn a_restart_knows_what_is_deployed_and_how_often_the_next_revision_failed() {
        let entries = [
            entry(100, "i1", "r1", "succeeded"),
            entry(200, "i2", "r2", "succeeded"),
            entry(300, "i3", "r3", "app: rolled back: bad"),
            entry(320, "i3", "r3", "app: rolled back: bad"),
        ];
        let memory = Memory::from_history(&entries, 330);
        assert_eq!(memory.deployed_inputs.as_deref(), Some("i2"));
        assert_eq!(memory.deployed_revision.as_deref(), Some("r2"));
        let failure = memory.failure.unwrap();
        assert_eq!(
            (failure.inputs.as_str(), failure.backoff.attempts()),
            ("i3", 2)
        );
        // The second retry waits about 30 s after the last failure, 10 s of which have passed.
        let left = failure.retry_at.unwrap() - Instant::now();
        assert!(
            left >= Duration::from_secs(14) && left <= Duration::from_secs(26),
            "{left:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn six_failures_of_the_same_inputs_mean_given_up_after_a_restart() {
        // The first try and its five retries.
        let entries: Vec<Entry> = (0..6).map(|i| entry(i, "i9", "r9", "failed")).collect();
        let memory = Memory::from_history(&entries, 10);
        assert!(memory.has_given_up("i9"));
        assert!(!memory.has_given_up("i10"));
        assert_eq!(memory.deployed_inputs, None);
    }

    #[test]
    fn applies_made_by_hand_do_not_count() {
        let mut manual = Entry::now(String::new());
        manual.outcome = "succeeded".into();
        let memory = Memory::from_history(&[entry(1, "i1", "r1", "succeeded"), manual], 5);
        assert_eq!(memory.deployed_inputs.as_deref(), Some("i1"));
    }
}
