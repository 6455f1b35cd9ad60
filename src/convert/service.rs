//! One compose service -> the `ServiceSpec` docker stack deploy sends (docker CLI 28 mapping).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{ConvertError, DesiredService, normalize_image};
use crate::model::{
    IMAGE_LABEL, NAMESPACE_LABEL, ObjectRef, Service, ServiceVolume, Stack, StackName, Ulimit,
    UpdateConfig, VolumeType,
};

/// Networks that are not "user defined": no alias is added for them.
const BUILTIN_NETWORKS: &[&str] = &["host", "bridge", "none", "default"];

pub(super) fn convert_service(
    stack: &Stack,
    name: &StackName,
    key: &str,
    service: &Service,
) -> Result<DesiredService, ConvertError> {
    let scoped = name.scope(key);
    if scoped.len() > 63 {
        return Err(ConvertError::NameTooLong {
            service: key.to_owned(),
            name: scoped,
        });
    }
    let image = service
        .image
        .as_ref()
        .map(|i| i.value.clone())
        .unwrap_or_default();
    let mut labels = labels_with_namespace(&service.deploy.labels, name);
    labels.insert(IMAGE_LABEL.to_owned(), image.clone());
    let mut task = Map::new();
    task.insert(
        "ContainerSpec".into(),
        container_spec(stack, name, key, service, &image)?,
    );
    task.insert("Resources".into(), resources(service));
    if let Some(policy) = restart_policy(key, service)? {
        task.insert("RestartPolicy".into(), policy);
    }
    task.insert("Placement".into(), placement(service));
    task.insert("Networks".into(), networks(stack, name, key, service));
    if let Some(logging) = &service.logging {
        task.insert(
            "LogDriver".into(),
            json!({"Name": logging.driver, "Options": logging.options}),
        );
    }
    task.insert("ForceUpdate".into(), json!(0));
    let mut spec = Map::new();
    spec.insert("Name".into(), json!(scoped));
    spec.insert("Labels".into(), json!(labels));
    spec.insert("TaskTemplate".into(), Value::Object(task));
    spec.insert("Mode".into(), mode(service));
    if let Some(update) = &service.deploy.update_config {
        spec.insert("UpdateConfig".into(), update_config(update));
    }
    if let Some(rollback) = &service.deploy.rollback_config {
        spec.insert("RollbackConfig".into(), update_config(rollback));
    }
    spec.insert("EndpointSpec".into(), endpoint(service));
    let depends_on = service
        .depends_on
        .iter()
        .map(|d| name.scope(&d.value))
        .collect();
    Ok(DesiredService {
        key: key.to_owned(),
        name: scoped,
        spec: Value::Object(spec),
        depends_on,
    })
}

fn labels_with_namespace(
    labels: &BTreeMap<String, String>,
    name: &StackName,
) -> BTreeMap<String, String> {
    let mut labels = labels.clone();
    labels.insert(NAMESPACE_LABEL.to_owned(), name.as_str().to_owned());
    labels
}

/// Insert `value` under `key` unless it is empty (Go's `omitempty`).
fn put(map: &mut Map<String, Value>, key: &str, value: Value) {
    let empty = match &value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
    };
    if !empty {
        map.insert(key.to_owned(), value);
    }
}

