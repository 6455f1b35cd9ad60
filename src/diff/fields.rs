//! Field-level differences between two normalised service specs, with paths named the way a
//! stack file names them (`image`, `env.FOO`, `deploy.update_config.parallelism`).

use std::collections::BTreeMap;

use serde_json::Value;

/// One changed field. `None` on a side means the field is absent there.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldChange {
    pub path: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

/// How a list is compared: as a whole (order matters), as a set, or as a map by a key.
#[derive(Clone, Copy)]
enum ListKind {
    Ordered,
    Set,
    Keyed(fn(&Value) -> String),
    /// `K=V` strings compared as a map of K.
    Assignments,
}

/// Engine API path -> compose path, and how lists under it compare. The first matching prefix
/// wins; unlisted paths keep their API names.
const NAMES: &[(&str, &str, Option<ListKind>)] = &[
    ("TaskTemplate.ContainerSpec.Image", "image", None),
    (
        "TaskTemplate.ContainerSpec.Args",
        "command",
        Some(ListKind::Ordered),
    ),
    (
        "TaskTemplate.ContainerSpec.Command",
        "entrypoint",
        Some(ListKind::Ordered),
    ),
    (
        "TaskTemplate.ContainerSpec.Env",
        "environment",
        Some(ListKind::Assignments),
    ),
    ("TaskTemplate.ContainerSpec.Labels", "labels", None),
    ("TaskTemplate.ContainerSpec.Hostname", "hostname", None),
    ("TaskTemplate.ContainerSpec.Dir", "working_dir", None),
    ("TaskTemplate.ContainerSpec.User", "user", None),
    ("TaskTemplate.ContainerSpec.TTY", "tty", None),
    ("TaskTemplate.ContainerSpec.OpenStdin", "stdin_open", None),
    ("TaskTemplate.ContainerSpec.ReadOnly", "read_only", None),
    (
        "TaskTemplate.ContainerSpec.Mounts",
        "volumes",
        Some(ListKind::Keyed(mount_key)),
    ),
    ("TaskTemplate.ContainerSpec.StopSignal", "stop_signal", None),
    (
        "TaskTemplate.ContainerSpec.StopGracePeriod",
        "stop_grace_period",
        None,
    ),
    (
        "TaskTemplate.ContainerSpec.Healthcheck.Test",
        "healthcheck.test",
        Some(ListKind::Ordered),
    ),
    (
        "TaskTemplate.ContainerSpec.Healthcheck",
        "healthcheck",
        None,
    ),
    (
        "TaskTemplate.ContainerSpec.Hosts",
        "extra_hosts",
        Some(ListKind::Ordered),
    ),
    (
        "TaskTemplate.ContainerSpec.DNSConfig.Nameservers",
        "dns",
        Some(ListKind::Ordered),
    ),
    (
        "TaskTemplate.ContainerSpec.DNSConfig.Search",
        "dns_search",
        Some(ListKind::Ordered),
    ),
    (
        "TaskTemplate.ContainerSpec.Secrets",
        "secrets",
        Some(ListKind::Keyed(secret_key)),
    ),
    (
        "TaskTemplate.ContainerSpec.Configs",
        "configs",
        Some(ListKind::Keyed(config_key)),
    ),
    ("TaskTemplate.ContainerSpec.Isolation", "isolation", None),
    ("TaskTemplate.ContainerSpec.Init", "init", None),
    ("TaskTemplate.ContainerSpec.Sysctls", "sysctls", None),
    (
        "TaskTemplate.ContainerSpec.CapabilityAdd",
        "cap_add",
        Some(ListKind::Set),
    ),
    (
        "TaskTemplate.ContainerSpec.CapabilityDrop",
        "cap_drop",
        Some(ListKind::Set),
    ),
    (
        "TaskTemplate.ContainerSpec.Ulimits",
        "ulimits",
        Some(ListKind::Keyed(name_key)),
    ),
    (
        "TaskTemplate.ContainerSpec.Privileges.CredentialSpec",
        "credential_spec",
        None,
    ),
    ("TaskTemplate.ContainerSpec", "container", None),
    (
        "TaskTemplate.Resources.Limits.NanoCPUs",
        "deploy.resources.limits.cpus",
        None,
    ),
    (
        "TaskTemplate.Resources.Limits.MemoryBytes",
        "deploy.resources.limits.memory",
        None,
    ),
    (
        "TaskTemplate.Resources.Limits.Pids",
        "deploy.resources.limits.pids",
        None,
    ),
    (
        "TaskTemplate.Resources.Reservations.NanoCPUs",
        "deploy.resources.reservations.cpus",
        None,
    ),
    (
        "TaskTemplate.Resources.Reservations.MemoryBytes",
        "deploy.resources.reservations.memory",
        None,
    ),
    (
        "TaskTemplate.Resources.Reservations.GenericResources",
        "deploy.resources.reservations.generic_resources",
        Some(ListKind::Set),
    ),
    (
        "TaskTemplate.RestartPolicy.Condition",
        "deploy.restart_policy.condition",
        None,
    ),
    (
        "TaskTemplate.RestartPolicy.Delay",
        "deploy.restart_policy.delay",
        None,
    ),
    (
        "TaskTemplate.RestartPolicy.MaxAttempts",
        "deploy.restart_policy.max_attempts",
        None,
    ),
    (
        "TaskTemplate.RestartPolicy.Window",
        "deploy.restart_policy.window",
        None,
    ),
    (
        "TaskTemplate.Placement.Constraints",
        "deploy.placement.constraints",
        Some(ListKind::Set),
    ),
    (
        "TaskTemplate.Placement.Preferences",
        "deploy.placement.preferences",
        Some(ListKind::Ordered),
    ),
    (
        "TaskTemplate.Placement.MaxReplicas",
        "deploy.placement.max_replicas_per_node",
        None,
    ),
    (
        "TaskTemplate.Placement.Platforms",
        "platforms",
        Some(ListKind::Set),
    ),
    (
        "TaskTemplate.Networks",
        "networks",
        Some(ListKind::Keyed(target_key)),
    ),
    ("TaskTemplate.LogDriver.Name", "logging.driver", None),
    ("TaskTemplate.LogDriver.Options", "logging.options", None),
    ("Labels", "deploy.labels", None),
    ("Mode.Replicated.Replicas", "deploy.replicas", None),
    (
        "Mode.ReplicatedJob.TotalCompletions",
        "deploy.replicas",
        None,
    ),
    (
        "Mode.ReplicatedJob.MaxConcurrent",
        "deploy.max_concurrent",
        None,
    ),
    ("Mode", "deploy.mode", None),
    ("UpdateConfig", "deploy.update_config", None),
    ("RollbackConfig", "deploy.rollback_config", None),
    ("EndpointSpec.Mode", "deploy.endpoint_mode", None),
    (
        "EndpointSpec.Ports",
        "ports",
        Some(ListKind::Keyed(port_key)),
    ),
];

