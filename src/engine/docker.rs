//! [`DockerEngine`]: the [`Engine`] over bollard 0.21, one HTTP request per call.

use std::collections::HashMap;

use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::models::{
    Config, ConfigSpec, Network, NetworkCreateRequest, Node, Secret, SecretSpec, Service,
    ServiceSpec, Task,
};
use bollard::query_parameters::{
    EventsOptions, InspectServiceOptions, ListConfigsOptions, ListNetworksOptions,
    ListNodesOptions, ListSecretsOptions, ListServicesOptions, ListTasksOptions,
    UpdateConfigOptions, UpdateSecretOptions, UpdateServiceOptions,
};
use serde_json::{Value, json};

use super::error::Context;
use super::raw;
use super::transport::{self, TIMEOUT_SECONDS};
use super::{Created, Endpoint, Engine, EngineError, EngineEvent, Probe, ResolvedImage};
use crate::model::NAMESPACE_LABEL;

/// A connected daemon. Cheap to clone: clones share one bollard client.
#[derive(Clone, Debug)]
pub struct DockerEngine {
    docker: Docker,
    address: String,
    found_via: String,
    api_version: String,
}

type Filters = HashMap<String, Vec<String>>;

impl DockerEngine {
    /// Connect to `endpoint` and settle the API version: `DOCKER_API_VERSION` if set, else
    /// negotiated with one `GET /version` (the lower of the daemon's and bollard's).
    pub async fn connect(endpoint: &Endpoint) -> Result<Self, EngineError> {
        let (docker, api_version) = transport::open(endpoint).await?;
        Ok(Self {
            docker,
            address: endpoint.host.clone(),
            found_via: endpoint.source.to_string(),
            api_version,
        })
    }

    /// The API version every request carries, e.g. `1.41`.
    #[must_use]
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    fn fail(&self, object: &str) -> impl Fn(bollard::errors::Error) -> EngineError {
        let address = self.address.clone();
        let found_via = self.found_via.clone();
        let object = object.to_owned();
        move |err| {
            Context {
                address: &address,
                found_via: &found_via,
                seconds: TIMEOUT_SECONDS,
                object: &object,
            }
            .classify(err)
        }
    }
}

fn label_filter(stack: &str) -> Filters {
    HashMap::from([(
        "label".to_owned(),
        vec![format!("{NAMESPACE_LABEL}={stack}")],
    )])
}

/// The daemon's `name` filter matches substrings (networks) or prefixes (configs, secrets), so
/// it only narrows the answer; the exact match happens here.
fn name_filter(names: &[String]) -> Filters {
    HashMap::from([("name".to_owned(), names.to_vec())])
}

fn named<T>(items: Vec<T>, names: &[String], name: impl Fn(&T) -> Option<&str>) -> Vec<T> {
    items
        .into_iter()
        .filter(|item| name(item).is_some_and(|n| names.iter().any(|wanted| wanted == n)))
        .collect()
}

/// bollard 0.21 sends service versions as `i32` although swarm's are `u64`.
fn service_version(id: &str, version: u64) -> Result<i32, EngineError> {
    i32::try_from(version).map_err(|_| EngineError::Protocol {
        message: format!("service {id} has version {version}, above the i32 bollard 0.21 can send"),
    })
}

fn version_i64(id: &str, version: u64) -> Result<i64, EngineError> {
    i64::try_from(version).map_err(|_| EngineError::Protocol {
        message: format!("{id} has version {version}, above the i64 bollard 0.21 can send"),
    })
}

fn created(id: Option<String>, warnings: Option<Vec<String>>) -> Created {
    Created {
        id: id.unwrap_or_default(),
        warnings: warnings.unwrap_or_default(),
    }
}

impl Engine for DockerEngine {
    fn api_version(&self) -> &str {
        &self.api_version
    }

    async fn probe(&self) -> Result<Probe, EngineError> {
        let info = self.docker.info().await.map_err(self.fail("the daemon"))?;
        Ok(Probe::from_info(info, self.api_version.clone()))
    }

