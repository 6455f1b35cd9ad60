//! Typed service specs from the daemon's raw JSON, repairing the field bollard spells differently.

use bollard::models::ServiceSpec;
use serde_json::Value;

use super::EngineError;

/// A raw `Spec` (as `GET /services` returns it) as bollard's [`ServiceSpec`], ready to send back.
///
/// The daemon writes a container's health check as `Healthcheck`; bollard 0.21's model reads
/// `HealthCheck`, so a plain deserialise silently drops it and an update built from it would
/// remove the service's health check. The key is renamed first; every other field maps as is.
pub fn service_spec_from_json(spec: &Value) -> Result<ServiceSpec, EngineError> {
    let mut spec = spec.clone();
    rename_healthcheck(&mut spec);
    serde_json::from_value(spec).map_err(|err| EngineError::Protocol {
        message: format!("the daemon's service spec does not fit bollard's model: {err}"),
    })
}

fn rename_healthcheck(spec: &mut Value) {
    let container = spec
        .pointer_mut("/TaskTemplate/ContainerSpec")
        .and_then(Value::as_object_mut);
    if let Some(container) = container {
        if let Some(check) = container.remove("Healthcheck") {
            // A spec that already has bollard's spelling keeps it: it is the one bollard reads.
            container.entry("HealthCheck").or_insert(check);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::service_spec_from_json;

    #[test]
    fn the_daemons_healthcheck_spelling_survives_the_conversion() {
        let raw = json!({
            "Name": "web",
            "TaskTemplate": {
                "ContainerSpec": {
                    "Image": "app:1",
                    "Healthcheck": {"Test": ["CMD", "true"], "Interval": 2_000_000_000_i64}
                },
                "ForceUpdate": 3
            },
            "Mode": {"Replicated": {"Replicas": 2}}
        });
        let spec = service_spec_from_json(&raw).unwrap();
        let template = spec.task_template.unwrap();
        let check = template.container_spec.unwrap().health_check.unwrap();
        assert_eq!(check.test, Some(vec!["CMD".to_owned(), "true".to_owned()]));
        assert_eq!(check.interval, Some(2_000_000_000));
        assert_eq!(template.force_update, Some(3));
        assert_eq!(spec.mode.unwrap().replicated.unwrap().replicas, Some(2));
    }

    #[test]
    fn specs_without_a_container_or_of_the_wrong_shape() {
        let plugin = json!({"Name": "p", "TaskTemplate": {"PluginSpec": {"Name": "x"}}});
        assert!(service_spec_from_json(&plugin).is_ok());
        let broken = json!({"Name": 3});
        let err = service_spec_from_json(&broken).unwrap_err().to_string();
        assert!(err.contains("does not fit bollard's model"), "{err}");
    }
}
