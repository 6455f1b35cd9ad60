//! The one door to Docker: the [`Engine`] trait every Engine API call goes through, and its parts.
//!
//! [`DockerEngine`] implements it over bollard; [`Counting`] wraps any engine to count calls.
//! Connect with [`connect`], which finds the daemon the way the docker CLI does.
//!
//! Observing one stack costs a fixed number of LIST calls, however many services it has: its
//! services (every `<stack>_…` name, one call), all networks, configs and secrets (docker adopts
//! same-named ones), and the nodes (placement).

mod connect;
mod context_store;
mod counting;
mod docker;
mod error;
mod probe;
mod raw;
pub mod registry_auth;
pub mod spec;
mod transport;
mod version_pin;

use std::future::Future;

use futures::Stream;

use bollard::auth::DockerCredentials;
use bollard::models::{
    Config, ConfigSpec, Network, NetworkCreateRequest, Node, Secret, SecretSpec, Service,
    ServiceSpec, Task,
};

pub use connect::{ConnectOptions, Endpoint, EndpointSource, TlsFiles, connect, resolve_endpoint};
pub use counting::{Call, CallCounts, Counting};
pub use docker::DockerEngine;
pub use error::EngineError;
pub use probe::Probe;

/// What the daemon answered to a create: the new object's ID and any warnings to show the user.
/// A registry's answer about an image: its digest and the platforms it is built for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResolvedImage {
    pub digest: String,
    /// `(architecture, os)` pairs.
    pub platforms: Vec<(String, String)>,
}

/// A change the daemon reports on its event stream (`GET /events`), for the objects a stack is
/// made of: services, networks, configs and secrets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineEvent {
    /// `service`, `network`, `config` or `secret`.
    pub kind: String,
    /// `create`, `update`, `remove`, ...
    pub action: String,
    pub id: String,
    /// The object's name, when the daemon gives it.
    pub name: String,
    /// When it happened, in nanoseconds since the Unix epoch (to resume a stream without gaps).
    pub time_nanos: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Created {
    pub id: String,
    /// Non-fatal messages from the daemon (e.g. an image that could not be pinned by digest).
    pub warnings: Vec<String>,
}

/// The Engine API calls stackctl makes. Generic callers take `E: Engine`; no `dyn` is needed.
///
/// Object versions (`version`) are the `Version.Index` read with the object: the daemon rejects a
/// write whose version is stale with [`EngineError::VersionConflict`]; re-read and retry.
///
/// Calls taking a list of names or IDs make no request when the list is empty (and return an
/// empty list): implementations must keep to that, because [`Counting`] does not count them.
pub trait Engine: Send + Sync {
    /// The Engine API version requests carry, e.g. `1.41`: settled at connect time (see
    /// [`Probe::api_version`]). Makes no request.
    fn api_version(&self) -> &str;

    /// One `GET /info`: versions, node ID and whether this node can manage the swarm.
    fn probe(&self) -> impl Future<Output = Result<Probe, EngineError>> + Send;

    /// The stack's services, with their specs as stored (no status, no inserted defaults).
    fn list_services(
        &self,
        stack: &str,
    ) -> impl Future<Output = Result<Vec<Service>, EngineError>> + Send;

    /// The stack's services as the daemon's own JSON, every field kept: bollard's `Service`
    /// lacks `PreviousSpec` (and any field newer than its models). Same filter as
    /// [`Engine::list_services`].
    fn list_services_raw(
        &self,
        stack: &str,
    ) -> impl Future<Output = Result<Vec<serde_json::Value>, EngineError>> + Send;

