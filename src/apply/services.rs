//! Service writes and rollouts: creates and updates in waves (a service waits for the ones it
//! `depends_on`), at most `max_parallel` at a time, each watched to its outcome.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{
    ApplyError, ApplyEvent, ApplyOptions, Events, OnFailure, ServiceOutcome, Written, rollout,
};
use crate::engine::registry_auth::credentials_for;
use crate::engine::spec::service_spec_from_json;
use crate::engine::{Engine, EngineError};
use crate::plan::waves::waves;
use crate::plan::{Action, ObjectIds, Plan, ServicePlan};

/// Write and watch the plan's services; each write that succeeds goes into `written`.
pub(super) async fn roll_out<E: Engine>(
    engine: &E,
    plan: &Plan,
    ids: &ObjectIds,
    options: &ApplyOptions,
    events: &Events<'_>,
    written: &mut Written,
) -> Result<Vec<(String, ServiceOutcome)>, ApplyError> {
    let mut outcomes: BTreeMap<String, ServiceOutcome> = BTreeMap::new();
    let mut stopped: Option<String> = None;
    for wave in waves(plan) {
        for chunk in wave.chunks(options.max_parallel.max(1)) {
            let mut to_write = Vec::new();
            for service in chunk {
                if options.stop.is_set() {
                    let reason = super::stop::STOPPED.to_owned();
                    outcomes.insert(service.name.clone(), ServiceOutcome::NotStarted(reason));
                } else if let Some(reason) = blocked(service, &outcomes, stopped.as_deref()) {
                    outcomes.insert(service.name.clone(), ServiceOutcome::NotStarted(reason));
                } else {
                    to_write.push(*service);
                }
            }
            let results = futures::future::join_all(
                to_write
                    .iter()
                    .map(|s| write(engine, s, ids, options.registry_auth)),
            )
            .await;
            let mut watching = Vec::new();
            for (service, result) in to_write.iter().zip(results) {
                match result {
                    Ok(id) => {
                        written.push(service.action, service.name.clone());
                        events.emit(&ApplyEvent::ServiceWritten {
                            name: service.name.clone(),
                            action: service.action,
                        });
                        watching.push((service.name.clone(), id));
                    }
                    Err(outcome) => {
                        outcomes.insert(service.name.clone(), outcome);
                    }
                }
            }
            if options.detach {
                outcomes.extend(
                    watching
                        .into_iter()
                        .map(|(name, _)| (name, ServiceOutcome::Written)),
                );
            } else {
                outcomes.extend(
                    rollout::await_rollouts(engine, &plan.stack, &watching, options, events)
                        .await?,
                );
            }
            // A conflict is re-planned, not a failure of the rollout: it stops nothing.
            let failed = outcomes.iter().find(|(_, o)| {
                !o.is_success()
                    && !matches!(
                        o,
                        ServiceOutcome::NotStarted(_) | ServiceOutcome::Conflict(_)
                    )
            });
            if let (Some((name, _)), None) = (failed, &stopped) {
                if options.on_failure != OnFailure::Continue {
                    stopped = Some(name.clone());
                }
            }
        }
    }
    if let (Some(failed), OnFailure::Rollback) = (&stopped, options.on_failure) {
        roll_back_updated(engine, plan, &mut outcomes, failed, options, events).await?;
    }
    if !options.stop.is_set() {
        remove_services(engine, plan, &mut outcomes, events, written).await;
    }
    for (name, outcome) in &outcomes {
        events.emit(&ApplyEvent::ServiceDone {
            name: name.clone(),
            outcome: outcome.clone(),
        });
    }
    let order: Vec<&str> = plan.services.iter().map(|s| s.name.as_str()).collect();
    let mut services: Vec<(String, ServiceOutcome)> = outcomes.into_iter().collect();
    services.sort_by_key(|(name, _)| order.iter().position(|n| n == name));
    Ok(services)
}

/// Why a service must not start: a failed dependency, or `--on-failure stop` after a failure.
fn blocked(
    service: &ServicePlan,
    outcomes: &BTreeMap<String, ServiceOutcome>,
    stopped: Option<&str>,
) -> Option<String> {
    for dependency in &service.depends_on {
        if outcomes.get(dependency).is_some_and(|o| !o.is_success()) {
            return Some(format!("depends on {dependency}, which did not converge"));
        }
    }
    stopped.map(|failed| format!("stopped after {failed} failed"))
}

/// Create or update one service; returns its ID, or the outcome of a write that did not
/// happen (the daemon refused it, or a version conflict: someone changed the service since
/// the plan read it, which is never overwritten blindly).
async fn write<E: Engine>(
    engine: &E,
    service: &ServicePlan,
    ids: &ObjectIds,
    registry_auth: bool,
) -> Result<String, ServiceOutcome> {
    let verb = if service.action == Action::Create {
        "create"
    } else {
        "update"
    };
    let failed = |err: &dyn std::fmt::Display| {
        ServiceOutcome::Failed(format!("cannot {verb} service {}: {err}", service.name))
    };
    let spec = service.spec.as_ref().ok_or_else(|| {
        failed(&ApplyError::Bug(format!(
            "service {} has no spec",
            service.name
        )))
    })?;
    let spec = &with_object_ids(spec, ids);
    let typed = service_spec_from_json(spec).map_err(|e| failed(&e))?;
    let image = spec
        .pointer("/TaskTemplate/ContainerSpec/Image")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let auth = if registry_auth {
        credentials_for(image)
    } else {
        None
    };
    let auth = auth.as_ref();
    match (service.action, &service.live_id, service.live_version) {
        (Action::Create, _, _) => engine
            .create_service(&typed, auth)
            .await
            .map(|c| c.id)
            .map_err(|e| failed(&e)),
        (Action::Update, Some(id), Some(version)) => {
            match engine.update_service(id, version, &typed, auth).await {
                Ok(_) => Ok(id.clone()),
                Err(EngineError::VersionConflict { .. }) => Err(ServiceOutcome::Conflict(format!(
                    "service {} changed in the cluster after the plan read it (version {version}); not overwritten",
                    service.name
                ))),
                Err(err) => Err(failed(&err)),
            }
        }
        _ => Err(failed(&ApplyError::Bug(format!(
            "service {} cannot be written from this plan",
            service.name
        )))),
    }
}

