//! [`Counting`]: an [`Engine`] wrapper that counts calls per method, reads and writes, so tests
//! can hold the planner to its call budget and apply to "no writes when nothing changed".

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::{Mutex, PoisonError};

use bollard::auth::DockerCredentials;
use bollard::models::{
    Config, ConfigSpec, Network, NetworkCreateRequest, Node, Secret, SecretSpec, Service,
    ServiceSpec, Task,
};

use futures::Stream;

use super::{Created, Engine, EngineError, EngineEvent, Probe, ResolvedImage};

/// One [`Engine`] method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Call {
    Probe,
    ListServices,
    ListServicesRaw,
    ListServicesPrefixed,
    ListNetworks,
    ListConfigs,
    ListSecrets,
    ListVolumes,
    ResolveImage,
    ListAllNetworks,
    ListAllConfigs,
    ListAllSecrets,
    ListNetworksNamed,
    ListConfigsNamed,
    ListSecretsNamed,
    InspectService,
    InspectNetwork,
    ListTasks,
    ListNodes,
    CreateService,
    UpdateService,
    RollbackService,
    RemoveService,
    CreateNetwork,
    RemoveNetwork,
    CreateConfig,
    UpdateConfig,
    RemoveConfig,
    CreateSecret,
    UpdateSecret,
    RemoveSecret,
    RemoveVolume,
    Events,
}

impl Call {
    /// Whether the call changes cluster state.
    #[must_use]
    pub fn is_write(self) -> bool {
        matches!(
            self,
            Self::CreateService
                | Self::UpdateService
                | Self::RollbackService
                | Self::RemoveService
                | Self::CreateNetwork
                | Self::RemoveNetwork
                | Self::CreateConfig
                | Self::UpdateConfig
                | Self::RemoveConfig
                | Self::CreateSecret
                | Self::UpdateSecret
                | Self::RemoveSecret
                | Self::RemoveVolume
        )
    }
}

/// Calls made so far, per method; methods never called are absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallCounts {
    counts: BTreeMap<Call, u64>,
}

impl CallCounts {
    #[must_use]
    pub fn get(&self, call: Call) -> u64 {
        self.counts.get(&call).copied().unwrap_or(0)
    }

    #[must_use]
    pub fn reads(&self) -> u64 {
        self.sum(|call| !call.is_write())
    }

    #[must_use]
    pub fn writes(&self) -> u64 {
        self.sum(Call::is_write)
    }

    #[must_use]
    pub fn total(&self) -> u64 {
        self.sum(|_| true)
    }

    fn sum(&self, keep: impl Fn(Call) -> bool) -> u64 {
        self.counts
            .iter()
            .filter(|(call, _)| keep(**call))
            .map(|(_, n)| n)
            .sum()
    }
}

/// `ListServices=1 Probe=1 (2 reads, 0 writes)`: readable in an assertion message.
impl fmt::Display for CallCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (call, count) in &self.counts {
            write!(f, "{call:?}={count} ")?;
        }
        write!(f, "({} reads, {} writes)", self.reads(), self.writes())
    }
}

/// Wraps an engine and counts every call (failed reads too: a request was made; writes the
/// daemon refused are not, see [`Counting::write`]). Calls given an empty list of names or IDs
/// are not counted, since engines send no request for them.
#[derive(Debug)]
pub struct Counting<E> {
    inner: E,
    counts: Mutex<CallCounts>,
}

impl<E> Counting<E> {
    #[must_use]
    pub fn new(inner: E) -> Self {
        Self {
            inner,
            counts: Mutex::new(CallCounts::default()),
        }
    }

    /// The counts so far.
    #[must_use]
    pub fn calls(&self) -> CallCounts {
        self.lock().clone()
    }

    /// Start counting from zero (e.g. after a test's set-up).
    pub fn reset(&self) {
        *self.lock() = CallCounts::default();
    }

    #[must_use]
    pub fn inner(&self) -> &E {
        &self.inner
    }

    fn record(&self, call: Call) {
        *self.lock().counts.entry(call).or_insert(0) += 1;
    }

    /// Count a write once answered, unless the daemon refused it: a refused write changed
    /// nothing (a lock found taken, a stale version). A broken connection counts: the write
    /// may have landed.
    async fn write<T>(&self, call: Call, answer: impl Future<Output = Answer<T>>) -> Answer<T> {
        let answer = answer.await;
        if !answer.as_ref().is_err_and(EngineError::is_refusal) {
            self.record(call);
        }
        answer
    }

