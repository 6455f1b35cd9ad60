//! Service specs in one canonical shape, so a spec as stackctl builds it and the same spec as
//! the daemon returns it compare equal: daemon defaults filled in, empty values dropped,
//! order removed where it carries no meaning.

use serde_json::{Map, Value, json};

/// What the daemon accepts: fields of newer API versions it silently drops.
#[derive(Clone, Copy, Debug)]
pub struct DaemonApi {
    pub minor: u32,
}

impl DaemonApi {
    /// Engine API 1.x as a minor number (1.41 -> 41).
    #[must_use]
    pub fn parse(version: &str) -> Self {
        let minor = version
            .split('.')
            .nth(1)
            .and_then(|m| m.parse().ok())
            .unwrap_or(41);
        Self { minor }
    }
}

/// Service fields added by newer Engine APIs, which older daemons silently drop:
/// (JSON pointer under `ContainerSpec`, compose key, API minor version that added it).
const NEWER_FIELDS: &[(&str, &str, u32)] = &[
    (
        "/Healthcheck/StartInterval",
        "healthcheck.start_interval",
        44,
    ),
    (
        "/Mounts/*/VolumeOptions/Subpath",
        "volumes[].volume.subpath",
        45,
    ),
    ("/OomScoreAdj", "oom_score_adj", 46),
];

/// The compose keys set in `spec` that this daemon will ignore, each with the API version
/// that would honour it: `("oom_score_adj", "1.46")`.
#[must_use]
pub fn ignored_by_daemon(spec: &Value, api: DaemonApi) -> Vec<(&'static str, String)> {
    let Some(container) = spec.pointer("/TaskTemplate/ContainerSpec") else {
        return Vec::new();
    };
    let is_set = |v: &Value| !(v.is_null() || v == &json!(0) || v == &json!(""));
    NEWER_FIELDS
        .iter()
        .filter(|(_, _, since)| api.minor < *since)
        .filter(|(pointer, _, _)| match pointer.split_once("/*") {
            Some((list, field)) => container
                .pointer(list)
                .and_then(Value::as_array)
                .is_some_and(|items| items.iter().any(|i| i.pointer(field).is_some_and(is_set))),
            None => container.pointer(pointer).is_some_and(is_set),
        })
        .map(|(_, key, since)| (*key, format!("1.{since}")))
        .collect()
}

/// swarmkit's monitor window when the spec says 0 or nothing.
const DEFAULT_MONITOR_NANOS: i64 = 5_000_000_000;

/// swarmkit's stop grace period and restart delay when the spec has none.
const DEFAULT_STOP_GRACE_NANOS: i64 = 10_000_000_000;
const DEFAULT_RESTART_DELAY_NANOS: i64 = 5_000_000_000;

/// Keys whose zero value means the same as leaving them out.
const ZERO_IS_ABSENT: &[&str] = &[
    "ForceUpdate",
    "Interval",
    "Timeout",
    "StartPeriod",
    "StartInterval",
    "Retries",
    "NanoCPUs",
    "MemoryBytes",
    "Pids",
    "MaxReplicas",
    "Delay",
    "Monitor",
    "MaxFailureRatio",
    "PublishedPort",
    "SizeBytes",
    "Window",
];

/// Canonical form of a service spec (as sent, or as read back).
#[must_use]
pub fn normalize_service(spec: &Value, api: DaemonApi) -> Value {
    let mut spec = spec.clone();
    fill_defaults(&mut spec, api);
    sort_unordered(&mut spec);
    prune(&mut spec, "");
    spec
}

fn obj<'a>(value: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    value.get_mut(key).and_then(Value::as_object_mut)
}

fn default_str(map: &mut Map<String, Value>, key: &str, default: &str) {
    let missing = map
        .get(key)
        .is_none_or(|v| v.as_str().is_none_or(str::is_empty));
    if missing {
        map.insert(key.to_owned(), json!(default));
    }
}

