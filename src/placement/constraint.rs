//! Placement constraints (`node.labels.zone == a`) parsed and matched against a node the way
//! Swarm's scheduler does it.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

use super::NodeFacts;

/// One parsed constraint. Swarm ignores a list with an unparsable entry (the scheduler's filter
/// switches off), so parsing failures are dropped by the caller, not reported here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Constraint {
    /// As written in the spec, for messages.
    pub(crate) text: String,
    key: String,
    equal: bool,
    value: String,
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

const NODE_LABELS: &str = "node.labels.";
const ENGINE_LABELS: &str = "engine.labels.";

/// What a constraint's key looks at on a node.
enum Key<'a> {
    Id,
    Hostname,
    Ip,
    Role,
    Os,
    Arch,
    NodeLabel(&'a str),
    EngineLabel(&'a str),
    Unknown,
}

/// Strips `prefix` compared without regard to case (Swarm's rule for key prefixes); what
/// follows (the label name) keeps its case.
fn strip_prefix_ci<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    let head = key.get(..prefix.len())?;
    (head.eq_ignore_ascii_case(prefix) && key.len() > prefix.len()).then(|| &key[prefix.len()..])
}

impl Constraint {
    /// `key == value` or `key != value`, spaces around the operator allowed; `==` is looked for
    /// first, as Swarm does.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (key, equal, value) = if let Some((k, v)) = text.split_once("==") {
            (k, true, v)
        } else {
            let (k, v) = text.split_once("!=")?;
            (k, false, v)
        };
        let (key, value) = (key.trim(), value.trim());
        let key_ok = key.len() >= 2
            && key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !key_ok || value.is_empty() {
            return None;
        }
        Some(Self {
            text: text.trim().to_owned(),
            key: key.to_owned(),
            equal,
            value: value.to_owned(),
        })
    }

    fn key(&self) -> Key<'_> {
        let k = self.key.as_str();
        match k.to_ascii_lowercase().as_str() {
            "node.id" => Key::Id,
            "node.hostname" => Key::Hostname,
            "node.ip" => Key::Ip,
            "node.role" => Key::Role,
            "node.platform.os" => Key::Os,
            "node.platform.arch" => Key::Arch,
            _ => strip_prefix_ci(k, NODE_LABELS)
                .map(Key::NodeLabel)
                .or_else(|| strip_prefix_ci(k, ENGINE_LABELS).map(Key::EngineLabel))
                .unwrap_or(Key::Unknown),
        }
    }

    /// The node's value for this constraint's key (`None` for `node.ip` and unknown keys).
    fn node_value<'n>(&self, node: &'n NodeFacts) -> Option<&'n str> {
        let absent = "";
        Some(match self.key() {
            Key::Id => &node.id,
            Key::Hostname => &node.hostname,
            Key::Role => &node.role,
            Key::Os => &node.os,
            Key::Arch => &node.arch,
            Key::NodeLabel(l) => node.labels.get(l).map_or(absent, String::as_str),
            Key::EngineLabel(l) => node.engine_labels.get(l).map_or(absent, String::as_str),
            Key::Ip | Key::Unknown => return None,
        })
    }

    /// Whether `node` satisfies the constraint. Values compare without regard to case; a label
    /// the node lacks compares as empty (so `!=` matches it); an unknown key matches no node.
    pub(crate) fn matches(&self, node: &NodeFacts) -> bool {
        if let Key::Ip = self.key() {
            return self.matches_ip(&node.addr);
        }
        if let Key::Unknown = self.key() {
            return false;
        }
        let same = self
            .node_value(node)
            .is_some_and(|v| v.eq_ignore_ascii_case(&self.value));
        same == self.equal
    }

    /// `node.ip == 10.0.0.5` or `node.ip != 10.0.0.0/24`; a malformed address matches nothing.
    fn matches_ip(&self, addr: &str) -> bool {
        let Ok(node) = addr.parse::<IpAddr>() else {
            return false;
        };
        let inside = if let Ok(ip) = self.value.parse::<IpAddr>() {
            ip == node
        } else if let Some(within) = in_cidr(&self.value, node) {
            within
        } else {
            return false;
        };
        inside == self.equal
    }

    /// What the nodes have under this constraint's key, for a warning: `node.labels.zone on the
    /// nodes: a, b`.
    pub(crate) fn describe_nodes(&self, nodes: &[NodeFacts]) -> String {
        match self.key() {
            Key::Unknown => format!(
                "{} is not a key Swarm knows: use node.id, node.hostname, node.ip, node.role, node.platform.os, node.platform.arch, node.labels.<name> or engine.labels.<name>",
                self.key
            ),
            Key::Ip => list(&self.key, nodes.iter().map(|n| n.addr.as_str())),
            Key::NodeLabel(l) if nodes.iter().all(|n| !n.labels.contains_key(l)) => {
                let names: BTreeSet<&str> = nodes
                    .iter()
                    .flat_map(|n| n.labels.keys().map(String::as_str))
                    .collect();
                if names.is_empty() {
                    format!("no node has the label {l:?}; the nodes have no labels")
                } else {
                    format!(
                        "no node has the label {l:?}; node labels: {}",
                        names.into_iter().collect::<Vec<_>>().join(", ")
                    )
                }
            }
            _ => list(&self.key, nodes.iter().filter_map(|n| self.node_value(n))),
        }
    }
}

fn list<'a>(key: &str, values: impl Iterator<Item = &'a str>) -> String {
    let values: BTreeSet<&str> = values
        .map(|v| if v.is_empty() { "(none)" } else { v })
        .collect();
    let values: Vec<&str> = values.into_iter().collect();
    format!("{key} on the nodes: {}", values.join(", "))
}

/// Whether `ip` is inside `cidr` (`None` when `cidr` is not one).
fn in_cidr(cidr: &str, ip: IpAddr) -> Option<bool> {
    let (net, bits) = cidr.split_once('/')?;
    let net: IpAddr = net.parse().ok()?;
    let bits: u32 = bits.parse().ok()?;
    match (net, ip) {
        (IpAddr::V4(net), IpAddr::V4(ip)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            Some(u32::from(net) & mask == u32::from(ip) & mask)
        }
        (IpAddr::V6(net), IpAddr::V6(ip)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            Some(u128::from(net) & mask == u128::from(ip) & mask)
        }
        (IpAddr::V4(_) | IpAddr::V6(_), _) if bits <= 128 => Some(false),
        _ => None,
    }
}
