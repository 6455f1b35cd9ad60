//! A rolling update goes exactly as `update_config` says: the task list is sampled while the
//! apply runs, and the tasks' own timestamps show batch size, delay and order.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::apply::{Stack, apply_ok, web_stack};

/// What the samples showed of one task. Times are the daemon's, in ns since the epoch.
#[derive(Clone, Debug, Default)]
struct TaskSeen {
    slot: u64,
    image: String,
    created: i64,
    /// What swarm wants of the task now (`shutdown` for a replaced one).
    desired: String,
    /// The first `Status.Timestamp` seen for each state: when the task entered it.
    entered: BTreeMap<String, i64>,
}

impl TaskSeen {
    /// When the task reached `running`.
    fn running(&self) -> Option<i64> {
        self.entered.get("running").copied()
    }

    /// When the task started at all (`starting` while the health check is pending).
    fn started(&self) -> Option<i64> {
        ["starting", "running"]
            .iter()
            .filter_map(|s| self.entered.get(*s).copied())
            .min()
    }

    /// When the task's container stopped.
    fn stopped(&self) -> Option<i64> {
        [
            "complete", "shutdown", "failed", "rejected", "orphaned", "remove",
        ]
        .iter()
        .filter_map(|s| self.entered.get(*s).copied())
        .min()
    }
}

const FORMAT: &str = "{{.ID}} {{.Slot}} {{.Spec.ContainerSpec.Image}} {{.CreatedAt.UnixNano}} \
                      {{.Status.State}} {{.Status.Timestamp.UnixNano}} {{.DesiredState}}";

/// One look at every task of `service` (tolerates a task vanishing between the two calls).
fn sample(service: &str, seen: &mut BTreeMap<String, TaskSeen>) {
    let Ok(ps) = Command::new("docker")
        .args(["service", "ps", "-q", "--no-trunc", service])
        .output()
    else {
        return;
    };
    let ids = String::from_utf8_lossy(&ps.stdout).into_owned();
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if ids.is_empty() {
        return;
    }
    let Ok(out) = Command::new("docker")
        .args(["inspect", "--type", "task", "--format", FORMAT])
        .args(&ids)
        .output()
    else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [id, slot, image, created, state, at, desired] = f[..] else {
            continue;
        };
        let task = seen.entry(id.to_owned()).or_default();
        task.slot = slot.parse().unwrap_or(0);
        // A pinned image reads `name:tag@sha256:…`; the test compares tags.
        let tag = image.split('@').next().unwrap_or(image);
        tag.clone_into(&mut task.image);
        task.created = created.parse().unwrap_or(0);
        desired.clone_into(&mut task.desired);
        task.entered
            .entry(state.to_owned())
            .or_insert_with(|| at.parse().unwrap_or(0));
    }
}

/// Run `during` while sampling `service` every 100 ms in a background thread, and after it until
/// every task swarm is shutting down has stopped (at most 20 s more): a start-first update is
/// converged once the new tasks run, while the last old one may still be on its way out.
fn sampled<T>(service: &str, during: impl FnOnce() -> T) -> (T, BTreeMap<String, TaskSeen>) {
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut seen = BTreeMap::new();
            while !done.load(Ordering::Relaxed) {
                sample(service, &mut seen);
                std::thread::sleep(Duration::from_millis(100));
            }
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            loop {
                sample(service, &mut seen);
                let stopping = seen
                    .values()
                    .any(|t: &TaskSeen| t.desired != "running" && t.stopped().is_none());
                if !stopping || std::time::Instant::now() > deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            seen
        });
        let result = during();
        done.store(true, Ordering::Relaxed);
        (result, sampler.join().unwrap())
    })
}

/// One slot's replacement: the task of the old image and the one of the new image.
struct Replacement {
    slot: u64,
    old: TaskSeen,
    new: TaskSeen,
}

