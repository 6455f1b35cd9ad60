//! Mutated stack files never panic the pipeline (load → convert → plan against an empty
//! cluster → render, findings rendered too): each either plans or reports diagnostics. The
//! coverage-guided version of this is `scripts/fuzz`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use stackctl::convert::{convert, read_object_files};
use stackctl::diff::normalize::DaemonApi;
use stackctl::load::diagnostic::{render, to_json};
use stackctl::load::{Diagnostics, LoadOptions, Sources, load};
use stackctl::model::StackName;
use stackctl::observe::LiveState;
use stackctl::plan::render::{RenderOptions, render_text};
use stackctl::plan::{PlanOptions, build};

use super::hostile_input::one_line_json;
use super::util::repo_root;

/// xorshift64*: a deterministic generator, so a failure can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    ":", "- ", "\n", "  ", "&a ", "*a", "<<: *a\n", "${", "$", "}", "[", "]", "{", "}", "'", "\"",
    "#", "|", ">", "!!str ", "~", "0x", "1e9", "-1", "yes", "\t", "?", ",", "\u{e9}", "\\",
];

fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut bytes: Vec<char> = text.chars().collect();
    for _ in 0..=rng.below(4) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(4) {
            0 if !bytes.is_empty() => {
                let end = (at + rng.below(20)).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            1 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                bytes.splice(at..at, token.chars());
            }
            2 if !bytes.is_empty() => {
                let start = rng.below(bytes.len());
                let end = (start + rng.below(40)).min(bytes.len());
                let copy: Vec<char> = bytes[start..end].to_vec();
                bytes.splice(at..at, copy);
            }
            _ => {
                if let Some(c) = bytes.get_mut(at) {
                    *c = TOKENS[rng.below(TOKENS.len())]
                        .chars()
                        .next()
                        .unwrap_or(' ');
                }
            }
        }
    }
    bytes.into_iter().collect()
}

/// Load `file`, render every finding, and plan what loads against an empty cluster; true when
/// it loaded.
fn run_pipeline(file: &Path) -> bool {
    let options = LoadOptions {
        files: vec![file.to_owned()],
        ..LoadOptions::default()
    };
    let loaded = match load(&options) {
        Ok(loaded) => loaded,
        Err(failure) => {
            report(&failure.diagnostics, &failure.sources);
            return false;
        }
    };
    report(&loaded.warnings, &loaded.sources);
    let name = StackName::new("fuzz").unwrap();
    let Ok(files) = read_object_files(&loaded.stack) else {
        return true;
    };
    let Ok(desired) = convert(&loaded.stack, &name, &files) else {
        return true;
    };
    let empty = LiveState::empty(DaemonApi { minor: 41 });
    if let Ok(plan) = build(&name, &desired, &empty, PlanOptions::default()) {
        assert!(!render_text(&plan, RenderOptions::default()).is_empty());
        serde_json::to_string(&plan).unwrap();
    }
    true
}

/// Render every finding; the excerpt of the file stays a few short lines however long its
/// lines are, so a rendering is bounded by the finding's own texts.
fn report(diagnostics: &Diagnostics, sources: &Sources) {
    for diag in diagnostics.iter() {
        let texts = [Some(&diag.message), diag.help.as_ref(), diag.label.as_ref()];
        let own: usize = texts.iter().flatten().map(|t| t.len()).sum();
        let rendered = render(diag, sources, true);
        assert!(
            rendered.len() < 2 * own + 4000,
            "{} bytes rendered:\n{rendered}",
            rendered.len()
        );
        serde_json::to_string(&to_json(diag, sources)).unwrap();
    }
}

/// Run `rounds` mutations of `seeds` through the pipeline; returns how many loaded.
fn mutate_and_run(seeds: &[String], rounds: usize, rng: &mut Rng, near_end: bool) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.yml");
    let mut loaded_ok = 0;
    for round in 0..rounds {
        let seed = &seeds[round % seeds.len()];
        let text = if near_end && round % 2 == 0 {
            // Long inputs: half the mutations go to the last 2 KB, where the seeds' error is.
            let cut = (seed.len().saturating_sub(2048)..=seed.len())
                .find(|i| seed.is_char_boundary(*i))
                .unwrap_or(0);
            format!("{}{}", &seed[..cut], mutate(rng, &seed[cut..]))
        } else {
            mutate(rng, seed)
        };
        std::fs::write(&file, &text).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| run_pipeline(&file)));
        let Ok(loaded) = outcome else {
            let shown: String = text.chars().take(2000).collect();
            panic!(
                "the pipeline panicked on round {round}; input (first 2000 characters):\n{shown}"
            );
        };
        loaded_ok += usize::from(loaded);
    }
    loaded_ok
}

#[test]
fn mutated_stack_files_never_panic_the_pipeline() {
    let mut seeds: Vec<String> = Vec::new();
    for entry in walk(&repo_root().join("examples/stacks")) {
        if entry.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            seeds.push(std::fs::read_to_string(entry).unwrap());
        }
    }
    seeds.push("services:\n  web:\n    image: a\n    deploy: {replicas: 2}\n".into());
    let loaded_ok = mutate_and_run(&seeds, 1500, &mut Rng(0x5eed_1234_abcd_0001), false);
    // The mutations must leave some files valid, or the test only exercises the parser.
    assert!(loaded_ok > 0);
}

/// Regression: a finding near the end of a 90 KB line panicked the renderer.
#[test]
fn mutated_long_single_line_files_never_panic_the_pipeline() {
    let with_error = one_line_json(1500);
    let valid = with_error.replace("\"abc\"", "2");
    assert!(valid.len() > 90_000 && !valid.contains('\n'));
    let seeds = [with_error, valid];
    let loaded_ok = mutate_and_run(&seeds, 60, &mut Rng(0x10e6_11e5_0000_0002), true);
    assert!(loaded_ok > 0);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
