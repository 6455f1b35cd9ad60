//! Every mapping the loader checks, and the keys it accepts there. One table, so the decoders
//! and the test that the shipped examples exercise every accepted key read the same list.

/// The keys allowed in the mappings found at `at` (path patterns: `*` for any service, network,
/// ... name, `[]` for any list item; see [`super::versions::pattern`]).
pub(crate) struct Keys {
    pub at: &'static [&'static str],
    pub names: &'static [&'static str],
}

const fn keys(at: &'static [&'static str], names: &'static [&'static str]) -> Keys {
    Keys { at, names }
}

pub(crate) const TOP: Keys = keys(
    &[""],
    &[
        "version", "name", "include", "services", "networks", "volumes", "secrets", "configs",
    ],
);

/// The long form of an `include:` item (compose's `env_file` and `project_directory` are not
/// supported, so they are refused rather than ignored).
pub(crate) const INCLUDE: Keys = keys(&["include.[]"], &["path"]);

/// docker's schema 3.13 plus compose-spec `profiles`.
pub(crate) const SERVICE: Keys = keys(
    &["services.*"],
    &[
        "build",
        "cap_add",
        "cap_drop",
        "cgroup_parent",
        "cgroupns_mode",
        "command",
        "configs",
        "container_name",
        "credential_spec",
        "depends_on",
        "deploy",
        "devices",
        "dns",
        "dns_search",
        "domainname",
        "entrypoint",
        "env_file",
        "environment",
        "expose",
        "external_links",
        "extra_hosts",
        "healthcheck",
        "hostname",
        "image",
        "init",
        "ipc",
        "isolation",
        "labels",
        "links",
        "logging",
        "mac_address",
        "network_mode",
        "networks",
        "oom_score_adj",
        "pid",
        "ports",
        "privileged",
        "profiles",
        "read_only",
        "restart",
        "secrets",
        "security_opt",
        "shm_size",
        "stdin_open",
        "stop_grace_period",
        "stop_signal",
        "sysctls",
        "tmpfs",
        "tty",
        "ulimits",
        "user",
        "userns_mode",
        "volumes",
        "working_dir",
    ],
);

pub(crate) const ULIMIT: Keys = keys(&["services.*.ulimits.*"], &["soft", "hard"]);

pub(crate) const HEALTHCHECK: Keys = keys(
    &["services.*.healthcheck"],
    &[
        "disable",
        "interval",
        "retries",
        "test",
        "timeout",
        "start_period",
        "start_interval",
    ],
);

pub(crate) const LOGGING: Keys = keys(&["services.*.logging"], &["driver", "options"]);

pub(crate) const CREDENTIAL_SPEC: Keys = keys(
    &["services.*.credential_spec"],
    &["config", "file", "registry"],
);

/// The long form of a service's `secrets:` and `configs:` items.
pub(crate) const OBJECT_REF: Keys = keys(
    &["services.*.secrets.[]", "services.*.configs.[]"],
    &["source", "target", "uid", "gid", "mode"],
);

pub(crate) const SERVICE_NETWORK: Keys = keys(
    &["services.*.networks.*"],
    &["aliases", "driver_opts", "ipv4_address", "ipv6_address"],
);

pub(crate) const PORT: Keys = keys(
    &["services.*.ports.[]"],
    &["mode", "target", "published", "protocol"],
);

pub(crate) const VOLUME_MOUNT: Keys = keys(
    &["services.*.volumes.[]"],
    &[
        "type",
        "source",
        "target",
        "read_only",
        "consistency",
        "bind",
        "volume",
        "tmpfs",
    ],
);
pub(crate) const BIND_OPTIONS: Keys = keys(&["services.*.volumes.[].bind"], &["propagation"]);
pub(crate) const VOLUME_OPTIONS: Keys =
    keys(&["services.*.volumes.[].volume"], &["nocopy", "subpath"]);
pub(crate) const TMPFS_OPTIONS: Keys = keys(&["services.*.volumes.[].tmpfs"], &["size"]);