fn container_spec(
    stack: &Stack,
    name: &StackName,
    key: &str,
    service: &Service,
    image: &str,
) -> Result<Value, ConvertError> {
    let mut c = Map::new();
    put(&mut c, "Image", json!(normalize_image(image)));
    c.insert(
        "Labels".into(),
        json!(labels_with_namespace(&service.labels, name)),
    );
    put(&mut c, "Command", json!(service.entrypoint));
    put(&mut c, "Args", json!(service.command));
    put(&mut c, "Hostname", json!(service.hostname));
    put(&mut c, "Env", json!(environment(service)));
    put(&mut c, "Dir", json!(service.working_dir));
    put(&mut c, "User", json!(service.user));
    c.insert("Privileges".into(), privileges(stack, name, key, service)?);
    put(&mut c, "TTY", json!(service.tty));
    put(&mut c, "OpenStdin", json!(service.stdin_open));
    put(&mut c, "ReadOnly", json!(service.read_only));
    put(
        &mut c,
        "Mounts",
        json!(
            service
                .volumes
                .iter()
                .map(|v| mount(stack, name, v))
                .collect::<Vec<_>>()
        ),
    );
    put(&mut c, "StopSignal", json!(service.stop_signal));
    if let Some(period) = service.stop_grace_period {
        c.insert("StopGracePeriod".into(), json!(period.nanos()));
    }
    if let Some(check) = healthcheck(service) {
        c.insert("Healthcheck".into(), check);
    }
    put(&mut c, "Hosts", json!(hosts(service)));
    if !service.dns.is_empty() || !service.dns_search.is_empty() {
        let mut dns = Map::new();
        put(&mut dns, "Nameservers", json!(service.dns));
        put(&mut dns, "Search", json!(service.dns_search));
        c.insert("DNSConfig".into(), Value::Object(dns));
    }
    put(
        &mut c,
        "Secrets",
        json!(references(name, &service.secrets, &stack.secrets, "Secret")),
    );
    put(
        &mut c,
        "Configs",
        json!(config_references(stack, name, service)),
    );
    put(&mut c, "Isolation", json!(service.isolation));
    if let Some(init) = service.init {
        c.insert("Init".into(), json!(init));
    }
    put(&mut c, "Sysctls", json!(service.sysctls));
    let (add, drop) = capabilities(&service.cap_add, &service.cap_drop);
    put(&mut c, "CapabilityAdd", json!(add));
    put(&mut c, "CapabilityDrop", json!(drop));
    put(&mut c, "Ulimits", json!(ulimits(service)));
    if let Some(adj) = service.oom_score_adj {
        put(&mut c, "OomScoreAdj", json!(adj));
    }
    Ok(Value::Object(c))
}

/// Sorted `K=V` strings; a variable without a value is a bare `K`.
fn environment(service: &Service) -> Vec<String> {
    let mut env: Vec<String> = service
        .environment
        .iter()
        .map(|(k, v)| v.as_ref().map_or_else(|| k.clone(), |v| format!("{k}={v}")))
        .collect();
    env.sort();
    env
}

/// `host:ip` -> `ip host`, file order; entries without `:` are dropped, as docker does.
fn hosts(service: &Service) -> Vec<String> {
    service
        .extra_hosts
        .iter()
        .filter_map(|h| h.split_once(':').map(|(host, ip)| format!("{ip} {host}")))
        .collect()
}

fn privileges(
    stack: &Stack,
    name: &StackName,
    key: &str,
    service: &Service,
) -> Result<Value, ConvertError> {
    let Some(spec) = &service.credential_spec else {
        return Ok(json!({}));
    };
    let set: Vec<&str> = [
        ("Config", &spec.config),
        ("File", &spec.file),
        ("Registry", &spec.registry),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, _)| k)
    .collect();
    match set.as_slice() {
        [] => Ok(json!({})),
        ["Config"] => {
            // docker puts the config's ID here; the planner fills IDs from the cluster.
            let config_name = object_name(
                name,
                &spec.config,
                stack.configs.get(&spec.config).map(|c| &c.naming),
            );
            Ok(json!({"CredentialSpec": {"Config": config_name}}))
        }
        [one] => {
            let value = if *one == "File" {
                &spec.file
            } else {
                &spec.registry
            };
            Ok(json!({"CredentialSpec": {*one: value}}))
        }
        _ => Err(ConvertError::CredentialSpec {
            service: key.to_owned(),
            message: format!("cannot specify both {}", set.join(" and ")),
        }),
    }
}

fn object_name(name: &StackName, key: &str, naming: Option<&crate::model::External>) -> String {
    match naming {
        Some(n) if !n.name.is_empty() => n.name.clone(),
        _ => name.scope(key),
    }
}