    /// Services whose name starts with `prefix`, whatever stack (or none) they belong to, in one
    /// call, as the daemon's own JSON (like [`Engine::list_services_raw`]): the daemon's `name`
    /// filter matches prefixes. With `<stack>_` these are every service holding a name the
    /// stack's services would take, and (docker names them so) the stack's own services.
    fn list_services_prefixed(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<serde_json::Value>, EngineError>> + Send;

    /// The stack's networks (those carrying its label).
    fn list_networks(
        &self,
        stack: &str,
    ) -> impl Future<Output = Result<Vec<Network>, EngineError>> + Send;

    /// The stack's configs (those carrying its label).
    fn list_configs(
        &self,
        stack: &str,
    ) -> impl Future<Output = Result<Vec<Config>, EngineError>> + Send;

    /// The stack's secrets (those carrying its label); the daemon never returns secret data.
    fn list_secrets(
        &self,
        stack: &str,
    ) -> impl Future<Output = Result<Vec<Secret>, EngineError>> + Send;

    /// Names of the stack's volumes on the node this engine talks to (volumes are per node;
    /// Swarm creates them, labelled with the stack, when a task first mounts them).
    fn list_volumes(
        &self,
        stack: &str,
    ) -> impl Future<Output = Result<Vec<String>, EngineError>> + Send;

    /// Every network, config or secret of the swarm, in one call each. The planner needs them
    /// all: docker adopts same-named configs and secrets, resolves external networks by name,
    /// and attachment targets come back as network IDs.
    /// Ask the daemon to look `image` up in its registry: its digest and platforms
    /// (`GET /distribution/{image}/json`), as `docker stack deploy --resolve-image` does.
    fn resolve_image(
        &self,
        image: &str,
        auth: Option<&DockerCredentials>,
    ) -> impl Future<Output = Result<ResolvedImage, EngineError>> + Send;

    fn list_all_networks(&self) -> impl Future<Output = Result<Vec<Network>, EngineError>> + Send;

    fn list_all_configs(&self) -> impl Future<Output = Result<Vec<Config>, EngineError>> + Send;

    fn list_all_secrets(&self) -> impl Future<Output = Result<Vec<Secret>, EngineError>> + Send;

    /// Networks whose name is exactly one of `names`, in one call, of every scope: the caller
    /// checks `Scope == "swarm"` (as `docker stack deploy` does for external networks, with its
    /// own error). Predefined networks (`host`, `bridge`, …) are returned like any other.
    fn list_networks_named(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<Network>, EngineError>> + Send;

    /// Configs whose name is exactly one of `names`, in one call.
    fn list_configs_named(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<Config>, EngineError>> + Send;

    /// Secrets whose name is exactly one of `names`, in one call.
    fn list_secrets_named(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<Secret>, EngineError>> + Send;

    /// The name of the network with this ID. Swarm gives the predefined `host` and `bridge`
    /// networks swarm-side IDs that no network list shows; services refer to them by those.
    fn network_name(&self, id: &str) -> impl Future<Output = Result<String, EngineError>> + Send;

    /// One service by ID or name, spec as stored (for re-reads after a version conflict).
    fn inspect_service(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Service, EngineError>> + Send;

    /// The tasks of these services (all desired states), in one call.
    fn list_tasks(
        &self,
        service_ids: &[String],
    ) -> impl Future<Output = Result<Vec<Task>, EngineError>> + Send;

    /// Every node of the swarm.
    fn list_nodes(&self) -> impl Future<Output = Result<Vec<Node>, EngineError>> + Send;

    /// Create a service; `auth` is sent as `X-Registry-Auth` so workers can pull the image.
    fn create_service(
        &self,
        spec: &ServiceSpec,
        auth: Option<&DockerCredentials>,
    ) -> impl Future<Output = Result<Created, EngineError>> + Send;

    /// Replace a service's spec; returns the daemon's warnings.
    fn update_service(
        &self,
        id: &str,
        version: u64,
        spec: &ServiceSpec,
        auth: Option<&DockerCredentials>,
    ) -> impl Future<Output = Result<Vec<String>, EngineError>> + Send;

    /// Roll a service back to its `PreviousSpec` (`POST /services/{id}/update?rollback=previous`).
    /// The daemon still requires and validates a body: send the service's current spec (build it
    /// with [`spec::service_spec_from_json`], which keeps the health check). Fails when the
    /// service has no previous spec. Returns the daemon's warnings.
    fn rollback_service(
        &self,
        id: &str,
        version: u64,
        spec: &ServiceSpec,
    ) -> impl Future<Output = Result<Vec<String>, EngineError>> + Send;

    fn remove_service(&self, id: &str) -> impl Future<Output = Result<(), EngineError>> + Send;

    fn create_network(
        &self,
        request: &NetworkCreateRequest,
    ) -> impl Future<Output = Result<Created, EngineError>> + Send;

    fn remove_network(&self, id: &str) -> impl Future<Output = Result<(), EngineError>> + Send;

    fn create_config(
        &self,
        spec: &ConfigSpec,
    ) -> impl Future<Output = Result<Created, EngineError>> + Send;

    /// Swarm only lets labels change on a config; the data is immutable.
    fn update_config(
        &self,
        id: &str,
        version: u64,
        spec: &ConfigSpec,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;

    fn remove_config(&self, id: &str) -> impl Future<Output = Result<(), EngineError>> + Send;

    fn create_secret(
        &self,
        spec: &SecretSpec,
    ) -> impl Future<Output = Result<Created, EngineError>> + Send;

    /// Swarm only lets labels change on a secret; the data is immutable.
    fn update_secret(
        &self,
        id: &str,
        version: u64,
        spec: &SecretSpec,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;

    fn remove_secret(&self, id: &str) -> impl Future<Output = Result<(), EngineError>> + Send;

    /// Remove a volume of this node by name (refused while a container uses it).
    fn remove_volume(&self, name: &str) -> impl Future<Output = Result<(), EngineError>> + Send;

    /// The swarm's service, network, config and secret events from `since_nanos` (or now) on,
    /// as one long-lived stream; it ends when the connection does (resume from the last event).
    fn events(
        &self,
        since_nanos: Option<i64>,
    ) -> impl Stream<Item = Result<EngineEvent, EngineError>> + Send + '_;
}