    fn record_unless_empty(&self, call: Call, list: &[String]) {
        if !list.is_empty() {
            self.record(call);
        }
    }

    /// A panic while holding the lock leaves the counts usable: they are plain numbers.
    fn lock(&self) -> std::sync::MutexGuard<'_, CallCounts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

type Answer<T> = Result<T, EngineError>;

impl<E: Engine> Engine for Counting<E> {
    fn api_version(&self) -> &str {
        self.inner.api_version()
    }

    fn probe(&self) -> impl Future<Output = Answer<Probe>> + Send {
        self.record(Call::Probe);
        self.inner.probe()
    }

    fn list_services(&self, stack: &str) -> impl Future<Output = Answer<Vec<Service>>> + Send {
        self.record(Call::ListServices);
        self.inner.list_services(stack)
    }

    fn list_services_raw(
        &self,
        stack: &str,
    ) -> impl Future<Output = Answer<Vec<serde_json::Value>>> + Send {
        self.record(Call::ListServicesRaw);
        self.inner.list_services_raw(stack)
    }

    fn list_services_prefixed(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Answer<Vec<serde_json::Value>>> + Send {
        self.record(Call::ListServicesPrefixed);
        self.inner.list_services_prefixed(prefix)
    }

    fn list_networks(&self, stack: &str) -> impl Future<Output = Answer<Vec<Network>>> + Send {
        self.record(Call::ListNetworks);
        self.inner.list_networks(stack)
    }

    fn list_configs(&self, stack: &str) -> impl Future<Output = Answer<Vec<Config>>> + Send {
        self.record(Call::ListConfigs);
        self.inner.list_configs(stack)
    }

    fn list_secrets(&self, stack: &str) -> impl Future<Output = Answer<Vec<Secret>>> + Send {
        self.record(Call::ListSecrets);
        self.inner.list_secrets(stack)
    }

    fn list_volumes(&self, stack: &str) -> impl Future<Output = Answer<Vec<String>>> + Send {
        self.record(Call::ListVolumes);
        self.inner.list_volumes(stack)
    }

    fn resolve_image(
        &self,
        image: &str,
        auth: Option<&DockerCredentials>,
    ) -> impl Future<Output = Answer<ResolvedImage>> + Send {
        self.record(Call::ResolveImage);
        self.inner.resolve_image(image, auth)
    }

    fn list_all_networks(&self) -> impl Future<Output = Answer<Vec<Network>>> + Send {
        self.record(Call::ListAllNetworks);
        self.inner.list_all_networks()
    }

    fn list_all_configs(&self) -> impl Future<Output = Answer<Vec<Config>>> + Send {
        self.record(Call::ListAllConfigs);
        self.inner.list_all_configs()
    }

    fn list_all_secrets(&self) -> impl Future<Output = Answer<Vec<Secret>>> + Send {
        self.record(Call::ListAllSecrets);
        self.inner.list_all_secrets()
    }

    fn list_networks_named(
        &self,
        names: &[String],
    ) -> impl Future<Output = Answer<Vec<Network>>> + Send {
        self.record_unless_empty(Call::ListNetworksNamed, names);
        self.inner.list_networks_named(names)
    }

    fn list_configs_named(
        &self,
        names: &[String],
    ) -> impl Future<Output = Answer<Vec<Config>>> + Send {
        self.record_unless_empty(Call::ListConfigsNamed, names);
        self.inner.list_configs_named(names)
    }

    fn list_secrets_named(
        &self,
        names: &[String],
    ) -> impl Future<Output = Answer<Vec<Secret>>> + Send {
        self.record_unless_empty(Call::ListSecretsNamed, names);
        self.inner.list_secrets_named(names)
    }

    fn network_name(&self, id: &str) -> impl Future<Output = Answer<String>> + Send {
        self.record(Call::InspectNetwork);
        self.inner.network_name(id)
    }

    fn inspect_service(&self, id: &str) -> impl Future<Output = Answer<Service>> + Send {
        self.record(Call::InspectService);
        self.inner.inspect_service(id)
    }

    fn list_tasks(&self, service_ids: &[String]) -> impl Future<Output = Answer<Vec<Task>>> + Send {
        self.record_unless_empty(Call::ListTasks, service_ids);
        self.inner.list_tasks(service_ids)
    }

    fn list_nodes(&self) -> impl Future<Output = Answer<Vec<Node>>> + Send {
        self.record(Call::ListNodes);
        self.inner.list_nodes()
    }

    fn create_service(
        &self,
        spec: &ServiceSpec,
        auth: Option<&DockerCredentials>,
    ) -> impl Future<Output = Answer<Created>> + Send {
        self.write(Call::CreateService, self.inner.create_service(spec, auth))
    }

    fn update_service(
        &self,
        id: &str,
        version: u64,
        spec: &ServiceSpec,
        auth: Option<&DockerCredentials>,
    ) -> impl Future<Output = Answer<Vec<String>>> + Send {
        self.write(
            Call::UpdateService,
            self.inner.update_service(id, version, spec, auth),
        )
    }

    fn rollback_service(
        &self,
        id: &str,
        version: u64,
        spec: &ServiceSpec,
    ) -> impl Future<Output = Answer<Vec<String>>> + Send {
        self.write(
            Call::RollbackService,
            self.inner.rollback_service(id, version, spec),
        )
    }

    fn remove_service(&self, id: &str) -> impl Future<Output = Answer<()>> + Send {
        self.write(Call::RemoveService, self.inner.remove_service(id))
    }

    fn create_network(
        &self,
        request: &NetworkCreateRequest,
    ) -> impl Future<Output = Answer<Created>> + Send {
        self.write(Call::CreateNetwork, self.inner.create_network(request))
    }

    fn remove_network(&self, id: &str) -> impl Future<Output = Answer<()>> + Send {
        self.write(Call::RemoveNetwork, self.inner.remove_network(id))
    }

    fn create_config(&self, spec: &ConfigSpec) -> impl Future<Output = Answer<Created>> + Send {
        self.write(Call::CreateConfig, self.inner.create_config(spec))
    }

    fn update_config(
        &self,
        id: &str,
        version: u64,
        spec: &ConfigSpec,
    ) -> impl Future<Output = Answer<()>> + Send {
        self.write(
            Call::UpdateConfig,
            self.inner.update_config(id, version, spec),
        )
    }

    fn remove_config(&self, id: &str) -> impl Future<Output = Answer<()>> + Send {
        self.write(Call::RemoveConfig, self.inner.remove_config(id))
    }

    fn create_secret(&self, spec: &SecretSpec) -> impl Future<Output = Answer<Created>> + Send {
        self.write(Call::CreateSecret, self.inner.create_secret(spec))
    }

    fn update_secret(
        &self,
        id: &str,
        version: u64,
        spec: &SecretSpec,
    ) -> impl Future<Output = Answer<()>> + Send {
        self.write(
            Call::UpdateSecret,
            self.inner.update_secret(id, version, spec),
        )
    }

    fn remove_secret(&self, id: &str) -> impl Future<Output = Answer<()>> + Send {
        self.write(Call::RemoveSecret, self.inner.remove_secret(id))
    }

    fn remove_volume(&self, name: &str) -> impl Future<Output = Answer<()>> + Send {
        self.write(Call::RemoveVolume, self.inner.remove_volume(name))
    }

    fn events(
        &self,
        since_nanos: Option<i64>,
    ) -> impl Stream<Item = Answer<EngineEvent>> + Send + '_ {
        self.record(Call::Events);
        self.inner.events(since_nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::{Call, CallCounts};

    #[test]
    fn reads_and_writes_are_told_apart() {
        let mut counts = CallCounts::default();
        for (call, n) in [
            (Call::Probe, 1),
            (Call::ListServices, 2),
            (Call::UpdateService, 3),
        ] {
            counts.counts.insert(call, n);
        }
        assert_eq!((counts.reads(), counts.writes(), counts.total()), (3, 3, 6));
        assert_eq!(counts.get(Call::RemoveSecret), 0);
        assert_eq!(
            counts.to_string(),
            "Probe=1 ListServices=2 UpdateService=3 (3 reads, 3 writes)"
        );
        assert!(!Call::ListNodes.is_write() && Call::CreateService.is_write());
        assert!(Call::RemoveSecret.is_write() && !Call::InspectService.is_write());
    }
}
