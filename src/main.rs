//! Entry point: parse arguments, run the command, exit with its code.

use clap::Parser;

fn main() {
    let cli = stackctl::cli::Cli::parse();
    let code = match &cli.command {
        stackctl::cli::Command::Validate(args) => stackctl::commands::validate::run(args),
        stackctl::cli::Command::Render(args) => stackctl::commands::render::run(args),
        stackctl::cli::Command::Plan(args) => stackctl::commands::plan::run(args),
        stackctl::cli::Command::Apply(args) => stackctl::commands::apply::run(args),
        stackctl::cli::Command::Status(args) => stackctl::commands::cluster::status(args),
        stackctl::cli::Command::Rollback(args) => stackctl::commands::cluster::rollback(args),
        stackctl::cli::Command::Rm(args) => stackctl::commands::cluster::rm(args),
        stackctl::cli::Command::History(args) => stackctl::commands::cluster::history(args),
        stackctl::cli::Command::Watch(args) => stackctl::commands::watch::run(args),
        stackctl::cli::Command::Healthcheck { url } => stackctl::commands::healthcheck::run(url),
    };
    std::process::exit(code);
}
