//! `stackctl plan`: load, convert, observe the cluster, diff, and print what would change.

use std::io::IsTerminal;

use super::output::emit;
use super::{exit, prepare};
use crate::cli::{PlanArgs, PlanFormat, use_color};
use crate::plan::markdown::render_markdown;
use crate::plan::render::{RenderOptions, render_text};

/// `--detailed-exitcode`: changes present.
const CHANGES: i32 = 2;

#[must_use]
pub fn run(args: &PlanArgs) -> i32 {
    let Some(prepared) = prepare::prepare(&args.files, &args.stack) else {
        return exit::ERROR;
    };
    let runtime = prepare::runtime();
    let options = crate::plan::PlanOptions { prune: args.prune };
    let plan = match runtime.block_on(prepare::plan(
        &prepared,
        args.engine.host.clone(),
        options,
        &args.images,
    )) {
        Ok(plan) => plan,
        Err(report) => {
            eprintln!("{report:?}");
            return exit::ERROR;
        }
    };
    if let Some(path) = &args.out {
        if let Err(err) = std::fs::write(path, crate::plan::saved::save(&plan)) {
            eprintln!("error: cannot write the plan to {}: {err}", path.display());
            return exit::ERROR;
        }
        eprintln!(
            "plan saved to {}; apply it with `stackctl apply --plan-file {}`",
            path.display(),
            path.display()
        );
    }
    match args.format {
        PlanFormat::Markdown => {
            if args.show_sensitive {
                eprintln!(
                    "warning: --show-sensitive does not apply to --format markdown: it is \
                     posted where many can read it"
                );
            }
            emit(&render_markdown(&plan));
        }
        PlanFormat::Json => {
            let json = serde_json::to_string_pretty(&plan).expect("plan serialises");
            emit(&format!("{json}\n"));
        }
        PlanFormat::Human => {
            let color = use_color(std::io::stdout().is_terminal());
            emit(&render_text(
                &plan,
                RenderOptions {
                    color,
                    show_sensitive: args.show_sensitive,
                },
            ));
        }
    }
    if args.detailed_exitcode && plan.has_changes() {
        CHANGES
    } else {
        exit::OK
    }
}