    async fn list_services(&self, stack: &str) -> Result<Vec<Service>, EngineError> {
        let options = ListServicesOptions {
            filters: Some(label_filter(stack)),
            status: Some(false),
        };
        let services = self.docker.list_services(Some(options)).await;
        services.map_err(self.fail("services"))
    }

    async fn list_services_raw(&self, stack: &str) -> Result<Vec<Value>, EngineError> {
        let filters = json!({ "label": [format!("{NAMESPACE_LABEL}={stack}")] }).to_string();
        let query = raw::query(&[("filters", &filters), ("status", "false")]);
        let path = format!("/services?{query}");
        match raw::get_json(&self.docker, &path, self.fail("services")).await? {
            Value::Array(services) => Ok(services),
            other => Err(EngineError::Protocol {
                message: format!("GET /services answered with a non-list: {other}"),
            }),
        }
    }

    async fn list_services_prefixed(&self, prefix: &str) -> Result<Vec<Value>, EngineError> {
        let filters = json!({ "name": [prefix] }).to_string();
        let query = raw::query(&[("filters", &filters), ("status", "false")]);
        let path = format!("/services?{query}");
        let services = match raw::get_json(&self.docker, &path, self.fail("services")).await? {
            Value::Array(services) => services,
            other => {
                return Err(EngineError::Protocol {
                    message: format!("GET /services answered with a non-list: {other}"),
                });
            }
        };
        // The filter's matching rule is the daemon's; keep exactly what the caller asked for.
        let has_prefix = |s: &Value| {
            let name = s.pointer("/Spec/Name").and_then(Value::as_str);
            name.is_some_and(|n| n.starts_with(prefix))
        };
        Ok(services.into_iter().filter(has_prefix).collect())
    }

    async fn list_networks(&self, stack: &str) -> Result<Vec<Network>, EngineError> {
        self.networks(label_filter(stack)).await
    }

    async fn list_configs(&self, stack: &str) -> Result<Vec<Config>, EngineError> {
        self.configs(label_filter(stack)).await
    }

    async fn list_secrets(&self, stack: &str) -> Result<Vec<Secret>, EngineError> {
        self.secrets(label_filter(stack)).await
    }

