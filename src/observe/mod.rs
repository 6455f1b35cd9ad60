//! The live state of one stack, as the cluster reports it (read with a handful of list calls).

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

pub mod images;

use crate::diff::DaemonApi;
use crate::engine::{Engine, EngineError};
use crate::model::{NAMESPACE_LABEL, StackName};
use crate::placement::NodeFacts;

/// A service as stored in the cluster: its raw spec in the daemon's own JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveService {
    pub id: String,
    pub version: u64,
    pub spec: Value,
    pub previous_spec: Option<Value>,
    pub update_status: Option<Value>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LiveNetwork {
    pub id: String,
    pub name: String,
    pub scope: String,
    pub driver: String,
    pub internal: bool,
    pub attachable: bool,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub subnets: Vec<String>,
}

/// A config or secret. `data` is present for configs only (the API never returns secret data).
#[derive(Clone, Debug, PartialEq)]
pub struct LiveObject {
    pub id: String,
    pub version: u64,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub data: Option<Vec<u8>>,
    /// The spec's `Driver` (secrets) and `Templating`, as read: immutable like the data.
    pub drivers: serde_json::Value,
}

/// An object holding a name in the cluster, and the stack its namespace label names (`None`:
/// unlabelled). The planner refuses to take over a name that is not its stack's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// `service`, `network`, `config` or `secret`.
    pub kind: &'static str,
    pub name: String,
    pub stack: Option<String>,
}

impl Holder {
    fn new(kind: &'static str, name: &str, labels: Option<&HashMap<String, String>>) -> Self {
        Self {
            kind,
            name: name.to_owned(),
            stack: labels.and_then(|l| l.get(NAMESPACE_LABEL)).cloned(),
        }
    }
}

/// Everything the planner needs to know about the cluster for one stack.
#[derive(Clone, Debug)]
pub struct LiveState {
    pub api: DaemonApi,
    /// The stack's services by name.
    pub services: BTreeMap<String, LiveService>,
    /// Every swarm network by name (stack networks carry the stack label).
    pub networks: BTreeMap<String, LiveNetwork>,
    /// Names of networks that services attach to by an ID the network list does not show
    /// (the swarm-side IDs of `host` and `bridge`), by ID.
    pub other_network_names: BTreeMap<String, String>,
    /// Every config and secret by name (docker adopts same-named objects).
    pub configs: BTreeMap<String, LiveObject>,
    pub secrets: BTreeMap<String, LiveObject>,
    /// The swarm's nodes, for placement.
    pub nodes: Vec<NodeFacts>,
    /// Every service named `<stack>_…` and every network, config and secret (same-named
    /// networks of different scopes each), with their stacks.
    pub holders: Vec<Holder>,
}

impl LiveState {
    /// A cluster with nothing in it (and no nodes), as a daemon of API `api` would list it.
    #[must_use]
    pub fn empty(api: DaemonApi) -> Self {
        Self {
            api,
            services: BTreeMap::new(),
            networks: BTreeMap::new(),
            other_network_names: BTreeMap::new(),
            configs: BTreeMap::new(),
            secrets: BTreeMap::new(),
            nodes: Vec::new(),
            holders: Vec::new(),
        }
    }

    /// Network ID -> name, to read attachment targets the daemon stores as IDs.
    #[must_use]
    pub fn network_names(&self) -> HashMap<&str, &str> {
        self.networks
            .values()
            .map(|n| (n.id.as_str(), n.name.as_str()))
            .chain(
                self.other_network_names
                    .iter()
                    .map(|(id, name)| (id.as_str(), name.as_str())),
            )
            .collect()
    }

    #[must_use]
    pub fn config_names(&self) -> HashMap<&str, &str> {
        self.configs
            .values()
            .map(|c| (c.id.as_str(), c.name.as_str()))
            .collect()
    }
}

/// Read the live state of `stack` with a fixed number of list calls, however many services it
/// has: the nodes (which only a manager lists, so this doubles as the manager check), the
/// services named `<stack>_…` (the stack's own, told by their label, and any other holding
/// one of its names), and all networks, configs and secrets (docker adopts same-named configs
/// and secrets, and external networks are looked up by name, so those lists are not
/// label-filtered). A service carrying the stack's label under another name (one made by
/// hand: docker names a stack's services `<stack>_<key>` and Swarm cannot rename) is not seen.
pub async fn observe<E: Engine>(engine: &E, stack: &StackName) -> Result<LiveState, EngineError> {
    let prefix = stack.scope("");
    let (nodes, prefixed, networks, configs, secrets) = futures::join!(
        engine.list_nodes(),
        engine.list_services_prefixed(&prefix),
        engine.list_all_networks(),
        engine.list_all_configs(),
        engine.list_all_secrets(),
    );
    let nodes = match nodes {
        Ok(nodes) => nodes,
        Err(err) => return Err(refusal(engine, err).await),
    };
    let (prefixed, networks, configs, secrets) = (prefixed?, networks?, configs?, secrets?);
    let services: Vec<&Value> = prefixed
        .iter()
        .filter(|s| stack_of(s) == Some(stack.as_str()))
        .collect();
    let known: std::collections::BTreeSet<&str> =
        networks.iter().filter_map(|n| n.id.as_deref()).collect();
    let unknown: std::collections::BTreeSet<String> = services
        .iter()
        .filter_map(|s| {
            s.pointer("/Spec/TaskTemplate/Networks")
                .and_then(Value::as_array)
        })
        .flatten()
        .filter_map(|a| a["Target"].as_str())
        .filter(|id| !known.contains(id))
        .map(str::to_owned)
        .collect();
    // Rare (a service on `host` or `bridge`), and one call per such network in the cluster.
    let mut other_network_names = BTreeMap::new();
    for id in unknown {
        let name = engine.network_name(&id).await?;
        other_network_names.insert(id, name);
    }
    let holders = holders(&prefixed, &networks, &configs, &secrets);
    Ok(LiveState {
        holders,
        api: DaemonApi::parse(engine.api_version()),
        other_network_names,
        nodes: nodes
            .iter()
            .filter_map(|n| serde_json::to_value(n).ok())
            .map(|n| NodeFacts::from_json(&n))
            .collect(),
        services: services
            .into_iter()
            .filter_map(live_service)
            .map(|s| (s.0, s.1))
            .collect(),
        networks: networks
            .into_iter()
            .map(live_network)
            .map(|n| (n.name.clone(), n))
            .collect(),
        configs: configs
            .into_iter()
            .map(live_config)
            .map(|c| (c.name.clone(), c))
            .collect(),
        secrets: secrets
            .into_iter()
            .map(live_secret)
            .map(|s| (s.name.clone(), s))
            .collect(),
    })
}

