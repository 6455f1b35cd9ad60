//! The loader: stack files -> one typed, merged [`Stack`], with every problem reported by file,
//! line and column. Pure apart from reading the files it is given (and those they name).

pub mod decode;
pub mod diagnostic;
pub mod dotenv;
pub mod env_file;
pub mod environment;
pub mod excerpt;
pub mod interpolate;
pub mod merge;
pub mod node;
mod options_check;
mod references;
pub mod source;
mod sources_hint;
pub mod substitute;
pub mod suggest;
pub mod yaml;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use source::Sources;

use crate::model::Stack;
use decode::Decoder;
use node::{FileId, Node};

/// What to load and where variables come from.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Stack files in merge order (later override earlier).
    pub files: Vec<PathBuf>,
    /// `--env-file`: read this instead of `.env` beside the first file.
    pub env_file: Option<PathBuf>,
    /// Active `--profile`s; services with no `profiles:` are always active.
    pub profiles: Vec<String>,
    /// The process environment; it wins over the `.env` file.
    pub environment: HashMap<String, String>,
    /// Relative `files` and `env_file` are inside this directory rather than the current one;
    /// diagnostics still name them as given (the watcher's files inside a source).
    pub base_dir: Option<PathBuf>,
}

impl LoadOptions {
    fn resolve(&self, path: &Path) -> PathBuf {
        match &self.base_dir {
            Some(base) => base.join(path),
            None => path.to_path_buf(),
        }
    }
}

impl LoadOptions {
    #[must_use]
    pub fn new(files: Vec<PathBuf>) -> Self {
        Self {
            files,
            environment: std::env::vars().collect(),
            ..Self::default()
        }
    }
}

/// A successful load: the stack plus warnings.
#[derive(Debug)]
pub struct Loaded {
    pub stack: Stack,
    pub sources: Sources,
    pub warnings: Diagnostics,
    /// Every path the load read or looked for (stack files, includes, `.env`, `env_file:`),
    /// absolute: a change to any of them may change the stack. Configs' and secrets' `file:`
    /// are in the stack itself.
    pub reads: BTreeSet<PathBuf>,
}

/// A failed load: every finding (errors and warnings), and the files to quote them from.
#[derive(Debug)]
pub struct LoadFailure {
    pub diagnostics: Diagnostics,
    pub sources: Sources,
    pub reads: BTreeSet<PathBuf>,
}

/// Load, interpolate, validate and merge the stack files.
pub fn load(options: &LoadOptions) -> Result<Loaded, LoadFailure> {
    let mut loader = Loader {
        sources: Sources::default(),
        diags: Diagnostics::default(),
        raw: Vec::new(),
        reads: BTreeSet::new(),
    };
    let stack = loader.run(options);
    let Loader {
        sources,
        mut diags,
        reads,
        ..
    } = loader;
    diags.sort();
    match stack {
        Some(stack) if !diags.has_errors() => Ok(Loaded {
            stack,
            sources,
            warnings: diags,
            reads,
        }),
        _ => Err(LoadFailure {
            diagnostics: diags,
            sources,
            reads,
        }),
    }
}

struct Loader {
    sources: Sources,
    diags: Diagnostics,
    /// Each file's tree before interpolation, for the ignored-keys warning.
    raw: Vec<Node>,
    reads: BTreeSet<PathBuf>,
}

impl Loader {
    fn run(&mut self, options: &LoadOptions) -> Option<Stack> {
        let Some(first) = options.files.first() else {
            self.diags.push(
                Diagnostic::error("stackctl::load::no_files", "no stack file given")
                    .with_help("pass a file: `stackctl validate stack.yml`"),
            );
            return None;
        };
        let working_dir = absolute_dir(&options.resolve(first));
        let variables = self.variables(options, &working_dir);
        let lookup = |name: &str| variables.get(name).cloned();
        let mut merged: Option<Stack> = None;
        let mut files: Vec<FileToLoad> = Vec::new();
        for file in &options.files {
            let name = file.display().to_string();
            let path = options.resolve(file);
            expand_includes(&path, &name, None, &working_dir, &mut files, 0);
        }
        let mut version: Option<(String, String)> = None;
        for file in files {
            let name = file.name.clone();
            let Some(stack) = self.load_file(&file, &lookup) else {
                continue;
            };
            match &version {
                Some((v, first_name)) if *v != stack.version => {
                    let message = format!(
                        "version mismatch: {first_name} is {v}, {name} is {}",
                        stack.version
                    );
                    self.diags.push(
                        Diagnostic::error("stackctl::load::version", message)
                            .with_help("give every file the same `version`, or none"),
                    );
                }
                Some(_) => {}
                None => version = Some((stack.version.clone(), name)),
            }
            match &mut merged {
                Some(base) => merge::merge_stack(base, stack),
                None => merged = Some(stack),
            }
        }
        let mut stack = merged?;
        apply_profiles(&mut stack, &options.profiles);
        options_check::warn_ignored_keys(&self.raw, &mut self.diags);
        references::check(&stack, &mut self.diags);
        Some(stack)
    }

