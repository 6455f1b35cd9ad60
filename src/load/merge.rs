//! Merging several stack files (`-c base.yml -c prod.yml`) the way docker CLI 28 merges them:
//! later files override, maps merge per key, lists of ports, volumes, secrets and configs merge
//! by their key, other lists are appended.

use std::collections::BTreeMap;

use crate::model::{
    Deploy, Healthcheck, Logging, Placement, Resources, Service, Stack, UpdateConfig,
};

/// Merge `over` into `base`. Top-level objects are replaced whole, as docker does.
pub fn merge_stack(base: &mut Stack, over: Stack) {
    if over.name.is_some() {
        base.name = over.name;
    }
    for (name, service) in over.services {
        match base.services.get_mut(&name) {
            Some(existing) => merge_service(existing, service),
            None => {
                base.services.insert(name, service);
            }
        }
    }
    base.networks.extend(over.networks);
    base.volumes.extend(over.volumes);
    base.secrets.extend(over.secrets);
    base.configs.extend(over.configs);
}

/// A non-empty string overrides (docker cannot reset a value to "").
fn string(base: &mut String, over: String) {
    if !over.is_empty() {
        *base = over;
    }
}

fn option<T>(base: &mut Option<T>, over: Option<T>) {
    if over.is_some() {
        *base = over;
    }
}

fn map<V>(base: &mut BTreeMap<String, V>, over: BTreeMap<String, V>) {
    base.extend(over);
}

/// docker merges environments with mergo, which skips empty override values: a variable left
/// unset (null, and not in the shell either) or set to "" in a later file keeps the earlier
/// file's value; it is only added when no earlier file has it.
fn environment(
    base: &mut BTreeMap<String, Option<String>>,
    over: BTreeMap<String, Option<String>>,
) {
    for (key, value) in over {
        let empty = value.as_deref().is_none_or(str::is_empty);
        if !(empty && base.contains_key(&key)) {
            base.insert(key, value);
        }
    }
}

/// Merge a list by a key; the result is sorted by that key (docker rebuilds it from a map).
/// An empty base takes the override as it is (docker's transformer only runs on a non-empty base).
fn keyed<T, K: Ord>(base: &mut Vec<T>, over: Vec<T>, key: impl Fn(&T) -> K) {
    if base.is_empty() {
        *base = over;
        return;
    }
    let mut merged: BTreeMap<K, T> = BTreeMap::new();
    for item in base.drain(..).chain(over) {
        merged.insert(key(&item), item);
    }
    base.extend(merged.into_values());
}

fn merge_service(base: &mut Service, over: Service) {
    option(&mut base.image, over.image);
    // Commands are replaced when the override has one (docker/cli#1582, fixed in CLI 23).
    if over.command.as_ref().is_some_and(|c| !c.is_empty()) {
        base.command = over.command;
    }
    if over.entrypoint.as_ref().is_some_and(|c| !c.is_empty()) {
        base.entrypoint = over.entrypoint;
    }
    environment(&mut base.environment, over.environment);
    base.env_file.extend(over.env_file);
    map(&mut base.labels, over.labels);
    string(&mut base.hostname, over.hostname);
    string(&mut base.user, over.user);
    string(&mut base.working_dir, over.working_dir);
    string(&mut base.stop_signal, over.stop_signal);
    string(&mut base.isolation, over.isolation);
    base.read_only |= over.read_only;
    base.tty |= over.tty;
    base.stdin_open |= over.stdin_open;
    option(&mut base.init, over.init);
    option(&mut base.stop_grace_period, over.stop_grace_period);
    base.extra_hosts.extend(over.extra_hosts);
    base.dns.extend(over.dns);
    base.dns_search.extend(over.dns_search);
    base.cap_add.extend(over.cap_add);
    base.cap_drop.extend(over.cap_drop);
    map(&mut base.ulimits, over.ulimits);
    map(&mut base.sysctls, over.sysctls);
    merge_healthcheck(&mut base.healthcheck, over.healthcheck);
    merge_logging(&mut base.logging, over.logging);
    option(&mut base.credential_spec, over.credential_spec);
    keyed(&mut base.secrets, over.secrets, |s| s.source.value.clone());
    keyed(&mut base.configs, over.configs, |s| s.source.value.clone());
    keyed(&mut base.volumes, over.volumes, |v| v.target.clone());
    keyed(&mut base.ports, over.ports, |p| p.published);
    match (&mut base.networks, over.networks) {
        (Some(networks), Some(over)) => {
            for (name, net) in over {
                let entry = networks.entry(name).or_default();
                entry.aliases = net.aliases;
                string(&mut entry.ipv4_address, net.ipv4_address);
                string(&mut entry.ipv6_address, net.ipv6_address);
                map(&mut entry.driver_opts, net.driver_opts);
            }
        }
        (base_networks, over) => option(base_networks, over),
    }
    merge_deploy(&mut base.deploy, over.deploy);
    option(&mut base.restart, over.restart);
    base.depends_on.extend(over.depends_on);
    base.profiles.extend(over.profiles);
    option(&mut base.oom_score_adj, over.oom_score_adj);
}

