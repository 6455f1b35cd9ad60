//! One `services.<name>` mapping -> [`Service`].

use std::collections::BTreeMap;

use indexmap::IndexMap;

use super::{Decoder, deploy, parse_port_spec, parse_short_volume};
use crate::load::diagnostic::Diagnostic;
use crate::load::node::{At, Node, Scalar, Value};
use crate::model::{
    CredentialSpec, Healthcheck, Logging, ObjectRef, Port, Service, ServiceNetwork, ServiceVolume,
    Ulimit, VolumeType,
};

// One field per compose key; splitting the literal would only scatter the mapping.
#[allow(clippy::too_many_lines)]
pub(crate) fn decode_service(
    d: &mut Decoder<'_>,
    name: &At<String>,
    node: &Node,
) -> Option<Service> {
    let path = format!("services.{}", name.value);
    let f = d.fields(node, &path, &super::keys::SERVICE, true)?;
    let p = |key: &str| format!("{path}.{key}");
    let string = |d: &mut Decoder<'_>, key: &str| {
        f.get(key)
            .and_then(|n| d.string(n, &p(key)))
            .unwrap_or_default()
    };
    let flag = |d: &mut Decoder<'_>, key: &str| f.get(key).and_then(|n| d.bool(n, &p(key)));
    let list = |d: &mut Decoder<'_>, key: &str| {
        f.get(key)
            .and_then(|n| d.string_or_list(n, &p(key)))
            .unwrap_or_default()
    };
    let mut service = Service {
        name: name.clone(),
        image: f
            .get("image")
            .and_then(|n| Some(At::new(d.string(n, &p("image"))?, n.span))),
        command: f.get("command").and_then(|n| d.command(n, &p("command"))),
        entrypoint: f
            .get("entrypoint")
            .and_then(|n| d.command(n, &p("entrypoint"))),
        environment: BTreeMap::new(),
        env_file: Vec::new(),
        labels: f
            .get("labels")
            .map(|n| string_map(d, n, &p("labels")))
            .unwrap_or_default(),
        hostname: string(d, "hostname"),
        user: string(d, "user"),
        working_dir: string(d, "working_dir"),
        stop_signal: string(d, "stop_signal"),
        isolation: string(d, "isolation"),
        read_only: flag(d, "read_only").unwrap_or(false),
        tty: flag(d, "tty").unwrap_or(false),
        stdin_open: flag(d, "stdin_open").unwrap_or(false),
        init: flag(d, "init"),
        stop_grace_period: f
            .get("stop_grace_period")
            .and_then(|n| d.duration(n, &p("stop_grace_period"))),
        extra_hosts: f
            .get("extra_hosts")
            .map(|n| extra_hosts(d, n, &p("extra_hosts")))
            .unwrap_or_default(),
        dns: list(d, "dns"),
        dns_search: list(d, "dns_search"),
        cap_add: f
            .get("cap_add")
            .and_then(|n| d.string_list(n, &p("cap_add")))
            .unwrap_or_default(),
        cap_drop: f
            .get("cap_drop")
            .and_then(|n| d.string_list(n, &p("cap_drop")))
            .unwrap_or_default(),
        ulimits: f
            .get("ulimits")
            .map(|n| ulimits(d, n, &p("ulimits")))
            .unwrap_or_default(),
        sysctls: f
            .get("sysctls")
            .map(|n| string_map(d, n, &p("sysctls")))
            .unwrap_or_default(),
        healthcheck: f
            .get("healthcheck")
            .and_then(|n| healthcheck(d, n, &p("healthcheck"))),
        logging: f.get("logging").and_then(|n| logging(d, n, &p("logging"))),
        credential_spec: f
            .get("credential_spec")
            .and_then(|n| credential_spec(d, n, &p("credential_spec"))),
        secrets: f
            .get("secrets")
            .map(|n| object_refs(d, n, &p("secrets")))
            .unwrap_or_default(),
        configs: f
            .get("configs")
            .map(|n| object_refs(d, n, &p("configs")))
            .unwrap_or_default(),
        volumes: f
            .get("volumes")
            .map(|n| volumes(d, n, &p("volumes")))
            .unwrap_or_default(),
        networks: f
            .get("networks")
            .and_then(|n| networks(d, n, &p("networks"))),
        ports: f
            .get("ports")
            .map(|n| ports(d, n, &p("ports")))
            .unwrap_or_default(),
        deploy: f
            .get("deploy")
            .filter(|n| !n.is_null())
            .and_then(|n| deploy::decode(d, n, &p("deploy")))
            .unwrap_or_default(),
        restart: f
            .get("restart")
            .and_then(|n| Some(At::new(d.string(n, &p("restart"))?, n.span))),
        depends_on: f
            .get("depends_on")
            .map(|n| depends_on(d, n, &p("depends_on")))
            .unwrap_or_default(),
        profiles: f
            .get("profiles")
            .and_then(|n| d.string_list(n, &p("profiles")))
            .unwrap_or_default(),
        oom_score_adj: f
            .get("oom_score_adj")
            .and_then(|n| d.int(n, &p("oom_score_adj"))),
    };
    if let Some(n) = f.get("environment") {
        for (key, value, _) in d.list_or_dict(n, &p("environment")).unwrap_or_default() {
            service.environment.insert(key, value);
        }
    }
    if let Some(n) = f.get("env_file") {
        if let Some(files) = d.string_or_list(n, &p("env_file")) {
            service.env_file = files
                .into_iter()
                .map(|file| At::new(file, n.span))
                .collect();
        }
    }
    check_ignored_types(d, &f, &path);
    Some(service)
}