/// `--on-failure rollback`: every service this apply updated goes back to its previous spec.
async fn roll_back_updated<E: Engine>(
    engine: &E,
    plan: &Plan,
    outcomes: &mut BTreeMap<String, ServiceOutcome>,
    failed: &str,
    options: &ApplyOptions,
    events: &Events<'_>,
) -> Result<(), ApplyError> {
    let updated: BTreeSet<&str> = plan
        .services
        .iter()
        .filter(|s| s.action == Action::Update)
        .filter(|s| {
            matches!(
                outcomes.get(&s.name),
                Some(
                    ServiceOutcome::Converged
                        | ServiceOutcome::Failed(_)
                        | ServiceOutcome::Paused(_)
                )
            )
        })
        .map(|s| s.name.as_str())
        .collect();
    if updated.is_empty() {
        return Ok(());
    }
    let live = engine
        .list_services_raw(&plan.stack)
        .await
        .map_err(|cause| ApplyError::Call {
            call: "reading the services to roll back".into(),
            cause,
        })?;
    let mut watching = Vec::new();
    for raw in &live {
        let name = raw
            .pointer("/Spec/Name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !updated.contains(name) {
            continue;
        }
        let id = raw["ID"].as_str().unwrap_or_default().to_owned();
        let version = raw
            .pointer("/Version/Index")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let rolled = match service_spec_from_json(&raw["Spec"]) {
            Ok(spec) => engine.rollback_service(&id, version, &spec).await,
            Err(err) => Err(err),
        };
        match rolled {
            Ok(_) => watching.push((name.to_owned(), id)),
            Err(err) => events.emit(&ApplyEvent::Warning(format!(
                "cannot roll back {name}: {err}"
            ))),
        }
    }
    let settled = rollout::await_rollouts(engine, &plan.stack, &watching, options, events).await?;
    for (name, outcome) in settled {
        // The failed service keeps its own cause; the others say why they went back.
        let message = match outcomes.get(&name) {
            Some(ServiceOutcome::Failed(why) | ServiceOutcome::Paused(why)) if name == failed => {
                format!("{why}; rolled back")
            }
            _ => format!("rolled back after {failed} failed"),
        };
        let result = match outcome {
            ServiceOutcome::Converged | ServiceOutcome::RolledBack(_) => {
                ServiceOutcome::RolledBack(message)
            }
            other => other,
        };
        outcomes.insert(name, result);
    }
    Ok(())
}

async fn remove_services<E: Engine>(
    engine: &E,
    plan: &Plan,
    outcomes: &mut BTreeMap<String, ServiceOutcome>,
    events: &Events<'_>,
    written: &mut Written,
) {
    for service in plan.services.iter().filter(|s| s.action == Action::Remove) {
        let Some(id) = &service.live_id else { continue };
        let outcome = match engine.remove_service(id).await {
            Ok(()) => {
                written.push(Action::Remove, service.name.clone());
                ServiceOutcome::Removed
            }
            Err(err) if err.is_not_found() => ServiceOutcome::Removed,
            Err(err) => {
                events.emit(&ApplyEvent::Warning(format!(
                    "cannot remove {}: {err}",
                    service.name
                )));
                ServiceOutcome::Failed(format!("cannot remove service {}: {err}", service.name))
            }
        };
        outcomes.insert(service.name.clone(), outcome);
    }
}

/// Secret and config references carry the object's ID, which Swarm requires and only the
/// cluster knows (docker looks them up the same way before sending).
fn with_object_ids(spec: &Value, ids: &ObjectIds) -> Value {
    let mut spec = spec.clone();
    for (list, name_key, id_key, map) in [
        ("Secrets", "SecretName", "SecretID", &ids.secrets),
        ("Configs", "ConfigName", "ConfigID", &ids.configs),
    ] {
        if let Some(Value::Array(items)) =
            spec.pointer_mut(&format!("/TaskTemplate/ContainerSpec/{list}"))
        {
            for item in items {
                if let Some(id) = item[name_key].as_str().and_then(|n| map.get(n)) {
                    item[id_key] = Value::String(id.clone());
                }
            }
        }
    }
    if let Some(config) =
        spec.pointer_mut("/TaskTemplate/ContainerSpec/Privileges/CredentialSpec/Config")
    {
        if let Some(id) = config.as_str().and_then(|n| ids.configs.get(n)) {
            *config = Value::String(id.clone());
        }
    }
    spec
}
