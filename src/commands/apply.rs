//! `stackctl apply`: show the plan, confirm, and hand it to the library's deploy (lock, re-plan,
//! apply with progress, history record); exit non-zero if any service did not converge.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Instant;

use miette::Report;

use super::output::emit;
use super::prepare::{self, Prepared};
use super::{exit, progress};
use crate::apply::lock::force_unlock;
use crate::apply::{ApplyOptions, Events, Stop};
use crate::cli::{ApplyArgs, use_color};
use crate::deploy::{self, Deploy, DeployError, DeployOptions, OnMoved, Origin};
use crate::engine::{ConnectOptions, Counting, Engine, connect};
use crate::plan::render::{RenderOptions, render_text};
use crate::plan::{Plan, PlanOptions};

use exit::INTERRUPTED;

#[must_use]
pub fn run(args: &ApplyArgs) -> i32 {
    let Some(prepared) = prepare::prepare(&args.files, &args.stack) else {
        return exit::ERROR;
    };
    let runtime = prepare::runtime();
    match runtime.block_on(run_async(args, &prepared)) {
        Ok(code) => code,
        Err(report) => {
            eprintln!("{report:?}");
            exit::ERROR
        }
    }
}

async fn run_async(args: &ApplyArgs, prepared: &Prepared) -> Result<i32, Report> {
    let engine = Counting::new(
        connect(&ConnectOptions {
            host: args.engine.host.clone(),
        })
        .await
        .map_err(Report::new)?,
    );
    let code = Box::pin(apply_with(args, prepared, &engine)).await;
    let calls = engine.calls();
    eprintln!(
        "Engine API calls: {} reads, {} writes",
        calls.reads(),
        calls.writes()
    );
    code
}

fn options(args: &ApplyArgs, stop: Stop) -> DeployOptions {
    DeployOptions {
        plan: PlanOptions { prune: args.prune },
        resolve_image: args.images.resolve_image,
        apply: ApplyOptions {
            on_failure: args.on_failure,
            max_parallel: args.max_parallel_services,
            timeout: args.timeout,
            detach: args.detach,
            registry_auth: args.images.with_registry_auth,
            stop,
        },
        lock_wait: Some(args.lock_wait),
        max_removals: None,
    }
}

async fn apply_with<E: Engine>(
    args: &ApplyArgs,
    prepared: &Prepared,
    engine: &E,
) -> Result<i32, Report> {
    if args.force_unlock
        && force_unlock(engine, &prepared.name)
            .await
            .map_err(Report::new)?
    {
        eprintln!("removed the apply lock of stack {}", prepared.name);
    }
    let (handle, stop) = Stop::new();
    let options = options(args, stop);
    let planned = deploy::plan(engine, &prepared.name, &prepared.desired, &options)
        .await
        .map_err(Report::new)?;
    for warning in &planned.warnings {
        eprintln!("warning: {warning}");
    }
    let plan = planned.plan;
    if let Some(path) = &args.plan_file {
        if !saved_plan_holds(path, &plan)? {
            return Ok(exit::ERROR);
        }
    }
    let render = RenderOptions {
        color: use_color(std::io::stdout().is_terminal()),
        show_sensitive: args.show_sensitive,
    };
    emit(&render_text(&plan, render));
    if !plan.has_changes() {
        return Ok(exit::OK);
    }
    if !confirmed(args, &prepared.name.to_string())? {
        return Ok(exit::ERROR);
    }
    stop_on_ctrl_c(handle, &prepared.name)?;
    deploy_shown(args, prepared, engine, &plan, &options).await
}

/// The first Ctrl-C asks the apply to stop (the write under way finishes, the lock is released,
/// the apply recorded); a second one ends the process at once. The handler is in place when
/// this returns, before the lock is taken: a Ctrl-C a moment later cannot kill the process
/// with the lock held (registering inside the spawned task could happen too late).
fn stop_on_ctrl_c(
    handle: crate::apply::StopHandle,
    stack: &crate::model::StackName,
) -> Result<(), Report> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())
        .map_err(|e| Report::msg(format!("cannot listen for Ctrl-C: {e}")))?;
    let stack = stack.to_string();
    tokio::spawn(async move {
        if interrupt.recv().await.is_some() {
            handle.stop();
            eprintln!("\nStopping: finishing the write under way (Ctrl-C again to quit at once)");
            if interrupt.recv().await.is_some() {
                eprintln!(
                    "Quit at once: the stack's lock may be left behind; it expires by itself, or clear it with `stackctl apply --force-unlock -s {stack} FILES`"
                );
                std::process::exit(INTERRUPTED);
            }
        }
    });
    Ok(())
}

