//! Desired state + live state -> [`Plan`]. Pure.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::ownership;
use super::versions::{self, comparable_labels};
use super::{Action, Kept, ObjectKind, ObjectPlan, Plan, Rollout, ServicePlan};
use crate::convert::{Desired, DesiredNetwork, DesiredObject, DesiredService};
use crate::diff::{FieldChange, field_changes, normalize_service};
use crate::model::{IMAGE_LABEL, NAMESPACE_LABEL, StackName};
use crate::observe::{LiveObject, LiveService, LiveState};

#[derive(Clone, Copy, Debug, Default)]
pub struct PlanOptions {
    /// Remove objects of the stack that the files no longer describe.
    pub prune: bool,
}

/// Errors that make a plan impossible (nothing would be applied).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[allow(clippy::enum_variant_names)] // each names what is missing or wrong
pub enum PlanError {
    #[error("network {0:?} is declared as external, but could not be found")]
    #[diagnostic(
        code(stackctl::plan::external_network),
        help("create it first: `docker network create --driver overlay --scope swarm {0}`")
    )]
    ExternalNetworkMissing(String),
    #[error(
        "network {name:?} is declared as external, but it is not in the right scope: {scope:?} instead of \"swarm\""
    )]
    #[diagnostic(code(stackctl::plan::external_network))]
    ExternalNetworkScope { name: String, scope: String },
    #[error(
        "service {service:?} uses the {kind} {name:?}, which is external and could not be found"
    )]
    #[diagnostic(
        code(stackctl::plan::external_object),
        help("create it first: `docker {kind} create {name} FILE`")
    )]
    ExternalObjectMissing {
        kind: &'static str,
        name: String,
        service: String,
    },
    #[error(
        "{kind} {name:?} belongs to stack {owner:?}; stack {stack:?} would take it over, so nothing was changed"
    )]
    #[diagnostic(
        code(stackctl::plan::other_stack),
        help(
            "stack names may contain `_`, so `<stack>_<key>` names can collide (stack `a` key `b_c` and stack `a_b` key `c` are both `a_b_c`); rename the key in this stack (or give the network, config or secret a `name:`); stackctl never adopts, updates or removes another stack's objects"
        )
    )]
    OtherStacksObject {
        kind: &'static str,
        name: String,
        owner: String,
        stack: String,
    },
    #[error(
        "{kind} {name:?} already exists and belongs to no stack; stack {stack:?} would take it over, so nothing was changed"
    )]
    #[diagnostic(
        code(stackctl::plan::unlabelled),
        help("{adopt}; or remove it, or rename the key in this stack")
    )]
    UnlabelledObject {
        kind: &'static str,
        name: String,
        stack: String,
        adopt: String,
    },
}

/// Every config and secret a service refers to must be one the stack creates or one the cluster
/// has (an external one): otherwise the service write would fail half-way through an apply.
fn check_references(desired: &Desired, live: &LiveState) -> Result<(), PlanError> {
    for service in desired.services.values() {
        let container = &service.spec["TaskTemplate"]["ContainerSpec"];
        for (kind, list, field, wanted, existing) in [
            (
                "config",
                "Configs",
                "ConfigName",
                &desired.configs,
                &live.configs,
            ),
            (
                "secret",
                "Secrets",
                "SecretName",
                &desired.secrets,
                &live.secrets,
            ),
        ] {
            let names = container[list]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r[field].as_str());
            for name in names {
                if !wanted.contains_key(name) && !existing.contains_key(name) {
                    return Err(PlanError::ExternalObjectMissing {
                        kind,
                        name: name.to_owned(),
                        service: service.name.clone(),
                    });
                }
            }
        }
    }
    Ok(())
}

