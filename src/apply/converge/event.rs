//! What the watcher tells its caller while it watches: progress per service, then an outcome.

use std::fmt;
use std::time::Duration;

use super::assess::{Assessment, Batch, UpdateState};
use super::tracker::Outcome;

/// A service's ID as the daemon assigned it; the watcher keys everything by it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceId(String);

impl ServiceId {
    #[must_use]
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where one service's rollout stands; sent when any of it changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgressEvent {
    pub service: ServiceId,
    pub name: String,
    /// Current-spec tasks in their target state (running; complete for jobs).
    pub updated: u64,
    pub desired: u64,
    pub state: UpdateState,
    pub batch: Batch,
    /// Task failures of the current spec seen so far.
    pub failures: u64,
    /// Time left (whole seconds, rounded up) in the monitor window, once converged.
    pub verifying: Option<Duration>,
    /// The latest task error, else why a task waits (e.g. "no suitable node"), else the
    /// daemon's update message.
    pub message: Option<String>,
}

impl ProgressEvent {
    pub(super) fn new(
        service: &ServiceId,
        assessment: &Assessment,
        failures: u64,
        verifying: Option<Duration>,
    ) -> Self {
        let message = assessment
            .latest_error()
            .map(str::to_owned)
            .or_else(|| assessment.waiting_error.clone())
            .or_else(|| assessment.status_message.clone());
        Self {
            service: service.clone(),
            name: assessment.name.clone(),
            updated: assessment.updated,
            desired: assessment.desired,
            state: assessment.state,
            batch: assessment.batch,
            failures,
            verifying: verifying.map(whole_seconds_up),
            message,
        }
    }
}

fn whole_seconds_up(left: Duration) -> Duration {
    Duration::from_secs(left.as_secs() + u64::from(left.subsec_nanos() > 0))
}

/// `web: 2/3 updating (1 in flight, parallelism 1, delay 2s)`.
impl fmt::Display for ProgressEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            name,
            updated,
            desired,
            state,
            batch,
            ..
        } = self;
        write!(f, "{name}: {updated}/{desired} {state}")?;
        write!(
            f,
            " ({} in flight, parallelism {}, delay {:?})",
            batch.in_flight, batch.parallelism, batch.delay
        )?;
        if let Some(left) = self.verifying {
            write!(f, ", verifying for {}s", left.as_secs())?;
        }
        match &self.message {
            Some(message) => write!(f, ": {message}"),
            None => Ok(()),
        }
    }
}

/// One thing the watcher reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RolloutEvent {
    Progress(ProgressEvent),
    /// The service's watch is over; it is not polled again.
    Finished {
        service: ServiceId,
        name: String,
        outcome: Outcome,
    },
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::whole_seconds_up;

    #[test]
    fn the_window_left_is_shown_in_whole_seconds_rounded_up() {
        let cases = [(0, 0), (1, 1), (999, 1), (1000, 1), (1001, 2), (4200, 5)];
        for (millis, seconds) in cases {
            let shown = whole_seconds_up(Duration::from_millis(millis));
            assert_eq!(shown, Duration::from_secs(seconds), "{millis} ms");
        }
    }
}