fn saved_plan_holds(path: &std::path::Path, plan: &Plan) -> Result<bool, Report> {
    let saved = crate::plan::saved::read(path).map_err(Report::msg)?;
    let moved = crate::plan::saved::moved(&saved, plan);
    if !moved.is_empty() {
        eprintln!(
            "error: the saved plan no longer holds, nothing was applied:\n  - {}\nrun `stackctl plan --out` again",
            moved.join("\n  - ")
        );
    }
    Ok(moved.is_empty())
}

/// Ask on a terminal; refuse without `--yes` elsewhere (a CI job must say so explicitly).
fn confirmed(args: &ApplyArgs, stack: &str) -> Result<bool, Report> {
    if args.yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        eprintln!(
            "error: not applying without confirmation: stdin is not a terminal; pass --yes to apply"
        );
        return Ok(false);
    }
    eprint!("Apply these changes to stack {stack}? Only 'yes' is accepted: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Report::msg(e.to_string()))?;
    if answer.trim() == "yes" {
        return Ok(true);
    }
    eprintln!("Apply cancelled; nothing was changed.");
    Ok(false)
}

async fn deploy_shown<E: Engine>(
    args: &ApplyArgs,
    prepared: &Prepared,
    engine: &E,
    shown: &Plan,
    options: &DeployOptions,
) -> Result<i32, Report> {
    let started = Instant::now();
    let printer = progress::Printer::new(started, args.progress.progress);
    let sink = |event: &crate::apply::ApplyEvent| printer.event(event);
    let reviewed = args.plan_file.is_some();
    let mut on_moved = |plan: &Plan| {
        if reviewed {
            return OnMoved::Refuse;
        }
        eprintln!("The cluster changed since the plan was shown; applying the current plan:");
        emit(&render_text(
            plan,
            RenderOptions {
                color: false,
                show_sensitive: args.show_sensitive,
            },
        ));
        OnMoved::Proceed
    };
    let origin = Origin {
        source: source(args),
        ..Origin::default()
    };
    let deploy = Deploy {
        engine,
        stack: &prepared.name,
        desired: &prepared.desired,
        options,
        origin: &origin,
    };
    let result = deploy.run(shown, &Events(&sink), &mut on_moved).await;
    printer.finish();
    let deployed = match result {
        Ok(deployed) => deployed,
        Err(DeployError::Stopped) => {
            eprintln!("Interrupted while waiting for the lock; nothing was applied.");
            return Ok(INTERRUPTED);
        }
        Err(DeployError::Moved) => {
            eprintln!(
                "error: the cluster changed while waiting for the lock; the saved plan no longer holds, nothing was applied"
            );
            return Ok(exit::ERROR);
        }
        Err(err) => return Err(Report::new(err)),
    };
    for warning in &deployed.warnings {
        eprintln!("warning: {warning}");
    }
    if !deployed.plan.has_changes() {
        println!("No changes left to apply: the stack already matches the files.");
        return Ok(exit::OK);
    }
    if deployed.was_stopped() {
        let rolling = printer.unfinished();
        let rolling = if rolling.is_empty() {
            "nothing".to_owned()
        } else {
            rolling.join(", ")
        };
        eprintln!(
            "\nInterrupted: stopped waiting; nothing is half-written. Written: {}. Still rolling out in Swarm: {rolling}. The next `stackctl apply` continues from there.",
            deployed.report.written.describe()
        );
        progress::summary(&deployed.report, started.elapsed());
        return Ok(INTERRUPTED);
    }
    progress::summary(&deployed.report, started.elapsed());
    if deployed.is_success() {
        return Ok(exit::OK);
    }
    eprintln!(
        "Already written: {}; the next `stackctl apply` continues from there.",
        deployed.report.written.describe()
    );
    Ok(exit::ERROR)
}

fn source(args: &ApplyArgs) -> String {
    let files = args.files.load_options().files;
    files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(" + ")
}