/// Pair old and new tasks by slot; each slot must have been replaced exactly once.
fn replacements(seen: &BTreeMap<String, TaskSeen>, old: &str, new: &str) -> Vec<Replacement> {
    let mut by_slot: BTreeMap<u64, (Vec<&TaskSeen>, Vec<&TaskSeen>)> = BTreeMap::new();
    for task in seen.values() {
        let entry = by_slot.entry(task.slot).or_default();
        if task.image == old {
            entry.0.push(task);
        } else if task.image == new {
            entry.1.push(task);
        }
    }
    let mut list: Vec<Replacement> = by_slot
        .into_iter()
        .map(|(slot, (olds, news))| {
            assert!(
                olds.len() == 1 && news.len() == 1,
                "slot {slot}: expected one {old} and one {new} task, saw {seen:#?}"
            );
            Replacement {
                slot,
                old: olds[0].clone(),
                new: news[0].clone(),
            }
        })
        .collect();
    list.sort_by_key(|r| r.new.created);
    list
}

fn secs(ns: i64) -> f64 {
    ns as f64 / 1e9
}

/// Each replacement's times relative to the first new task's creation, for failure messages.
fn timeline(list: &[Replacement]) -> String {
    let zero = list.first().map_or(0, |r| r.new.created);
    let at =
        |t: Option<i64>| t.map_or_else(|| "?".to_owned(), |t| format!("{:.2}", secs(t - zero)));
    list.iter().fold(String::new(), |mut out, r| {
        let _ = writeln!(
            out,
            "slot {}: new created {} started {} running {}; old stopped {}",
            r.slot,
            at(Some(r.new.created)),
            at(r.new.started()),
            at(r.new.running()),
            at(r.old.stopped())
        );
        out
    })
}

/// Deploy 3 replicas of app:1, update to app:2 with `order`, sampling the tasks meanwhile.
fn roll(prefix: &str, order: &str) -> Vec<Replacement> {
    let stack = Stack::new(prefix);
    let update = format!("{{parallelism: 1, delay: 2s, monitor: 2s, order: {order}}}");
    apply_ok(&stack, &web_stack("stackctl-test/app:1", 3, &update));
    let service = stack.service_name("web");
    let (run, seen) = sampled(&service, || {
        apply_ok(&stack, &web_stack("stackctl-test/app:2", 3, &update))
    });
    assert_eq!(
        run.summary_of(&service),
        format!("  ok   {service}: converged")
    );
    let list = replacements(&seen, "stackctl-test/app:1", "stackctl-test/app:2");
    assert_eq!(list.len(), 3, "{seen:#?}");
    eprintln!(
        "{order}: apply {:.1}s\n{}",
        run.elapsed.as_secs_f64(),
        timeline(&list)
    );
    check_batches(&list);
    list
}

/// One task at a time, and the next one created at least `delay` (2 s) after the previous new
/// task was running: swarm sleeps the delay after each batch has come up.
fn check_batches(list: &[Replacement]) {
    for pair in list.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let up = a.new.running().expect("new task ran");
        let gap = secs(b.new.created - up);
        assert!(
            gap >= 2.0,
            "slot {} was replaced {gap:.3}s after slot {} came up (delay 2s)",
            b.slot,
            a.slot
        );
    }
}

#[test]
fn start_first_update_replaces_one_task_at_a_time_new_before_old() {
    for r in roll("apro-start", "start-first") {
        let up = r.new.running().expect("new task ran");
        let down = r.old.stopped().expect("old task stopped");
        assert!(
            up < down,
            "slot {}: start-first, but the old task stopped at {:.3} before the new one ran at {:.3}",
            r.slot,
            secs(down),
            secs(up)
        );
    }
}

#[test]
fn stop_first_update_replaces_one_task_at_a_time_old_before_new() {
    for r in roll("apro-stop", "stop-first") {
        let started = r.new.started().expect("new task started");
        let down = r.old.stopped().expect("old task stopped");
        assert!(
            down <= started,
            "slot {}: stop-first, but the new task started at {:.3} before the old one stopped at {:.3}",
            r.slot,
            secs(started),
            secs(down)
        );
    }
}