/// A refused node list explained: only managers list nodes, and the probe says why this node
/// is not one (a worker, swarm mode off, locked…). When the daemon could not be reached at
/// all, or this node is a manager after all (no leader yet), the error stays as it was.
async fn refusal<E: Engine>(engine: &E, err: EngineError) -> EngineError {
    if !matches!(
        err,
        EngineError::NotManager { .. } | EngineError::Api { .. }
    ) {
        return err;
    }
    match engine.probe().await {
        Ok(probe) => probe.require_manager().err().unwrap_or(err),
        Err(_) => err,
    }
}

/// The stack a service in the daemon's JSON belongs to, by its namespace label.
fn stack_of(service: &Value) -> Option<&str> {
    service
        .pointer("/Spec/Labels")
        .and_then(|l| l.get(NAMESPACE_LABEL))
        .and_then(Value::as_str)
}

fn holders(
    services: &[Value],
    networks: &[bollard::models::Network],
    configs: &[bollard::models::Config],
    secrets: &[bollard::models::Secret],
) -> Vec<Holder> {
    let services = services.iter().filter_map(|s| {
        Some(Holder {
            kind: "service",
            name: s.pointer("/Spec/Name")?.as_str()?.to_owned(),
            stack: stack_of(s).map(str::to_owned),
        })
    });
    let networks = networks.iter().filter_map(|n| {
        Some(Holder::new(
            "network",
            n.name.as_deref()?,
            n.labels.as_ref(),
        ))
    });
    let configs = configs.iter().filter_map(|c| {
        let spec = c.spec.as_ref()?;
        Some(Holder::new(
            "config",
            spec.name.as_deref()?,
            spec.labels.as_ref(),
        ))
    });
    let secrets = secrets.iter().filter_map(|s| {
        let spec = s.spec.as_ref()?;
        Some(Holder::new(
            "secret",
            spec.name.as_deref()?,
            spec.labels.as_ref(),
        ))
    });
    services
        .chain(networks)
        .chain(configs)
        .chain(secrets)
        .collect()
}

fn live_service(raw: &Value) -> Option<(String, LiveService)> {
    let name = raw.pointer("/Spec/Name")?.as_str()?.to_owned();
    let service = LiveService {
        id: raw["ID"].as_str()?.to_owned(),
        version: raw
            .pointer("/Version/Index")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        spec: raw["Spec"].clone(),
        previous_spec: raw.get("PreviousSpec").cloned(),
        update_status: raw.get("UpdateStatus").cloned(),
    };
    Some((name, service))
}

fn live_network(n: bollard::models::Network) -> LiveNetwork {
    let subnets = n
        .ipam
        .and_then(|i| i.config)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| c.subnet)
        .collect();
    LiveNetwork {
        id: n.id.unwrap_or_default(),
        name: n.name.unwrap_or_default(),
        scope: n.scope.unwrap_or_default(),
        driver: n.driver.unwrap_or_default(),
        internal: n.internal.unwrap_or(false),
        attachable: n.attachable.unwrap_or(false),
        labels: n.labels.unwrap_or_default().into_iter().collect(),
        options: n.options.unwrap_or_default().into_iter().collect(),
        subnets,
    }
}

fn live_config(c: bollard::models::Config) -> LiveObject {
    use base64::Engine as _;
    let spec = c.spec.unwrap_or_default();
    let data = spec.data.as_deref().map(|d| {
        base64::engine::general_purpose::STANDARD
            .decode(d)
            .unwrap_or_default()
    });
    LiveObject {
        id: c.id.unwrap_or_default(),
        version: c.version.and_then(|v| v.index).unwrap_or(0),
        drivers: serde_json::json!({"Templating": spec.templating}),
        name: spec.name.unwrap_or_default(),
        labels: spec.labels.unwrap_or_default().into_iter().collect(),
        data,
    }
}

fn live_secret(s: bollard::models::Secret) -> LiveObject {
    let spec = s.spec.unwrap_or_default();
    LiveObject {
        id: s.id.unwrap_or_default(),
        version: s.version.and_then(|v| v.index).unwrap_or(0),
        drivers: serde_json::json!({"Driver": spec.driver, "Templating": spec.templating}),
        name: spec.name.unwrap_or_default(),
        labels: spec.labels.unwrap_or_default().into_iter().collect(),
        data: None,
    }
}