const SNAKE: &[(&str, &str)] = &[
    ("Parallelism", "parallelism"),
    ("Delay", "delay"),
    ("FailureAction", "failure_action"),
    ("Monitor", "monitor"),
    ("MaxFailureRatio", "max_failure_ratio"),
    ("Order", "order"),
    ("Interval", "interval"),
    ("Timeout", "timeout"),
    ("StartPeriod", "start_period"),
    ("StartInterval", "start_interval"),
    ("Retries", "retries"),
];

fn mount_key(v: &Value) -> String {
    v["Target"].as_str().unwrap_or("").to_owned()
}
fn secret_key(v: &Value) -> String {
    format!(
        "{}:{}",
        v["SecretName"].as_str().unwrap_or(""),
        v.pointer("/File/Name")
            .and_then(Value::as_str)
            .unwrap_or("")
    )
}
fn config_key(v: &Value) -> String {
    let target = v
        .pointer("/File/Name")
        .and_then(Value::as_str)
        .unwrap_or("(runtime)");
    format!("{}:{target}", v["ConfigName"].as_str().unwrap_or(""))
}
fn name_key(v: &Value) -> String {
    v["Name"].as_str().unwrap_or("").to_owned()
}
fn target_key(v: &Value) -> String {
    v["Target"].as_str().unwrap_or("").to_owned()
}
fn port_key(v: &Value) -> String {
    let published = v["PublishedPort"]
        .as_u64()
        .map_or_else(|| "*".to_owned(), |p| p.to_string());
    format!(
        "{published}:{}/{}",
        v["TargetPort"],
        v["Protocol"].as_str().unwrap_or("tcp")
    )
}

fn lookup(api_path: &str) -> Option<&'static (&'static str, &'static str, Option<ListKind>)> {
    NAMES
        .iter()
        .find(|(prefix, _, _)| api_path == *prefix || api_path.starts_with(&format!("{prefix}.")))
}

/// The compose-style name of an Engine API path.
#[must_use]
pub fn display_path(api_path: &str) -> String {
    let Some((prefix, name, _)) = lookup(api_path) else {
        return api_path.to_owned();
    };
    let rest = &api_path[prefix.len()..];
    let rest: Vec<String> = rest
        .split('.')
        .filter(|s| !s.is_empty())
        .map(|seg| {
            SNAKE
                .iter()
                .find(|(api, _)| *api == seg)
                .map_or_else(|| seg.to_owned(), |(_, s)| (*s).to_owned())
        })
        .collect();
    if rest.is_empty() {
        (*name).to_owned()
    } else {
        format!("{name}.{}", rest.join("."))
    }
}