pub fn build(
    stack: &StackName,
    desired: &Desired,
    live: &LiveState,
    options: PlanOptions,
) -> Result<Plan, PlanError> {
    for name in &desired.external_networks {
        if matches!(name.as_str(), "host" | "bridge" | "none" | "default") {
            continue;
        }
        match live.networks.get(name) {
            None => return Err(PlanError::ExternalNetworkMissing(name.clone())),
            Some(n) if n.scope != "swarm" => {
                return Err(PlanError::ExternalNetworkScope {
                    name: name.clone(),
                    scope: n.scope.clone(),
                });
            }
            Some(_) => {}
        }
    }
    ownership::check(stack, desired, live)?;
    let mut desired = desired.clone();
    let superseded = versions::resolve(&mut desired, &live.configs, &live.secrets);
    // A version of a config or secret is taken only from this stack too.
    ownership::check(stack, &desired, live)?;
    check_references(&desired, live)?;
    let desired = &desired;
    let mut plan = Plan {
        stack: stack.as_str().to_owned(),
        services: services(stack, desired, live, options),
        networks: networks(stack, desired, live, options),
        configs: objects(
            stack,
            ObjectKind::Config,
            &desired.configs,
            &live.configs,
            &superseded,
        ),
        secrets: objects(
            stack,
            ObjectKind::Secret,
            &desired.secrets,
            &live.secrets,
            &superseded,
        ),
        kept: Vec::new(),
        placement: crate::placement::Placement::default(),
        summary: super::Summary::default(),
        observed: observed(stack, desired, live),
        existing_ids: super::ObjectIds {
            configs: live
                .configs
                .values()
                .map(|c| (c.name.clone(), c.id.clone()))
                .collect(),
            secrets: live
                .secrets
                .values()
                .map(|s| (s.name.clone(), s.id.clone()))
                .collect(),
        },
    };
    collect_kept(&mut plan, options);
    plan.placement = placement(&plan, live);
    plan.count();
    Ok(plan)
}

/// Placement of every service the files describe, judged on the spec that will be running:
/// the one sent for a create or update, the live one for an unchanged service (it keeps, for
/// one, the platforms an earlier deploy pinned).
fn placement(plan: &Plan, live: &LiveState) -> crate::placement::Placement {
    let running = plan
        .services
        .iter()
        .filter(|s| s.action != Action::Remove)
        .filter_map(|s| {
            let spec = s
                .spec
                .as_ref()
                .or_else(|| live.services.get(&s.name).map(|l| &l.spec))?;
            Some((s.name.as_str(), spec))
        });
    crate::placement::assess(&live.nodes, running)
}

fn belongs(labels: &BTreeMap<String, String>, stack: &StackName) -> bool {
    labels
        .get(NAMESPACE_LABEL)
        .is_some_and(|v| v == stack.as_str())
}

fn collect_kept(plan: &mut Plan, options: PlanOptions) {
    if options.prune {
        return;
    }
    let mut kept = Vec::new();
    // Without --prune, "remove" entries are only reported, not planned.
    plan.services.retain(|s| {
        let keep = s.action != Action::Remove;
        if !keep {
            kept.push(Kept {
                kind: "service".into(),
                name: s.name.clone(),
            });
        }
        keep
    });
    for list in [&mut plan.networks, &mut plan.configs, &mut plan.secrets] {
        list.retain(|o| {
            let keep = o.action != Action::Remove || o.superseded;
            if !keep {
                kept.push(Kept {
                    kind: o.kind.word().into(),
                    name: o.name.clone(),
                });
            }
            keep
        });
    }
    plan.kept = kept;
}

fn services(
    stack: &StackName,
    desired: &Desired,
    live: &LiveState,
    options: PlanOptions,
) -> Vec<ServicePlan> {
    let mut out: Vec<ServicePlan> = desired
        .services
        .values()
        .map(|d| service_plan(d, live.services.get(&d.name), live))
        .collect();
    for (name, service) in &live.services {
        if desired.services.contains_key(name) {
            continue;
        }
        let _ = options;
        out.push(ServicePlan {
            name: name.clone(),
            key: name.strip_prefix(&format!("{stack}_")).map(str::to_owned),
            action: Action::Remove,
            changes: Vec::new(),
            restarts_tasks: false,
            rollout: None,
            requires_recreate: false,
            live_id: Some(service.id.clone()),
            live_version: Some(service.version),
            spec: None,
            depends_on: Vec::new(),
        });
    }
    out
}

