//! `stackctl completions SHELL`: the registration script a shell sources to complete stackctl.

use std::path::PathBuf;

use clap_complete::env::Shells;

use super::exit;
use super::output::emit;
use crate::cli::complete::Shell;

/// The variable that turns a run of stackctl into a completion request (clap's default).
pub const COMPLETE_VAR: &str = "COMPLETE";

/// Print the script; it calls this same program back on every completion (see
/// [`crate::cli::complete`]), so it is always as current as the binary.
#[must_use]
pub fn run(shell: Shell) -> i32 {
    let shells = Shells::builtins();
    let completer = shells
        .completer(shell.name())
        .expect("every Shell is one of clap's built-in shells");
    let mut script = Vec::new();
    let written = completer.write_registration(
        COMPLETE_VAR,
        "stackctl",
        "stackctl",
        &program(),
        &mut script,
    );
    if let Err(err) = written {
        eprintln!("error: cannot write the {} script: {err}", shell.name());
        return exit::ERROR;
    }
    emit(&String::from_utf8_lossy(&script));
    exit::OK
}

/// How the script should call stackctl: as it was called (`stackctl` from PATH stays so), but a
/// relative path such as `./target/debug/stackctl` made absolute, since completion happens in
/// whatever directory the shell is in.
fn program() -> String {
    let called = std::env::args_os()
        .next()
        .map_or_else(|| PathBuf::from("stackctl"), PathBuf::from);
    let program = if called.components().count() > 1 {
        std::path::absolute(&called).unwrap_or(called)
    } else {
        called
    };
    program.to_string_lossy().into_owned()
}
