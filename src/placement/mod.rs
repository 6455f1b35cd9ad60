//! Placement at plan time: which nodes can run each service's tasks, and the services Swarm can
//! never fully schedule. Pure: works on the node list (`GET /nodes`) and the service specs.
//!
//! The rules are the scheduler's own filters: a node takes new tasks when it is ready and
//! active; it must satisfy every placement constraint, run one of the image's platforms and have
//! the capacity for one task's reservations. Other services' reservations are not counted (the
//! plan cannot know what will be running), so "eligible" is an upper bound.

mod constraint;
mod demand;

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;
use serde_json::Value;

use constraint::Constraint;
use demand::{Demand, Mode, generic_resources, normalise_arch};

/// What the scheduler looks at on one node (read from `GET /nodes`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeFacts {
    pub id: String,
    pub hostname: String,
    /// `manager` or `worker`.
    pub role: String,
    /// `active`, `pause` or `drain`.
    pub availability: String,
    /// `ready`, `down`, `disconnected` or `unknown`.
    pub state: String,
    /// The address the node reported (`node.ip` constraints).
    pub addr: String,
    pub labels: BTreeMap<String, String>,
    pub engine_labels: BTreeMap<String, String>,
    pub os: String,
    pub arch: String,
    pub nano_cpus: i64,
    pub memory_bytes: i64,
    /// Generic resources (e.g. `gpu`) by kind.
    pub generic: BTreeMap<String, i64>,
}

impl NodeFacts {
    /// From a node in the Engine API's JSON.
    #[must_use]
    pub fn from_json(node: &Value) -> Self {
        let text = |p: &str| {
            node.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let map = |p: &str| -> BTreeMap<String, String> {
            node.pointer(p)
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        };
        let number = |p: &str| node.pointer(p).and_then(Value::as_i64).unwrap_or(0);
        Self {
            id: text("/ID"),
            hostname: text("/Description/Hostname"),
            role: text("/Spec/Role"),
            availability: text("/Spec/Availability"),
            state: text("/Status/State"),
            addr: text("/Status/Addr"),
            labels: map("/Spec/Labels"),
            engine_labels: map("/Description/Engine/Labels"),
            os: text("/Description/Platform/OS"),
            arch: text("/Description/Platform/Architecture"),
            nano_cpus: number("/Description/Resources/NanoCPUs"),
            memory_bytes: number("/Description/Resources/MemoryBytes"),
            generic: generic_resources(node.pointer("/Description/Resources/GenericResources")),
        }
    }

    /// Whether the scheduler gives the node new tasks: ready, and neither paused nor drained.
    #[must_use]
    pub fn is_schedulable(&self) -> bool {
        self.state == "ready" && self.availability == "active"
    }

    fn name(&self) -> &str {
        if self.hostname.is_empty() {
            &self.id
        } else {
            &self.hostname
        }
    }
}

/// The placement part of a plan.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Placement {
    /// Nodes in the swarm.
    pub nodes: usize,
    /// Nodes that take new tasks (ready and active).
    pub schedulable_nodes: usize,
    /// One entry per service of the files, by name.
    pub services: Vec<ServicePlacement>,
}

