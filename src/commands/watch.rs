//! `stackctl watch`: load the watcher's configuration (a file, or the single-stack flags),
//! connect, serve `/healthz` and `/status`, and run the controller until SIGTERM or Ctrl-C.

use std::path::PathBuf;
use std::sync::Arc;

use miette::Report;

use super::{exit, prepare, print_diagnostics};
use crate::apply::Stop;
use crate::cli::watch::WatchArgs;
use crate::engine::Counting;
use crate::watch::config::{self, WatchConfig};
use crate::watch::controller::Controller;
use crate::watch::http::{self, CallCounter};
use crate::watch::log::Log;
use crate::watch::reconcile::Context;
use crate::watch::status::{EngineCalls, SharedBoard};

#[must_use]
pub fn run(args: &WatchArgs) -> i32 {
    let Some(config) = load(args) else {
        return exit::ERROR;
    };
    let state_dir = config
        .controller
        .state_dir
        .clone()
        .unwrap_or_else(default_state_dir);
    if let Err(err) = std::fs::create_dir_all(&state_dir) {
        eprintln!(
            "error: cannot create the state directory {}: {err}",
            state_dir.display()
        );
        return exit::ERROR;
    }
    let runtime = prepare::runtime();
    match runtime.block_on(watch(args, config, state_dir)) {
        Ok(()) => exit::OK,
        Err(report) => {
            eprintln!("{report:?}");
            exit::ERROR
        }
    }
}

/// The configuration, its problems printed like stack-file problems.
fn load(args: &WatchArgs) -> Option<WatchConfig> {
    let Some(path) = &args.config else {
        return config::from_flags(args)
            .map_err(|message| eprintln!("error: {message}"))
            .ok();
    };
    match config::load_file(path) {
        Ok(mut loaded) => {
            let _ = print_diagnostics(&loaded.warnings, &loaded.sources);
            config::override_controller(&mut loaded.config, args);
            Some(loaded.config)
        }
        Err(failure) => {
            let errors = print_diagnostics(&failure.diagnostics, &failure.sources);
            eprintln!(
                "{errors} error(s) in {}; nothing was started",
                path.display()
            );
            None
        }
    }
}

/// `$XDG_STATE_HOME/stackctl`, else `~/.local/state/stackctl`, else `/var/lib/stackctl`.
fn default_state_dir() -> PathBuf {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(state) = non_empty("XDG_STATE_HOME") {
        return PathBuf::from(state).join("stackctl");
    }
    non_empty("HOME").map_or_else(
        || PathBuf::from("/var/lib/stackctl"),
        |home| PathBuf::from(home).join(".local/state/stackctl"),
    )
}

async fn watch(args: &WatchArgs, config: WatchConfig, state_dir: PathBuf) -> Result<(), Report> {
    let engine = prepare::connect_manager(args.engine.host.clone()).await?;
    let engine = Arc::new(Counting::new(engine));
    let (handle, stop) = Stop::new();
    let board = SharedBoard::default();
    board.lock().started = crate::watch::clock::now();
    let log = Log {
        format: config.controller.log_format,
    };
    if let Some(addr) = config.controller.listen {
        let counted = engine.clone();
        let calls: CallCounter = Box::new(move || {
            let calls = counted.calls();
            EngineCalls {
                reads: calls.reads(),
                writes: calls.writes(),
            }
        });
        let served = http::bind(addr, board.clone(), engine.clone(), calls, stop.clone())
            .await
            .map_err(|e| Report::msg(format!("cannot listen on {addr}: {e}")))?;
        tokio::spawn(served);
        log.info(
            "watch",
            &format!("serving /healthz and /status on http://{addr}"),
        );
    }
    log.info(
        "watch",
        &format!(
            "watching {} stack(s) from {} source(s); state in {}",
            config.stacks.len(),
            config.sources.len(),
            state_dir.display()
        ),
    );
    tokio::spawn(async move {
        let signal = wait_for_signal().await;
        log.info("watch", &format!("{signal}: stopping"));
        handle.stop();
    });
    let ctx = Context {
        engine,
        board,
        log,
        stop,
        heal_limit: config.controller.heal_limit,
        heal_window: config.controller.heal_window,
    };
    Controller::new(ctx, config, state_dir).run().await;
    log.info("watch", "stopped");
    Ok(())
}

/// SIGTERM (docker stop, a Swarm task shutdown) or SIGINT (Ctrl-C).
async fn wait_for_signal() -> &'static str {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "interrupted",
        Some(()) = async { match terminate.as_mut() { Some(t) => t.recv().await, None => std::future::pending().await } } => "terminated",
    }
}