/// The spec to send for an update: docker's own rules for what it copies from the live service.
fn spec_for_update(desired: &DesiredService, live: &LiveService) -> Value {
    let mut spec = desired.spec.clone();
    if let Some(force) = live.spec.pointer("/TaskTemplate/ForceUpdate") {
        spec["TaskTemplate"]["ForceUpdate"] = force.clone();
    }
    // A digest pinned at an earlier deploy is kept while the file's image is unchanged
    // (`--resolve-image changed`), so pinning shows no phantom image change.
    let same_label = live
        .spec
        .pointer(&format!("/Labels/{}", IMAGE_LABEL.replace('/', "~1")))
        == desired
            .spec
            .pointer(&format!("/Labels/{}", IMAGE_LABEL.replace('/', "~1")));
    let live_image = live
        .spec
        .pointer("/TaskTemplate/ContainerSpec/Image")
        .and_then(Value::as_str)
        .unwrap_or("");
    let wanted = desired
        .spec
        .pointer("/TaskTemplate/ContainerSpec/Image")
        .and_then(Value::as_str)
        .unwrap_or("");
    if same_label && live_image.split('@').next() == Some(wanted) && live_image.contains('@') {
        spec["TaskTemplate"]["ContainerSpec"]["Image"] = json!(live_image);
    }
    spec
}

/// The live spec with IDs turned back into the names a desired spec uses.
fn comparable_live(spec: &Value, live: &LiveState) -> Value {
    let mut spec = spec.clone();
    let networks = live.network_names();
    if let Some(Value::Array(attachments)) = spec.pointer_mut("/TaskTemplate/Networks") {
        for a in attachments {
            if let Some(name) = a["Target"].as_str().and_then(|id| networks.get(id)) {
                a["Target"] = json!(name);
            }
        }
    }
    let configs = live.config_names();
    if let Some(config) =
        spec.pointer_mut("/TaskTemplate/ContainerSpec/Privileges/CredentialSpec/Config")
    {
        if let Some(name) = config.as_str().and_then(|id| configs.get(id)) {
            *config = json!(name);
        }
    }
    spec
}

fn service_plan(
    desired: &DesiredService,
    live: Option<&LiveService>,
    state: &LiveState,
) -> ServicePlan {
    let mut plan = ServicePlan {
        name: desired.name.clone(),
        key: Some(desired.key.clone()),
        action: Action::Create,
        changes: Vec::new(),
        restarts_tasks: false,
        rollout: None,
        requires_recreate: false,
        live_id: None,
        live_version: None,
        spec: Some(desired.spec.clone()),
        depends_on: desired.depends_on.clone(),
    };
    let Some(live) = live else { return plan };
    let spec = spec_for_update(desired, live);
    let new = normalize_service(&spec, state.api);
    let old = normalize_service(&comparable_live(&live.spec, state), state.api);
    plan.live_id = Some(live.id.clone());
    plan.live_version = Some(live.version);
    plan.spec = Some(spec);
    plan.changes = field_changes(&old, &new);
    // The image label follows the image; showing both says the same thing twice.
    if plan.changes.iter().any(|c| c.path == "image") {
        let label = format!("deploy.labels.{IMAGE_LABEL}");
        plan.changes.retain(|c| c.path != label);
    }
    if plan.changes.is_empty() {
        plan.action = Action::Unchanged;
        return plan;
    }
    plan.action = Action::Update;
    plan.restarts_tasks = old.get("TaskTemplate") != new.get("TaskTemplate")
        || old.get("EndpointSpec") != new.get("EndpointSpec");
    // A service scaled to zero has no task to replace.
    if new
        .pointer("/Mode/Replicated/Replicas")
        .and_then(Value::as_u64)
        == Some(0)
    {
        plan.restarts_tasks = false;
    }
    plan.requires_recreate = mode_kind(&old) != mode_kind(&new);
    if plan.restarts_tasks {
        plan.rollout = Some(rollout(&new));
    }
    plan
}

