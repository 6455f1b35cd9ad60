//! The CI examples (examples/ci) stay valid: each file is YAML, and every stackctl command
//! line in them is one that stackctl's argument parser accepts, with the flags the README
//! promises (markdown plan with `--detailed-exitcode`, apply with `--yes`).

use clap::Parser;
use stackctl::cli::{Cli, Command, PlanFormat};
use stackctl::load::node::FileId;

use crate::util::repo_root;

/// The stackctl command lines of a file (not its comments), with `$STACK` and `$FILES` filled in and the shell's
/// redirections and `||` cut off.
fn command_lines(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| {
            let at = line
                .find("stackctl plan")
                .or_else(|| line.find("stackctl apply"))?;
            let command = line[at..].split(" > ").next()?.split(" || ").next()?;
            let filled = command
                .replace("\"$STACK\"", "shop")
                .replace("$FILES", "stacks/shop.yml");
            Some(filled.split_whitespace().map(str::to_owned).collect())
        })
        .collect()
}

#[test]
fn ci_examples_are_yaml_and_their_commands_parse() {
    for name in ["github-actions.yml", "gitlab-ci.yml"] {
        let path = repo_root().join("examples/ci").join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        stackctl::load::yaml::parse(FileId(0), &text)
            .unwrap_or_else(|e| panic!("{name}: {}", e.message));
        let lines = command_lines(&text);
        let (mut plans, mut applies) = (0, 0);
        for args in &lines {
            let cli = Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{name}: {args:?}: {e}"));
            match cli.command {
                Command::Plan(plan) => {
                    assert_eq!(plan.format, PlanFormat::Markdown, "{name}: {args:?}");
                    assert!(plan.detailed_exitcode, "{name}: {args:?}");
                    plans += 1;
                }
                Command::Apply(apply) => {
                    assert!(apply.yes, "{name}: {args:?}");
                    applies += 1;
                }
                other => panic!("{name}: unexpected {other:?}"),
            }
        }
        assert_eq!((plans, applies), (1, 1), "{name}: {lines:?}");
    }
}
