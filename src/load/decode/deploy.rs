//! `services.<name>.deploy` -> [`Deploy`], with the checks the daemon would otherwise make late.

use super::keys;
use super::{Decoder, parse_cpus, parse_memory, service::string_map};
use crate::load::node::{At, Node, Value};
use crate::model::{
    Deploy, Limits, Placement, Reservations, Resources, RestartPolicy, UpdateConfig,
};

const MODES: &[&str] = &["replicated", "global", "replicated-job", "global-job"];

pub(crate) fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Deploy> {
    let f = d.fields(node, path, &keys::DEPLOY, false)?;
    let p = |key: &str| format!("{path}.{key}");
    let mode = f.get("mode").and_then(|n| {
        let mode = d.string(n, &p("mode"))?;
        if !MODES.contains(&mode.as_str()) {
            d.error(
                n,
                "stackctl::load::mode",
                format!("{}: unknown mode {mode:?}", p("mode")),
                "unknown mode",
            );
            d.hint_last(&one_of(MODES, &mode));
        }
        Some(At::new(mode, n.span))
    });
    let endpoint_mode = f.get("endpoint_mode").and_then(|n| {
        let m = d.string(n, &p("endpoint_mode"))?;
        if !matches!(m.to_lowercase().as_str(), "vip" | "dnsrr" | "") {
            d.error(
                n,
                "stackctl::load::endpoint_mode",
                format!("{}: unknown endpoint mode {m:?}", p("endpoint_mode")),
                "unknown",
            );
            d.hint_last("endpoint_mode is `vip` or `dnsrr`");
        }
        Some(m)
    });
    let deploy = Deploy {
        mode,
        replicas: f.get("replicas").and_then(|n| d.uint(n, &p("replicas"))),
        labels: f
            .get("labels")
            .map(|n| string_map(d, n, &p("labels")))
            .unwrap_or_default(),
        update_config: f
            .get("update_config")
            .and_then(|n| update_config(d, n, &p("update_config"))),
        rollback_config: f
            .get("rollback_config")
            .and_then(|n| update_config(d, n, &p("rollback_config"))),
        resources: f
            .get("resources")
            .and_then(|n| resources(d, n, &p("resources")))
            .unwrap_or_default(),
        restart_policy: f
            .get("restart_policy")
            .and_then(|n| restart_policy(d, n, &p("restart_policy"))),
        placement: f
            .get("placement")
            .and_then(|n| placement(d, n, &p("placement")))
            .unwrap_or_default(),
        endpoint_mode: endpoint_mode.unwrap_or_default(),
    };
    check_mode_rules(d, &f, &deploy, path);
    Some(deploy)
}

fn check_mode_rules(d: &mut Decoder<'_>, f: &super::Fields<'_>, deploy: &Deploy, path: &str) {
    let mode = deploy
        .mode
        .as_ref()
        .map_or("replicated", |m| m.value.as_str());
    if let (Some(n), "global" | "global-job") = (f.get("replicas"), mode) {
        d.error(
            n,
            "stackctl::load::mode",
            format!("{path}.replicas: replicas can only be used with replicated mode"),
            "not allowed with global mode",
        );
        d.hint_last("remove `replicas`, or use `mode: replicated`");
    }
    if let (Some(n), "replicated-job" | "global-job") = (f.get("update_config"), mode) {
        d.error(
            n,
            "stackctl::load::mode",
            format!("{path}.update_config: jobs may not have an update config"),
            "not allowed for jobs",
        );
        d.hint_last("remove `update_config` from this job");
    }
}

fn one_of(allowed: &[&str], got: &str) -> String {
    match crate::load::suggest::closest(got, allowed.iter().copied()) {
        Some(best) => format!("did you mean `{best}`? (one of: {})", allowed.join(", ")),
        None => format!("use one of: {}", allowed.join(", ")),
    }
}

fn enum_string(d: &mut Decoder<'_>, node: &Node, path: &str, allowed: &[&str]) -> String {
    let Some(value) = d.string(node, path) else {
        return String::new();
    };
    if !allowed.contains(&value.as_str()) {
        d.error(
            node,
            "stackctl::load::enum",
            format!("{path}: unknown value {value:?}"),
            "unknown value",
        );
        d.hint_last(&one_of(allowed, &value));
    }
    value
}

fn update_config(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<UpdateConfig> {
    let f = d.fields(node, path, &keys::UPDATE_CONFIG, false)?;
    let p = |key: &str| format!("{path}.{key}");
    let dur = |d: &mut Decoder<'_>, key: &str| {
        f.get(key)
            .and_then(|n| d.duration(n, &p(key)))
            .unwrap_or_default()
    };
    Some(UpdateConfig {
        parallelism: f
            .get("parallelism")
            .and_then(|n| d.uint(n, &p("parallelism"))),
        delay: dur(d, "delay"),
        failure_action: f
            .get("failure_action")
            .map(|n| {
                enum_string(
                    d,
                    n,
                    &p("failure_action"),
                    &["pause", "continue", "rollback"],
                )
            })
            .unwrap_or_default(),
        monitor: dur(d, "monitor"),
        max_failure_ratio: f
            .get("max_failure_ratio")
            .and_then(|n| d.number(n, &p("max_failure_ratio")))
            .unwrap_or(0.0) as f32,
        order: f
            .get("order")
            .map(|n| enum_string(d, n, &p("order"), &["start-first", "stop-first"]))
            .unwrap_or_default(),
    })
}

