//! Entry point: parse arguments, run the command, exit with its code.

use clap::Parser;

fn main() {
    let cli = stackctl::cli::Cli::parse();
    let code = match &cli.command {
        stackctl::cli::Command::Validate(args) => stackctl::commands::validate::run(args),
    };
    std::process::exit(code);
}