/// Secret or config references: File target defaults to the key, uid/gid "0", mode 0444;
/// sorted by object name. IDs are left for the planner to fill from the cluster.
fn references<T>(
    name: &StackName,
    refs: &[ObjectRef],
    objects: &BTreeMap<String, T>,
    kind: &str,
) -> Vec<Value>
where
    T: HasNaming,
{
    let mut out: Vec<(String, Value)> = refs
        .iter()
        .map(|r| {
            let object = object_name(
                name,
                &r.source.value,
                objects.get(&r.source.value).map(HasNaming::naming),
            );
            let target = if r.target.is_empty() {
                r.source.value.clone()
            } else {
                r.target.clone()
            };
            let file = json!({
                "Name": target,
                "UID": if r.uid.is_empty() { "0" } else { &r.uid },
                "GID": if r.gid.is_empty() { "0" } else { &r.gid },
                "Mode": r.mode.unwrap_or(0o444),
            });
            (
                object.clone(),
                json!({"File": file, format!("{kind}Name"): object}),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter().map(|(_, v)| v).collect()
}

trait HasNaming {
    fn naming(&self) -> &crate::model::External;
}

impl HasNaming for crate::model::FileObject {
    fn naming(&self) -> &crate::model::External {
        &self.naming
    }
}

fn config_references(stack: &Stack, name: &StackName, service: &Service) -> Vec<Value> {
    let mut refs = references(name, &service.configs, &stack.configs, "Config");
    if let Some(spec) = service
        .credential_spec
        .as_ref()
        .filter(|s| !s.config.is_empty())
    {
        let config = object_name(
            name,
            &spec.config,
            stack.configs.get(&spec.config).map(|c| &c.naming),
        );
        refs.push(json!({"Runtime": {}, "ConfigName": config}));
        refs.sort_by(|a, b| a["ConfigName"].as_str().cmp(&b["ConfigName"].as_str()));
    }
    refs
}

fn mount(stack: &Stack, name: &StackName, volume: &ServiceVolume) -> Value {
    let mut m = Map::new();
    m.insert("Type".into(), json!(volume.kind.as_str()));
    put(&mut m, "Source", json!(volume.source));
    m.insert("Target".into(), json!(volume.target));
    put(&mut m, "ReadOnly", json!(volume.read_only));
    put(&mut m, "Consistency", json!(volume.consistency));
    match volume.kind {
        VolumeType::Volume if !volume.source.is_empty() => {
            let top = stack.volumes.get(&volume.source);
            let mut options = Map::new();
            put(
                &mut options,
                "NoCopy",
                json!(volume.volume_nocopy.unwrap_or(false)),
            );
            put(&mut options, "Subpath", json!(volume.volume_subpath));
            let external = top.is_some_and(|v| v.naming.external);
            let source = match top {
                Some(v) if !v.naming.name.is_empty() => v.naming.name.clone(),
                _ => name.scope(&volume.source),
            };
            m.insert("Source".into(), json!(source));
            if let Some(top) = top.filter(|_| !external) {
                options.insert(
                    "Labels".into(),
                    json!(labels_with_namespace(&top.labels, name)),
                );
                if !top.driver.is_empty() || !top.driver_opts.is_empty() {
                    let mut driver = Map::new();
                    put(&mut driver, "Name", json!(top.driver));
                    put(&mut driver, "Options", json!(top.driver_opts));
                    options.insert("DriverConfig".into(), Value::Object(driver));
                }
            }
            m.insert("VolumeOptions".into(), Value::Object(options));
        }
        VolumeType::Bind | VolumeType::Npipe => {
            if let Some(propagation) = &volume.bind_propagation {
                let mut bind = Map::new();
                put(&mut bind, "Propagation", json!(propagation));
                m.insert("BindOptions".into(), Value::Object(bind));
            }
        }
        VolumeType::Tmpfs => {
            if let Some(size) = volume.tmpfs_size {
                m.insert("TmpfsOptions".into(), json!({"SizeBytes": size}));
            }
        }
        _ => {}
    }
    Value::Object(m)
}

fn healthcheck(service: &Service) -> Option<Value> {
    let check = service.healthcheck.as_ref()?;
    if check.disable {
        return Some(json!({"Test": ["NONE"]}));
    }
    let mut h = Map::new();
    put(&mut h, "Test", json!(check.test));
    for (field, value) in [
        ("Interval", check.interval),
        ("Timeout", check.timeout),
        ("StartPeriod", check.start_period),
        ("StartInterval", check.start_interval),
    ] {
        put(
            &mut h,
            field,
            json!(value.map_or(0, super::super::model::duration::Duration::nanos)),
        );
    }
    put(&mut h, "Retries", json!(check.retries.unwrap_or(0)));
    Some(Value::Object(h))
}

/// Upper-cased, `CAP_`-prefixed, de-duplicated, sorted; `ALL` wins; adding beats dropping.
fn capabilities(add: &[String], drop: &[String]) -> (Vec<String>, Vec<String>) {
    let normalize = |caps: &[String]| -> std::collections::BTreeSet<String> {
        caps.iter()
            .map(|c| {
                let c = c.trim().to_uppercase();
                if c == "ALL" || c == "RESET" || c.starts_with("CAP_") {
                    c
                } else {
                    format!("CAP_{c}")
                }
            })
            .collect()
    };
    let mut add = normalize(add);
    let mut drop = normalize(drop);
    if add.contains("ALL") {
        add = ["ALL".to_owned()].into();
    }
    if drop.contains("ALL") {
        drop = ["ALL".to_owned()].into();
    }
    let drop = drop
        .into_iter()
        .filter(|c| !add.contains(c) && c != "RESET")
        .collect();
    let add = add.into_iter().filter(|c| c != "RESET").collect();
    (add, drop)
}

fn ulimits(service: &Service) -> Vec<Value> {
    service
        .ulimits
        .iter()
        .map(|(name, limit)| {
            let (soft, hard) = match limit {
                Ulimit::Single(n) => (*n, *n),
                Ulimit::SoftHard { soft, hard } => (*soft, *hard),
            };
            json!({"Name": name, "Soft": soft, "Hard": hard})
        })
        .collect()
}

fn resources(service: &Service) -> Value {
    let mut r = Map::new();
    let res = &service.deploy.resources;
    if let Some(l) = &res.limits {
        let mut limits = Map::new();
        put(&mut limits, "NanoCPUs", json!(l.nano_cpus));
        put(&mut limits, "MemoryBytes", json!(l.memory_bytes));
        put(&mut limits, "Pids", json!(l.pids));
        r.insert("Limits".into(), Value::Object(limits));
    }
    if let Some(v) = &res.reservations {
        let mut reservations = Map::new();
        put(&mut reservations, "NanoCPUs", json!(v.nano_cpus));
        put(&mut reservations, "MemoryBytes", json!(v.memory_bytes));
        let generic: Vec<Value> = v
            .generic_resources
            .iter()
            .map(|(kind, value)| json!({"DiscreteResourceSpec": {"Kind": kind, "Value": value}}))
            .collect();
        put(&mut reservations, "GenericResources", json!(generic));
        r.insert("Reservations".into(), Value::Object(reservations));
    }
    Value::Object(r)
}

/// `deploy.restart_policy`, else the legacy `restart:` key, as docker maps them.
fn restart_policy(key: &str, service: &Service) -> Result<Option<Value>, ConvertError> {
    if let Some(p) = &service.deploy.restart_policy {
        let mut policy = Map::new();
        put(&mut policy, "Condition", json!(p.condition));
        if let Some(delay) = p.delay {
            policy.insert("Delay".into(), json!(delay.nanos()));
        }
        if let Some(attempts) = p.max_attempts {
            policy.insert("MaxAttempts".into(), json!(attempts));
        }
        if let Some(window) = p.window {
            policy.insert("Window".into(), json!(window.nanos()));
        }
        return Ok(Some(Value::Object(policy)));
    }
    let Some(restart) = &service.restart else {
        return Ok(None);
    };
    let value = restart.value.as_str();
    match value
        .split_once(':')
        .map_or((value, None), |(p, n)| (p, Some(n)))
    {
        ("no" | "", None) => Ok(None),
        ("always" | "unless-stopped", None) => Ok(Some(json!({"Condition": "any"}))),
        ("on-failure", count) => {
            let attempts: u64 = match count {
                None => 0,
                Some(n) => n.parse().map_err(|_| restart_error(key, value))?,
            };
            Ok(Some(
                json!({"Condition": "on-failure", "MaxAttempts": attempts}),
            ))
        }
        _ => Err(restart_error(key, value)),
    }
}

fn restart_error(key: &str, value: &str) -> ConvertError {
    ConvertError::RestartPolicy {
        service: key.to_owned(),
        value: value.to_owned(),
    }
}

fn placement(service: &Service) -> Value {
    let p = &service.deploy.placement;
    let mut placement = Map::new();
    put(&mut placement, "Constraints", json!(p.constraints));
    let preferences: Vec<Value> = p
        .preferences
        .iter()
        .map(|s| json!({"Spread": {"SpreadDescriptor": s}}))
        .collect();
    put(&mut placement, "Preferences", json!(preferences));
    put(
        &mut placement,
        "MaxReplicas",
        json!(p.max_replicas_per_node),
    );
    Value::Object(placement)
}

/// Attachments sorted by target name; the service key is added as an alias on user networks.
fn networks(stack: &Stack, name: &StackName, key: &str, service: &Service) -> Value {
    let default = indexmap::IndexMap::from([(
        "default".to_owned(),
        crate::model::ServiceNetwork::default(),
    )]);
    let attached = service
        .networks
        .as_ref()
        .filter(|n| !n.is_empty())
        .unwrap_or(&default);
    let mut out: Vec<(String, Value)> = attached
        .iter()
        .map(|(net, config)| {
            let target = match stack.networks.get(net) {
                Some(n) if !n.naming.name.is_empty() => n.naming.name.clone(),
                _ => name.scope(net),
            };
            let mut aliases = config.aliases.clone();
            if !BUILTIN_NETWORKS.contains(&target.as_str()) {
                aliases.push(key.to_owned());
            }
            let mut attachment = Map::new();
            attachment.insert("Target".into(), json!(target));
            put(&mut attachment, "Aliases", json!(aliases));
            put(&mut attachment, "DriverOpts", json!(config.driver_opts));
            (target, Value::Object(attachment))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Array(out.into_iter().map(|(_, v)| v).collect())
}

fn mode(service: &Service) -> Value {
    let replicas = service.deploy.replicas;
    match service.deploy.mode.as_ref().map(|m| m.value.as_str()) {
        Some("global") => json!({"Global": {}}),
        Some("global-job") => json!({"GlobalJob": {}}),
        Some("replicated-job") => {
            let mut job = Map::new();
            if let Some(n) = replicas {
                job.insert("MaxConcurrent".into(), json!(n));
                job.insert("TotalCompletions".into(), json!(n));
            }
            json!({"ReplicatedJob": job})
        }
        _ => match replicas {
            Some(n) => json!({"Replicated": {"Replicas": n}}),
            None => json!({"Replicated": {}}),
        },
    }
}

fn update_config(update: &UpdateConfig) -> Value {
    let mut u = Map::new();
    u.insert("Parallelism".into(), json!(update.parallelism.unwrap_or(1)));
    put(&mut u, "Delay", json!(update.delay.nanos()));
    put(&mut u, "FailureAction", json!(update.failure_action));
    put(&mut u, "Monitor", json!(update.monitor.nanos()));
    // A float32 in the API: sent, stored and read back in its shortest decimal form (0.3, not
    // the widened 0.30000001192092896).
    let ratio: f64 = update
        .max_failure_ratio
        .to_string()
        .parse()
        .unwrap_or_default();
    put(&mut u, "MaxFailureRatio", json!(ratio));
    put(&mut u, "Order", json!(update.order));
    Value::Object(u)
}

fn endpoint(service: &Service) -> Value {
    let mut ports: Vec<&crate::model::Port> = service.ports.iter().collect();
    ports.sort_by_key(|p| p.published);
    let ports: Vec<Value> = ports
        .into_iter()
        .map(|p| {
            let mut port = Map::new();
            put(&mut port, "Protocol", json!(p.protocol));
            put(&mut port, "TargetPort", json!(p.target));
            put(&mut port, "PublishedPort", json!(p.published));
            put(&mut port, "PublishMode", json!(p.mode));
            Value::Object(port)
        })
        .collect();
    let mut endpoint = Map::new();
    put(
        &mut endpoint,
        "Mode",
        json!(service.deploy.endpoint_mode.to_lowercase()),
    );
    put(&mut endpoint, "Ports", json!(ports));
    Value::Object(endpoint)
}