fn merge_healthcheck(base: &mut Option<Healthcheck>, over: Option<Healthcheck>) {
    let (Some(b), Some(o)) = (base.as_mut(), over.as_ref()) else {
        return option(base, over);
    };
    let o = o.clone();
    option(&mut b.test, o.test);
    option(&mut b.interval, o.interval);
    option(&mut b.timeout, o.timeout);
    option(&mut b.start_period, o.start_period);
    option(&mut b.start_interval, o.start_interval);
    option(&mut b.retries, o.retries);
    b.disable |= o.disable;
}

/// Same driver (or one side without one): options merge; otherwise the override replaces.
fn merge_logging(base: &mut Option<Logging>, over: Option<Logging>) {
    let (Some(b), Some(o)) = (base.as_mut(), over.as_ref()) else {
        return option(base, over);
    };
    if b.driver == o.driver || b.driver.is_empty() || o.driver.is_empty() {
        if b.driver.is_empty() {
            b.driver.clone_from(&o.driver);
        }
        map(&mut b.options, o.options.clone());
    } else {
        *base = over;
    }
}

fn merge_deploy(base: &mut Deploy, over: Deploy) {
    option(&mut base.mode, over.mode);
    option(&mut base.replicas, over.replicas);
    map(&mut base.labels, over.labels);
    merge_update(&mut base.update_config, over.update_config);
    merge_update(&mut base.rollback_config, over.rollback_config);
    merge_resources(&mut base.resources, over.resources);
    match (&mut base.restart_policy, over.restart_policy) {
        (Some(b), Some(o)) => {
            string(&mut b.condition, o.condition);
            option(&mut b.delay, o.delay);
            option(&mut b.max_attempts, o.max_attempts);
            option(&mut b.window, o.window);
        }
        (b, o) => option(b, o),
    }
    merge_placement(&mut base.placement, over.placement);
    string(&mut base.endpoint_mode, over.endpoint_mode);
}

fn merge_update(base: &mut Option<UpdateConfig>, over: Option<UpdateConfig>) {
    let (Some(b), Some(o)) = (base.as_mut(), over.as_ref()) else {
        return option(base, over);
    };
    option(&mut b.parallelism, o.parallelism);
    if o.delay.0 != 0 {
        b.delay = o.delay;
    }
    string(&mut b.failure_action, o.failure_action.clone());
    if o.monitor.0 != 0 {
        b.monitor = o.monitor;
    }
    if o.max_failure_ratio != 0.0 {
        b.max_failure_ratio = o.max_failure_ratio;
    }
    string(&mut b.order, o.order.clone());
}

fn merge_resources(base: &mut Resources, over: Resources) {
    match (&mut base.limits, over.limits) {
        (Some(b), Some(o)) => {
            nonzero(&mut b.nano_cpus, o.nano_cpus);
            nonzero(&mut b.memory_bytes, o.memory_bytes);
            nonzero(&mut b.pids, o.pids);
        }
        (b, o) => option(b, o),
    }
    match (&mut base.reservations, over.reservations) {
        (Some(b), Some(o)) => {
            nonzero(&mut b.nano_cpus, o.nano_cpus);
            nonzero(&mut b.memory_bytes, o.memory_bytes);
            b.generic_resources.extend(o.generic_resources);
        }
        (b, o) => option(b, o),
    }
}

fn nonzero(base: &mut i64, over: i64) {
    if over != 0 {
        *base = over;
    }
}

fn merge_placement(base: &mut Placement, over: Placement) {
    base.constraints.extend(over.constraints);
    base.preferences.extend(over.preferences);
    if over.max_replicas_per_node != 0 {
        base.max_replicas_per_node = over.max_replicas_per_node;
    }
}
