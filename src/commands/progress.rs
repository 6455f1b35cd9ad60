//! Apply progress as one line per event (what CI logs want, and readable on a terminal), and
//! the closing summary of what each service ended as.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::apply::{ApplyEvent, ApplyReport, ServiceOutcome};
use crate::plan::Action;

pub struct Printer {
    started: Instant,
    /// Services written whose outcome is not known yet (for an interrupted apply).
    rolling: Mutex<BTreeSet<String>>,
}

impl Printer {
    #[must_use]
    pub fn new(started: Instant) -> Self {
        Self {
            started,
            rolling: Mutex::default(),
        }
    }

    /// Services written and not finished.
    #[must_use]
    pub fn unfinished(&self) -> Vec<String> {
        self.rolling
            .lock()
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn event(&self, event: &ApplyEvent) {
        if let Ok(mut rolling) = self.rolling.lock() {
            match event {
                ApplyEvent::ServiceWritten { name, .. } => {
                    rolling.insert(name.clone());
                }
                ApplyEvent::ServiceDone { name, .. } => {
                    rolling.remove(name);
                }
                _ => {}
            }
        }
        let at = self.started.elapsed().as_secs_f64();
        let line = match event {
            ApplyEvent::Object { kind, name, action } => {
                format!("{} {} {name}", verb(*action), kind.word())
            }
            ApplyEvent::ServiceWritten { name, action } => {
                format!("{} service {name}", verb(*action))
            }
            ApplyEvent::Progress { name, message } => format!("{name}: {message}"),
            ApplyEvent::ServiceDone { .. } => return,
            ApplyEvent::Warning(message) => format!("warning: {message}"),
        };
        eprintln!("[{at:6.1}s] {line}");
    }
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Update => "updated",
        Action::Remove => "removed",
        Action::Unchanged => "checked",
    }
}

#[must_use]
pub fn describe(name: &str, outcome: &ServiceOutcome) -> String {
    match outcome {
        ServiceOutcome::Converged => "converged".into(),
        ServiceOutcome::Written => "written (not watched: --detach)".into(),
        ServiceOutcome::Removed => "removed".into(),
        ServiceOutcome::RolledBack(why) => format!("rolled back: {why}"),
        ServiceOutcome::Paused(why) => format!(
            "paused: {why} (resume with `docker service update --detach=false {name}` after fixing it, or `stackctl rollback`)"
        ),
        ServiceOutcome::Failed(why) => format!("failed: {why}"),
        ServiceOutcome::NotStarted(why) => format!("not started: {why}"),
    }
}

pub fn summary(report: &ApplyReport, elapsed: Duration) {
    let mut out = String::from("\n");
    for (name, outcome) in &report.services {
        let mark = if outcome.is_success() { "ok  " } else { "FAIL" };
        let _ = writeln!(out, "  {mark} {name}: {}", describe(name, outcome));
    }
    let verdict = if report.is_success() {
        "Apply complete"
    } else {
        "Apply FAILED"
    };
    let _ = writeln!(out, "{verdict} in {:.1}s.", elapsed.as_secs_f64());
    super::output::emit(&out);
}
