//! Networks, configs and secrets: created before the services that use them, label updates
//! where Swarm allows them, and removal (prune, superseded versions) after the services.

use base64::Engine as _;
use serde_json::{Value, json};

use super::{ApplyError, ApplyEvent, Events, Stop, Written};
use crate::engine::Engine;
use crate::plan::{Action, ObjectIds, ObjectKind, ObjectPlan, Plan};

fn typed<T: serde::de::DeserializeOwned>(spec: Value, what: &str) -> Result<T, ApplyError> {
    serde_json::from_value(spec).map_err(|err| {
        ApplyError::Bug(format!(
            "{what} spec does not fit the Engine API model: {err}"
        ))
    })
}

/// The spec with its content, as the create and update calls take it.
fn with_data(object: &ObjectPlan) -> Value {
    let mut spec = object
        .spec
        .clone()
        .unwrap_or_else(|| json!({"Name": object.name}));
    if let Some(data) = &object.data {
        spec["Data"] = json!(base64::engine::general_purpose::STANDARD.encode(data));
    }
    spec
}

/// Create what the plan creates and update labels it updates: networks, configs, secrets.
/// Each write that succeeds goes into `written`; a stop ends the loop before the next write.
pub(super) async fn create_objects<E: Engine>(
    engine: &E,
    plan: &Plan,
    stop: &Stop,
    events: &Events<'_>,
    written: &mut Written,
) -> Result<ObjectIds, ApplyError> {
    let mut ids = plan.existing_ids.clone();
    for object in plan.networks.iter().filter(|o| o.action == Action::Create) {
        if stop.is_set() {
            return Ok(ids);
        }
        let request = typed(object.spec.clone().unwrap_or_default(), "network")?;
        engine
            .create_network(&request)
            .await
            .map_err(|e| ApplyError::object(object, e))?;
        written.object(object.kind, &object.name, Action::Create);
        events.emit(&ApplyEvent::Object {
            kind: object.kind,
            name: object.name.clone(),
            action: Action::Create,
        });
    }
    for object in plan.configs.iter().chain(&plan.secrets) {
        if stop.is_set() {
            return Ok(ids);
        }
        match object.action {
            Action::Create => {
                let id = create(engine, object).await?;
                let map = if object.kind == ObjectKind::Config {
                    &mut ids.configs
                } else {
                    &mut ids.secrets
                };
                map.insert(object.name.clone(), id);
            }
            Action::Update => update_labels(engine, object).await?,
            Action::Remove | Action::Unchanged => continue,
        }
        written.object(object.kind, &object.name, object.action);
        events.emit(&ApplyEvent::Object {
            kind: object.kind,
            name: object.name.clone(),
            action: object.action,
        });
    }
    Ok(ids)
}

async fn create<E: Engine>(engine: &E, object: &ObjectPlan) -> Result<String, ApplyError> {
    let spec = with_data(object);
    let created = match object.kind {
        ObjectKind::Config => engine.create_config(&typed(spec, "config")?).await,
        ObjectKind::Secret => engine.create_secret(&typed(spec, "secret")?).await,
        ObjectKind::Network => unreachable!("networks are created above"),
    };
    created
        .map(|c| c.id)
        .map_err(|e| ApplyError::object(object, e))
}

/// Swarm accepts a label change only with the identical content, which the plan carries.
async fn update_labels<E: Engine>(engine: &E, object: &ObjectPlan) -> Result<(), ApplyError> {
    let (Some(id), Some(version)) = (&object.live_id, object.live_version) else {
        return Err(ApplyError::Bug(format!(
            "{} {} has no live id to update",
            object.kind.word(),
            object.name
        )));
    };
    let spec = with_data(object);
    let updated = match object.kind {
        ObjectKind::Config => {
            engine
                .update_config(id, version, &typed(spec, "config")?)
                .await
        }
        ObjectKind::Secret => {
            engine
                .update_secret(id, version, &typed(spec, "secret")?)
                .await
        }
        ObjectKind::Network => return Ok(()),
    };
    updated.map_err(|e| ApplyError::object(object, e))
}

/// Remove what the plan removes (after the services): configs and secrets, then networks.
/// An object still in use is reported and kept; the apply does not fail for it.
pub(super) async fn remove_objects<E: Engine>(
    engine: &E,
    plan: &Plan,
    events: &Events<'_>,
    written: &mut Written,
) {
    let removals = plan
        .configs
        .iter()
        .chain(&plan.secrets)
        .chain(&plan.networks)
        .filter(|o| o.action == Action::Remove);
    for object in removals {
        let Some(id) = &object.live_id else { continue };
        let removed = match object.kind {
            ObjectKind::Config => engine.remove_config(id).await,
            ObjectKind::Secret => engine.remove_secret(id).await,
            ObjectKind::Network => super::remove::remove_network(engine, id).await,
        };
        match removed {
            Ok(()) => {
                written.object(object.kind, &object.name, Action::Remove);
                events.emit(&ApplyEvent::Object {
                    kind: object.kind,
                    name: object.name.clone(),
                    action: Action::Remove,
                });
            }
            Err(err) => events.emit(&ApplyEvent::Warning(format!(
                "{} {} kept: {err}",
                object.kind.word(),
                object.name
            ))),
        }
    }
}
