//! Progress counts, the docker CLI's way: one task per slot (replicated) or node (global), or
//! completions of the current iteration (jobs).

use std::collections::{BTreeMap, HashSet};

use bollard::models::{Task, TaskState};

use super::assess::{Mode, Observation};
use super::service::Service;

pub(super) fn state(task: &Task) -> Option<TaskState> {
    task.status.as_ref()?.state
}

pub(super) fn is_on_down_node(task: &Task, down: &HashSet<String>) -> bool {
    task.node_id.as_ref().is_some_and(|n| down.contains(n))
}

/// (updated, desired, in flight) for the service's mode.
pub(super) fn count(
    service: &Service<'_>,
    current: &[&Task],
    seen: &Observation<'_>,
) -> (u64, u64, u64) {
    let down = seen.down_nodes;
    match service.mode {
        Mode::Replicated { replicas } => {
            let by_slot = pick(current, down, |t| t.slot.map(|s| s.to_string()));
            let (running, in_flight) = running_and_in_flight(by_slot.values());
            (running, replicas, in_flight)
        }
        Mode::Global => global_count(service, current, seen),
        Mode::ReplicatedJob { total_completions } => {
            let complete = len(current.iter().filter(|t| is_complete(t)));
            let in_flight = len(current.iter().filter(|t| is_before(t, TaskState::COMPLETE)));
            (complete, total_completions, in_flight)
        }
        Mode::GlobalJob => {
            let live: Vec<&&Task> = current
                .iter()
                .filter(|t| !is_on_down_node(t, down))
                .collect();
            let nodes: HashSet<&str> = live.iter().filter_map(|t| t.node_id.as_deref()).collect();
            let done: HashSet<&str> = live
                .iter()
                .filter(|t| is_complete(t))
                .filter_map(|t| t.node_id.as_deref())
                .collect();
            let in_flight = len(live.iter().filter(|t| is_before(t, TaskState::COMPLETE)));
            (len(done), len(nodes), in_flight)
        }
    }
}

/// Global: one task per node. The nodes are those with a current task, plus those still
/// running an old one (the updater has not reached them yet), minus down nodes.
fn global_count(
    service: &Service<'_>,
    current: &[&Task],
    seen: &Observation<'_>,
) -> (u64, u64, u64) {
    let by_node = pick(current, seen.down_nodes, |t| t.node_id.clone());
    let mut nodes: HashSet<&str> = seen
        .tasks
        .iter()
        .filter(|t| t.service_id.as_deref() == Some(service.id))
        .filter(|t| desired(t).is_some_and(|d| d <= TaskState::RUNNING))
        .filter(|t| !is_on_down_node(t, seen.down_nodes))
        .filter_map(|t| t.node_id.as_deref())
        .collect();
    nodes.extend(by_node.keys().map(String::as_str));
    let (running, in_flight) = running_and_in_flight(by_node.values());
    (running, len(nodes), in_flight)
}

/// One task per key (slot or node), as the docker CLI picks it: the lowest desired state, then
/// the lowest observed state. Tasks on down nodes and in states the CLI does not rank (`remove`,
/// `orphaned`) are left out.
fn pick<'t>(
    tasks: &[&'t Task],
    down: &HashSet<String>,
    key: impl Fn(&Task) -> Option<String>,
) -> BTreeMap<String, &'t Task> {
    let mut picked: BTreeMap<String, &Task> = BTreeMap::new();
    for task in tasks.iter().copied() {
        let (Some(key), Some(rank)) = (key(task), ranks(task)) else {
            continue;
        };
        if is_on_down_node(task, down) {
            continue;
        }
        let keep_existing = picked.get(&key).is_some_and(|old| ranks(old) <= Some(rank));
        if !keep_existing {
            picked.insert(key, task);
        }
    }
    picked
}

/// (desired state, observed state) when both are states the CLI ranks.
fn ranks(task: &Task) -> Option<(TaskState, TaskState)> {
    let ranked = |s: TaskState| (s <= TaskState::REJECTED).then_some(s);
    Some((ranked(desired(task)?)?, ranked(state(task)?)?))
}

fn desired(task: &Task) -> Option<TaskState> {
    task.desired_state
}

fn running_and_in_flight<'t>(tasks: impl Iterator<Item = &'t &'t Task>) -> (u64, u64) {
    let wanted: Vec<&Task> = tasks
        .copied()
        .filter(|t| desired(t).is_some_and(|d| d <= TaskState::RUNNING))
        .collect();
    let running = len(wanted
        .iter()
        .filter(|t| state(t) == Some(TaskState::RUNNING)));
    let in_flight = len(wanted.iter().filter(|t| is_before(t, TaskState::RUNNING)));
    (running, in_flight)
}

fn is_complete(task: &Task) -> bool {
    state(task) == Some(TaskState::COMPLETE)
}

/// Wanted at `target` or beyond, and not there yet.
pub(super) fn is_before(task: &Task, target: TaskState) -> bool {
    desired(task).is_some_and(|d| d <= target) && state(task).is_some_and(|s| s < target)
}

pub(super) fn len<T>(items: impl IntoIterator<Item = T>) -> u64 {
    items.into_iter().count() as u64
}