    async fn list_volumes(&self, stack: &str) -> Result<Vec<String>, EngineError> {
        let options = bollard::query_parameters::ListVolumesOptions {
            filters: Some(label_filter(stack)),
        };
        let answer = self.docker.list_volumes(Some(options)).await;
        let answer = answer.map_err(self.fail("volumes"))?;
        Ok(answer
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.name)
            .collect())
    }

    async fn resolve_image(
        &self,
        image: &str,
        auth: Option<&DockerCredentials>,
    ) -> Result<ResolvedImage, EngineError> {
        let inspect = self
            .docker
            .inspect_registry_image(image, auth.cloned())
            .await;
        let inspect = inspect.map_err(self.fail(&format!("image {image}")))?;
        let platforms = inspect
            .platforms
            .into_iter()
            .map(|p| (p.architecture.unwrap_or_default(), p.os.unwrap_or_default()))
            .collect();
        Ok(ResolvedImage {
            digest: inspect.descriptor.digest.unwrap_or_default(),
            platforms,
        })
    }

    async fn list_all_networks(&self) -> Result<Vec<Network>, EngineError> {
        self.networks(Filters::new()).await
    }

    async fn list_all_configs(&self) -> Result<Vec<Config>, EngineError> {
        self.configs(Filters::new()).await
    }

    async fn list_all_secrets(&self) -> Result<Vec<Secret>, EngineError> {
        self.secrets(Filters::new()).await
    }

    async fn list_networks_named(&self, names: &[String]) -> Result<Vec<Network>, EngineError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let networks = self.networks(name_filter(names)).await?;
        Ok(named(networks, names, |n| n.name.as_deref()))
    }

    async fn list_configs_named(&self, names: &[String]) -> Result<Vec<Config>, EngineError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let configs = self.configs(name_filter(names)).await?;
        Ok(named(configs, names, |c| c.spec.as_ref()?.name.as_deref()))
    }

    async fn list_secrets_named(&self, names: &[String]) -> Result<Vec<Secret>, EngineError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let secrets = self.secrets(name_filter(names)).await?;
        Ok(named(secrets, names, |s| s.spec.as_ref()?.name.as_deref()))
    }

    async fn network_name(&self, id: &str) -> Result<String, EngineError> {
        let network = self.docker.inspect_network(id, None).await;
        let network = network.map_err(self.fail(&format!("network {id}")))?;
        Ok(network.name.unwrap_or_default())
    }

    async fn inspect_service(&self, id: &str) -> Result<Service, EngineError> {
        let options = InspectServiceOptions {
            insert_defaults: false,
        };
        let service = self.docker.inspect_service(id, Some(options)).await;
        service.map_err(self.fail(&format!("service {id}")))
    }

    async fn list_tasks(&self, service_ids: &[String]) -> Result<Vec<Task>, EngineError> {
        if service_ids.is_empty() {
            return Ok(Vec::new());
        }
        let options = ListTasksOptions {
            filters: Some(HashMap::from([(
                "service".to_owned(),
                service_ids.to_vec(),
            )])),
        };
        let tasks = self.docker.list_tasks(Some(options)).await;
        tasks.map_err(self.fail("tasks"))
    }

    async fn list_nodes(&self) -> Result<Vec<Node>, EngineError> {
        let nodes = self.docker.list_nodes(None::<ListNodesOptions>).await;
        nodes.map_err(self.fail("nodes"))
    }

    async fn create_service(
        &self,
        spec: &ServiceSpec,
        auth: Option<&DockerCredentials>,
    ) -> Result<Created, EngineError> {
        let name = spec.name.as_deref().unwrap_or_default();
        let response = self
            .docker
            .create_service(spec.clone(), auth.cloned())
            .await;
        let response = response.map_err(self.fail(&format!("service {name}")))?;
        Ok(created(response.id, response.warnings))
    }

    async fn update_service(
        &self,
        id: &str,
        version: u64,
        spec: &ServiceSpec,
        auth: Option<&DockerCredentials>,
    ) -> Result<Vec<String>, EngineError> {
        let options = UpdateServiceOptions {
            version: service_version(id, version)?,
            ..UpdateServiceOptions::default()
        };
        let response = self
            .docker
            .update_service(id, spec.clone(), options, auth.cloned())
            .await
            .map_err(self.fail(&format!("service {id}")))?;
        Ok(response.warnings.unwrap_or_default())
    }

    async fn rollback_service(
        &self,
        id: &str,
        version: u64,
        spec: &ServiceSpec,
    ) -> Result<Vec<String>, EngineError> {
        let options = UpdateServiceOptions {
            version: service_version(id, version)?,
            rollback: Some("previous".to_owned()),
            ..UpdateServiceOptions::default()
        };
        let response = self
            .docker
            .update_service(id, spec.clone(), options, None)
            .await
            .map_err(self.fail(&format!("service {id}")))?;
        Ok(response.warnings.unwrap_or_default())
    }

    async fn remove_service(&self, id: &str) -> Result<(), EngineError> {
        let removed = self.docker.delete_service(id).await;
        removed.map_err(self.fail(&format!("service {id}")))
    }

    async fn create_network(&self, request: &NetworkCreateRequest) -> Result<Created, EngineError> {
        let response = self.docker.create_network(request.clone()).await;
        let response = response.map_err(self.fail(&format!("network {}", request.name)))?;
        let warnings = Some(response.warning)
            .filter(|w| !w.is_empty())
            .into_iter()
            .collect();
        Ok(created(Some(response.id), Some(warnings)))
    }

    async fn remove_network(&self, id: &str) -> Result<(), EngineError> {
        let removed = self.docker.remove_network(id).await;
        removed.map_err(self.fail(&format!("network {id}")))
    }

    async fn create_config(&self, spec: &ConfigSpec) -> Result<Created, EngineError> {
        let name = spec.name.as_deref().unwrap_or_default();
        let response = self.docker.create_config(spec.clone()).await;
        let response = response.map_err(self.fail(&format!("config {name}")))?;
        Ok(created(Some(response.id), None))
    }

    async fn update_config(
        &self,
        id: &str,
        version: u64,
        spec: &ConfigSpec,
    ) -> Result<(), EngineError> {
        let object = format!("config {id}");
        let options = UpdateConfigOptions {
            version: version_i64(&object, version)?,
        };
        let updated = self.docker.update_config(id, spec.clone(), options).await;
        updated.map_err(self.fail(&object))
    }

    async fn remove_config(&self, id: &str) -> Result<(), EngineError> {
        let removed = self.docker.delete_config(id).await;
        removed.map_err(self.fail(&format!("config {id}")))
    }

    async fn create_secret(&self, spec: &SecretSpec) -> Result<Created, EngineError> {
        let name = spec.name.as_deref().unwrap_or_default();
        let response = self.docker.create_secret(spec.clone()).await;
        let response = response.map_err(self.fail(&format!("secret {name}")))?;
        Ok(created(Some(response.id), None))
    }

    async fn update_secret(
        &self,
        id: &str,
        version: u64,
        spec: &SecretSpec,
    ) -> Result<(), EngineError> {
        let object = format!("secret {id}");
        let options = UpdateSecretOptions {
            version: version_i64(&object, version)?,
        };
        let updated = self.docker.update_secret(id, spec.clone(), options).await;
        updated.map_err(self.fail(&object))
    }

    async fn remove_secret(&self, id: &str) -> Result<(), EngineError> {
        let removed = self.docker.delete_secret(id).await;
        removed.map_err(self.fail(&format!("secret {id}")))
    }

    async fn remove_volume(&self, name: &str) -> Result<(), EngineError> {
        let removed = self
            .docker
            .remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>)
            .await;
        removed.map_err(self.fail(&format!("volume {name}")))
    }

    fn events(
        &self,
        since_nanos: Option<i64>,
    ) -> impl futures::Stream<Item = Result<EngineEvent, EngineError>> + Send + '_ {
        use futures::StreamExt as _;
        let kinds = ["service", "network", "config", "secret"].map(String::from);
        let options = EventsOptions {
            // The API takes seconds with a fractional part.
            since: since_nanos.map(|n| format!("{}.{:09}", n / 1_000_000_000, n % 1_000_000_000)),
            until: None,
            filters: Some(HashMap::from([("type".to_owned(), kinds.to_vec())])),
        };
        self.docker
            .events(Some(options))
            .map(|event| event.map(engine_event).map_err(self.fail("events")))
    }
}

