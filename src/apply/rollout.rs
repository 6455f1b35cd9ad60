//! The apply's view of rollout watching: written services handed to the [`RolloutWatcher`], its
//! events turned into apply progress, its outcomes into [`ServiceOutcome`]s.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::converge::{
    Outcome, ProgressEvent, RolloutEvent, RolloutOptions, RolloutWatcher, ServiceId,
};
use super::{ApplyError, ApplyEvent, ApplyOptions, Events, ServiceOutcome};
use crate::engine::{Engine, EngineError};

/// Watch `(name, id)` services of `stack` until each has an outcome, `options.timeout` passes
/// or `options.stop` is set (then the unfinished ones are [`ServiceOutcome::StillRolling`]).
pub async fn await_rollouts<E: Engine>(
    engine: &E,
    stack: &str,
    services: &[(String, String)],
    options: &ApplyOptions,
    events: &Events<'_>,
) -> Result<BTreeMap<String, ServiceOutcome>, ApplyError> {
    if services.is_empty() {
        return Ok(BTreeMap::new());
    }
    let watcher = RolloutWatcher::new(
        engine,
        stack,
        RolloutOptions {
            timeout: options.timeout,
            ..RolloutOptions::default()
        },
    );
    let ids: Vec<ServiceId> = services
        .iter()
        .map(|(_, id)| ServiceId::new(id.clone()))
        .collect();
    let mut last: BTreeMap<String, String> = BTreeMap::new();
    // Outcomes as they come, so a stop keeps those already known.
    let finished: Mutex<BTreeMap<String, ServiceOutcome>> = Mutex::default();
    let on_event = |event: &RolloutEvent| match event {
        RolloutEvent::Progress(progress) => {
            let message = describe(progress);
            // Only changes are worth a line in a log.
            if last.get(&progress.name) != Some(&message) {
                last.insert(progress.name.clone(), message.clone());
                events.emit(&ApplyEvent::Progress {
                    name: progress.name.clone(),
                    message,
                });
            }
        }
        RolloutEvent::Finished {
            service, outcome, ..
        } => {
            let name = name_of(services, service.as_str());
            if let Ok(mut finished) = finished.lock() {
                finished.insert(name, service_outcome(outcome));
            }
        }
    };
    tokio::select! {
        followed = watcher.follow(&ids, on_event) => {
            followed.map_err(|e| converge_error(services, e))?;
        }
        () = options.stop.wait() => {}
    }
    let mut outcomes = finished.into_inner().unwrap_or_default();
    for (name, _) in services {
        outcomes
            .entry(name.clone())
            .or_insert(ServiceOutcome::StillRolling);
    }
    Ok(outcomes)
}

fn name_of(services: &[(String, String)], id: &str) -> String {
    services
        .iter()
        .find(|(_, i)| i == id)
        .map_or_else(|| id.to_owned(), |(name, _)| name.clone())
}

/// The watch's failure, naming what was being watched.
fn converge_error(
    services: &[(String, String)],
    err: super::converge::ConvergeError,
) -> ApplyError {
    let names: Vec<&str> = services.iter().map(|(name, _)| name.as_str()).collect();
    let call = format!("watching the rollout of {}", names.join(", "));
    let cause = match err {
        super::converge::ConvergeError::Engine(e) => e,
        super::converge::ConvergeError::Malformed(m) => EngineError::Protocol {
            message: m.to_string(),
        },
    };
    ApplyError::Call { call, cause }
}

/// `2/3 tasks updated`, `3/3 running, checking stability`, `1/3 updating: task failed`.
fn describe(progress: &ProgressEvent) -> String {
    let state = match progress.state.as_str() {
        "none" => String::new(),
        state => format!(", {}", state.replace('_', " ")),
    };
    let stable = if progress.verifying.is_some() {
        ", checking stability"
    } else {
        ""
    };
    let message = progress
        .message
        .as_deref()
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    format!(
        "{}/{} tasks up to date{state}{stable}{message}",
        progress.updated, progress.desired
    )
}

fn service_outcome(outcome: &Outcome) -> ServiceOutcome {
    // The outcome's text starts with its kind ("rolled back: …"); the apply names the kind.
    let text = outcome.to_string();
    let detail = text
        .split_once(": ")
        .map_or(text.clone(), |(_, rest)| rest.to_owned());
    match outcome {
        Outcome::Converged => ServiceOutcome::Converged,
        Outcome::RolledBack { .. } => ServiceOutcome::RolledBack(detail),
        Outcome::Paused { .. } | Outcome::RollbackPaused { .. } => ServiceOutcome::Paused(detail),
        Outcome::Failed { .. } => ServiceOutcome::Failed(detail),
        Outcome::TimedOut { .. } => ServiceOutcome::Failed(text),
    }
}
