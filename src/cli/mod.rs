//! Command-line arguments (clap) turned once into validated settings for the commands.

pub mod complete;
pub mod watch;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::load::LoadOptions;

#[derive(Debug, Parser)]
#[command(
    name = "stackctl",
    // The package version and the git commit it was built from (see build.rs).
    version = env!("STACKCTL_VERSION"),
    about = "Declarative, GitOps-style deployer for Docker Swarm stacks"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Colour the output: on a terminal unless `NO_COLOR` is set (auto), always, or never.
    #[arg(long, value_enum, global = true, default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load and check stack files without touching the cluster.
    Validate(ValidateArgs),
    /// Print the Engine API objects the stack files describe, as JSON.
    Render(RenderArgs),
    /// Compare the stack files with the cluster and print what would change.
    Plan(PlanArgs),
    /// Plan, then carry the plan out and watch every rollout to its end.
    Apply(ApplyArgs),
    /// Services of a stack: replicas running/desired, update state, image, last apply.
    Status(StackCommandArgs),
    /// Roll services of a stack back to their previous spec, and watch the rollback.
    Rollback(RollbackArgs),
    /// Remove a stack: its services, then its networks, configs and secrets.
    Rm(RmArgs),
    /// The last applies of a stack: when, by whom, what changed, outcome.
    History(StackCommandArgs),
    /// Follow git branches or folders and keep stacks as their files say (a `GitOps` controller).
    Watch(Box<watch::WatchArgs>),
    /// Exit 0 when a watcher's /healthz answers 200 (for a watcher service's healthcheck).
    Healthcheck {
        /// The watcher's health URL.
        #[arg(default_value = "http://127.0.0.1:9090/healthz")]
        url: String,
    },
    /// Print the merged, interpolated stack files as one YAML file (like `docker stack config`).
    Config(ConfigArgs),
    /// Print the script that makes a shell complete stackctl (`source <(stackctl completions bash)`).
    Completions {
        #[arg(value_enum)]
        shell: complete::Shell,
    },
    /// Print stackctl's man page (roff), or write one page per command into a folder.
    Man {
        /// Write `stackctl.1` and `stackctl-<command>.1` into this folder instead.
        #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub files: FileArgs,
    /// Print `${VAR}` references and `$$` as written instead of interpolating.
    #[arg(long)]
    pub skip_interpolation: bool,
    /// Print values whose names look secret (`PASSWORD`, `TOKEN`, `API_KEY`, ...) instead of
    /// masking them: needed to deploy the output.
    #[arg(long)]
    pub show_sensitive: bool,
}

#[derive(Debug, Args)]
pub struct StackCommandArgs {
    /// The stack's name.
    #[arg(add = complete::stack_names())]
    pub stack: String,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// The stack's name.
    #[arg(add = complete::stack_names())]
    pub stack: String,
    /// Also remove the stack's volumes on this node (data is lost; other nodes keep theirs).
    #[arg(long)]
    pub volumes: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The stack's name.
    #[arg(add = complete::stack_names())]
    pub stack: String,
    /// Services to roll back, by key or full name (default: every service with a previous spec).
    pub services: Vec<String>,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Give up waiting after this long.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
    #[command(flatten)]
    pub progress: ProgressArgs,
}

/// Which files to read and how, shared by every command that loads a stack.
#[derive(Debug, Args)]
pub struct FileArgs {
    /// Stack files, merged in order (later files override earlier ones).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Stack file (repeatable), for `docker stack deploy -c` habits; read before FILE arguments.
    #[arg(
        short = 'c',
        long = "compose-file",
        value_name = "FILE",
        value_delimiter = ','
    )]
    pub compose_files: Vec<PathBuf>,
    /// Variables file for `${VAR}` interpolation, instead of `.env` beside the first file.
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// Activate services that list this profile (repeatable).
    #[arg(long = "profile", value_name = "NAME")]
    pub profiles: Vec<String>,
}

