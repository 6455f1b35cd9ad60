//! `stackctl man`: the manual page, generated from the same argument definitions as `--help`.

use std::path::Path;

use clap::CommandFactory;

use super::exit;
use super::output::emit;
use crate::cli::Cli;

/// Print `stackctl.1`, or with `dir` write it and one page per command there.
#[must_use]
pub fn run(dir: Option<&Path>) -> i32 {
    let command = Cli::command();
    let Some(dir) = dir else {
        return match page(&command) {
            Ok(roff) => {
                emit(&String::from_utf8_lossy(&roff));
                exit::OK
            }
            Err(err) => {
                eprintln!("error: cannot render the man page: {err}");
                exit::ERROR
            }
        };
    };
    match write_pages(&command, dir) {
        Ok(count) => {
            eprintln!("{count} man pages written to {}", dir.display());
            exit::OK
        }
        Err(err) => {
            eprintln!(
                "error: cannot write the man pages to {}: {err}",
                dir.display()
            );
            exit::ERROR
        }
    }
}

fn page(command: &clap::Command) -> std::io::Result<Vec<u8>> {
    let mut roff = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut roff)?;
    Ok(roff)
}

/// `stackctl.1`, then `stackctl-plan.1` and so on (the names `man stackctl-plan` looks for:
/// clap names a subcommand's page after its parent).
fn write_pages(command: &clap::Command, dir: &Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    clap_mangen::generate_to(command.clone(), dir)?;
    Ok(1 + command
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .count())
}
