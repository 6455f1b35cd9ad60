//! `status`, `history`, `rm` and `rollback`: commands about a deployed stack, not its files.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use miette::Report;
use serde_json::Value;

use super::output::emit;
use super::{exit, prepare, progress};
use crate::apply::lock::{StackLock, default_ttl};
use crate::apply::record;
use crate::apply::{Events, ServiceOutcome, Stop};
use crate::cli::{RmArgs, RollbackArgs, StackCommandArgs};
use crate::engine::spec::service_spec_from_json;
use crate::engine::{DockerEngine, Engine};
use crate::model::StackName;

fn block_on(
    stack: &str,
    host: Option<String>,
    run: impl AsyncFnOnce(&DockerEngine, &StackName) -> Result<i32, Report>,
) -> i32 {
    let name = match StackName::new(stack) {
        Ok(name) => name,
        Err(message) => {
            eprintln!("error: {message}");
            return exit::ERROR;
        }
    };
    let result = prepare::runtime().block_on(async {
        let engine = prepare::connect_manager(host).await?;
        run(&engine, &name).await
    });
    result.unwrap_or_else(|report| {
        eprintln!("{report:?}");
        exit::ERROR
    })
}

fn name_of(service: &Value) -> &str {
    service
        .pointer("/Spec/Name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

#[must_use]
pub fn status(args: &StackCommandArgs) -> i32 {
    block_on(
        &args.stack,
        args.engine.host.clone(),
        async |engine, stack| {
            let services = engine
                .list_services_raw(stack.as_str())
                .await
                .map_err(Report::new)?;
            // A stack whose apply stopped before its services still has networks and configs.
            let objects = stack_objects(engine, stack).await.map_err(Report::new)?;
            if services.is_empty() && objects.is_empty() {
                eprintln!("Nothing found in stack: {stack}");
                return Ok(exit::ERROR);
            }
            let ids: Vec<String> = services
                .iter()
                .filter_map(|s| s["ID"].as_str().map(str::to_owned))
                .collect();
            let tasks = engine.list_tasks(&ids).await.map_err(Report::new)?;
            let mut running: BTreeMap<&str, u64> = BTreeMap::new();
            for task in &tasks {
                let up = task
                    .status
                    .as_ref()
                    .and_then(|s| s.state)
                    .is_some_and(|s| s.to_string() == "running");
                let wanted = task
                    .desired_state
                    .is_some_and(|s| s.to_string() == "running");
                if up && wanted {
                    *running
                        .entry(task.service_id.as_deref().unwrap_or_default())
                        .or_default() += 1;
                }
            }
            let mut out = format!(
                "{:<32} {:<16} {:<10} {:<22} {}\n",
                "SERVICE", "MODE", "REPLICAS", "UPDATE", "IMAGE"
            );
            for service in &services {
                let id = service["ID"].as_str().unwrap_or_default();
                let (mode, desired) = mode_and_desired(service);
                let update = service
                    .pointer("/UpdateStatus/State")
                    .and_then(Value::as_str)
                    .unwrap_or("-");
                let image = service
                    .pointer("/Spec/TaskTemplate/ContainerSpec/Image")
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                let replicas = format!("{}/{}", running.get(id).copied().unwrap_or(0), desired);
                let _ = writeln!(
                    out,
                    "{:<32} {:<16} {:<10} {:<22} {}",
                    name_of(service),
                    mode,
                    replicas,
                    update,
                    image
                );
            }
            if services.is_empty() {
                out = String::from("No services.\n");
            }
            for line in &objects {
                let _ = writeln!(out, "{line}");
            }
            let history = record::read(engine, stack).await.map_err(Report::new)?;
            match history.last() {
                Some(last) => {
                    let _ = writeln!(
                        out,
                        "\nLast apply: {} by {} from {}{}: {}",
                        when(last.time),
                        last.user,
                        last.source,
                        at_revision(last),
                        last.outcome
                    );
                }
                None => out.push_str("\nNo apply recorded by stackctl.\n"),
            }
            emit(&out);
            Ok(exit::OK)
        },
    )
}

/// `Networks: s_default, s_back` and the like, one line per kind the stack has.
async fn stack_objects(
    engine: &DockerEngine,
    stack: &StackName,
) -> Result<Vec<String>, crate::engine::EngineError> {
    let sorted = |mut names: Vec<String>| {
        names.sort();
        names.join(", ")
    };
    let networks = engine.list_networks(stack.as_str()).await?;
    let networks = sorted(networks.into_iter().filter_map(|n| n.name).collect());
    let configs = engine.list_configs(stack.as_str()).await?;
    let configs = sorted(
        configs
            .into_iter()
            .filter_map(|c| c.spec.and_then(|s| s.name))
            .collect(),
    );
    let secrets = engine.list_secrets(stack.as_str()).await?;
    let secrets = sorted(
        secrets
            .into_iter()
            .filter_map(|c| c.spec.and_then(|s| s.name))
            .collect(),
    );
    Ok([
        ("Networks", networks),
        ("Configs", configs),
        ("Secrets", secrets),
    ]
    .into_iter()
    .filter(|(_, names)| !names.is_empty())
    .map(|(kind, names)| format!("{kind}: {names}"))
    .collect())
}

fn mode_and_desired(service: &Value) -> (String, String) {
    let mode = service.pointer("/Spec/Mode").and_then(Value::as_object);
    match mode.and_then(|m| m.iter().next()) {
        Some((kind, body)) if kind == "Replicated" => (
            "replicated".into(),
            body["Replicas"].as_u64().unwrap_or(1).to_string(),
        ),
        Some((kind, body)) if kind == "ReplicatedJob" => (
            "replicated-job".into(),
            body["TotalCompletions"].as_u64().unwrap_or(1).to_string(),
        ),
        Some((kind, _)) if kind == "GlobalJob" => ("global-job".into(), "-".into()),
        _ => ("global".into(), "-".into()),
    }
}

/// Seconds since the epoch as a UTC timestamp.
fn when(secs: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    crate::watch::clock::rfc3339(time)
        .replace('T', " ")
        .replace('Z', " UTC")
}

/// ` at revision abc123def456`, when the apply came from one.
fn at_revision(entry: &record::Entry) -> String {
    entry
        .revision
        .as_deref()
        .map(|r| format!(" at revision {}", crate::watch::reconcile::short(r)))
        .unwrap_or_default()
}

#[must_use]
pub fn history(args: &StackCommandArgs) -> i32 {
    block_on(
        &args.stack,
        args.engine.host.clone(),
        async |engine, stack| {
            let entries = record::read(engine, stack).await.map_err(Report::new)?;
            if entries.is_empty() {
                emit(&format!(
                    "No apply of stack {stack} recorded by stackctl.\n"
                ));
                return Ok(exit::OK);
            }
            let mut out = String::new();
            for e in entries.iter().rev() {
                let _ = writeln!(
                    out,
                    "{}  {}  {}\n  from {}{}",
                    when(e.time),
                    e.user,
                    e.outcome,
                    e.source,
                    at_revision(e)
                );
                for (what, list) in [
                    ("created", &e.created),
                    ("updated", &e.updated),
                    ("removed", &e.removed),
                ] {
                    if !list.is_empty() {
                        let _ = writeln!(out, "  {what}: {}", list.join(", "));
                    }
                }
                // Created and removed services are listed above already.
                let repeated = |c: &&String| {
                    c.starts_with("create service ") || c.starts_with("remove service ")
                };
                for change in e.changes.iter().filter(|c| !repeated(c)) {
                    let _ = writeln!(out, "    {change}");
                }
            }
            emit(&out);
            Ok(exit::OK)
        },
    )
}

#[must_use]
pub fn rm(args: &RmArgs) -> i32 {
    block_on(
        &args.stack,
        args.engine.host.clone(),
        async |engine, stack| {
            let log = |line: &str| eprintln!("{line}");
            locked(engine, stack, async {
                let removed = crate::apply::remove::remove_stack(engine, stack, args.volumes, &log)
                    .await
                    .map_err(Report::new)?;
                Ok(if removed { exit::OK } else { exit::ERROR })
            })
            .await
        },
    )
}

#[must_use]
pub fn rollback(args: &RollbackArgs) -> i32 {
    block_on(
        &args.stack,
        args.engine.host.clone(),
        async |engine, stack| Box::pin(locked(engine, stack, roll_back(engine, stack, args))).await,
    )
}

async fn roll_back(
    engine: &DockerEngine,
    stack: &StackName,
    args: &RollbackArgs,
) -> Result<i32, Report> {
    let (timeout, mode) = (args.timeout, args.progress.progress);
    let services = engine
        .list_services_raw(stack.as_str())
        .await
        .map_err(Report::new)?;
    let wanted = |s: &Value| {
        let name = name_of(s);
        let key = name.strip_prefix(&format!("{stack}_")).unwrap_or(name);
        args.services.is_empty() || args.services.iter().any(|w| w == name || w == key)
    };
    let mut watching = Vec::new();
    for service in services.iter().filter(|s| wanted(s)) {
        if service.get("PreviousSpec").is_none_or(Value::is_null) {
            eprintln!("{}: no previous spec to roll back to", name_of(service));
            continue;
        }
        let id = service["ID"].as_str().unwrap_or_default().to_owned();
        let version = service
            .pointer("/Version/Index")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let spec = service_spec_from_json(&service["Spec"]).map_err(Report::new)?;
        engine
            .rollback_service(&id, version, &spec)
            .await
            .map_err(Report::new)?;
        eprintln!("rolling back {}", name_of(service));
        watching.push((name_of(service).to_owned(), id));
    }
    if watching.is_empty() {
        return Ok(exit::ERROR);
    }
    let started = Instant::now();
    let printer = progress::Printer::new(started, mode);
    let sink = |event: &crate::apply::ApplyEvent| printer.event(event);
    let outcomes = crate::apply::rollout::await_rollouts(
        engine,
        stack.as_str(),
        &watching,
        &crate::apply::ApplyOptions {
            timeout,
            ..Default::default()
        },
        &Events(&sink),
    )
    .await
    .map_err(Report::new)?;
    let report = crate::apply::ApplyReport {
        services: outcomes
            .into_iter()
            .map(|(name, outcome)| {
                // A manual rollback that converged is what was asked for.
                let outcome = if let ServiceOutcome::RolledBack(_) = outcome {
                    ServiceOutcome::Converged
                } else {
                    outcome
                };
                (name, outcome)
            })
            .collect(),
        written: crate::apply::Written::default(),
    };
    printer.finish();
    progress::summary(&report, started.elapsed());
    Ok(if report.is_success() {
        exit::OK
    } else {
        exit::ERROR
    })
}

/// Run `work` holding the stack's lock, as an apply does: refused at once while another
/// command holds it, renewed while `work` runs, released however it ends, Ctrl-C included.
async fn locked<E: Engine>(
    engine: &E,
    stack: &StackName,
    work: impl Future<Output = Result<i32, Report>>,
) -> Result<i32, Report> {
    // Listening before the lock is taken: no moment where Ctrl-C would kill the process and
    // leave the lock behind.
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| Report::msg(format!("cannot listen for Ctrl-C: {e}")))?;
    let lock = StackLock::acquire(
        engine,
        stack,
        default_ttl(),
        Duration::ZERO,
        &Stop::default(),
    )
    .await
    .map_err(Report::new)?;
    let interrupted = || {
        eprintln!("\nInterrupted; the stack's lock is released");
        Ok(exit::INTERRUPTED)
    };
    // A Ctrl-C while the lock was being taken (no call is cut off in flight) stops here.
    let result = if futures::FutureExt::now_or_never(interrupt.recv()).is_some() {
        interrupted()
    } else {
        tokio::select! {
            (result, lost) = lock.hold(engine, work) => {
                if let Some(lost) = lost {
                    eprintln!("warning: {lost}");
                }
                result
            }
            _ = interrupt.recv() => interrupted(),
        }
    };
    if let Err(err) = lock.release(engine).await {
        eprintln!("{:?}", Report::new(err));
    }
    result
}
