//! Entry point: parse arguments, run the command, exit with its code.

use clap::{CommandFactory, Parser};
use stackctl::cli::{Cli, Command};
use stackctl::commands;

fn main() {
    // A shell asking for completions (`COMPLETE=bash stackctl -- ...`) is answered and exits here.
    clap_complete::CompleteEnv::with_factory(Cli::command)
        .var(commands::completions::COMPLETE_VAR)
        .complete();
    let cli = Cli::parse();
    stackctl::cli::set_color(cli.color);
    let code = match &cli.command {
        Command::Validate(args) => commands::validate::run(args),
        Command::Render(args) => commands::render::run(args),
        Command::Plan(args) => commands::plan::run(args),
        Command::Apply(args) => commands::apply::run(args),
        Command::Status(args) => commands::cluster::status(args),
        Command::Rollback(args) => commands::cluster::rollback(args),
        Command::Rm(args) => commands::cluster::rm(args),
        Command::History(args) => commands::cluster::history(args),
        Command::Watch(args) => commands::watch::run(args),
        Command::Healthcheck { url } => commands::healthcheck::run(url),
        Command::Config(args) => commands::config::run(args),
        Command::Completions { shell } => commands::completions::run(*shell),
        Command::Man { dir } => commands::man::run(dir.as_deref()),
    };
    std::process::exit(code);
}
