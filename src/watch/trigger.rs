//! Why a stack is reconciled. Triggers that arrive while a reconcile runs are merged into one
//! follow-up [`Reason`], so a burst of events costs one more reconcile, never one each.

use std::fmt::Write as _;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reason {
    /// The watcher just started (or the source produced its first revision).
    pub startup: bool,
    /// The source moved to a new revision.
    pub revision: bool,
    /// Files of a folder source changed.
    pub files: bool,
    /// The cluster reported a change to one of the stack's objects.
    pub drift: Option<String>,
    /// The periodic full re-plan.
    pub resync: bool,
    /// A failed apply's backoff ran out.
    pub retry: bool,
    /// A stack this one depends on finished.
    pub dependency: bool,
}

impl Reason {
    pub fn merge(&mut self, other: Self) {
        self.startup |= other.startup;
        self.revision |= other.revision;
        self.files |= other.files;
        self.drift = self.drift.take().or(other.drift);
        self.resync |= other.resync;
        self.retry |= other.retry;
        self.dependency |= other.dependency;
    }

    /// Only "the files may have changed": nothing to do while they read the same.
    #[must_use]
    pub fn is_inputs_only(&self) -> bool {
        (self.revision || self.files || self.dependency)
            && !self.startup
            && self.drift.is_none()
            && !self.resync
            && !self.retry
    }

    /// For the decision log: `new revision, drift (service web_app updated)`.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        let flags = [
            (self.startup, "startup"),
            (self.revision, "new revision"),
            (self.files, "files changed"),
            (self.resync, "resync"),
            (self.retry, "retry"),
            (self.dependency, "dependency ready"),
        ];
        parts.extend(
            flags
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, w)| (*w).to_owned()),
        );
        if let Some(what) = &self.drift {
            let mut text = String::from("drift");
            let _ = write!(text, " ({what})");
            parts.push(text);
        }
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_reasons_keep_every_cause() {
        let mut reason = Reason {
            revision: true,
            ..Reason::default()
        };
        assert!(reason.is_inputs_only());
        reason.merge(Reason {
            drift: Some("service web_app updated".into()),
            ..Reason::default()
        });
        assert!(!reason.is_inputs_only());
        assert_eq!(
            reason.describe(),
            "new revision, drift (service web_app updated)"
        );
    }
}