fn mode_kind(spec: &Value) -> Option<String> {
    spec.get("Mode")?.as_object()?.keys().next().cloned()
}

fn rollout(spec: &Value) -> Rollout {
    let update = &spec["UpdateConfig"];
    let secs = |v: &Value| v.as_f64().unwrap_or(0.0) / 1e9;
    let parallelism = update["Parallelism"].as_u64().unwrap_or(1);
    let replicas = spec
        .pointer("/Mode/Replicated/Replicas")
        .and_then(Value::as_u64);
    Rollout {
        parallelism,
        delay_seconds: secs(&update["Delay"]),
        order: update["Order"].as_str().unwrap_or("stop-first").to_owned(),
        failure_action: update["FailureAction"]
            .as_str()
            .unwrap_or("pause")
            .to_owned(),
        monitor_seconds: secs(&update["Monitor"]),
        max_failure_ratio: update["MaxFailureRatio"].as_f64().unwrap_or(0.0),
        batches: replicas.map(|r| {
            if parallelism == 0 {
                1.min(r)
            } else {
                r.div_ceil(parallelism)
            }
        }),
    }
}

fn networks(
    stack: &StackName,
    desired: &Desired,
    live: &LiveState,
    _options: PlanOptions,
) -> Vec<ObjectPlan> {
    let mut out: Vec<ObjectPlan> = desired
        .networks
        .values()
        .map(|d| network_plan(d, live))
        .collect();
    for network in live.networks.values() {
        if belongs(&network.labels, stack) && !desired.networks.contains_key(&network.name) {
            let mut plan = ObjectPlan::new(ObjectKind::Network, &network.name, Action::Remove);
            plan.live_id = Some(network.id.clone());
            out.push(plan);
        }
    }
    out
}

/// Swarm cannot update a network; docker skips existing ones. Drift is reported, not applied.
fn network_plan(desired: &DesiredNetwork, live: &LiveState) -> ObjectPlan {
    let mut plan = ObjectPlan::new(ObjectKind::Network, &desired.name, Action::Create);
    plan.spec = Some(desired.spec.clone());
    let Some(existing) = live.networks.get(&desired.name) else {
        return plan;
    };
    plan.action = Action::Unchanged;
    plan.live_id = Some(existing.id.clone());
    let spec = &desired.spec;
    let want_labels: BTreeMap<String, String> =
        serde_json::from_value(spec["Labels"].clone()).unwrap_or_default();
    let mut drift = Vec::new();
    let mut compare = |path: &str, old: Value, new: Value| {
        if old != new {
            drift.push(FieldChange {
                path: path.to_owned(),
                old: Some(old),
                new: Some(new),
            });
        }
    };
    // A network Swarm has just created can list with no driver yet: unknown, not different.
    if !existing.driver.is_empty() {
        compare("driver", json!(existing.driver), spec["Driver"].clone());
    }
    compare(
        "internal",
        json!(existing.internal),
        json!(spec["Internal"].as_bool().unwrap_or(false)),
    );
    compare(
        "attachable",
        json!(existing.attachable),
        json!(spec["Attachable"].as_bool().unwrap_or(false)),
    );
    compare("labels", json!(existing.labels), json!(want_labels));
    if !drift.is_empty() {
        plan.note = Some("differs from the files; Swarm cannot update a network in place (remove the stack's services from it, or the stack, to recreate it)".into());
        plan.changes = drift;
    }
    plan
}

