//! The live state of one stack, as the cluster reports it (read with a handful of list calls).

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::diff::DaemonApi;

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
}

/// Everything the planner needs to know about the cluster for one stack.
#[derive(Clone, Debug)]
pub struct LiveState {
    pub api: DaemonApi,
    /// The stack's services by name.
    pub services: BTreeMap<String, LiveService>,
    /// Every swarm network by name (stack networks carry the stack label).
    pub networks: BTreeMap<String, LiveNetwork>,
    /// Every config and secret by name (docker adopts same-named objects).
    pub configs: BTreeMap<String, LiveObject>,
    pub secrets: BTreeMap<String, LiveObject>,
}

impl LiveState {
    /// Network ID -> name, to read attachment targets the daemon stores as IDs.
    #[must_use]
    pub fn network_names(&self) -> HashMap<&str, &str> {
        self.networks
            .values()
            .map(|n| (n.id.as_str(), n.name.as_str()))
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