fn fill_defaults(spec: &mut Value, api: DaemonApi) {
    if let Some(task) = obj(spec, "TaskTemplate") {
        default_str(task, "Runtime", "container");
        // stack deploy copies ForceUpdate from the live service: it is never a change.
        task.remove("ForceUpdate");
        // swarmkit's defaults: restart on any exit after 5s; `inspect` shows them filled in.
        let policy = task.entry("RestartPolicy").or_insert_with(|| json!({}));
        if let Some(policy) = policy.as_object_mut() {
            default_str(policy, "Condition", "any");
            policy.entry("MaxAttempts").or_insert(json!(0));
            policy
                .entry("Delay")
                .or_insert(json!(DEFAULT_RESTART_DELAY_NANOS));
        }
        if let Some(container) = task.get_mut("ContainerSpec").and_then(Value::as_object_mut) {
            fill_container_defaults(container, api);
        }
        if let Some(Value::Array(networks)) = task.get_mut("Networks") {
            networks.sort_by(|a, b| a["Target"].as_str().cmp(&b["Target"].as_str()));
        }
    }
    if let Some(mode) = obj(spec, "Mode") {
        if let Some(replicated) = mode.get_mut("Replicated").and_then(Value::as_object_mut) {
            replicated.entry("Replicas").or_insert(json!(1));
        }
        if let Some(job) = mode.get_mut("ReplicatedJob").and_then(Value::as_object_mut) {
            let concurrent = job.get("MaxConcurrent").cloned().unwrap_or(json!(1));
            job.insert("MaxConcurrent".into(), concurrent.clone());
            job.entry("TotalCompletions").or_insert(concurrent);
        }
    }
    // No UpdateConfig means swarmkit's defaults at run time (and `docker service inspect`
    // shows them filled in); a Monitor of 0 likewise means 5s.
    if let Some(map) = spec.as_object_mut() {
        for key in ["UpdateConfig", "RollbackConfig"] {
            let update = map.entry(key).or_insert_with(|| json!({"Parallelism": 1}));
            let Some(update) = update.as_object_mut() else {
                continue;
            };
            default_str(update, "FailureAction", "pause");
            default_str(update, "Order", "stop-first");
            update.entry("Parallelism").or_insert(json!(0));
            if update.get("Monitor").is_none_or(|m| m.as_i64() == Some(0)) {
                update.insert("Monitor".into(), json!(DEFAULT_MONITOR_NANOS));
            }
        }
    }
    if let Some(endpoint) = obj(spec, "EndpointSpec") {
        default_str(endpoint, "Mode", "vip");
        if let Some(Value::Array(ports)) = endpoint.get_mut("Ports") {
            for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                default_str(port, "Protocol", "tcp");
                default_str(port, "PublishMode", "ingress");
            }
        }
    }
    // The deprecated service-level networks are never used by stacks.
    if let Some(map) = spec.as_object_mut() {
        map.remove("Networks");
    }
}

fn fill_container_defaults(container: &mut Map<String, Value>, api: DaemonApi) {
    container
        .entry("StopGracePeriod")
        .or_insert(json!(DEFAULT_STOP_GRACE_NANOS));
    let isolation = container
        .get("Isolation")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !matches!(isolation, "process" | "hyperv") {
        container.insert("Isolation".into(), json!("default"));
    }
    // `Init: false` and no `Init` both run without an init process by default.
    if container.get("Init") == Some(&json!(false)) {
        container.remove("Init");
    }
    if let Some(Value::Array(mounts)) = container.get_mut("Mounts") {
        for mount in mounts.iter_mut().filter_map(Value::as_object_mut) {
            // The daemon drops consistency (a Docker Desktop hint).
            mount.remove("Consistency");
        }
    }
    // IDs are assigned by the cluster; references compare by name and target.
    for (list, id) in [("Secrets", "SecretID"), ("Configs", "ConfigID")] {
        if let Some(Value::Array(items)) = container.get_mut(list) {
            for item in items.iter_mut().filter_map(Value::as_object_mut) {
                item.remove(id);
            }
        }
    }
    // What this daemon drops is not a difference.
    for (pointer, _, since) in NEWER_FIELDS {
        if api.minor >= *since {
            continue;
        }
        let (parent, field) = pointer.rsplit_once('/').unwrap_or(("", pointer));
        if parent.is_empty() {
            container.remove(field);
            continue;
        }
        let parents: Vec<&mut Value> = match parent.split_once("/*") {
            Some((list, rest)) => match container_pointer_mut(container, list) {
                Some(Value::Array(items)) => items
                    .iter_mut()
                    .filter_map(|item| item.pointer_mut(rest))
                    .collect(),
                _ => Vec::new(),
            },
            None => container_pointer_mut(container, parent)
                .into_iter()
                .collect(),
        };
        for value in parents {
            if let Some(map) = value.as_object_mut() {
                map.remove(field);
            }
        }
    }
    if let Some(Value::Array(env)) = container.get_mut("Env") {
        env.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    }
}

/// `pointer` (not empty) inside a container spec held as a map.
fn container_pointer_mut<'a>(
    container: &'a mut Map<String, Value>,
    pointer: &str,
) -> Option<&'a mut Value> {
    let mut parts = pointer.trim_start_matches('/').splitn(2, '/');
    let first = parts.next().filter(|p| !p.is_empty())?;
    let value = container.get_mut(first)?;
    match parts.next() {
        Some(rest) => value.pointer_mut(&format!("/{rest}")),
        None => Some(value),
    }
}

