//! A service's final environment: `env_file` contents, overridden by `environment`, and empty or
//! null values filled from the variables (docker's rule), plus bind-mount paths made absolute.

use std::collections::BTreeMap;
use std::path::Path;

use super::decode::top_level_absolute as absolute;
use super::diagnostic::{Diagnostic, Diagnostics};
use super::env_file::parse_env_file;
use crate::model::{Service, VolumeType};

/// Resolve `env_file` and the empty/null override rule for one service of one file.
pub fn resolve_environment(
    service: &mut Service,
    working_dir: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
    diags: &mut Diagnostics,
) {
    let mut environment = BTreeMap::new();
    let mut from_files = Vec::new();
    for file in &service.env_file {
        let path = absolute(working_dir, &file.value);
        let content = match super::read::read(&path) {
            Ok(content) => content,
            Err(err) => {
                let message = format!("cannot read env_file {}: {err}", path.display());
                let diag = Diagnostic::error("stackctl::load::env_file", message)
                    .at(file.span, "env_file listed here")
                    .with_help("env_file paths are relative to the first stack file's directory");
                diags.push(diag);
                continue;
            }
        };
        match parse_env_file(&content, lookup) {
            Ok(pairs) => from_files.extend(pairs.into_iter().map(|(k, v)| (k, Some(v)))),
            Err(err) => {
                let message = format!("{}:{}: {}", path.display(), err.line, err.message);
                diags.push(
                    Diagnostic::error("stackctl::load::env_file", message)
                        .at(file.span, "read from here"),
                );
            }
        }
    }
    let explicit = std::mem::take(&mut service.environment);
    for (key, value) in from_files.into_iter().chain(explicit) {
        let filled = match value.as_deref() {
            None | Some("") => lookup(&key).or(value),
            Some(_) => value,
        };
        environment.insert(key, filled);
    }
    service.environment = environment;
}

/// Bind sources: `~` becomes `$HOME`, relative paths join the working directory.
pub fn resolve_bind_paths(
    service: &mut Service,
    working_dir: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) {
    for volume in &mut service.volumes {
        if volume.kind != VolumeType::Bind || volume.source.is_empty() {
            continue;
        }
        if let Some(rest) = volume.source.strip_prefix('~') {
            if let Some(home) = lookup("HOME") {
                volume.source = format!("{home}{rest}");
            }
        }
        let is_windows =
            volume.source.starts_with(r"\\") || volume.source.chars().nth(1) == Some(':');
        if !is_windows {
            volume.source = absolute(working_dir, &volume.source)
                .to_string_lossy()
                .into_owned();
        }
    }
}
