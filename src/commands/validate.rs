//! `stackctl validate`: load the files and report what is wrong, by file, line and column.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use serde::Serialize;

use super::{exit, stack_name};
use crate::cli::{Format, ValidateArgs, use_color};
use crate::load::diagnostic::{JsonDiagnostic, render, to_json};
use crate::load::swarm_limits::check_stack_names;
use crate::load::{Diagnostics, Sources, load};

#[derive(Serialize)]
struct JsonReport<'a> {
    valid: bool,
    files: Vec<&'a str>,
    services: Vec<&'a str>,
    diagnostics: Vec<JsonDiagnostic<'a>>,
}

/// Run the command; returns the exit code.
#[must_use]
pub fn run(args: &ValidateArgs) -> i32 {
    let options = args.files.load_options();
    let (valid, diagnostics, sources, services) = match load(&options) {
        Ok(loaded) => {
            let services: Vec<String> = loaded.stack.services.keys().cloned().collect();
            let mut diagnostics = loaded.warnings;
            // Names are checked for the stack `plan` would deploy without `--stack`.
            let first = options.files.first().map(PathBuf::as_path);
            if let Ok((name, _)) = stack_name::resolve(None, &loaded.stack, first) {
                diagnostics.extend(check_stack_names(&loaded.stack, &name, &loaded.sources));
            }
            (
                !diagnostics.has_errors(),
                diagnostics,
                loaded.sources,
                services,
            )
        }
        Err(failure) => (false, failure.diagnostics, failure.sources, Vec::new()),
    };
    match args.format {
        Format::Json => print_json(valid, &diagnostics, &sources, &services),
        Format::Human => print_human(valid, &diagnostics, &sources, &services),
    }
    if valid { exit::OK } else { exit::ERROR }
}

fn print_json(valid: bool, diagnostics: &Diagnostics, sources: &Sources, services: &[String]) {
    let report = JsonReport {
        valid,
        files: sources.iter().map(|(_, f)| f.name.as_str()).collect(),
        services: services.iter().map(String::as_str).collect(),
        diagnostics: diagnostics.iter().map(|d| to_json(d, sources)).collect(),
    };
    let json = serde_json::to_string_pretty(&report).expect("plain data serialises");
    super::output::emit(&format!("{json}\n"));
}

fn print_human(valid: bool, diagnostics: &Diagnostics, sources: &Sources, services: &[String]) {
    let color = use_color(std::io::stderr().is_terminal());
    let mut stderr = std::io::stderr().lock();
    for diag in diagnostics.iter() {
        let _ = write!(stderr, "{}", render(diag, sources, color));
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let files: Vec<&str> = sources.iter().map(|(_, f)| f.name.as_str()).collect();
    if valid {
        let summary = format!(
            "{}: valid, {} service(s): {}\n",
            files.join(" + "),
            services.len(),
            services.join(", ")
        );
        super::output::emit(&summary);
    } else {
        let _ = writeln!(stderr, "{errors} error(s) found; nothing was deployed");
    }
}
