//! What a service spec asks of a node: constraints, platforms, reservations, replicas per node,
//! and how many tasks it wants.

use std::collections::BTreeMap;

use serde_json::Value;

use super::NodeFacts;
use super::constraint::Constraint;

/// How many tasks a service wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Replicated: this many tasks wherever they fit.
    Replicas(u64),
    /// One task per eligible node.
    Global,
    /// A replicated job: its tasks run to completion, so a slot frees up for the next one and
    /// only "no node at all" keeps it from finishing.
    Job,
}

/// A service's demands on the nodes it runs on.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Demand {
    pub(crate) constraints: Vec<Constraint>,
    /// `(os, architecture)` pairs, architecture normalised; empty: any platform.
    pub(crate) platforms: Vec<(String, String)>,
    pub(crate) nano_cpus: i64,
    pub(crate) memory_bytes: i64,
    /// Generic resources (e.g. `gpu`) by kind.
    pub(crate) generic: BTreeMap<String, i64>,
    /// `max_replicas_per_node`; 0 is no limit.
    pub(crate) max_per_node: u64,
    pub(crate) mode: Option<Mode>,
}

/// Swarm's scheduler spells `x86_64` as `amd64` and `aarch64` as `arm64` before comparing.
pub(crate) fn normalise_arch(arch: &str) -> String {
    match arch {
        "x86_64" => "amd64".to_owned(),
        "aarch64" => "arm64".to_owned(),
        other => other.to_owned(),
    }
}

/// Generic resources of a spec or a node: a discrete one counts its value, a named one counts 1.
pub(crate) fn generic_resources(list: Option<&Value>) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for item in list.and_then(Value::as_array).into_iter().flatten() {
        let (spec, amount) = if let Some(d) = item.get("DiscreteResourceSpec") {
            (d, d["Value"].as_i64().unwrap_or(0))
        } else if let Some(n) = item.get("NamedResourceSpec") {
            (n, 1)
        } else {
            continue;
        };
        if let Some(kind) = spec["Kind"].as_str() {
            *out.entry(kind.to_owned()).or_insert(0) += amount;
        }
    }
    out
}

impl Demand {
    /// Read from a service spec in the Engine API's JSON.
    pub(crate) fn from_spec(spec: &Value) -> Self {
        let placement = spec.pointer("/TaskTemplate/Placement");
        let strings = |key: &str| -> Vec<String> {
            placement
                .and_then(|p| p.get(key))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        };
        let platforms = placement
            .and_then(|p| p.get("Platforms"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|p| {
                let field = |k: &str| p[k].as_str().unwrap_or_default().to_owned();
                (field("OS"), normalise_arch(&field("Architecture")))
            })
            .collect();
        let reservations = spec.pointer("/TaskTemplate/Resources/Reservations");
        let number = |key: &str| {
            reservations
                .and_then(|r| r.get(key))
                .and_then(Value::as_i64)
                .unwrap_or(0)
        };
        // Unparsable constraints switch Swarm's constraint filter off for the service.
        let parsed: Option<Vec<Constraint>> = strings("Constraints")
            .iter()
            .map(|c| Constraint::parse(c))
            .collect();
        Self {
            constraints: parsed.unwrap_or_default(),
            platforms,
            nano_cpus: number("NanoCPUs"),
            memory_bytes: number("MemoryBytes"),
            generic: generic_resources(reservations.and_then(|r| r.get("GenericResources"))),
            max_per_node: placement
                .and_then(|p| p["MaxReplicas"].as_u64())
                .unwrap_or(0),
            mode: mode(spec),
        }
    }

    /// Whether the node runs one of the platforms the service's image is built for.
    pub(crate) fn fits_platform(&self, node: &NodeFacts) -> bool {
        self.platforms.is_empty()
            || self.platforms.iter().any(|(os, arch)| {
                (arch.is_empty() || *arch == normalise_arch(&node.arch))
                    && (os.is_empty() || *os == node.os)
            })
    }

    /// How many of the service's tasks the node's capacity holds by their reservations alone
    /// (`u64::MAX`: no reservation); other services' reservations are not counted.
    pub(crate) fn tasks_fitting(&self, node: &NodeFacts) -> u64 {
        let fit = |need: i64, have: i64| {
            if need <= 0 {
                u64::MAX
            } else {
                (have.max(0) / need) as u64
            }
        };
        let mut n =
            fit(self.nano_cpus, node.nano_cpus).min(fit(self.memory_bytes, node.memory_bytes));
        for (kind, need) in &self.generic {
            n = n.min(fit(*need, node.generic.get(kind).copied().unwrap_or(0)));
        }
        n
    }

    /// Whether the service wants any task at all.
    pub(crate) fn wants_tasks(&self) -> bool {
        !matches!(self.mode, Some(Mode::Replicas(0)) | None)
    }
}

fn mode(spec: &Value) -> Option<Mode> {
    let mode = spec.get("Mode");
    let replicas = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(1);
    match mode
        .and_then(Value::as_object)
        .and_then(|m| m.iter().next())
    {
        None => Some(Mode::Replicas(replicas(None))),
        Some((kind, body)) => match kind.as_str() {
            "Replicated" => Some(Mode::Replicas(replicas(body.get("Replicas")))),
            "Global" | "GlobalJob" => Some(Mode::Global),
            "ReplicatedJob" => Some(Mode::Job),
            _ => None,
        },
    }
}
