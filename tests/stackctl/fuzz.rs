//! Mutated YAML never makes the loader panic: it either loads or reports diagnostics.

use std::panic::{AssertUnwindSafe, catch_unwind};

use stackctl::load::{LoadOptions, load};

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

#[test]
fn mutated_stack_files_never_panic_the_loader() {
    let mut seeds: Vec<String> = Vec::new();
    for entry in walk(&repo_root().join("examples/stacks")) {
        if entry.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            seeds.push(std::fs::read_to_string(entry).unwrap());
        }
    }
    seeds.push("services:\n  web:\n    image: a\n    deploy: {replicas: 2}\n".into());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.yml");
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut loaded_ok = 0;
    for round in 0..1500 {
        let seed = &seeds[round % seeds.len()];
        let text = mutate(&mut rng, seed);
        std::fs::write(&file, &text).unwrap();
        let options = LoadOptions {
            files: vec![file.clone()],
            ..LoadOptions::default()
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| load(&options).is_ok()));
        let Ok(loaded) = outcome else {
            panic!("loader panicked on round {round}; input:\n{text}");
        };
        loaded_ok += usize::from(loaded);
    }
    // The mutations must leave some files valid, or the test only exercises the parser.
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
