//! The loader: stack files -> one typed, merged [`Stack`], with every problem reported by file,
//! line and column. Pure apart from reading the files it is given (and those they name).

pub mod decode;
pub mod diagnostic;
pub mod dotenv;
pub mod env_file;
pub mod environment;
pub mod excerpt;
mod include;
pub mod interpolate;
pub mod merge;
pub mod node;
mod options_check;
pub mod read;
mod references;
pub mod source;
mod sources_hint;
pub mod substitute;
pub mod suggest;
pub mod swarm_limits;
pub mod yaml;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use source::Sources;

use crate::model::Stack;
use decode::Decoder;
use include::FileToLoad;
use node::Node;

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
    /// Leave `${VAR}` and `$$` as written (`stackctl config --skip-interpolation`).
    pub skip_interpolation: bool,
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
        interpolate: !options.skip_interpolation,
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
    interpolate: bool,
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
        let files = self.expand_all(options, &working_dir)?;
        let mut version: Option<(String, String)> = None;
        for file in files {
            let name = self.sources.get(file.id).name.clone();
            let Some(stack) = self.load_file(file, &lookup) else {
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
        // Uninterpolated values (`image: app:${TAG}`) cannot be held to deploy-time rules.
        if self.interpolate {
            references::check(&stack, &mut self.diags);
            swarm_limits::check(&stack, &self.raw, &mut self.diags);
        }
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
        match read::read_text(&path) {
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
            // Like compose, a missing `.env` (or a directory of that name) is no `.env`.
            Err(err)
                if options.env_file.is_none()
                    && (err.kind() == std::io::ErrorKind::NotFound || path.is_dir()) => {}
            Err(err) => {
                let what = if options.env_file.is_some() {
                    "env file"
                } else {
                    "variables file"
                };
                let message = format!("cannot read {what} {}: {err}", path.display());
                let help =
                    "fix the file or its permissions; `${VAR}`s would otherwise take wrong values";
                self.diags
                    .push(Diagnostic::error("stackctl::load::dotenv", message).with_help(help));
            }
        }
        variables.extend(options.environment.clone());
        variables
    }

    fn load_file(
        &mut self,
        file: FileToLoad,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Option<Stack> {
        let FileToLoad {
            id,
            mut root,
            working_dir,
            ..
        } = file;
        let working_dir = &working_dir;
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
        if self.interpolate {
            substitute::substitute(&mut root, lookup, &self.sources, &mut self.diags);
        }
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