/// Keys Swarm ignores are still type-checked, as docker's schema does.
fn check_ignored_types(d: &mut Decoder<'_>, f: &super::Fields<'_>, path: &str) {
    for key in [
        "cgroup_parent",
        "cgroupns_mode",
        "container_name",
        "domainname",
        "ipc",
    ] {
        if let Some(n) = f.get(key) {
            d.string(n, &format!("{path}.{key}"));
        }
    }
    for key in ["devices", "external_links", "links", "security_opt"] {
        if let Some(n) = f.get(key) {
            d.string_list(n, &format!("{path}.{key}"));
        }
    }
    if let Some(n) = f.get("tmpfs") {
        d.string_or_list(n, &format!("{path}.tmpfs"));
    }
    if let Some(n) = f.get("privileged") {
        d.bool(n, &format!("{path}.privileged"));
    }
}

/// `list_or_dict` as a map; list entries without `=` map to "".
pub(crate) fn string_map(d: &mut Decoder<'_>, node: &Node, path: &str) -> BTreeMap<String, String> {
    let entries = d.list_or_dict(node, path).unwrap_or_default();
    entries
        .into_iter()
        .map(|(k, v, _)| (k, v.unwrap_or_default()))
        .collect()
}

/// `extra_hosts` as `host:ip` strings: list entries may use `=` or `:`; a map is sorted.
fn extra_hosts(d: &mut Decoder<'_>, node: &Node, path: &str) -> Vec<String> {
    let pair = |host: &str, ip: &str| {
        let ip = ip
            .strip_prefix('[')
            .and_then(|i| i.strip_suffix(']'))
            .unwrap_or(ip);
        format!("{host}:{ip}")
    };
    match &node.value {
        Value::Map(_) => {
            let mut hosts: Vec<String> = d
                .list_or_dict(node, path)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(k, v, _)| v.map(|v| format!("{k}:{v}")))
                .collect();
            hosts.sort();
            hosts
                .into_iter()
                .map(|h| h.split_once(':').map_or(h.clone(), |(a, b)| pair(a, b)))
                .collect()
        }
        _ => d
            .string_list(node, path)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|entry| {
                let (host, ip) = entry.split_once('=').or_else(|| entry.split_once(':'))?;
                Some(pair(host, ip))
            })
            .collect(),
    }
}

fn ulimits(d: &mut Decoder<'_>, node: &Node, path: &str) -> BTreeMap<String, Ulimit> {
    let mut out = BTreeMap::new();
    let Some(entries) = node.as_map() else {
        d.type_error(node, path, "a mapping");
        return out;
    };
    for (name, value) in entries {
        let item_path = format!("{path}.{}", name.value);
        if !name.value.chars().all(|c| c.is_ascii_lowercase()) || name.value.is_empty() {
            let message = format!("{item_path}: ulimit names are lower-case letters");
            d.push(
                Diagnostic::error("stackctl::load::ulimit", message).at(name.span, "invalid name"),
            );
            continue;
        }
        let limit = if let Value::Map(_) = value.value {
            let Some(f) = d.fields(value, &item_path, &super::keys::ULIMIT, false) else {
                continue;
            };
            let soft = f
                .get("soft")
                .and_then(|n| d.int(n, &format!("{item_path}.soft")));
            let hard = f
                .get("hard")
                .and_then(|n| d.int(n, &format!("{item_path}.hard")));
            match (soft, hard) {
                (Some(soft), Some(hard)) => Ulimit::SoftHard { soft, hard },
                _ if f.get("soft").is_none() || f.get("hard").is_none() => {
                    let message = format!("{item_path} needs both `soft` and `hard`");
                    d.error(value, "stackctl::load::ulimit", message, "incomplete");
                    continue;
                }
                _ => continue,
            }
        } else {
            let Some(n) = d.int(value, &item_path) else {
                continue;
            };
            Ulimit::Single(n)
        };
        out.insert(name.value.clone(), limit);
    }
    out
}

