//! One module per command: orchestration over the library stages, nothing else.

pub mod apply;
pub mod cluster;
pub mod completions;
pub mod config;
pub mod healthcheck;
pub mod man;
pub mod output;
pub mod plan;
pub mod prepare;
pub mod progress;
pub mod render;
pub mod stack_name;
pub mod validate;
pub mod watch;

use std::io::{IsTerminal, Write};

use crate::cli::{FileArgs, use_color};
use crate::load::diagnostic::render as render_diagnostic;
use crate::load::{Diagnostics, Loaded, Sources, load};

/// Load the files; on failure print the diagnostics to stderr and return `None`. Warnings of a
/// successful load are printed too.
#[must_use]
pub fn load_or_report(files: &FileArgs) -> Option<Loaded> {
    match load(&files.load_options()) {
        Ok(loaded) => {
            let _ = print_diagnostics(&loaded.warnings, &loaded.sources);
            Some(loaded)
        }
        Err(failure) => {
            let errors = print_diagnostics(&failure.diagnostics, &failure.sources);
            eprintln!("{errors} error(s) found; nothing was changed");
            None
        }
    }
}

/// Render findings of a stack or watch file to stderr (file, line and column, excerpt, help);
/// returns how many are errors.
#[must_use = "the caller says how many errors there were"]
pub fn print_diagnostics(diagnostics: &Diagnostics, sources: &Sources) -> usize {
    let color = use_color(std::io::stderr().is_terminal());
    let mut stderr = std::io::stderr().lock();
    for diag in diagnostics.iter() {
        let _ = write!(stderr, "{}", render_diagnostic(diag, sources, color));
    }
    diagnostics.iter().filter(|d| d.is_error()).count()
}

/// Process exit codes (terraform's convention for plan's `--detailed-exitcode`).
pub mod exit {
    pub const OK: i32 = 0;
    pub const ERROR: i32 = 1;
    /// After Ctrl-C, as shells report SIGINT.
    pub const INTERRUPTED: i32 = 130;
}
