//! The include graph: every stack file read and parsed once, the files an `include:` names
//! before the file naming them, and a file that includes itself (directly or through others)
//! refused with the cycle named.

use std::path::{Path, PathBuf};

use super::decode::top_level_absolute;
use super::diagnostic::Diagnostic;
use super::node::{self, At, FileId, Node, Span};
use super::read::{self, STDIN};
use super::{LoadOptions, Loader, absolute_dir, yaml};

/// How deep includes may nest; a chain this long is a generated mistake, not a stack.
const MAX_DEPTH: usize = 64;

/// How diagnostics name standard input.
const STDIN_NAME: &str = "<stdin>";

/// A stack file to read, as the command line or an `include:` entry names it.
struct Request {
    path: PathBuf,
    name: String,
    /// The directory its relative paths resolve against: the first stack file's for files
    /// given on the command line (docker's rule), its own for included files (compose-spec's).
    working_dir: PathBuf,
    /// The including file's name and its `include:` entry.
    included_at: Option<(String, Span)>,
}

/// A stack file read and parsed, ready to decode.
pub(super) struct FileToLoad {
    /// The file's canonical path, to tell `./a.yml` and `a.yml` are one file.
    identity: PathBuf,
    pub id: FileId,
    pub root: Node,
    pub working_dir: PathBuf,
}

/// The files being expanded, outermost first: a file met again here is a cycle.
#[derive(Default)]
struct Chain(Vec<(PathBuf, String)>);

impl Loader {
    /// Read the files the command line names and those they include, in merge order. `None`
    /// when standard input is named twice (the second read would find it empty).
    pub(super) fn expand_all(
        &mut self,
        options: &LoadOptions,
        working_dir: &Path,
    ) -> Option<Vec<FileToLoad>> {
        let is_stdin = |file: &&PathBuf| file.as_path() == Path::new(STDIN);
        if options.files.iter().filter(is_stdin).count() > 1 {
            let diag = Diagnostic::error(
                "stackctl::load::read",
                "standard input (`-`) is named more than once",
            );
            self.diags
                .push(diag.with_help("standard input can be read once; name it once"));
            return None;
        }
        let mut files = Vec::new();
        for file in &options.files {
            let (path, name) = if is_stdin(&file) {
                (file.clone(), STDIN_NAME.to_owned())
            } else {
                (options.resolve(file), file.display().to_string())
            };
            let request = Request {
                path,
                name,
                working_dir: working_dir.to_path_buf(),
                included_at: None,
            };
            self.expand(request, &mut Chain::default(), &mut files);
        }
        Some(files)
    }

    /// Read `file` and, before it, the files it includes, into `out` (each file once).
    fn expand(&mut self, file: Request, chain: &mut Chain, out: &mut Vec<FileToLoad>) {
        let is_stdin = file.included_at.is_none() && file.path == Path::new(STDIN);
        let identity = if is_stdin {
            PathBuf::from(STDIN)
        } else {
            identity(&file.path)
        };
        if let Some(at) = chain.0.iter().position(|(p, _)| *p == identity) {
            self.cycle(&chain.0[at..], &file);
            return;
        }
        if out.iter().any(|f| f.identity == identity) {
            return;
        }
        if chain.0.len() >= MAX_DEPTH {
            let message = format!("includes nest more than {MAX_DEPTH} files deep");
            self.push_at(Diagnostic::error("stackctl::load::include", message), &file);
            return;
        }
        let Some(text) = self.read_stack_file(&file, is_stdin) else {
            return;
        };
        let id = self.sources.add(&file.path, file.name.clone(), text);
        let text = self.sources.get(id).text.clone();
        let root = match yaml::parse(id, &text) {
            Ok(root) => root,
            Err(err) => {
                let diag = Diagnostic::error("stackctl::load::syntax", err.message);
                self.diags.push(diag.at(err.span, "here"));
                return;
            }
        };
        chain.0.push((identity.clone(), file.name.clone()));
        let own_dir = absolute_dir(&file.path);
        for include in include_paths(&root) {
            let path = top_level_absolute(&own_dir, &include.value);
            // Named as the user would: relative to how the including file was named.
            let name = Path::new(&file.name)
                .parent()
                .map_or_else(|| PathBuf::from(&include.value), |p| p.join(&include.value))
                .display()
                .to_string();
            let request = Request {
                working_dir: absolute_dir(&path),
                path,
                name,
                included_at: Some((file.name.clone(), include.span)),
            };
            self.expand(request, chain, out);
        }
        chain.0.pop();
        out.push(FileToLoad {
            identity,
            id,
            root,
            working_dir: file.working_dir,
        });
    }

    fn read_stack_file(&mut self, file: &Request, is_stdin: bool) -> Option<String> {
        if is_stdin {
            return match read::read_stdin_text() {
                Ok(text) => Some(text),
                Err(err) => {
                    let message = format!("cannot read a stack file from standard input: {err}");
                    self.diags
                        .push(Diagnostic::error("stackctl::load::read", message));
                    None
                }
            };
        }
        let path = &file.path;
        self.reads
            .insert(std::path::absolute(path).unwrap_or_else(|_| path.clone()));
        match read::read_text(path) {
            Ok(text) => Some(text),
            Err(err) => {
                let message = format!("cannot read stack file {}: {err}", file.name);
                let mut diag = Diagnostic::error("stackctl::load::read", message);
                if err.kind() == std::io::ErrorKind::NotFound {
                    diag = diag.with_help(match &file.included_at {
                        Some((parent, _)) => format!(
                            "check `include:` in {parent}; its paths are relative to that file's directory"
                        ),
                        None => "check the path; files are read relative to the current directory"
                            .to_owned(),
                    });
                }
                // Unplaced, like a missing file on the command line: the help names the
                // including file, and the file's own findings stay first.
                self.diags.push(diag);
                None
            }
        }
    }

    /// `a.yml → b.yml → a.yml`, at the `include:` entry that closes the cycle.
    fn cycle(&mut self, chain: &[(PathBuf, String)], file: &Request) {
        let names: Vec<&str> = chain
            .iter()
            .map(|(_, name)| name.as_str())
            .chain([file.name.as_str()])
            .collect();
        let message = format!("include cycle: {}", names.join(" → "));
        let diag = Diagnostic::error("stackctl::load::include_cycle", message).with_help(
            "a file cannot include itself, directly or through the files it includes; remove one `include:` entry of the cycle",
        );
        self.push_at(diag, file);
    }

    /// Push `diag` pointing at the `include:` entry that named `file`, if one did.
    fn push_at(&mut self, diag: Diagnostic, file: &Request) {
        self.diags.push(match &file.included_at {
            Some((_, span)) => diag.at(*span, "included here"),
            None => diag,
        });
    }
}

/// One name for one file however it is spelled: `./a.yml`, `a.yml` and a symlink to it.
fn identity(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// The paths an `include:` names (short form or `path:`, one or a list), with their places.
fn include_paths(root: &Node) -> Vec<At<String>> {
    let Some(node::Value::Seq(items)) = root.get("include").map(|n| &n.value) else {
        return Vec::new();
    };
    let text = |n: &Node| n.as_str().map(|s| At::new(s.to_owned(), n.span));
    items
        .iter()
        .flat_map(|item| match (&item.value, item.get("path")) {
            (node::Value::Scalar(_), _) => text(item).into_iter().collect(),
            (_, Some(path)) => match &path.value {
                node::Value::Seq(paths) => paths.iter().filter_map(text).collect(),
                _ => text(path).into_iter().collect(),
            },
            (_, None) => Vec::new(),
        })
        .collect()
}