fn healthcheck(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Healthcheck> {
    let f = d.fields(node, path, &super::keys::HEALTHCHECK, false)?;
    let dur = |d: &mut Decoder<'_>, key: &str| {
        f.get(key)
            .and_then(|n| d.duration(n, &format!("{path}.{key}")))
    };
    let test = f.get("test").and_then(|n| match &n.value {
        Value::Scalar(Scalar::Str(s)) => Some(vec!["CMD-SHELL".to_owned(), s.clone()]),
        _ => d.command(n, &format!("{path}.test")),
    });
    let retries = f.get("retries").and_then(|n| {
        let r = d.number(n, &format!("{path}.retries"))?;
        Some(r.max(0.0) as u64)
    });
    let disable = f
        .get("disable")
        .and_then(|n| d.bool(n, &format!("{path}.disable")));
    let check = Healthcheck {
        test,
        interval: dur(d, "interval"),
        timeout: dur(d, "timeout"),
        start_period: dur(d, "start_period"),
        start_interval: dur(d, "start_interval"),
        retries,
        disable: disable.unwrap_or(false),
    };
    if check.disable && check.test.is_some() {
        let message = format!("{path}: `test` and `disable` can't be set at the same time");
        d.error(node, "stackctl::load::healthcheck", message, "both set");
        d.hint_last("remove `test`, or drop `disable: true`");
    }
    Some(check)
}

