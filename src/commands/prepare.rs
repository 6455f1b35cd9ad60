//! The steps `plan`, `apply` and `render` share: load and convert the files, then (for plan
//! and apply) connect, observe the cluster and build the plan.

use miette::Report;

use super::{load_or_report, stack_name};
use crate::cli::{FileArgs, ImageArgs, StackArgs};
use crate::convert::{Desired, convert, read_object_files};
use crate::deploy::DeployOptions;
use crate::engine::{ConnectOptions, Engine, connect};
use crate::load::swarm_limits::check_stack_names;
use crate::model::StackName;
use crate::observe::images::ResolveImage;
use crate::plan::{Plan, PlanOptions};

/// Files loaded and converted: the desired state of one named stack.
pub struct Prepared {
    pub name: StackName,
    pub desired: Desired,
}

/// Load and convert; on failure the problem has been printed and `None` is returned.
#[must_use]
pub fn prepare(files: &FileArgs, stack: &StackArgs) -> Option<Prepared> {
    let loaded = load_or_report(files)?;
    let first = files.load_options().files.first().cloned();
    let (name, source) =
        match stack_name::resolve(stack.stack.as_deref(), &loaded.stack, first.as_deref()) {
            Ok(found) => found,
            Err(message) => {
                eprintln!("error: {message}");
                return None;
            }
        };
    eprintln!("stack: {name} ({})", source.describe());
    let names = check_stack_names(&loaded.stack, &name, &loaded.sources);
    if names.has_errors() {
        let errors = super::print_diagnostics(&names, &loaded.sources);
        eprintln!("{errors} error(s) found; nothing was changed");
        return None;
    }
    let object_files = match read_object_files(&loaded.stack) {
        Ok(files) => files,
        Err((path, err)) => {
            eprintln!("error: cannot read {path}: {err}");
            return None;
        }
    };
    match convert(&loaded.stack, &name, &object_files) {
        Ok(desired) => Some(Prepared { name, desired }),
        Err(err) => {
            eprintln!("{:?}", Report::new(err));
            None
        }
    }
}

/// A runtime for one command; stackctl's concurrency is I/O-bound.
#[must_use]
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime starts")
}

/// Connect to the daemon and check that it is a swarm manager.
pub async fn connect_manager(host: Option<String>) -> Result<crate::engine::DockerEngine, Report> {
    let engine = connect(&ConnectOptions { host })
        .await
        .map_err(Report::new)?;
    engine
        .probe()
        .await
        .and_then(|p| p.require_manager())
        .map_err(Report::new)?;
    Ok(engine)
}

/// Connect, check this is a manager, observe the stack and build its plan.
pub async fn plan(
    prepared: &Prepared,
    host: Option<String>,
    options: PlanOptions,
    images: &ImageArgs,
) -> Result<Plan, Report> {
    let engine = connect(&ConnectOptions { host })
        .await
        .map_err(Report::new)?;
    plan_with_images(
        &engine,
        prepared,
        options,
        images.resolve_image,
        images.with_registry_auth,
    )
    .await
}

/// The same, on a given engine (tests count its calls), with stackctl's default image rule.
pub async fn plan_with<E: Engine>(
    engine: &E,
    prepared: &Prepared,
    options: PlanOptions,
) -> Result<Plan, Report> {
    plan_with_images(engine, prepared, options, ResolveImage::default(), false).await
}

/// Observe, pin image digests per `resolve`, and build the plan; warnings go to stderr.
pub async fn plan_with_images<E: Engine>(
    engine: &E,
    prepared: &Prepared,
    options: PlanOptions,
    resolve: ResolveImage,
    registry_auth: bool,
) -> Result<Plan, Report> {
    let options = DeployOptions {
        plan: options,
        resolve_image: resolve,
        apply: crate::apply::ApplyOptions {
            registry_auth,
            ..Default::default()
        },
        ..DeployOptions::default()
    };
    let planned = crate::deploy::plan(engine, &prepared.name, &prepared.desired, &options)
        .await
        .map_err(Report::new)?;
    for warning in &planned.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(planned.plan)
}