/// All changed leaves between two normalised specs.
#[must_use]
pub fn field_changes(old: &Value, new: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    walk("", Some(old), Some(new), &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn walk(path: &str, old: Option<&Value>, new: Option<&Value>, out: &mut Vec<FieldChange>) {
    if old == new {
        return;
    }
    let kind =
        lookup(path).and_then(|(prefix, _, kind)| (*prefix == path).then_some(*kind).flatten());
    match (old, new, kind) {
        (Some(Value::Object(a)), Some(Value::Object(b)), _) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                walk(&join(path, key), a.get(key), b.get(key), out);
            }
        }
        (old, new, Some(ListKind::Keyed(key))) => {
            let (before, after) = (keyed(old, key), keyed(new, key));
            let keys: std::collections::BTreeSet<&String> =
                before.keys().chain(after.keys()).collect();
            for item in keys {
                let (was, now) = (before.get(item), after.get(item));
                if was != now {
                    let sub = join(path, item);
                    match (was, now) {
                        (Some(was), Some(now)) if was.is_object() && now.is_object() => {
                            walk_keyed_item(&sub, was, now, out);
                        }
                        _ => out.push(change(&sub, was, now)),
                    }
                }
            }
        }
        (o, n, Some(ListKind::Assignments)) => {
            let (a, b) = (assignments(o), assignments(n));
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                if a.get(k) != b.get(k) {
                    out.push(FieldChange {
                        path: format!("{}.{k}", display_path(path)),
                        old: a.get(k).cloned(),
                        new: b.get(k).cloned(),
                    });
                }
            }
        }
        (o, n, Some(ListKind::Set)) => {
            let as_set = |v: Option<&Value>| -> Vec<Value> {
                let mut items = v.and_then(Value::as_array).cloned().unwrap_or_default();
                items.sort_by_key(Value::to_string);
                items
            };
            let (a, b) = (as_set(o), as_set(n));
            if a != b {
                out.push(FieldChange {
                    path: display_path(path),
                    old: o.map(|_| Value::Array(a)),
                    new: n.map(|_| Value::Array(b)),
                });
            }
        }
        (o, n, _) => out.push(change(path, o, n)),
    }
}

/// Items of a keyed list that both sides have: compare their fields one by one.
fn walk_keyed_item(path: &str, old: &Value, new: &Value, out: &mut Vec<FieldChange>) {
    let (Some(a), Some(b)) = (old.as_object(), new.as_object()) else {
        return;
    };
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for key in keys {
        if a.get(key) != b.get(key) {
            out.push(FieldChange {
                path: format!("{}.{key}", display_path(path)),
                old: a.get(key).cloned(),
                new: b.get(key).cloned(),
            });
        }
    }
}

fn change(path: &str, old: Option<&Value>, new: Option<&Value>) -> FieldChange {
    FieldChange {
        path: display_path(path),
        old: old.cloned(),
        new: new.cloned(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn keyed(list: Option<&Value>, key: fn(&Value) -> String) -> BTreeMap<String, Value> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|item| (key(item), item.clone()))
        .collect()
}

fn assignments(list: Option<&Value>) -> BTreeMap<String, Value> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|entry| match entry.split_once('=') {
            Some((k, v)) => (k.to_owned(), Value::String(v.to_owned())),
            None => (entry.to_owned(), Value::Null),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_changes_like_the_stack_file() {
        let old = json!({
            "TaskTemplate": {"ContainerSpec": {"Image": "app:1", "Env": ["A=1", "B=2"]}, "Placement": {"Constraints": ["x", "y"]}},
            "Mode": {"Replicated": {"Replicas": 2}},
            "UpdateConfig": {"Parallelism": 1},
            "EndpointSpec": {"Ports": [{"PublishedPort": 80, "TargetPort": 8080, "Protocol": "tcp"}]}
        });
        let new = json!({
            "TaskTemplate": {"ContainerSpec": {"Image": "app:2", "Env": ["A=1", "B=3", "C=4"]}, "Placement": {"Constraints": ["y", "x"]}},
            "Mode": {"Replicated": {"Replicas": 3}},
            "UpdateConfig": {"Parallelism": 2},
            "EndpointSpec": {"Ports": [{"PublishedPort": 81, "TargetPort": 8080, "Protocol": "tcp"}]}
        });
        let paths: Vec<String> = field_changes(&old, &new)
            .into_iter()
            .map(|c| c.path)
            .collect();
        assert_eq!(
            paths,
            [
                "deploy.replicas",
                "deploy.update_config.parallelism",
                "environment.B",
                "environment.C",
                "image",
                "ports.80:8080/tcp",
                "ports.81:8080/tcp",
            ]
        );
    }
}
