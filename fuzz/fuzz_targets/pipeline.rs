//! Any bytes as a stack file, through load → convert → plan (against an empty cluster) →
//! render: each run must end in a plan or in reported findings, never in a panic.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use stackctl::convert::{convert, read_object_files};
use stackctl::diff::normalize::DaemonApi;
use stackctl::load::diagnostic::{render, to_json};
use stackctl::load::{Diagnostics, LoadOptions, Sources, load};
use stackctl::model::StackName;
use stackctl::observe::LiveState;
use stackctl::plan::render::{RenderOptions, render_text};
use stackctl::plan::{PlanOptions, build};

/// One scratch directory per fuzzing process; each input overwrites the one stack file.
static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let dir = DIR.get_or_init(|| tempfile::tempdir().expect("a scratch directory"));
    let file = dir.path().join("stack.yml");
    std::fs::write(&file, data).expect("the scratch file is writable");
    let options = LoadOptions {
        files: vec![file],
        // A few variables so `${VAR}` forms take both branches.
        environment: [("SET", "value"), ("N", "3"), ("EMPTY", "")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        ..LoadOptions::default()
    };
    let loaded = match load(&options) {
        Ok(loaded) => loaded,
        Err(failure) => {
            report(&failure.diagnostics, &failure.sources);
            return;
        }
    };
    report(&loaded.warnings, &loaded.sources);
    let name = StackName::new("fuzz").expect("a valid stack name");
    let Ok(files) = read_object_files(&loaded.stack) else {
        return;
    };
    let Ok(desired) = convert(&loaded.stack, &name, &files) else {
        return;
    };
    let empty = LiveState::empty(DaemonApi { minor: 41 });
    if let Ok(plan) = build(&name, &desired, &empty, PlanOptions::default()) {
        let _ = render_text(&plan, RenderOptions::default());
        let _ = serde_json::to_string(&plan).expect("plans serialise");
    }
});

/// Render every finding both ways a user sees them.
fn report(diagnostics: &Diagnostics, sources: &Sources) {
    for diag in diagnostics.iter() {
        let _ = render(diag, sources, true);
        let _ = serde_json::to_string(&to_json(diag, sources)).expect("findings serialise");
    }
}