fn restart_policy(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<RestartPolicy> {
    let f = d.fields(node, path, &keys::RESTART_POLICY, false)?;
    let p = |key: &str| format!("{path}.{key}");
    Some(RestartPolicy {
        condition: f
            .get("condition")
            .map(|n| enum_string(d, n, &p("condition"), &["none", "on-failure", "any"]))
            .unwrap_or_default(),
        delay: f.get("delay").and_then(|n| d.duration(n, &p("delay"))),
        max_attempts: f
            .get("max_attempts")
            .and_then(|n| d.uint(n, &p("max_attempts"))),
        window: f.get("window").and_then(|n| d.duration(n, &p("window"))),
    })
}

fn placement(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Placement> {
    let f = d.fields(node, path, &keys::PLACEMENT, false)?;
    let p = |key: &str| format!("{path}.{key}");
    let mut preferences = Vec::new();
    if let Some(n) = f.get("preferences") {
        if let Value::Seq(items) = &n.value {
            for (i, item) in items.iter().enumerate() {
                let item_path = format!("{}[{i}]", p("preferences"));
                let Some(pf) = d.fields(item, &item_path, &keys::PREFERENCE, false) else {
                    continue;
                };
                if let Some(s) = pf
                    .get("spread")
                    .and_then(|s| d.string(s, &format!("{item_path}.spread")))
                {
                    preferences.push(s);
                }
            }
        } else {
            d.type_error(n, &p("preferences"), "a list of `{spread: ...}` mappings");
        }
    }
    Some(Placement {
        constraints: f
            .get("constraints")
            .and_then(|n| d.string_list(n, &p("constraints")))
            .unwrap_or_default(),
        preferences,
        max_replicas_per_node: f
            .get("max_replicas_per_node")
            .and_then(|n| d.uint(n, &p("max_replicas_per_node")))
            .unwrap_or(0),
    })
}

fn resources(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Resources> {
    let f = d.fields(node, path, &keys::RESOURCES, false)?;
    let limits = f.get("limits").and_then(|n| {
        let lp = format!("{path}.limits");
        let l = d.fields(n, &lp, &keys::LIMITS, false)?;
        Some(Limits {
            nano_cpus: l
                .get("cpus")
                .and_then(|c| cpus(d, c, &format!("{lp}.cpus")))
                .unwrap_or(0),
            memory_bytes: l
                .get("memory")
                .and_then(|m| memory(d, m, &format!("{lp}.memory")))
                .unwrap_or(0),
            pids: l
                .get("pids")
                .and_then(|m| d.int(m, &format!("{lp}.pids")))
                .unwrap_or(0),
        })
    });
    let reservations = f.get("reservations").and_then(|n| {
        let rp = format!("{path}.reservations");
        let r = d.fields(n, &rp, &keys::RESERVATIONS, false)?;
        Some(Reservations {
            nano_cpus: r
                .get("cpus")
                .and_then(|c| cpus(d, c, &format!("{rp}.cpus")))
                .unwrap_or(0),
            memory_bytes: r
                .get("memory")
                .and_then(|m| memory(d, m, &format!("{rp}.memory")))
                .unwrap_or(0),
            generic_resources: r
                .get("generic_resources")
                .map(|g| generic(d, g, &format!("{rp}.generic_resources")))
                .unwrap_or_default(),
        })
    });
    Some(Resources {
        limits,
        reservations,
    })
}

/// CPU counts and memory sizes are strings in docker's schema: `cpus: 0.5` is refused there,
/// so it is here, with the fix.
fn quoted(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<String> {
    if let Some(text) = node.as_str() {
        return Some(text.to_owned());
    }
    d.type_error(node, path, "a string");
    if let Some(text) = node.scalar_text() {
        d.hint_last(&format!("quote it: \"{text}\""));
    }
    None
}

fn cpus(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<i64> {
    let text = quoted(d, node, path)?;
    match parse_cpus(&text) {
        Ok(n) => Some(n),
        Err(why) => {
            d.error(
                node,
                "stackctl::load::cpus",
                format!("{path}: {why}"),
                "invalid CPU count",
            );
            d.hint_last("CPU counts look like `0.5` or `2`");
            None
        }
    }
}

fn memory(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<i64> {
    let text = quoted(d, node, path)?;
    match parse_memory(&text) {
        Ok(n) => Some(n),
        Err(why) => {
            d.error(
                node,
                "stackctl::load::memory",
                format!("{path}: {why}"),
                "invalid size",
            );
            d.hint_last("memory looks like `512M`, `1.5G` or `128MiB` (binary units k, m, g, t, p, optionally with `b` or `ib`)");
            None
        }
    }
}

fn generic(d: &mut Decoder<'_>, node: &Node, path: &str) -> Vec<(String, i64)> {
    let Value::Seq(items) = &node.value else {
        d.type_error(node, path, "a list");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let ip = format!("{path}[{i}]");
        let Some(f) = d.fields(item, &ip, &keys::GENERIC_RESOURCE, false) else {
            continue;
        };
        let Some(spec) = f.get("discrete_resource_spec") else {
            continue;
        };
        let sp = format!("{ip}.discrete_resource_spec");
        let Some(s) = d.fields(spec, &sp, &keys::DISCRETE_RESOURCE, false) else {
            continue;
        };
        let kind = s
            .get("kind")
            .and_then(|k| d.string(k, &format!("{sp}.kind")));
        let value = s
            .get("value")
            .and_then(|v| d.number(v, &format!("{sp}.value")));
        if let (Some(kind), Some(value)) = (kind, value) {
            out.push((kind, value as i64));
        }
    }
    out
}
