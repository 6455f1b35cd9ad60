//! Apply progress, and the closing summary of what each service ended as. On a terminal each
//! service gets a live line (spinner, its rollout state, time so far) redrawn in place; in logs
//! and CI, one timestamped line per event. Messages that come from the daemon (task errors,
//! refused writes) go through [`mask_text`]: they may quote a spec.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::apply::{ApplyEvent, ApplyReport};
use crate::cli::Progress;
use crate::plan::Action;
use crate::sensitive::mask_text;

pub struct Printer {
    started: Instant,
    /// Services written whose outcome is not known yet (for an interrupted apply).
    rolling: Mutex<BTreeSet<String>>,
    /// The live lines, when drawing on a terminal.
    live: Option<Live>,
}

struct Live {
    multi: MultiProgress,
    bars: Mutex<BTreeMap<String, ProgressBar>>,
}

impl Printer {
    /// `Auto` draws live lines when stderr is a terminal (and `TERM` is not `dumb`).
    #[must_use]
    pub fn new(started: Instant, mode: Progress) -> Self {
        let terminal =
            std::io::stderr().is_terminal() && std::env::var("TERM").map_or(true, |t| t != "dumb");
        let live = match mode {
            Progress::Tty => true,
            Progress::Plain => false,
            Progress::Auto => terminal,
        };
        Self {
            started,
            rolling: Mutex::default(),
            live: live.then(|| Live {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10)),
                bars: Mutex::default(),
            }),
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
        match &self.live {
            Some(live) => live.event(event),
            None => self.line(event),
        }
    }

    /// Stop drawing: lines still spinning (an interrupted apply) stay as they are.
    pub fn finish(&self) {
        if let Some(live) = &self.live {
            if let Ok(bars) = live.bars.lock() {
                for bar in bars.values().filter(|b| !b.is_finished()) {
                    bar.abandon();
                }
            }
        }
    }

    fn line(&self, event: &ApplyEvent) {
        if let Some(line) = log_line(event) {
            let at = self.started.elapsed().as_secs_f64();
            eprintln!("[{at:6.1}s] {line}");
        }
    }
}

/// The log line of an event (outcomes go to the summary instead).
fn log_line(event: &ApplyEvent) -> Option<String> {
    Some(match event {
        ApplyEvent::Object { kind, name, action } => {
            format!("{} {} {name}", verb(*action), kind.word())
        }
        ApplyEvent::ServiceWritten { name, action } => {
            format!("{} service {name}", verb(*action))
        }
        ApplyEvent::Progress { name, message } => format!("{name}: {}", mask_text(message)),
        ApplyEvent::ServiceDone { .. } | ApplyEvent::Locked => return None,
        ApplyEvent::Warning(message) => format!("warning: {}", mask_text(message)),
    })
}

impl Live {
    fn event(&self, event: &ApplyEvent) {
        let Ok(mut bars) = self.bars.lock() else {
            return;
        };
        match event {
            // Objects and warnings print above the live lines, as log lines.
            ApplyEvent::Locked => {}
            ApplyEvent::Object { .. } | ApplyEvent::Warning(_) => {
                if let Some(line) = log_line(event) {
                    let _ = self.multi.println(line);
                }
            }
            ApplyEvent::ServiceWritten { name, action } => {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix} {msg} ({elapsed})")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(name.clone());
                bar.set_message(format!("{}, waiting for tasks", verb(*action)));
                bar.enable_steady_tick(Duration::from_millis(100));
                bars.insert(name.clone(), bar);
            }
            ApplyEvent::Progress { name, message } => {
                if let Some(bar) = bars.get(name) {
                    bar.set_message(mask_text(message));
                }
            }
            ApplyEvent::ServiceDone { name, outcome } => {
                let mark = if outcome.is_success() { "ok  " } else { "FAIL" };
                let done = ProgressStyle::with_template("{prefix} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner());
                if let Some(bar) = bars.get(name) {
                    bar.set_style(done);
                    bar.set_prefix(format!("{mark} {name}"));
                    bar.finish_with_message(mask_text(&describe(name, outcome)));
                }
            }
        }
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

pub use crate::deploy::describe;

pub fn summary(report: &ApplyReport, elapsed: Duration) {
    let mut out = String::from("\n");
    for (name, outcome) in &report.services {
        let mark = if outcome.is_success() { "ok  " } else { "FAIL" };
        let _ = writeln!(
            out,
            "  {mark} {name}: {}",
            mask_text(&describe(name, outcome))
        );
    }
    let verdict = if report.is_success() {
        "Apply complete"
    } else {
        "Apply FAILED"
    };
    let _ = writeln!(out, "{verdict} in {:.1}s.", elapsed.as_secs_f64());
    super::output::emit(&out);
}
