//! Removing a whole stack, like `docker stack rm` but waiting until it is really gone: services
//! first, then (once their tasks have let go) secrets, configs and networks. Volumes stay,
//! unless asked for: then the stack's volumes on this node go last.

use std::time::Duration;

use crate::engine::{Engine, EngineError};
use crate::model::StackName;

/// How long to wait for removed services' tasks to stop before removing networks anyway.
const SETTLE: Duration = Duration::from_secs(60);

/// Remove everything labelled with the stack, plus stackctl's own history for it, and with
/// `volumes` its volumes on this node. Returns whether everything went. The stack's lock is
/// the caller's to release: `rm` holds it while removing.
pub async fn remove_stack<E: Engine>(
    engine: &E,
    stack: &StackName,
    volumes: bool,
    log: &dyn Fn(&str),
) -> Result<bool, EngineError> {
    let services = engine.list_services(stack.as_str()).await?;
    let networks = engine.list_networks(stack.as_str()).await?;
    let configs = engine.list_configs(stack.as_str()).await?;
    let secrets = engine.list_secrets(stack.as_str()).await?;
    if services.is_empty() && networks.is_empty() && configs.is_empty() && secrets.is_empty() {
        log(&format!("Nothing found in stack: {stack}"));
        return if volumes {
            remove_volumes(engine, stack, log).await
        } else {
            Ok(true)
        };
    }
    let mut ok = true;
    let mut names: Vec<(String, String)> = services
        .iter()
        .map(|s| {
            (
                name(s.spec.as_ref().and_then(|s| s.name.as_deref())),
                s.id.clone().unwrap_or_default(),
            )
        })
        .collect();
    names.sort();
    for (name, id) in &names {
        log(&format!("Removing service {name}"));
        ok &= report(engine.remove_service(id).await, log, "service", name);
    }
    wait_for_tasks(
        engine,
        &names.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>(),
    )
    .await;
    // Then what the services used: secrets, configs, networks (docker's order).
    let objects = secrets
        .iter()
        .map(|o| {
            (
                "secret",
                name(o.spec.as_ref().and_then(|s| s.name.as_deref())),
                o.id.clone(),
            )
        })
        .chain(configs.iter().map(|o| {
            (
                "config",
                name(o.spec.as_ref().and_then(|s| s.name.as_deref())),
                o.id.clone(),
            )
        }))
        .chain(
            networks
                .iter()
                .map(|o| ("network", name(o.name.as_deref()), o.id.clone())),
        );
    for (kind, name, id) in objects {
        let id = id.unwrap_or_default();
        log(&format!("Removing {kind} {name}"));
        let removed = match kind {
            "secret" => engine.remove_secret(&id).await,
            "config" => engine.remove_config(&id).await,
            _ => remove_network(engine, &id).await,
        };
        ok &= report(removed, log, kind, &name);
    }
    wait_until_gone(engine, stack).await;
    for config in engine.list_all_configs().await? {
        let labels = config
            .spec
            .as_ref()
            .and_then(|s| s.labels.clone())
            .unwrap_or_default();
        let ours = labels
            .get("com.stackctl.history")
            .is_some_and(|v| v == stack.as_str());
        if ours {
            ok &= report(
                engine
                    .remove_config(config.id.as_deref().unwrap_or_default())
                    .await,
                log,
                "config",
                "stackctl record",
            );
        }
    }
    if volumes {
        ok &= remove_volumes(engine, stack, log).await?;
    }
    Ok(ok)
}

/// How long a volume may stay in use (by containers of removed tasks on their way out).
const VOLUME_WAIT: Duration = Duration::from_secs(30);

/// Remove the stack's volumes on this node, retrying those still in use for a while.
async fn remove_volumes<E: Engine>(
    engine: &E,
    stack: &StackName,
    log: &dyn Fn(&str),
) -> Result<bool, EngineError> {
    let mut left = engine.list_volumes(stack.as_str()).await?;
    left.sort();
    let deadline = tokio::time::Instant::now() + VOLUME_WAIT;
    loop {
        let mut still = Vec::new();
        for volume in left {
            match engine.remove_volume(&volume).await {
                Ok(()) => log(&format!("Removing volume {volume}")),
                Err(err) if tokio::time::Instant::now() >= deadline => {
                    log(&format!("failed to remove volume {volume}: {err}"));
                    still.push(volume);
                }
                Err(_) => still.push(volume),
            }
        }
        if still.is_empty() {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        left = still;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn name(name: Option<&str>) -> String {
    name.unwrap_or("?").to_owned()
}

fn report(result: Result<(), EngineError>, log: &dyn Fn(&str), kind: &str, name: &str) -> bool {
    match result {
        Ok(()) => true,
        Err(err) if err.is_not_found() => true,
        Err(err) => {
            log(&format!("Failed to remove {kind} {name}: {err}"));
            false
        }
    }
}

/// Tasks of removed services shut down asynchronously; networks can go only after them.
async fn wait_for_tasks<E: Engine>(engine: &E, service_ids: &[String]) {
    let deadline = tokio::time::Instant::now() + SETTLE;
    while tokio::time::Instant::now() < deadline {
        match engine.list_tasks(service_ids).await {
            Ok(tasks) if tasks.is_empty() => return,
            Err(_) => return,
            Ok(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

pub(super) async fn remove_network<E: Engine>(engine: &E, id: &str) -> Result<(), EngineError> {
    let mut last = Ok(());
    for _ in 0..60 {
        last = engine.remove_network(id).await;
        match &last {
            Err(err) if !err.is_not_found() => tokio::time::sleep(Duration::from_millis(500)).await,
            _ => return Ok(()),
        }
    }
    last
}

/// The daemon lists a removed network until its cleanup is done; an apply right after `rm`
/// must not see it, so `rm` returns only once the stack's networks are gone from the list.
async fn wait_until_gone<E: Engine>(engine: &E, stack: &StackName) {
    let deadline = tokio::time::Instant::now() + SETTLE;
    while tokio::time::Instant::now() < deadline {
        match engine.list_networks(stack.as_str()).await {
            Ok(networks) if !networks.is_empty() => {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            _ => return,
        }
    }
}
