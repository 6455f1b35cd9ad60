//! The plan: for every object of the stack, create / update (with field changes) / remove /
//! unchanged, plus the rollout each service update will get. `plan` renders this value and
//! `apply` executes the very same value.

mod build;
pub mod markdown;
mod ownership;
pub mod render;
pub mod saved;
pub mod versions;
pub mod waves;

use serde::Serialize;
use serde_json::Value;

pub use build::{PlanError, PlanOptions, build};

use crate::diff::FieldChange;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Remove,
    Unchanged,
}

/// How Swarm will roll an updated service out, from its `update_config`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rollout {
    /// Tasks replaced at once; 0 means all at once.
    pub parallelism: u64,
    pub delay_seconds: f64,
    pub order: String,
    pub failure_action: String,
    pub monitor_seconds: f64,
    pub max_failure_ratio: f64,
    /// Number of batches for a replicated service (`None` for global services).
    pub batches: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServicePlan {
    pub name: String,
    /// The compose key (absent for services that are only in the cluster).
    pub key: Option<String>,
    pub action: Action,
    #[serde(serialize_with = "serialize_changes")]
    pub changes: Vec<FieldChange>,
    /// Whether the update replaces running tasks (a replicas-only change does not).
    pub restarts_tasks: bool,
    pub rollout: Option<Rollout>,
    /// Swarm cannot change a service's mode in place: it must be removed and created again.
    pub requires_recreate: bool,
    #[serde(skip)]
    pub live_id: Option<String>,
    #[serde(skip)]
    pub live_version: Option<u64>,
    /// The spec that will be sent (create or update).
    #[serde(skip)]
    pub spec: Option<Value>,
    /// Services whose rollout must converge first (`depends_on`).
    pub depends_on: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    Network,
    Config,
    Secret,
}

impl ObjectKind {
    #[must_use]
    pub fn word(self) -> &'static str {
        match self {
            Self::Network => "network",
            Self::Config => "config",
            Self::Secret => "secret",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ObjectPlan {
    pub kind: ObjectKind,
    pub name: String,
    pub action: Action,
    #[serde(serialize_with = "serialize_changes")]
    pub changes: Vec<FieldChange>,
    /// Something worth knowing that is not a change stackctl will make.
    pub note: Option<String>,
    /// An older version of a config or secret, removed once the services no longer use it.
    pub superseded: bool,
    /// What apply sends: the create body (without data), the content, the live object.
    #[serde(skip)]
    pub spec: Option<Value>,
    #[serde(skip)]
    pub data: Option<Vec<u8>>,
    #[serde(skip)]
    pub live_id: Option<String>,
    #[serde(skip)]
    pub live_version: Option<u64>,
}

impl ObjectPlan {
    pub(crate) fn new(kind: ObjectKind, name: &str, action: Action) -> Self {
        Self {
            kind,
            name: name.to_owned(),
            action,
            changes: Vec::new(),
            note: None,
            superseded: false,
            spec: None,
            data: None,
            live_id: None,
            live_version: None,
        }
    }
}

/// An object of the stack that the files no longer describe, kept because `--prune` is off.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Kept {
    pub kind: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plan {
    pub stack: String,
    pub services: Vec<ServicePlan>,
    pub networks: Vec<ObjectPlan>,
    pub configs: Vec<ObjectPlan>,
    pub secrets: Vec<ObjectPlan>,
    pub kept: Vec<Kept>,
    /// Where the services' tasks can run. Facts about the nodes, not changes: a node drained
    /// between plan and apply does not make a saved plan stale (see [`Plan::comparable`]).
    pub placement: crate::placement::Placement,
    pub summary: Summary,
    /// IDs of the configs and secrets already in the cluster, by name: service specs refer to
    /// them by ID, which only the cluster knows.
    #[serde(skip)]
    pub existing_ids: ObjectIds,
    /// What the plan was computed from: every stack object's name and version index. A saved
    /// plan is applied only while the cluster still matches it.
    #[serde(skip)]
    pub observed: std::collections::BTreeMap<String, u64>,
}

/// Config and secret IDs by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectIds {
    pub configs: std::collections::BTreeMap<String, String>,
    pub secrets: std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub remove: usize,
    pub unchanged: usize,
}

impl Plan {
    /// Networks left as they are but with a note: drift Swarm cannot update in place.
    pub fn noted_networks(&self) -> impl Iterator<Item = &ObjectPlan> {
        self.networks
            .iter()
            .filter(|n| n.action == Action::Unchanged && n.note.is_some())
    }

    /// The plan as JSON without its placement: what two plans must share to be the same plan
    /// (the changes to make), however the nodes moved in between.
    #[must_use]
    pub fn comparable(&self) -> Option<Value> {
        let mut value = serde_json::to_value(self).ok()?;
        value.as_object_mut()?.remove("placement");
        Some(value)
    }

    #[must_use]
    pub fn has_changes(&self) -> bool {
        self.summary.create + self.summary.update + self.summary.remove > 0
    }

    fn actions(&self) -> impl Iterator<Item = Action> + '_ {
        let services = self.services.iter().map(|s| s.action);
        let objects = self
            .networks
            .iter()
            .chain(&self.configs)
            .chain(&self.secrets)
            .map(|o| o.action);
        services.chain(objects)
    }

    pub(crate) fn count(&mut self) {
        let mut summary = Summary::default();
        for action in self.actions() {
            match action {
                Action::Create => summary.create += 1,
                Action::Update => summary.update += 1,
                Action::Remove => summary.remove += 1,
                Action::Unchanged => summary.unchanged += 1,
            }
        }
        self.summary = summary;
    }
}

/// Changes as `{path, old, new}`, sensitive values masked (the JSON plan may land in CI logs).
fn serialize_changes<S: serde::Serializer>(
    changes: &[FieldChange],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(changes.len()))?;
    for change in changes {
        let show = |v: &Option<Value>| {
            v.as_ref()
                .map(|v| crate::sensitive::mask_change(&change.path, v))
        };
        seq.serialize_element(&serde_json::json!({"path": change.path, "old": show(&change.old), "new": show(&change.new)}))?;
    }
    seq.end()
}