impl FileArgs {
    /// The loader's options; the process environment supplies variables.
    #[must_use]
    pub fn load_options(&self) -> LoadOptions {
        let files = self
            .compose_files
            .iter()
            .chain(&self.files)
            .cloned()
            .collect();
        LoadOptions {
            env_file: self.env_file.clone(),
            profiles: self.profiles.clone(),
            ..LoadOptions::new(files)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Human,
    Json,
    /// Summary, table, collapsible field diffs, rollout waves as a Mermaid diagram; values the
    /// sensitive rule hides stay hidden even with `--show-sensitive`.
    Markdown,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub files: FileArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// Which stack to act on.
#[derive(Debug, Args)]
pub struct StackArgs {
    /// Stack name; defaults to the files' top-level `name:`, then to the first file's name
    /// without extension.
    #[arg(short = 's', long = "stack", value_name = "STACK")]
    pub stack: Option<String>,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub files: FileArgs,
    #[command(flatten)]
    pub stack: StackArgs,
    /// Show values whose names look secret (`PASSWORD`, `TOKEN`, `API_KEY`, ...) instead of masking them.
    #[arg(long)]
    pub show_sensitive: bool,
}

/// How to reach the Docker daemon.
#[derive(Debug, Args)]
pub struct EngineArgs {
    /// Daemon address (`unix://`, `tcp://`, `ssh://`); defaults to `DOCKER_HOST`, then the
    /// current docker context, then the local socket.
    #[arg(short = 'H', long = "host", value_name = "HOST")]
    pub host: Option<String>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub files: FileArgs,
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Output format; markdown is for a pull-request comment or a CI job summary.
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,
    /// Exit 0 when nothing would change, 2 when something would, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan the removal of stack objects the files no longer describe.
    #[arg(long)]
    pub prune: bool,
    /// Show values of environment variables whose names look secret (PASSWORD, TOKEN, ...).
    #[arg(long)]
    pub show_sensitive: bool,
    #[command(flatten)]
    pub images: ImageArgs,
    /// Also save the plan to FILE, for `stackctl apply --plan-file FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// How images are pinned and pulled.
#[derive(Debug, Args)]
pub struct ImageArgs {
    /// Query the registry for image digests: always, when the image changed, or never.
    #[arg(long, value_enum, default_value_t = crate::observe::images::ResolveImage::Never)]
    pub resolve_image: crate::observe::images::ResolveImage,
    /// Send registry credentials from the docker config file to the swarm nodes.
    #[arg(long)]
    pub with_registry_auth: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub files: FileArgs,
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Apply without asking (required when stdin is not a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Remove stack objects the files no longer describe.
    #[arg(long)]
    pub prune: bool,
    /// Return right after the writes, without watching the rollouts.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Give up waiting for rollouts after this long (e.g. `10m`); they carry on in Swarm.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// How many services roll out at the same time.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub max_parallel_services: usize,
    /// When a rollout fails: stop starting new ones, continue, or roll back this apply's updates.
    #[arg(long, value_enum, default_value_t = crate::apply::OnFailure::Stop)]
    pub on_failure: crate::apply::OnFailure,
    /// How long to wait for another apply of the same stack to finish.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "2m")]
    pub lock_wait: std::time::Duration,
    /// Remove the stack's apply lock left by an apply that died, then apply.
    #[arg(long)]
    pub force_unlock: bool,
    /// Apply only if the plan is still the one saved in FILE by `stackctl plan --out FILE`
    /// (same files, and nothing in the cluster moved since).
    #[arg(long, value_name = "FILE")]
    pub plan_file: Option<PathBuf>,
    /// Show values of environment variables whose names look secret.
    #[arg(long)]
    pub show_sensitive: bool,
    #[command(flatten)]
    pub progress: ProgressArgs,
    #[command(flatten)]
    pub images: ImageArgs,
}

/// How rollouts are shown, for the commands that watch them.
#[derive(Debug, Args)]
pub struct ProgressArgs {
    /// How to show rollout progress: a live line per service on a terminal, one log line per
    /// event otherwise (`auto`), or always one of the two.
    #[arg(long, value_enum, default_value_t = Progress::Auto)]
    pub progress: Progress,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Progress {
    Auto,
    /// A live line per service (spinner, state, elapsed time), redrawn in place.
    Tty,
    /// One timestamped line per event, for logs and CI.
    Plain,
}

/// Go-style durations (`90s`, `1m30s`), as stack files write them.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let d = crate::model::Duration::parse(text)?;
    u64::try_from(d.nanos())
        .map(std::time::Duration::from_nanos)
        .map_err(|_| format!("{text}: must not be negative"))
}

/// `--color`: when output is coloured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless `NO_COLOR` is set to something.
    #[default]
    Auto,
    /// Always, even into a pipe or with `NO_COLOR` (a flag outranks the environment).
    Always,
    Never,
}

/// The process's `--color`: one choice for every writer, set once by [`set_color`] before the
/// command runs (so the many places that print need not carry the flag).
static COLOR: std::sync::OnceLock<ColorWhen> = std::sync::OnceLock::new();

/// Record `--color` for [`use_color`]; with `always` or `never`, also for miette's reports
/// (their own detection already honours `NO_COLOR` under `auto`).
pub fn set_color(when: ColorWhen) {
    if COLOR.set(when).is_err() || when == ColorWhen::Auto {
        return;
    }
    let color = when == ColorWhen::Always;
    let _ = miette::set_hook(Box::new(move |_| {
        Box::new(miette::MietteHandlerOpts::new().color(color).build())
    }));
}

/// Whether to colour a stream: per `--color`; under `auto`, a terminal and `NO_COLOR` unset.
#[must_use]
pub fn use_color(stream_is_terminal: bool) -> bool {
    match COLOR.get().copied().unwrap_or_default() {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => {
            stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}
