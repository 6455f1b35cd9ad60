//! Tracker tests: recorded rollouts replayed at a 250 ms tick, and the monitor window with
//! explicit instants.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::super::assess::{
    Assessment, Batch, FailurePolicy, Mode, Observation, TaskFailure, UpdateState, Verdict, assess,
};
use super::super::recorded::{
    CONTINUE, GLOBAL, GLOBAL_JOB, JOB, JOB_FAILING, NEW_BAD, PAUSE, ROLLBACK, START_FIRST, load,
};
use super::{Outcome, Tracker};

const UNHEALTHY: &str = "task: non-zero exit (1): dockerexec: unhealthy container";

/// Poll a recording every 250 ms (each tick sees the latest snapshot taken by then) until an
/// outcome; returns it with the tick's time in ms.
fn replay(fixture: &str, until_ms: u64) -> Option<(u64, Outcome)> {
    let snaps = load(fixture);
    let start = Instant::now();
    let mut tracker = Tracker::new();
    let down = HashSet::new();
    for at in (0..=until_ms).step_by(250) {
        let Some(snap) = snaps.iter().rev().find(|s| s.at_ms <= at) else {
            continue;
        };
        let id = snap.service["ID"].as_str().unwrap();
        let known = tracker.known_failures(id, &snap.tasks).clone();
        let seen = Observation {
            service: &snap.service,
            tasks: &snap.tasks,
            down_nodes: &down,
        };
        let policy = FailurePolicy {
            max_task_failures: 3,
            known: &known,
        };
        let assessment = assess(&seen, &policy).unwrap();
        if let Some(outcome) = tracker.step(assessment, start + Duration::from_millis(at)) {
            return Some((at, outcome));
        }
    }
    None
}

#[test]
fn recorded_rollouts_end_when_and_how_they_should() {
    let failed = |n: u32, error: &str| Outcome::Failed {
        message: format!("{n} tasks failed (stackctl gives up after 3); the last: {error}"),
    };
    let cases = [
        // 3/3 at 22.1 s (still `updating`): the 2 s window runs out at 24.25 s, swarm says
        // `completed` at 24.9 s, the next tick ends the watch.
        ("start-first", START_FIRST, 25_000, Outcome::Converged),
        // Back to 2/2 at 6.2 s; no RollbackConfig, so the default 5 s window.
        (
            "rollback",
            ROLLBACK,
            11_250,
            Outcome::RolledBack {
                message: "update rolled back due to failure or early termination of task \
                      hwfmc7hjop8wxl0k7vp7irllk"
                    .to_owned(),
                error: Some(UNHEALTHY.to_owned()),
            },
        ),
        (
            "pause",
            PAUSE,
            5_000,
            Outcome::Paused {
                message: "update paused due to failure or early termination of task \
                      yfsgzet3n1yxgtscyep8lmzuh"
                    .to_owned(),
                error: Some(UNHEALTHY.to_owned()),
            },
        ),
        ("continue", CONTINUE, 10_250, failed(3, UNHEALTHY)),
        // Jobs are not verified: done as soon as the completions are there.
        ("job", JOB, 2_000, Outcome::Converged),
        (
            "failing job",
            JOB_FAILING,
            7_500,
            failed(3, "task: non-zero exit (3)"),
        ),
        ("global", GLOBAL, 6_000, Outcome::Converged),
        ("global job", GLOBAL_JOB, 1_750, Outcome::Converged),
        ("new service failing", NEW_BAD, 13_250, failed(3, UNHEALTHY)),
    ];
    for (name, fixture, at, outcome) in cases {
        assert_eq!(replay(fixture, 40_000), Some((at, outcome)), "{name}");
    }
}

const MONITOR: Duration = Duration::from_secs(2);

fn assessment(updated: u64, failures: &[&str]) -> Assessment {
    Assessment {
        name: "web".to_owned(),
        mode: Mode::Replicated { replicas: 2 },
        state: UpdateState::None,
        status_message: None,
        updated,
        desired: 2,
        reached: updated == 2,
        batch: Batch {
            parallelism: 1,
            delay: Duration::ZERO,
            in_flight: 2 - updated,
        },
        monitor: MONITOR,
        failures: failures
            .iter()
            .map(|id| TaskFailure {
                task: (*id).to_owned(),
                error: format!("{id} exited"),
            })
            .collect(),
        rolled_back_error: None,
        waiting_error: None,
        verdict: if updated == 2 {
            Verdict::Converged
        } else {
            Verdict::InProgress
        },
    }
}