pub(crate) const DEPLOY: Keys = keys(
    &["services.*.deploy"],
    &[
        "mode",
        "endpoint_mode",
        "replicas",
        "labels",
        "rollback_config",
        "update_config",
        "resources",
        "restart_policy",
        "placement",
    ],
);
pub(crate) const UPDATE_CONFIG: Keys = keys(
    &[
        "services.*.deploy.update_config",
        "services.*.deploy.rollback_config",
    ],
    &[
        "parallelism",
        "delay",
        "failure_action",
        "monitor",
        "max_failure_ratio",
        "order",
    ],
);
pub(crate) const RESTART_POLICY: Keys = keys(
    &["services.*.deploy.restart_policy"],
    &["condition", "delay", "max_attempts", "window"],
);
pub(crate) const PLACEMENT: Keys = keys(
    &["services.*.deploy.placement"],
    &["constraints", "preferences", "max_replicas_per_node"],
);
pub(crate) const PREFERENCE: Keys =
    keys(&["services.*.deploy.placement.preferences.[]"], &["spread"]);
pub(crate) const RESOURCES: Keys = keys(
    &["services.*.deploy.resources"],
    &["limits", "reservations"],
);
pub(crate) const LIMITS: Keys = keys(
    &["services.*.deploy.resources.limits"],
    &["cpus", "memory", "pids"],
);
pub(crate) const RESERVATIONS: Keys = keys(
    &["services.*.deploy.resources.reservations"],
    &["cpus", "memory", "generic_resources"],
);
pub(crate) const GENERIC_RESOURCE: Keys = keys(
    &["services.*.deploy.resources.reservations.generic_resources.[]"],
    &["discrete_resource_spec"],
);
pub(crate) const DISCRETE_RESOURCE: Keys = keys(
    &["services.*.deploy.resources.reservations.generic_resources.[].discrete_resource_spec"],
    &["kind", "value"],
);

pub(crate) const NETWORK: Keys = keys(
    &["networks.*"],
    &[
        "name",
        "driver",
        "driver_opts",
        "ipam",
        "external",
        "internal",
        "attachable",
        "labels",
    ],
);
pub(crate) const IPAM: Keys = keys(&["networks.*.ipam"], &["driver", "config"]);
pub(crate) const IPAM_CONFIG: Keys = keys(&["networks.*.ipam.config.[]"], &["subnet"]);

pub(crate) const VOLUME: Keys = keys(
    &["volumes.*"],
    &["name", "driver", "driver_opts", "external", "labels"],
);

pub(crate) const SECRET: Keys = keys(
    &["secrets.*"],
    &[
        "name",
        "file",
        "external",
        "labels",
        "driver",
        "driver_opts",
        "template_driver",
    ],
);
pub(crate) const CONFIG: Keys = keys(
    &["configs.*"],
    &["name", "file", "external", "labels", "template_driver"],
);

/// The deprecated `external: {name: ...}` form.
pub(crate) const EXTERNAL: Keys = keys(
    &[
        "networks.*.external",
        "volumes.*.external",
        "secrets.*.external",
        "configs.*.external",
    ],
    &["name"],
);

const ALL: &[&Keys] = &[
    &TOP,
    &INCLUDE,
    &SERVICE,
    &ULIMIT,
    &HEALTHCHECK,
    &LOGGING,
    &CREDENTIAL_SPEC,
    &OBJECT_REF,
    &SERVICE_NETWORK,
    &PORT,
    &VOLUME_MOUNT,
    &BIND_OPTIONS,
    &VOLUME_OPTIONS,
    &TMPFS_OPTIONS,
    &DEPLOY,
    &UPDATE_CONFIG,
    &RESTART_POLICY,
    &PLACEMENT,
    &PREFERENCE,
    &RESOURCES,
    &LIMITS,
    &RESERVATIONS,
    &GENERIC_RESOURCE,
    &DISCRETE_RESOURCE,
    &NETWORK,
    &IPAM,
    &IPAM_CONFIG,
    &VOLUME,
    &SECRET,
    &CONFIG,
    &EXTERNAL,
];

/// Every accepted key as a dotted path pattern, e.g. `services.*.deploy.update_config.order`.
#[must_use]
pub fn accepted() -> Vec<String> {
    let mut out = Vec::new();
    for set in ALL {
        for at in set.at {
            for name in set.names {
                out.push(if at.is_empty() {
                    (*name).to_owned()
                } else {
                    format!("{at}.{name}")
                });
            }
        }
    }
    out
}
