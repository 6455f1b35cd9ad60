//! One module per command: orchestration over the library stages, nothing else.

pub mod apply;
pub mod cluster;
pub mod healthcheck;
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
use crate::load::{Loaded, load};

/// Load the files; on failure print the diagnostics to stderr and return `None`. Warnings of a
/// successful load are printed too.
#[must_use]
pub fn load_or_report(files: &FileArgs) -> Option<Loaded> {
    let color = use_color(std::io::stderr().is_terminal());
    let mut stderr = std::io::stderr().lock();
    match load(&files.load_options()) {
        Ok(loaded) => {
            for diag in loaded.warnings.iter() {
                let _ = write!(
                    stderr,
                    "{}",
                    render_diagnostic(diag, &loaded.sources, color)
                );
            }
            Some(loaded)
        }
        Err(failure) => {
            for diag in failure.diagnostics.iter() {
                let _ = write!(
                    stderr,
                    "{}",
                    render_diagnostic(diag, &failure.sources, color)
                );
            }
            let errors = failure.diagnostics.iter().filter(|d| d.is_error()).count();
            let _ = writeln!(stderr, "{errors} error(s) found; nothing was changed");
            None
        }
    }
}

/// Process exit codes (terraform's convention for plan's `--detailed-exitcode`).
pub mod exit {
    pub const OK: i32 = 0;
    pub const ERROR: i32 = 1;
}
