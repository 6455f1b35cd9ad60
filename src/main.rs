//! Entry point: parse arguments, run the command, exit with its code.

use clap::Parser;

fn main() {
    let cli = stackctl::cli::Cli::parse();
    let code = match &cli.command {
        stackctl::cli::Command::Validate(args) => stackctl::commands::validate::run(args),
        stackctl::cli::Command::Render(args) => stackctl::commands::render::run(args),
        stackctl::cli::Command::Plan(args) => stackctl::commands::plan::run(args),
    };
    std::process::exit(code);
}