fn logging(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Logging> {
    let f = d.fields(node, path, &super::keys::LOGGING, false)?;
    let driver = f
        .get("driver")
        .and_then(|n| d.string(n, &format!("{path}.driver")));
    let options = f
        .get("options")
        .map(|n| d.options_map(n, &format!("{path}.options"), true));
    Some(Logging {
        driver: driver.unwrap_or_default(),
        options: options.unwrap_or_default(),
    })
}

fn credential_spec(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<CredentialSpec> {
    let f = d.fields(node, path, &super::keys::CREDENTIAL_SPEC, false)?;
    let mut get = |key: &str| {
        f.get(key)
            .and_then(|n| d.string(n, &format!("{path}.{key}")))
            .unwrap_or_default()
    };
    let config_span = f.get("config").map(|n| n.span);
    Some(CredentialSpec {
        config: get("config"),
        config_span,
        file: get("file"),
        registry: get("registry"),
    })
}

/// `secrets:` / `configs:` of a service: names, or `{source, target, uid, gid, mode}`.
fn object_refs(d: &mut Decoder<'_>, node: &Node, path: &str) -> Vec<ObjectRef> {
    let Value::Seq(items) = &node.value else {
        d.type_error(node, path, "a list");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        if let Some(source) = item.as_str() {
            out.push(ObjectRef {
                source: At::new(source.to_owned(), item.span),
                target: String::new(),
                uid: String::new(),
                gid: String::new(),
                mode: None,
            });
            continue;
        }
        let Some(f) = d.fields(item, &item_path, &super::keys::OBJECT_REF, false) else {
            continue;
        };
        let Some(source_node) = f.get("source") else {
            let message = format!("{item_path} needs a `source`");
            d.error(item, "stackctl::load::required", message, "no source");
            continue;
        };
        let Some(source) = d.string(source_node, &format!("{item_path}.source")) else {
            continue;
        };
        let mut text = |key: &str| {
            f.get(key)
                .and_then(|n| d.string(n, &format!("{item_path}.{key}")))
                .unwrap_or_default()
        };
        let (target, uid, gid) = (text("target"), text("uid"), text("gid"));
        let mode = f.get("mode").and_then(|n| {
            let m = d.number(n, &format!("{item_path}.mode"))?;
            if !(0.0..=f64::from(u32::MAX)).contains(&m) {
                let message = format!("{item_path}.mode: {m} is out of range (0 to 0o7777)");
                d.error(n, "stackctl::load::range", message, "out of range");
                return None;
            }
            Some(m as u32)
        });
        out.push(ObjectRef {
            source: At::new(source, source_node.span),
            target,
            uid,
            gid,
            mode,
        });
    }
    out
}

fn volumes(d: &mut Decoder<'_>, node: &Node, path: &str) -> Vec<ServiceVolume> {
    let Value::Seq(items) = &node.value else {
        d.type_error(node, path, "a list");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        let volume = match &item.value {
            Value::Scalar(Scalar::Str(spec)) => match parse_short_volume(spec, item.span) {
                Ok(v) => Some(v),
                Err(why) => {
                    let message = format!("{item_path}: invalid volume {spec:?}: {why}");
                    d.error(item, "stackctl::load::volume", message, "invalid");
                    d.hint_last("short syntax is `[source:]target[:ro|rw|nocopy|...]`");
                    None
                }
            },
            _ => super::long_volume::decode(d, item, &item_path),
        };
        out.extend(volume);
    }
    out
}

fn networks(
    d: &mut Decoder<'_>,
    node: &Node,
    path: &str,
) -> Option<IndexMap<String, ServiceNetwork>> {
    let mut out = IndexMap::new();
    match &node.value {
        Value::Seq(items) => {
            // One name per item, in order: the item is where the name was written.
            for (name, item) in d.string_list(node, path)?.into_iter().zip(items) {
                let span = Some(item.span);
                out.insert(
                    name,
                    ServiceNetwork {
                        span,
                        ..ServiceNetwork::default()
                    },
                );
            }
        }
        Value::Map(entries) => {
            for (name, value) in entries {
                let item_path = format!("{path}.{}", name.value);
                let mut network = ServiceNetwork {
                    span: Some(name.span),
                    ..ServiceNetwork::default()
                };
                if !value.is_null() {
                    let keys = &super::keys::SERVICE_NETWORK;
                    let Some(f) = d.fields(value, &item_path, keys, false) else {
                        continue;
                    };
                    let aliases = f
                        .get("aliases")
                        .and_then(|n| d.string_list(n, &format!("{item_path}.aliases")));
                    network.aliases = aliases.unwrap_or_default();
                    if let Some(n) = f.get("driver_opts") {
                        let opts_path = format!("{item_path}.driver_opts");
                        network.driver_opts = d.options_map(n, &opts_path, false);
                    }
                    for (key, field) in [
                        ("ipv4_address", &mut network.ipv4_address),
                        ("ipv6_address", &mut network.ipv6_address),
                    ] {
                        if let Some(s) = f
                            .get(key)
                            .and_then(|n| d.string(n, &format!("{item_path}.{key}")))
                        {
                            *field = s;
                        }
                    }
                }
                out.insert(name.value.clone(), network);
            }
        }
        Value::Scalar(_) => {
            d.type_error(node, path, "a list or a mapping of networks");
            return None;
        }
    }
    Some(out)
}

fn ports(d: &mut Decoder<'_>, node: &Node, path: &str) -> Vec<Port> {
    let Value::Seq(items) = &node.value else {
        d.type_error(node, path, "a list");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        let spec = match &item.value {
            Value::Scalar(Scalar::Int(n)) => n.to_string(),
            Value::Scalar(Scalar::Str(s)) => s.clone(),
            Value::Map(_) => {
                out.extend(long_port(d, item, &item_path));
                continue;
            }
            _ => {
                d.type_error(item, &item_path, "a port string, a number or a mapping");
                continue;
            }
        };
        match parse_port_spec(&spec) {
            Ok((ports, has_ip)) => {
                if has_ip {
                    let message = format!(
                        "{item_path}: ignoring the IP address in {spec:?}; Swarm publishes on all addresses"
                    );
                    d.push(
                        Diagnostic::warning("stackctl::load::port_ip", message)
                            .at(item.span, "IP ignored"),
                    );
                }
                out.extend(ports);
            }
            Err(why) => {
                d.error(
                    item,
                    "stackctl::load::port",
                    format!("{item_path}: {why}"),
                    "invalid port",
                );
                d.hint_last("ports look like `8080:80`, `80`, `9000-9001:9000-9001/udp` or a mapping with target/published/protocol/mode");
            }
        }
    }
    out
}

fn long_port(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Port> {
    let f = d.fields(node, path, &super::keys::PORT, false)?;
    let port = |d: &mut Decoder<'_>, key: &str| -> Option<u32> {
        let n = f.get(key)?;
        let value = d.int(n, &format!("{path}.{key}"))?;
        if let Ok(p) = u16::try_from(value) {
            return Some(u32::from(p));
        }
        d.error(
            n,
            "stackctl::load::port",
            format!("{path}.{key}: {value} is not a port number"),
            "out of range",
        );
        None
    };
    let target = port(d, "target");
    let published = port(d, "published").unwrap_or(0);
    let mut text = |key: &str| {
        f.get(key)
            .and_then(|n| d.string(n, &format!("{path}.{key}")))
            .unwrap_or_default()
    };
    let (mode, protocol) = (text("mode"), text("protocol"));
    Some(Port {
        mode,
        target: target.unwrap_or(0),
        published,
        protocol,
    })
}

fn depends_on(d: &mut Decoder<'_>, node: &Node, path: &str) -> Vec<At<String>> {
    let Value::Seq(items) = &node.value else {
        d.type_error(node, path, "a list of service names");
        return Vec::new();
    };
    d.string_list(node, path);
    items
        .iter()
        .filter_map(|n| Some(At::new(n.as_str()?.to_owned(), n.span)))
        .collect()
}

impl VolumeType {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "volume" => Self::Volume,
            "bind" => Self::Bind,
            "tmpfs" => Self::Tmpfs,
            "npipe" => Self::Npipe,
            "cluster" => Self::Cluster,
            "image" => Self::Image,
            _ => return None,
        })
    }
}