    /// `.env` (or `--env-file`) under the process environment.
    fn variables(&mut self, options: &LoadOptions, working_dir: &Path) -> HashMap<String, String> {
        let mut variables = HashMap::new();
        let path = options
            .env_file
            .as_deref()
            .map_or_else(|| working_dir.join(".env"), |f| options.resolve(f));
        self.reads
            .insert(std::path::absolute(&path).unwrap_or_else(|_| path.clone()));
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let env = &options.environment;
                match dotenv::parse_dotenv(&text, &|k| env.get(k).cloned()) {
                    Ok(pairs) => variables.extend(pairs),
                    Err(err) => {
                        let shown = path.display().to_string();
                        let id = self.sources.add(&path, shown, text.clone());
                        let offset = self.sources.offset(id, err.line, err.column);
                        let diag = Diagnostic::error("stackctl::load::dotenv", err.message)
                            .at(node::Span::new(id, offset, 1), "in this variables file");
                        self.diags.push(diag);
                    }
                }
            }
            Err(_) if options.env_file.is_none() => {}
            Err(err) => {
                let message = format!("cannot read env file {}: {err}", path.display());
                self.diags
                    .push(Diagnostic::error("stackctl::load::dotenv", message));
            }
        }
        variables.extend(options.environment.clone());
        variables
    }

    fn load_file(
        &mut self,
        file: &FileToLoad,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Option<Stack> {
        let (path, name, working_dir) = (&file.path, file.name.clone(), &file.working_dir);
        self.reads
            .insert(std::path::absolute(path).unwrap_or_else(|_| path.clone()));
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) => {
                let message = format!("cannot read stack file {name}: {err}");
                let help = match &file.included_by {
                    Some(parent) => format!(
                        "check `include:` in {parent}; its paths are relative to that file's directory"
                    ),
                    None => "check the path; files are read relative to the current directory"
                        .to_owned(),
                };
                self.diags
                    .push(Diagnostic::error("stackctl::load::read", message).with_help(help));
                return None;
            }
        };
        let id = self.sources.add(path, name, text);
        let mut root = match yaml::parse(id, &self.sources.get(id).text.clone()) {
            Ok(root) => root,
            Err(err) => {
                self.diags.push(
                    Diagnostic::error("stackctl::load::syntax", err.message).at(err.span, "here"),
                );
                return None;
            }
        };
        if root.is_null() {
            let message = format!("{} is empty", self.sources.get(id).name);
            self.diags.push(
                Diagnostic::error("stackctl::load::empty", message)
                    .with_help("a stack file needs at least `services:`"),
            );
            return None;
        }
        options_check::check_forbidden(&root, &mut self.diags);
        self.raw.push(root.clone());
        substitute::substitute(&mut root, lookup, &self.sources, &mut self.diags);
        let mut decoder = Decoder {
            diags: &mut self.diags,
            version: (3, 13),
        };
        let mut stack = decode::decode_file(&mut decoder, &root, working_dir)?;
        for service in stack.services.values_mut() {
            let env_files = service.env_file.iter();
            self.reads
                .extend(env_files.map(|f| decode::top_level_absolute(working_dir, &f.value)));
            environment::resolve_environment(service, working_dir, lookup, &mut self.diags);
            environment::resolve_bind_paths(service, working_dir, lookup);
        }
        Some(stack)
    }
}

/// A file to read, and the directory its relative paths resolve against: the first stack
/// file's for files given on the command line (docker's rule), its own for included files
/// (the compose-spec rule).
struct FileToLoad {
    path: PathBuf,
    name: String,
    working_dir: PathBuf,
    /// The file whose `include:` named this one.
    included_by: Option<String>,
}

/// Files named by `include:` come before the file that includes them.
fn expand_includes(
    path: &Path,
    name: &str,
    included_by: Option<&str>,
    dir: &Path,
    out: &mut Vec<FileToLoad>,
    depth: usize,
) {
    if depth > 10 || out.iter().any(|f| f.path == path) {
        return;
    }
    let text = std::fs::read_to_string(path).unwrap_or_default();
    if let Ok(root) = yaml::parse(FileId(u32::MAX), &text) {
        let own_dir = absolute_dir(path);
        for include in include_paths(&root) {
            let included = decode::top_level_absolute(&own_dir, &include);
            // Named as the user would: relative to how the including file was named.
            let shown = Path::new(name)
                .parent()
                .map_or_else(|| PathBuf::from(&include), |p| p.join(&include))
                .display()
                .to_string();
            let dir = absolute_dir(&included);
            expand_includes(&included, &shown, Some(name), &dir, out, depth + 1);
        }
    }
    out.push(FileToLoad {
        path: path.to_path_buf(),
        name: name.to_owned(),
        working_dir: dir.to_path_buf(),
        included_by: included_by.map(str::to_owned),
    });
}

fn include_paths(root: &Node) -> Vec<String> {
    let Some(node::Value::Seq(items)) = root.get("include").map(|n| &n.value) else {
        return Vec::new();
    };
    items
        .iter()
        .flat_map(|item| match &item.value {
            node::Value::Scalar(node::Scalar::Str(s)) => vec![s.clone()],
            _ => match item.get("path").map(|p| &p.value) {
                Some(node::Value::Scalar(node::Scalar::Str(s))) => vec![s.clone()],
                Some(node::Value::Seq(paths)) => paths
                    .iter()
                    .filter_map(|p| p.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            },
        })
        .collect()
}

/// Drop services whose `profiles:` name no active profile.
fn apply_profiles(stack: &mut Stack, active: &[String]) {
    stack
        .services
        .retain(|_, s| s.profiles.is_empty() || s.profiles.iter().any(|p| active.contains(p)));
}

fn absolute_dir(file: &Path) -> PathBuf {
    let absolute = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    absolute
        .parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
}