fn objects(
    stack: &StackName,
    kind: ObjectKind,
    desired: &BTreeMap<String, DesiredObject>,
    live: &BTreeMap<String, LiveObject>,
    superseded: &std::collections::BTreeSet<String>,
) -> Vec<ObjectPlan> {
    let mut out: Vec<ObjectPlan> = desired
        .values()
        .map(|object| object_plan(kind, object, live.get(&object.name)))
        .collect();
    for existing in live.values() {
        if belongs(&existing.labels, stack) && !desired.contains_key(&existing.name) {
            let mut plan = ObjectPlan::new(kind, &existing.name, Action::Remove);
            plan.live_id = Some(existing.id.clone());
            if superseded.contains(&existing.name) {
                plan.superseded = true;
                plan.note =
                    Some("replaced by a new version; removed once no service uses it".into());
            }
            out.push(plan);
        }
    }
    out
}

fn object_plan(
    kind: ObjectKind,
    object: &DesiredObject,
    existing: Option<&LiveObject>,
) -> ObjectPlan {
    let mut plan = ObjectPlan::new(kind, &object.name, Action::Create);
    plan.spec = Some(object.spec.clone());
    plan.data = Some(object.data.clone());
    let Some(existing) = existing else {
        return plan;
    };
    plan.action = Action::Unchanged;
    plan.live_id = Some(existing.id.clone());
    plan.live_version = Some(existing.version);
    let want: BTreeMap<String, String> =
        serde_json::from_value(object.spec["Labels"].clone()).unwrap_or_default();
    let (want, have) = (
        comparable_labels(&want),
        comparable_labels(&existing.labels),
    );
    if have != want {
        plan.changes.push(FieldChange {
            path: "labels".into(),
            old: Some(json!(have)),
            new: Some(json!(want)),
        });
        plan.action = Action::Update;
        // Swarm changes only labels; sent without data, the update cannot ask for more (with
        // data that differs, it is refused), whatever the object holds.
        plan.data = None;
    }
    plan
}

/// Versions of the objects a plan depends on (services, configs, secrets by version index;
/// networks, which have none, by ID): the stack's own objects and the ones it names. Other
/// stacks' objects come and go without making a saved plan stale.
fn observed(stack: &StackName, desired: &Desired, live: &LiveState) -> BTreeMap<String, u64> {
    let ours = |labels: &BTreeMap<String, String>| {
        labels.get(NAMESPACE_LABEL).map(String::as_str) == Some(stack.as_str())
    };
    let referenced = |field: &str| -> BTreeSet<String> {
        desired
            .services
            .values()
            .filter_map(|s| {
                s.spec
                    .pointer(&format!("/TaskTemplate/ContainerSpec/{field}s"))
            })
            .filter_map(Value::as_array)
            .flatten()
            .filter_map(|r| r[format!("{field}Name")].as_str().map(str::to_owned))
            .collect()
    };
    let (config_refs, secret_refs) = (referenced("Config"), referenced("Secret"));
    let services = live
        .services
        .iter()
        .map(|(n, s)| (format!("service {n}"), s.version));
    let configs = live
        .configs
        .iter()
        .filter(|(n, c)| {
            ours(&c.labels)
                || desired.configs.values().any(|d| &d.name == *n)
                || config_refs.contains(*n)
        })
        .map(|(n, c)| (format!("config {n}"), c.version));
    let secrets = live
        .secrets
        .iter()
        .filter(|(n, s)| {
            ours(&s.labels)
                || desired.secrets.values().any(|d| &d.name == *n)
                || secret_refs.contains(*n)
        })
        .map(|(n, s)| (format!("secret {n}"), s.version));
    let networks = live
        .networks
        .values()
        .filter(|n| {
            ours(&n.labels)
                || desired.networks.values().any(|d| d.name == n.name)
                || desired.external_networks.contains(&n.name)
        })
        .map(|n| (format!("network {} {}", n.name, n.id), 0));
    services
        .chain(configs)
        .chain(secrets)
        .chain(networks)
        .collect()
}
