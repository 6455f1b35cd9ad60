//! Top-level objects: the networks services use, and every non-external config and secret.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::{ConvertError, DesiredNetwork, DesiredObject, ObjectFiles};
use crate::model::{FileObject, NAMESPACE_LABEL, Stack, StackName};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Config,
    Secret,
}

impl Kind {
    const fn word(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Secret => "secret",
        }
    }

    /// Swarm's size limits: secrets under 500 KiB, configs under 1000 KiB.
    const fn limit(self) -> usize {
        match self {
            Self::Config => 1000 * 1024,
            Self::Secret => 500 * 1024,
        }
    }
}

/// Networks to create (only those some service uses) and the external ones referenced.
pub(super) fn networks(
    stack: &Stack,
    name: &StackName,
) -> (BTreeMap<String, DesiredNetwork>, BTreeSet<String>) {
    let mut used = BTreeSet::new();
    for service in stack.services.values() {
        match service.networks.as_ref().filter(|n| !n.is_empty()) {
            None => {
                used.insert("default".to_owned());
            }
            Some(networks) => used.extend(networks.keys().cloned()),
        }
    }
    let mut create = BTreeMap::new();
    let mut external = BTreeSet::new();
    for key in used {
        let network = stack.networks.get(&key).cloned().unwrap_or_default();
        if network.naming.external {
            external.insert(network.naming.name.clone());
            continue;
        }
        let cluster_name = if network.naming.name.is_empty() {
            name.scope(&key)
        } else {
            network.naming.name.clone()
        };
        let mut labels = network.labels.clone();
        labels.insert(NAMESPACE_LABEL.to_owned(), name.as_str().to_owned());
        let mut spec = Map::new();
        spec.insert("Name".into(), json!(cluster_name));
        let driver = if network.driver.is_empty() {
            "overlay"
        } else {
            &network.driver
        };
        spec.insert("Driver".into(), json!(driver));
        if !network.driver_opts.is_empty() {
            spec.insert("Options".into(), json!(network.driver_opts));
        }
        if network.internal {
            spec.insert("Internal".into(), json!(true));
        }
        if network.attachable {
            spec.insert("Attachable".into(), json!(true));
        }
        spec.insert("Labels".into(), json!(labels));
        if !network.ipam_driver.is_empty() || !network.ipam_subnets.is_empty() {
            let mut ipam = Map::new();
            if !network.ipam_driver.is_empty() {
                ipam.insert("Driver".into(), json!(network.ipam_driver));
            }
            let config: Vec<Value> = network
                .ipam_subnets
                .iter()
                .map(|s| json!({"Subnet": s}))
                .collect();
            if !config.is_empty() {
                ipam.insert("Config".into(), Value::Array(config));
            }
            spec.insert("IPAM".into(), Value::Object(ipam));
        }
        let spec = Value::Object(spec);
        create.insert(
            cluster_name.clone(),
            DesiredNetwork {
                key,
                name: cluster_name,
                spec,
            },
        );
    }
    (create, external)
}

pub(super) fn file_objects(
    name: &StackName,
    objects: &BTreeMap<String, FileObject>,
    files: &ObjectFiles,
    kind: Kind,
) -> Result<BTreeMap<String, DesiredObject>, ConvertError> {
    let mut out = BTreeMap::new();
    for (key, object) in objects.iter().filter(|(_, o)| !o.naming.external) {
        let cluster_name = if object.naming.name.is_empty() {
            name.scope(key)
        } else {
            object.naming.name.clone()
        };
        let data = match &object.file {
            Some(path) => files
                .get(path)
                .cloned()
                .ok_or_else(|| ConvertError::MissingFile {
                    kind: kind.word(),
                    path: path.display().to_string(),
                })?,
            None => Vec::new(),
        };
        if object.driver.is_empty() {
            if data.is_empty() {
                return Err(ConvertError::Empty {
                    kind: kind.word(),
                    name: cluster_name,
                });
            }
            if data.len() >= kind.limit() {
                return Err(ConvertError::TooLarge {
                    kind: kind.word(),
                    name: cluster_name,
                    size: data.len(),
                    limit: kind.limit(),
                });
            }
        }
        let mut labels = object.labels.clone();
        labels.insert(NAMESPACE_LABEL.to_owned(), name.as_str().to_owned());
        let mut spec = Map::new();
        spec.insert("Name".into(), json!(cluster_name));
        spec.insert("Labels".into(), json!(labels));
        if !object.driver.is_empty() {
            spec.insert(
                "Driver".into(),
                json!({"Name": object.driver, "Options": object.driver_opts}),
            );
        }
        if !object.template_driver.is_empty() {
            spec.insert("Templating".into(), json!({"Name": object.template_driver}));
        }
        let desired = DesiredObject {
            key: key.clone(),
            name: cluster_name.clone(),
            spec: Value::Object(spec),
            data,
        };
        out.insert(cluster_name, desired);
    }
    Ok(out)
}
