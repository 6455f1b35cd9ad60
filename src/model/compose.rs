//! Typed stack-file contents, shaped after docker's compose types once its loader has applied
//! its transforms (short syntaxes expanded, environment resolved, paths made absolute).

use std::collections::BTreeMap;
use std::path::PathBuf;

use indexmap::IndexMap;

use super::Duration;
use crate::load::node::{At, Span};

/// Everything the stack files describe, merged.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stack {
    /// Top-level `name:` (a compose-spec key), the stack name when `--stack` is not given.
    pub name: Option<At<String>>,
    /// Normalised schema version (`3.13` when the files have none).
    pub version: String,
    /// The directory relative paths were resolved against (the first file's directory).
    pub working_dir: PathBuf,
    pub services: BTreeMap<String, Service>,
    pub networks: BTreeMap<String, Network>,
    pub volumes: BTreeMap<String, Volume>,
    pub secrets: BTreeMap<String, FileObject>,
    pub configs: BTreeMap<String, FileObject>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    pub name: At<String>,
    pub image: Option<At<String>>,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// Resolved: `env_file` entries, overridden by `environment`, empty/null values filled from
    /// the process environment. `None` is a bare `KEY` (no value anywhere).
    pub environment: BTreeMap<String, Option<String>>,
    /// `env_file:` entries as written (already read into `environment` by the loader).
    pub env_file: Vec<At<String>>,
    pub labels: BTreeMap<String, String>,
    pub hostname: String,
    pub user: String,
    pub working_dir: String,
    pub stop_signal: String,
    pub isolation: String,
    pub read_only: bool,
    pub tty: bool,
    pub stdin_open: bool,
    pub init: Option<bool>,
    pub stop_grace_period: Option<Duration>,
    /// `host:ip` entries in file order.
    pub extra_hosts: Vec<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub ulimits: BTreeMap<String, Ulimit>,
    pub sysctls: BTreeMap<String, String>,
    pub healthcheck: Option<Healthcheck>,
    pub logging: Option<Logging>,
    pub credential_spec: Option<CredentialSpec>,
    pub secrets: Vec<ObjectRef>,
    pub configs: Vec<ObjectRef>,
    pub volumes: Vec<ServiceVolume>,
    /// `None` when the service has no `networks:` key (it then joins `default`).
    pub networks: Option<IndexMap<String, ServiceNetwork>>,
    pub ports: Vec<Port>,
    pub deploy: Deploy,
    /// Legacy `restart:`, used by docker when `deploy.restart_policy` is absent.
    pub restart: Option<At<String>>,
    /// Not used by Swarm; stackctl uses it as rollout order.
    pub depends_on: Vec<At<String>>,
    pub profiles: Vec<String>,
    pub oom_score_adj: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ulimit {
    Single(i64),
    SoftHard { soft: i64, hard: i64 },
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Healthcheck {
    pub test: Option<Vec<String>>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub start_period: Option<Duration>,
    pub start_interval: Option<Duration>,
    pub retries: Option<u64>,
    pub disable: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Logging {
    pub driver: String,
    pub options: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CredentialSpec {
    pub config: String,
    /// Where `config` was written, for the undefined-config error.
    pub config_span: Option<Span>,
    pub file: String,
    pub registry: String,
}

/// A service's reference to a top-level secret or config.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectRef {
    pub source: At<String>,
    pub target: String,
    pub uid: String,
    pub gid: String,
    pub mode: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VolumeType {
    Volume,
    Bind,
    Tmpfs,
    Npipe,
    Cluster,
    Image,
}

impl VolumeType {
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Volume => "volume",
            Self::Bind => "bind",
            Self::Tmpfs => "tmpfs",
            Self::Npipe => "npipe",
            Self::Cluster => "cluster",
            Self::Image => "image",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ServiceVolume {
    pub kind: VolumeType,
    /// Named volume key, absolute bind path, or empty (anonymous volume, tmpfs).
    pub source: String,
    pub target: String,
    pub read_only: bool,
    pub consistency: String,
    pub bind_propagation: Option<String>,
    pub volume_nocopy: Option<bool>,
    pub volume_subpath: String,
    pub tmpfs_size: Option<i64>,
    pub span: Span,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceNetwork {
    pub aliases: Vec<String>,
    pub driver_opts: BTreeMap<String, String>,
    pub ipv4_address: String,
    pub ipv6_address: String,
    pub span: Option<Span>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    /// `ingress`, `host`, or empty (long syntax without `mode`).
    pub mode: String,
    pub target: u32,
    pub published: u32,
    /// `tcp`, `udp`, `sctp`, or empty (long syntax without `protocol`).
    pub protocol: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Deploy {
    pub mode: Option<At<String>>,
    pub replicas: Option<u64>,
    pub labels: BTreeMap<String, String>,
    pub update_config: Option<UpdateConfig>,
    pub rollback_config: Option<UpdateConfig>,
    pub resources: Resources,
    pub restart_policy: Option<RestartPolicy>,
    pub placement: Placement,
    pub endpoint_mode: String,
}

/// `update_config` and `rollback_config` share one shape.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UpdateConfig {
    pub parallelism: Option<u64>,
    pub delay: Duration,
    pub failure_action: String,
    pub monitor: Duration,
    pub max_failure_ratio: f32,
    pub order: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub limits: Option<Limits>,
    pub reservations: Option<Reservations>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    pub nano_cpus: i64,
    pub memory_bytes: i64,
    pub pids: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reservations {
    pub nano_cpus: i64,
    pub memory_bytes: i64,
    pub generic_resources: Vec<(String, i64)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RestartPolicy {
    pub condition: String,
    pub delay: Option<Duration>,
    pub max_attempts: Option<u64>,
    pub window: Option<Duration>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Placement {
    pub constraints: Vec<String>,
    pub preferences: Vec<String>,
    pub max_replicas_per_node: u64,
}

/// How a top-level object is named in the cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct External {
    pub external: bool,
    /// `name:` (or the deprecated `external.name`); empty means "derive from the key".
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Network {
    pub naming: External,
    pub driver: String,
    pub driver_opts: BTreeMap<String, String>,
    pub ipam_driver: String,
    pub ipam_subnets: Vec<String>,
    pub internal: bool,
    pub attachable: bool,
    pub labels: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Volume {
    pub naming: External,
    pub driver: String,
    pub driver_opts: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// A top-level secret or config.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileObject {
    pub naming: External,
    /// Absolute path of `file:`.
    pub file: Option<PathBuf>,
    pub labels: BTreeMap<String, String>,
    pub driver: String,
    pub driver_opts: BTreeMap<String, String>,
    pub template_driver: String,
}
