//! Service keys docker refuses outright (forbidden) or ignores with a warning (unsupported,
//! deprecated), checked on the files as written.

use super::diagnostic::{Diagnostic, Diagnostics};
use super::node::Node;

/// Keys `docker stack deploy` refuses, and what to do instead.
const FORBIDDEN: &[(&str, &str)] = &[
    (
        "extends",
        "`extends` is not supported by stack files; repeat the keys or use YAML anchors",
    ),
    (
        "volume_driver",
        "define a volume under the top-level `volumes:` with a `driver`, and mount it",
    ),
    (
        "volumes_from",
        "define a named volume at top level and mount it in each service that shares it",
    ),
    (
        "cpu_quota",
        "set CPU limits with `deploy.resources.limits.cpus`",
    ),
    (
        "cpu_shares",
        "set CPU limits with `deploy.resources.limits.cpus`",
    ),
    (
        "cpuset",
        "set CPU limits with `deploy.resources.limits.cpus`",
    ),
    (
        "mem_limit",
        "set memory limits with `deploy.resources.limits.memory`",
    ),
    (
        "memswap_limit",
        "set memory limits with `deploy.resources.limits.memory`",
    ),
];

/// Keys Swarm ignores; `restart` is still used when `deploy.restart_policy` is absent.
const UNSUPPORTED: &[&str] = &[
    "build",
    "cgroupns_mode",
    "cgroup_parent",
    "devices",
    "domainname",
    "external_links",
    "ipc",
    "links",
    "mac_address",
    "network_mode",
    "pid",
    "privileged",
    "restart",
    "security_opt",
    "shm_size",
    "userns_mode",
];
const DEPRECATED: &[(&str, &str)] = &[
    (
        "container_name",
        "Setting the container name is not supported.",
    ),
    (
        "expose",
        "Exposing ports is unnecessary - services on the same network can access each other's containers on any port.",
    ),
];

fn services(root: &Node) -> impl Iterator<Item = (&str, &Node)> {
    root.get("services")
        .and_then(Node::as_map)
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| (k.value.as_str(), v))
}

pub(super) fn check_forbidden(root: &Node, diags: &mut Diagnostics) {
    for (name, service) in services(root) {
        for (key, node) in service.as_map().unwrap_or_default() {
            if let Some((_, help)) = FORBIDDEN.iter().find(|(k, _)| *k == key.value) {
                let message = format!(
                    "services.{name}: `{}` is not supported by docker stack deploy",
                    key.value
                );
                diags.push(
                    Diagnostic::error("stackctl::load::forbidden", message)
                        .at(key.span, "unsupported option")
                        .with_help(*help),
                );
                let _ = node;
            }
        }
    }
}

/// One warning listing every ignored key, like docker's "Ignoring unsupported options: ...".
pub(super) fn warn_ignored_keys(roots: &[Node], diags: &mut Diagnostics) {
    let mut unsupported: Vec<&str> = Vec::new();
    let mut deprecated: Vec<(&str, &str)> = Vec::new();
    let mut first_span = None;
    for root in roots {
        for (_, service) in services(root) {
            for (key, _) in service.as_map().unwrap_or_default() {
                if let Some(k) = UNSUPPORTED.iter().find(|k| **k == key.value) {
                    unsupported.push(k);
                    first_span.get_or_insert(key.span);
                }
                if let Some(entry) = DEPRECATED.iter().find(|(k, _)| *k == key.value) {
                    deprecated.push(*entry);
                    first_span.get_or_insert(key.span);
                }
            }
        }
    }
    unsupported.sort_unstable();
    unsupported.dedup();
    deprecated.sort_unstable();
    deprecated.dedup();
    if !unsupported.is_empty() {
        let message = format!("Ignoring unsupported options: {}", unsupported.join(", "));
        let mut diag = Diagnostic::warning("stackctl::load::unsupported", message)
            .with_help("Swarm services have no such setting; `restart` is only used when `deploy.restart_policy` is absent");
        diag.span = first_span;
        diags.push(diag);
    }
    if !deprecated.is_empty() {
        let lines: Vec<String> = deprecated
            .iter()
            .map(|(k, why)| format!("{k}: {why}"))
            .collect();
        let message = format!("Ignoring deprecated options: {}", lines.join("; "));
        diags.push(Diagnostic::warning("stackctl::load::deprecated", message));
    }
}