impl DockerEngine {
    async fn networks(&self, filters: Filters) -> Result<Vec<Network>, EngineError> {
        let options = ListNetworksOptions {
            filters: Some(filters),
        };
        let networks = self.docker.list_networks(Some(options)).await;
        networks.map_err(self.fail("networks"))
    }

    async fn configs(&self, filters: Filters) -> Result<Vec<Config>, EngineError> {
        let options = ListConfigsOptions {
            filters: Some(filters),
        };
        let configs = self.docker.list_configs(Some(options)).await;
        configs.map_err(self.fail("configs"))
    }

    async fn secrets(&self, filters: Filters) -> Result<Vec<Secret>, EngineError> {
        let options = ListSecretsOptions {
            filters: Some(filters),
        };
        let secrets = self.docker.list_secrets(Some(options)).await;
        secrets.map_err(self.fail("secrets"))
    }
}

fn engine_event(message: bollard::models::EventMessage) -> EngineEvent {
    let actor = message.actor.unwrap_or_default();
    let name = actor
        .attributes
        .as_ref()
        .and_then(|a| a.get("name"))
        .cloned()
        .unwrap_or_default();
    EngineEvent {
        kind: message.typ.map(|t| t.to_string()).unwrap_or_default(),
        action: message.action.unwrap_or_default(),
        id: actor.id.unwrap_or_default(),
        name,
        time_nanos: message.time_nano.unwrap_or_default(),
    }
}