/// Lists whose order carries no meaning are put in a fixed order.
fn sort_unordered(spec: &mut Value) {
    let Some(container) = spec
        .pointer_mut("/TaskTemplate/ContainerSpec")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for (list, name) in [("Secrets", "SecretName"), ("Configs", "ConfigName")] {
        if let Some(Value::Array(items)) = container.get_mut(list) {
            items.sort_by_key(|item| {
                (
                    item[name].as_str().unwrap_or("").to_owned(),
                    item.pointer("/File/Name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                )
            });
        }
    }
    if let Some(Value::Array(ports)) = spec.pointer_mut("/EndpointSpec/Ports") {
        ports.sort_by_key(|p| {
            (
                p["PublishedPort"].as_u64(),
                p["TargetPort"].as_u64(),
                p["Protocol"].as_str().map(str::to_owned),
                p["PublishMode"].as_str().map(str::to_owned),
            )
        });
    }
}

/// Drop nulls, empty strings/lists/maps, `false`, and zeros where zero means "unset".
fn prune(value: &mut Value, key: &str) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Number(n) => !(ZERO_IS_ABSENT.contains(&key) && n.as_f64() == Some(0.0)),
        Value::Array(items) => {
            for item in items.iter_mut() {
                prune(item, "");
            }
            !items.is_empty()
        }
        Value::Object(map) => {
            map.retain(|k, v| prune(v, k));
            // An empty mode object (`Global: {}`) is meaningful; others are not.
            !map.is_empty() || matches!(key, "Global" | "GlobalJob" | "Runtime")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sent_and_read_back_forms_compare_equal() {
        let sent = json!({
            "Name": "s_web", "Labels": {"a": "b"},
            "TaskTemplate": {
                "ContainerSpec": {"Image": "app:1", "Privileges": {}, "Mounts": [{"Type": "volume", "Target": "/d", "Consistency": "cached", "BindOptions": {}}]},
                "Resources": {}, "Placement": {}, "ForceUpdate": 0, "Networks": [{"Target": "s_default", "Aliases": ["web"]}],
                "RestartPolicy": {"Delay": 5}
            },
            "Mode": {"Replicated": {}},
            "UpdateConfig": {"Parallelism": 1},
            "EndpointSpec": {"Ports": [{"TargetPort": 80, "PublishedPort": 8080}]}
        });
        let read = json!({
            "Name": "s_web", "Labels": {"a": "b"},
            "TaskTemplate": {
                "ContainerSpec": {"Image": "app:1", "Isolation": "default", "Privileges": {"CredentialSpec": null, "SELinuxContext": null}, "Mounts": [{"Type": "volume", "Target": "/d"}]},
                "Resources": {"Limits": {}, "Reservations": {}}, "Placement": {}, "ForceUpdate": 0, "Runtime": "container",
                "Networks": [{"Target": "s_default", "Aliases": ["web"]}],
                "RestartPolicy": {"Condition": "any", "Delay": 5, "MaxAttempts": 0}
            },
            "Mode": {"Replicated": {"Replicas": 1}},
            "UpdateConfig": {"Parallelism": 1, "FailureAction": "pause", "Order": "stop-first", "MaxFailureRatio": 0},
            "EndpointSpec": {"Mode": "vip", "Ports": [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "ingress"}]}
        });
        let api = DaemonApi::parse("1.41");
        assert_eq!(normalize_service(&sent, api), normalize_service(&read, api));
    }

    #[test]
    fn meaningful_zeros_survive() {
        let api = DaemonApi::parse("1.41");
        let zero = normalize_service(&json!({"Mode": {"Replicated": {"Replicas": 0}}}), api);
        let unset = normalize_service(&json!({"Mode": {"Replicated": {}}}), api);
        assert_ne!(zero, unset);
        assert_eq!(unset.pointer("/Mode/Replicated/Replicas"), Some(&json!(1)));
    }

    #[test]
    fn fields_an_older_daemon_drops_are_named_and_not_differences() {
        let sent = json!({"TaskTemplate": {"ContainerSpec": {
            "Image": "app:1",
            "OomScoreAdj": 200,
            "Healthcheck": {"Test": ["CMD", "true"], "StartInterval": 1_000_000_000},
            "Mounts": [
                {"Type": "volume", "Target": "/a", "VolumeOptions": {"NoCopy": true, "Subpath": "x"}},
                {"Type": "volume", "Target": "/b"}
            ]
        }}});
        let read = json!({"TaskTemplate": {"ContainerSpec": {
            "Image": "app:1",
            "Healthcheck": {"Test": ["CMD", "true"]},
            "Mounts": [
                {"Type": "volume", "Target": "/a", "VolumeOptions": {"NoCopy": true}},
                {"Type": "volume", "Target": "/b"}
            ]
        }}});
        let old = DaemonApi::parse("1.41");
        assert_eq!(normalize_service(&sent, old), normalize_service(&read, old));
        let keys: Vec<_> = ignored_by_daemon(&sent, old);
        assert_eq!(
            keys,
            [
                ("healthcheck.start_interval", "1.44".to_owned()),
                ("volumes[].volume.subpath", "1.45".to_owned()),
                ("oom_score_adj", "1.46".to_owned()),
            ]
        );
        assert!(ignored_by_daemon(&read, old).is_empty());
        let new = DaemonApi::parse("1.47");
        assert!(ignored_by_daemon(&sent, new).is_empty());
        assert_ne!(normalize_service(&sent, new), normalize_service(&read, new));
    }
}
