//! A stack's desired state at one revision of its source: its files loaded and converted, and a
//! digest of every file the load read, so a revision that does not touch them causes nothing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::convert::{Desired, convert, read_object_files};
use crate::load::diagnostic::to_json;
use crate::load::swarm_limits::check_stack_names;
use crate::load::{LoadOptions, Sources, load};
use crate::model::StackName;
use crate::model::digest::sha256_hex;

/// Which files make a stack, inside its source.
#[derive(Clone, Debug)]
pub struct StackFiles<'a> {
    pub root: &'a Path,
    pub files: &'a [PathBuf],
    pub env_file: Option<&'a Path>,
    pub profiles: &'a [String],
    /// A file modified more recently than this may still be being written (a folder source):
    /// the read is [`Inputs::Unsettled`]. `None` for git checkouts, which appear whole.
    pub settle: Option<Duration>,
}

/// A finding kept for `/status`: where (file, line and column inside the source) and what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: String,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    pub help: Option<String>,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let (Some(file), Some(line), Some(column)) = (&self.file, self.line, self.column) {
            write!(f, "{file}:{line}:{column}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

/// The outcome of reading a stack's files.
#[derive(Debug)]
pub enum Inputs {
    Valid {
        desired: Box<Desired>,
        digest: String,
        warnings: Vec<Finding>,
        reads: BTreeSet<PathBuf>,
    },
    Invalid {
        digest: String,
        findings: Vec<Finding>,
        reads: BTreeSet<PathBuf>,
    },
    /// The files changed while they were read (an editor or a copy still writing): read again
    /// once they have settled.
    Unsettled,
}

impl Inputs {
    #[must_use]
    pub fn digest(&self) -> Option<&str> {
        match self {
            Self::Valid { digest, .. } | Self::Invalid { digest, .. } => Some(digest),
            Self::Unsettled => None,
        }
    }

    #[must_use]
    pub fn reads(&self) -> Option<&BTreeSet<PathBuf>> {
        match self {
            Self::Valid { reads, .. } | Self::Invalid { reads, .. } => Some(reads),
            Self::Unsettled => None,
        }
    }
}

/// Load and convert the stack's files (blocking file I/O: call it off the async threads).
#[must_use]
pub fn read(stack: &StackName, files: &StackFiles<'_>) -> Inputs {
    let options = LoadOptions {
        files: files.files.to_vec(),
        env_file: files.env_file.map(Path::to_path_buf),
        profiles: files.profiles.to_vec(),
        environment: std::env::vars().collect(),
        base_dir: Some(files.root.to_path_buf()),
        ..LoadOptions::default()
    };
    match load(&options) {
        Ok(loaded) => {
            let mut reads = loaded.reads;
            let objects = loaded
                .stack
                .secrets
                .values()
                .chain(loaded.stack.configs.values());
            reads.extend(objects.filter_map(|o| o.file.clone()));
            let before = digest_of(files.root, &reads);
            let warnings = findings(loaded.warnings.iter(), &loaded.sources);
            let names = check_stack_names(&loaded.stack, stack, &loaded.sources);
            let converted = read_object_files(&loaded.stack)
                .map_err(|(path, err)| format!("cannot read {path}: {err}"))
                .and_then(|object_files| {
                    convert(&loaded.stack, stack, &object_files).map_err(|e| e.to_string())
                });
            if digest_of(files.root, &reads) != before || is_recent(&reads, files.settle) {
                return Inputs::Unsettled;
            }
            if names.has_errors() {
                return Inputs::Invalid {
                    digest: before,
                    findings: findings(names.iter(), &loaded.sources),
                    reads,
                };
            }
            match converted {
                Ok(desired) => Inputs::Valid {
                    desired: Box::new(desired),
                    digest: before,
                    warnings,
                    reads,
                },
                Err(message) => Inputs::Invalid {
                    digest: before,
                    findings: vec![plain_error(message)],
                    reads,
                },
            }
        }
        Err(failure) => {
            let digest = digest_of(files.root, &failure.reads);
            Inputs::Invalid {
                digest,
                findings: findings(failure.diagnostics.iter(), &failure.sources),
                reads: failure.reads,
            }
        }
    }
}

fn plain_error(message: String) -> Finding {
    Finding {
        severity: "error".into(),
        file: None,
        line: None,
        column: None,
        message,
        help: None,
    }
}

fn findings<'a>(
    diags: impl Iterator<Item = &'a crate::load::Diagnostic>,
    sources: &Sources,
) -> Vec<Finding> {
    diags
        .map(|d| {
            let json = to_json(d, sources);
            Finding {
                severity: if d.is_error() { "error" } else { "warning" }.into(),
                file: json.file.map(str::to_owned),
                line: json.line,
                column: json.column,
                message: d.message.clone(),
                help: d.help.clone(),
            }
        })
        .collect()
}

