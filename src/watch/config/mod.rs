//! The watcher's configuration: `watch.yml` (sources and stacks), or the single-stack flags.

mod check;
mod flags;
pub mod keys;
mod parse;
mod rules;
mod sources;
mod stacks;
#[cfg(test)]
mod tests;
mod types;

use std::path::{Path, PathBuf};

pub use flags::{from_flags, override_controller};
pub use types::{
    ControllerConfig, DEFAULT_HEAL_LIMIT, DEFAULT_HEAL_WINDOW, DEFAULT_MAX_CONCURRENT,
    DEFAULT_RESYNC, LogFormat, SourceConfig, SourceKind, StackConfig, StackMode, WatchConfig,
};

use crate::load::node::{FileId, Span};
use crate::load::{Diagnostic, Diagnostics, Sources, yaml};

/// A configuration that loaded: the settings, the file (to quote warnings from), the warnings.
#[derive(Debug)]
pub struct LoadedConfig {
    pub config: WatchConfig,
    pub sources: Sources,
    pub warnings: Diagnostics,
}

/// A configuration that did not load: every finding, errors and warnings, and the file to quote
/// them from (render each with [`crate::load::diagnostic::render`]).
#[derive(Debug)]
pub struct ConfigFailure {
    pub diagnostics: Diagnostics,
    pub sources: Sources,
}

/// Load and check a config file. Relative host paths in it (`dir`, `token_file`, `state_dir`,
/// ...) are taken relative to the file's directory.
pub fn load_file(path: &Path) -> Result<LoadedConfig, ConfigFailure> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
            let base_dir = absolute
                .parent()
                .map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
            load_text(path, text, &base_dir)
        }
        Err(err) => {
            let message = format!("cannot read watch config {}: {err}", path.display());
            let mut diagnostics = Diagnostics::default();
            diagnostics.push(Diagnostic::error("stackctl::watch::read", message));
            Err(ConfigFailure {
                diagnostics,
                sources: Sources::default(),
            })
        }
    }
}

/// Load and check configuration text read from `path`, relative host paths against `base_dir`.
pub fn load_text(
    path: &Path,
    text: String,
    base_dir: &Path,
) -> Result<LoadedConfig, ConfigFailure> {
    let mut sources = Sources::default();
    let id = sources.add(path, path.display().to_string(), text);
    let mut diags = Diagnostics::default();
    let config = decode(id, &sources, base_dir, &mut diags);
    diags.sort();
    match config {
        Some(config) if !diags.has_errors() => Ok(LoadedConfig {
            config,
            sources,
            warnings: diags,
        }),
        _ => Err(ConfigFailure {
            diagnostics: diags,
            sources,
        }),
    }
}

fn decode(
    id: FileId,
    sources: &Sources,
    base_dir: &Path,
    diags: &mut Diagnostics,
) -> Option<WatchConfig> {
    let root = match yaml::parse(id, &sources.get(id).text) {
        Ok(root) => root,
        Err(err) => {
            diags.push(
                Diagnostic::error("stackctl::load::syntax", err.message).at(err.span, "here"),
            );
            return None;
        }
    };
    if root.is_null() {
        let message = format!("{} is empty: nothing to watch", sources.get(id).name);
        let help = "a watch file needs `sources:` and `stacks:`; see examples/watch/watch.yml";
        diags.push(
            Diagnostic::error("stackctl::watch::empty", message)
                .at(Span::new(id, 0, 0), "empty")
                .with_help(help),
        );
        return None;
    }
    parse::parse(&root, base_dir, sources, diags)
}