impl Placement {
    /// Whether any service has a warning.
    #[must_use]
    pub fn has_warnings(&self) -> bool {
        self.services.iter().any(|s| !s.warnings.is_empty())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServicePlacement {
    pub name: String,
    /// Schedulable nodes that satisfy the service's constraints, run one of its image's
    /// platforms and can hold one task's reservations.
    pub eligible_nodes: usize,
    /// Why Swarm can never run all of the service's tasks, in words; empty when it can.
    pub warnings: Vec<String>,
}

/// Assess every service (name and the spec that will be running) on these nodes.
#[must_use]
pub fn assess<'a>(
    nodes: &[NodeFacts],
    services: impl IntoIterator<Item = (&'a str, &'a Value)>,
) -> Placement {
    Placement {
        nodes: nodes.len(),
        schedulable_nodes: nodes.iter().filter(|n| n.is_schedulable()).count(),
        services: services
            .into_iter()
            .map(|(name, spec)| assess_one(nodes, name, &Demand::from_spec(spec)))
            .collect(),
    }
}

fn assess_one(nodes: &[NodeFacts], name: &str, demand: &Demand) -> ServicePlacement {
    let eligible: Vec<&NodeFacts> = nodes
        .iter()
        .filter(|n| n.is_schedulable() && may_run_on(demand, n) && demand.tasks_fitting(n) > 0)
        .collect();
    let mut warnings = Vec::new();
    // Without nodes (not a manager's answer) there is nothing to say.
    if !nodes.is_empty() && demand.wants_tasks() {
        if eligible.is_empty() {
            warnings.push(format!(
                "{}; {}",
                why_no_node(nodes, demand),
                nothing_runs(demand)
            ));
        } else if let Some(warning) = room_warning(demand, &eligible) {
            warnings.push(warning);
        }
    }
    ServicePlacement {
        name: name.to_owned(),
        eligible_nodes: eligible.len(),
        warnings,
    }
}

fn satisfies(demand: &Demand, node: &NodeFacts) -> bool {
    demand.constraints.iter().all(|c| c.matches(node))
}

fn may_run_on(demand: &Demand, node: &NodeFacts) -> bool {
    satisfies(demand, node) && demand.fits_platform(node)
}

fn nothing_runs(demand: &Demand) -> String {
    match demand.mode {
        Some(Mode::Replicas(n)) => format!("none of its {n} task(s) can be scheduled"),
        Some(Mode::Job) => "none of its tasks can be scheduled".to_owned(),
        Some(Mode::Global) | None => "it runs on no node".to_owned(),
    }
}

/// The first of the scheduler's filters that leaves no node, looking at every node (so that a
/// constraint only drained nodes meet is told apart from one no node meets).
fn why_no_node(nodes: &[NodeFacts], demand: &Demand) -> String {
    let unmet: Vec<&Constraint> = demand
        .constraints
        .iter()
        .filter(|c| !nodes.iter().any(|n| c.matches(n)))
        .collect();
    if let Some(first) = unmet.first() {
        return format!(
            "no node satisfies the placement constraint {:?} ({})",
            first.text,
            first.describe_nodes(nodes)
        );
    }
    let allowed: Vec<&NodeFacts> = nodes.iter().filter(|n| satisfies(demand, n)).collect();
    if allowed.is_empty() {
        let all: Vec<&str> = demand.constraints.iter().map(|c| c.text.as_str()).collect();
        return format!(
            "no node satisfies all of its placement constraints together ({})",
            all.join(", ")
        );
    }
    let platform: Vec<&NodeFacts> = allowed
        .into_iter()
        .filter(|n| demand.fits_platform(n))
        .collect();
    if platform.is_empty() {
        return format!(
            "no node it may run on has a platform its image is built for ({}; the nodes: {})",
            platforms(
                demand
                    .platforms
                    .iter()
                    .map(|(os, arch)| (os.as_str(), arch.clone()))
            ),
            platforms(
                nodes
                    .iter()
                    .map(|n| (n.os.as_str(), normalise_arch(&n.arch)))
            ),
        );
    }
    let fitting: Vec<&NodeFacts> = platform
        .iter()
        .copied()
        .filter(|n| demand.tasks_fitting(n) > 0)
        .collect();
    if fitting.is_empty() {
        return format!(
            "its reservations ({}) are more than any node it may run on has (largest: {})",
            reservations(demand),
            largest(&platform)
        );
    }
    let unavailable: Vec<String> = fitting
        .iter()
        .map(|n| format!("{} ({}, {})", n.name(), n.state, n.availability))
        .collect();
    format!(
        "the nodes it may run on take no new tasks: {}",
        unavailable.join(", ")
    )
}

/// For a replicated service: when the eligible nodes hold fewer tasks than it wants, because of
/// `max_replicas_per_node` or of its reservations.
fn room_warning(demand: &Demand, eligible: &[&NodeFacts]) -> Option<String> {
    let Some(Mode::Replicas(wanted)) = demand.mode else {
        return None;
    };
    let per_node = |n: &NodeFacts| {
        let cap = if demand.max_per_node > 0 {
            demand.max_per_node
        } else {
            u64::MAX
        };
        demand.tasks_fitting(n).min(cap)
    };
    let room = eligible
        .iter()
        .map(|n| per_node(n))
        .fold(0_u64, u64::saturating_add);
    if room >= wanted {
        return None;
    }
    let pending = wanted - room;
    let by_max = demand.max_per_node > 0
        && eligible
            .iter()
            .all(|n| demand.tasks_fitting(n) >= demand.max_per_node);
    Some(if by_max {
        format!(
            "max_replicas_per_node {} on {} eligible node(s) leaves room for {room} of its {wanted} replicas; {pending} will stay pending",
            demand.max_per_node,
            eligible.len()
        )
    } else {
        format!(
            "its reservations ({}) leave room for {room} of its {wanted} replicas on the {} eligible node(s), before other services' reservations; {pending} will stay pending",
            reservations(demand),
            eligible.len()
        )
    })
}

fn platforms<'a>(list: impl Iterator<Item = (&'a str, String)>) -> String {
    let all: std::collections::BTreeSet<String> = list
        .map(|(os, arch)| {
            let os = if os.is_empty() { "any" } else { os };
            let arch = if arch.is_empty() { "any" } else { &arch };
            format!("{os}/{arch}")
        })
        .collect();
    all.into_iter().collect::<Vec<_>>().join(", ")
}

fn cpus(nano: i64) -> String {
    format!("{} CPU(s)", nano as f64 / 1e9)
}

fn memory(bytes: i64) -> String {
    const MIB: i64 = 1 << 20;
    if bytes % (1 << 30) == 0 {
        format!("{} GiB memory", bytes >> 30)
    } else {
        format!("{:.0} MiB memory", bytes as f64 / MIB as f64)
    }
}

fn reservations(demand: &Demand) -> String {
    let mut parts = Vec::new();
    if demand.nano_cpus > 0 {
        parts.push(cpus(demand.nano_cpus));
    }
    if demand.memory_bytes > 0 {
        parts.push(memory(demand.memory_bytes));
    }
    for (kind, n) in &demand.generic {
        parts.push(format!("{n} {kind}"));
    }
    parts.join(", ")
}

/// The most any one node has of each reserved resource.
fn largest(nodes: &[&NodeFacts]) -> String {
    let max = |f: fn(&NodeFacts) -> i64| nodes.iter().map(|n| f(n)).max().unwrap_or(0);
    let mut out = format!(
        "{}, {}",
        cpus(max(|n| n.nano_cpus)),
        memory(max(|n| n.memory_bytes))
    );
    let kinds: std::collections::BTreeSet<&String> =
        nodes.iter().flat_map(|n| n.generic.keys()).collect();
    for kind in kinds {
        let most = nodes
            .iter()
            .map(|n| n.generic.get(kind).copied().unwrap_or(0))
            .max()
            .unwrap_or(0);
        let _ = write!(out, ", {most} {kind}");
    }
    out
}

#[cfg(test)]
mod tests;