/// Whether one of `reads` was modified within `settle` of now.
fn is_recent(reads: &BTreeSet<PathBuf>, settle: Option<Duration>) -> bool {
    let Some(settle) = settle else { return false };
    let now = SystemTime::now();
    reads.iter().any(|path| {
        let modified = std::fs::metadata(path).and_then(|m| m.modified());
        modified.is_ok_and(|t| now.duration_since(t).map_or(true, |age| age < settle))
    })
}

/// SHA-256 over every read path (relative to the source) and its content, or its absence.
#[must_use]
pub fn digest_of(root: &Path, reads: &BTreeSet<PathBuf>) -> String {
    let mut all = Vec::new();
    for path in reads {
        let shown = path.strip_prefix(root).unwrap_or(path);
        all.extend_from_slice(shown.to_string_lossy().as_bytes());
        all.push(0);
        match std::fs::read(path) {
            Ok(content) => all.extend_from_slice(sha256_hex(&content).as_bytes()),
            Err(_) => all.extend_from_slice(b"absent"),
        }
        all.push(0);
    }
    sha256_hex(&all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, name: &str, text: &str) {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn inputs(root: &Path, files: &[&str]) -> Inputs {
        let files: Vec<PathBuf> = files.iter().map(PathBuf::from).collect();
        let stack = StackName::new("web").unwrap();
        read(
            &stack,
            &StackFiles {
                root,
                files: &files,
                env_file: None,
                profiles: &[],
                settle: None,
            },
        )
    }

    #[test]
    fn every_file_a_stack_reads_is_part_of_its_digest_and_no_other() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let stack = "services:\n  web:\n    image: nginx:${TAG}\n    env_file: web.env\n    configs: [site]\nconfigs:\n  site:\n    file: ./site.conf\ninclude:\n  - inc.yml\n";
        write(root, "stacks/web.yml", stack);
        write(
            root,
            "stacks/inc.yml",
            "services:\n  extra:\n    image: busybox\n",
        );
        write(root, "stacks/.env", "TAG=1\n");
        write(root, "stacks/web.env", "A=1\n");
        write(root, "stacks/site.conf", "one\n");
        write(root, "stacks/other.yml", "services: {}\n");
        let digest = |root: &Path| {
            let inputs = inputs(root, &["stacks/web.yml"]);
            assert!(matches!(inputs, Inputs::Valid { .. }), "{inputs:?}");
            inputs.digest().unwrap().to_owned()
        };
        let first = digest(root);
        write(root, "stacks/other.yml", "services: {x: {image: y}}\n");
        write(root, "README.md", "unrelated\n");
        assert_eq!(digest(root), first, "unrelated files changed the digest");
        for (file, text) in [
            (
                "stacks/inc.yml",
                "services:\n  extra:\n    image: busybox:2\n",
            ),
            ("stacks/.env", "TAG=2\n"),
            ("stacks/web.env", "A=2\n"),
            ("stacks/site.conf", "two\n"),
        ] {
            let before = digest(root);
            write(root, file, text);
            assert_ne!(digest(root), before, "{file} is not part of the digest");
        }
    }

    #[test]
    fn an_invalid_file_is_reported_with_its_place_inside_the_source() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "stacks/web.yml",
            "services:\n  web:\n    imagee: x\n",
        );
        let Inputs::Invalid { findings, .. } = inputs(dir.path(), &["stacks/web.yml"]) else {
            panic!("accepted an invalid file");
        };
        let shown: Vec<String> = findings.iter().map(ToString::to_string).collect();
        let expected = "stacks/web.yml:3:5: unknown key `imagee` in services.web";
        assert!(shown.iter().any(|f| f == expected), "{shown:?}");
    }
}