/// Feed (ms, assessment) steps; the ms of the first outcome, if any.
fn run(steps: Vec<(u64, Assessment)>) -> Option<(u64, Outcome)> {
    let start = Instant::now();
    let mut tracker = Tracker::new();
    steps.into_iter().find_map(|(at, a)| {
        let outcome = tracker.step(a, start + Duration::from_millis(at))?;
        Some((at, outcome))
    })
}

#[test]
fn the_monitor_window_must_pass_without_failures() {
    let cases = [
        (
            "converged for the whole window",
            vec![
                (0, assessment(2, &[])),
                (1_999, assessment(2, &[])),
                (2_000, assessment(2, &[])),
            ],
            Some(2_000),
        ),
        (
            "a drop below the count restarts the window",
            vec![
                (0, assessment(2, &[])),
                (1_000, assessment(1, &[])),
                (1_500, assessment(2, &[])),
                (3_000, assessment(2, &[])),
                (3_500, assessment(2, &[])),
            ],
            Some(3_500),
        ),
        (
            "a task failure between two ticks restarts it too",
            vec![
                (0, assessment(2, &[])),
                (1_000, assessment(2, &["t1"])),
                (2_500, assessment(2, &["t1"])),
                (3_000, assessment(2, &["t1"])),
            ],
            Some(3_000),
        ),
        (
            "never converged",
            vec![(0, assessment(1, &[])), (60_000, assessment(1, &[]))],
            None,
        ),
    ];
    for (name, steps, expected) in cases {
        let ended = run(steps);
        assert_eq!(ended.as_ref().map(|(at, _)| *at), expected, "{name}");
        if let Some((_, outcome)) = ended {
            assert_eq!(outcome, Outcome::Converged, "{name}");
        }
    }
}

#[test]
fn progress_while_verifying_and_at_the_timeout() {
    let start = Instant::now();
    let mut tracker = Tracker::new();
    assert_eq!(tracker.step(assessment(1, &["t1"]), start), None);
    assert_eq!(tracker.verifying(start), None);
    let converged_at = start + Duration::from_secs(1);
    assert_eq!(tracker.step(assessment(2, &["t1"]), converged_at), None);
    let later = converged_at + Duration::from_millis(500);
    assert_eq!(tracker.verifying(later), Some(Duration::from_millis(1_500)));
    assert_eq!(
        tracker.timed_out(),
        Outcome::TimedOut {
            state: UpdateState::None,
            updated: 2,
            desired: 2,
            error: Some("t1 exited".to_owned()),
        }
    );
    assert_eq!(
        tracker.timed_out().to_string(),
        "timed out with 2/2 tasks (update state: none) (last task error: t1 exited)"
    );
}

#[test]
fn pauses_and_failures_end_the_watch_at_once() {
    let paused = Assessment {
        state: UpdateState::Paused,
        verdict: Verdict::Paused {
            message: "update paused".to_owned(),
        },
        ..assessment(1, &["t9"])
    };
    let outcome = run(vec![(0, paused)]).unwrap();
    let expected = Outcome::Paused {
        message: "update paused".to_owned(),
        error: Some("t9 exited".to_owned()),
    };
    assert_eq!(outcome, (0, expected));
    assert_eq!(
        outcome.1.to_string(),
        "update paused: update paused (last task error: t9 exited)"
    );
}

#[test]
fn the_window_runs_while_swarm_still_monitors_and_the_end_waits_for_swarm() {
    let updating = |updated| Assessment {
        state: UpdateState::Updating,
        verdict: Verdict::InProgress,
        ..assessment(updated, &[])
    };
    let completed = || Assessment {
        state: UpdateState::Completed,
        ..assessment(2, &[])
    };
    let steps = vec![
        (0, updating(1)),
        (1_000, updating(2)),
        // The window has passed, but swarm has not finished: no outcome yet.
        (3_500, updating(2)),
        (4_000, completed()),
    ];
    assert_eq!(run(steps), Some((4_000, Outcome::Converged)));
    let late = vec![
        (0, updating(2)),
        (500, completed()),
        (1_999, completed()),
        (2_000, completed()),
    ];
    assert_eq!(run(late), Some((2_000, Outcome::Converged)));
}
