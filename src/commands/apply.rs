//! `stackctl apply`: show the plan, confirm, take the stack's lock, carry the plan out while
//! reporting progress, record the apply, and exit non-zero if any service did not converge.

use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

use miette::Report;

use super::output::emit;
use super::prepare::{self, Prepared};
use super::{exit, progress};
use crate::apply::lock::{StackLock, force_unlock};
use crate::apply::record::{self, Entry};
use crate::apply::{ApplyOptions, ApplyReport, Events, apply};
use crate::cli::{ApplyArgs, use_color};
use crate::engine::{ConnectOptions, Counting, Engine, connect};
use crate::plan::render::{RenderOptions, render_text};
use crate::plan::{Action, Plan, PlanOptions};

/// Stale-lock expiry: long enough for a slow rollout, short enough that a crashed apply does
/// not block the next one for long.
const LOCK_TTL: Duration = Duration::from_secs(30 * 60);

/// Exit code after Ctrl-C, as shells report SIGINT.
const INTERRUPTED: i32 = 130;

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
    let code = apply_with(args, prepared, &engine).await;
    let calls = engine.calls();
    eprintln!(
        "Engine API calls: {} reads, {} writes",
        calls.reads(),
        calls.writes()
    );
    code
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
    let options = PlanOptions { prune: args.prune };
    let plan = current_plan(args, prepared, engine, options).await?;
    if let Some(path) = &args.plan_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Report::msg(format!("cannot read {}: {e}", path.display())))?;
        let saved = crate::plan::saved::load(&text).map_err(Report::msg)?;
        let moved = crate::plan::saved::moved(&saved, &plan);
        if !moved.is_empty() {
            eprintln!(
                "error: the saved plan no longer holds, nothing was applied:\n  - {}\nrun `stackctl plan --out` again",
                moved.join("\n  - ")
            );
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
    let lock = StackLock::acquire(engine, &prepared.name, LOCK_TTL, args.lock_wait)
        .await
        .map_err(Report::new)?;
    let result = apply_locked(args, prepared, engine, &plan, options).await;
    if let Err(err) = lock.release(engine).await {
        eprintln!("warning: could not release the apply lock: {err}");
    }
    result
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

async fn apply_locked<E: Engine>(
    args: &ApplyArgs,
    prepared: &Prepared,
    engine: &E,
    shown: &Plan,
    options: PlanOptions,
) -> Result<i32, Report> {
    // The cluster may have moved while the user read the plan: apply what is true now.
    let plan = current_plan(args, prepared, engine, options).await?;
    if !plan.has_changes() {
        println!("No changes left to apply: the stack already matches the files.");
        return Ok(exit::OK);
    }
    let same = serde_json::to_value(&plan).ok() == serde_json::to_value(shown).ok();
    if !same && args.plan_file.is_some() {
        eprintln!(
            "error: the cluster changed while waiting for the lock; the saved plan no longer holds, nothing was applied"
        );
        return Ok(exit::ERROR);
    }
    if !same {
        eprintln!("The cluster changed since the plan was shown; applying the current plan:");
        emit(&render_text(
            &plan,
            RenderOptions {
                color: false,
                show_sensitive: args.show_sensitive,
            },
        ));
    }
    let apply_options = ApplyOptions {
        on_failure: args.on_failure,
        max_parallel: args.max_parallel_services,
        timeout: args.timeout,
        detach: args.detach,
        registry_auth: args.images.with_registry_auth,
    };
    let started = Instant::now();
    let printer = progress::Printer::new(started, args.progress.progress);
    let sink = |event: &crate::apply::ApplyEvent| printer.event(event);
    let events = Events(&sink);
    let run = apply(engine, &plan, &apply_options, &events);
    // Ctrl-C stops the waiting between Engine API calls (each write is atomic in Swarm), says
    // what is still rolling, and still releases the lock and records the apply.
    let report = tokio::select! {
        report = run => report.map_err(Report::new)?,
        _ = tokio::signal::ctrl_c() => {
            printer.finish();
            let rolling = printer.unfinished();
            eprintln!("\nInterrupted: stopped waiting; nothing is half-written. Still rolling out in Swarm: {}", if rolling.is_empty() { "nothing".to_owned() } else { rolling.join(", ") });
            let mut entry = Entry::now(source(args));
            fill_entry(&mut entry, &plan, &ApplyReport::default());
            entry.outcome = "interrupted".into();
            let _ = record::append(engine, &prepared.name, entry).await;
            return Ok(INTERRUPTED);
        }
    };
    printer.finish();
    progress::summary(&report, started.elapsed());
    let mut entry = Entry::now(source(args));
    fill_entry(&mut entry, &plan, &report);
    if let Err(err) = record::append(engine, &prepared.name, entry).await {
        eprintln!("warning: could not record this apply in the stack's history: {err}");
    }
    Ok(if report.is_success() {
        exit::OK
    } else {
        exit::ERROR
    })
}

fn source(args: &ApplyArgs) -> String {
    let files = args.files.load_options().files;
    files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(" + ")
}

fn fill_entry(entry: &mut Entry, plan: &Plan, report: &ApplyReport) {
    for service in &plan.services {
        let list = match service.action {
            Action::Create => &mut entry.created,
            Action::Update => &mut entry.updated,
            Action::Remove => &mut entry.removed,
            Action::Unchanged => continue,
        };
        list.push(service.name.clone());
    }
    let failed: Vec<String> = report
        .services
        .iter()
        .filter(|(_, o)| !o.is_success())
        .map(|(n, o)| format!("{n}: {}", progress::describe(n, o)))
        .collect();
    entry.outcome = if failed.is_empty() {
        "succeeded".into()
    } else {
        failed.join("; ")
    };
}

async fn current_plan<E: Engine>(
    args: &ApplyArgs,
    prepared: &Prepared,
    engine: &E,
    options: PlanOptions,
) -> Result<Plan, Report> {
    let images = &args.images;
    prepare::plan_with_images(
        engine,
        prepared,
        options,
        images.resolve_image,
        images.with_registry_auth,
    )
    .await
}
