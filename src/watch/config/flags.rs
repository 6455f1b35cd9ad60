//! The single-stack form of `stackctl watch` (flags instead of a file), checked by the same rules.

use std::path::{Path, PathBuf};

use super::keys;
use super::rules::{self, Problem, Transport};
use super::types::{
    ControllerConfig, SourceConfig, SourceKind, StackConfig, WatchConfig, model_duration,
};
use crate::cli::watch::WatchArgs;
use crate::model::StackName;
use crate::watch::source::{GitRef, GitRemote};

/// The configuration the flags describe: one source (named `repo` or `dir`) and one stack.
/// Errors name the flag. Relative host paths are taken from the current directory.
pub fn from_flags(args: &WatchArgs) -> Result<WatchConfig, String> {
    if args.config.is_some() {
        return Err(
            "--config: the file is read with watch::config::load_file (this is a bug in stackctl)"
                .into(),
        );
    }
    let source = source(args)?;
    let stack = stack(args, &source.name)?;
    let controller = ControllerConfig {
        listen: args.listen,
        state_dir: args.state_dir.as_deref().map(absolute),
        resync: flag("--resync", rules::period(model_duration(args.resync)))?,
        max_concurrent: match args.max_concurrent {
            0 => return Err("--max-concurrent: must be at least 1".into()),
            n => n,
        },
        log_format: args.log_format.unwrap_or_default(),
        ..ControllerConfig::default()
    };
    Ok(WatchConfig {
        sources: vec![source],
        stacks: vec![stack],
        controller,
    })
}

fn source(args: &WatchArgs) -> Result<SourceConfig, String> {
    let interval = flag("--interval", rules::period(model_duration(args.interval)))?;
    let (name, kind) = match (&args.repo, &args.dir) {
        (Some(url), None) => ("repo", SourceKind::Git(remote(args, url)?)),
        (None, Some(dir)) => {
            git_only_flags(args)?;
            ("dir", SourceKind::Dir(absolute(dir)))
        }
        (Some(_), Some(_)) => return Err("--repo and --dir: give one".into()),
        (None, None) => {
            return Err("nothing to watch: give --config FILE, or --repo URL (or --dir DIR) with --path FILE and --stack NAME".into());
        }
    };
    Ok(SourceConfig {
        name: name.into(),
        kind,
        interval,
    })
}

fn remote(args: &WatchArgs, url: &str) -> Result<GitRemote, String> {
    if let Some(problem) = rules::password(url) {
        return Err(message("--repo", problem));
    }
    let transport = flag("--repo", rules::transport(url))?;
    let reference = match (&args.branch, &args.tag, &args.commit) {
        (None, None, None) => GitRef::default(),
        (Some(b), None, None) => {
            flag("--branch", rules::ref_name("branch", b)).map(|()| GitRef::Branch(b.clone()))?
        }
        (None, Some(t), None) => {
            flag("--tag", rules::ref_name("tag", t)).map(|()| GitRef::Tag(t.clone()))?
        }
        (None, None, Some(c)) => {
            flag("--commit", rules::commit(c)).map(|()| GitRef::Commit(c.clone()))?
        }
        _ => return Err("--branch, --tag, --commit: give one at most".into()),
    };
    credentials(args, transport)?;
    if let Some(name) = &args.token_env {
        flag("--token-env", rules::env_name(name))?;
    }
    Ok(GitRemote {
        url: url.to_owned(),
        reference,
        username: args.username.clone(),
        token_file: args.token_file.as_deref().map(absolute),
        token_env: args.token_env.clone(),
        ssh_key_file: args.ssh_key_file.as_deref().map(absolute),
        ssh_key_passphrase_file: args.ssh_key_passphrase_file.as_deref().map(absolute),
        known_hosts_file: args.known_hosts_file.as_deref().map(absolute),
    })
}

fn credentials(args: &WatchArgs, transport: Transport) -> Result<(), String> {
    let given = git_settings(args)
        .into_iter()
        .filter(|(_, is_given)| *is_given);
    for (key, _) in given.filter(|(key, _)| keys::CREDENTIALS.contains(key)) {
        flag(&flag_name(key), rules::credential(key, transport))?;
    }
    if args.token_file.is_some() && args.token_env.is_some() {
        return Err("--token-file and --token-env: give the token one way".into());
    }
    Ok(())
}

/// clap waives `requires = "repo"` once `--dir` (which conflicts with it) is given.
fn git_only_flags(args: &WatchArgs) -> Result<(), String> {
    match git_settings(args)
        .into_iter()
        .find(|(_, is_given)| *is_given)
    {
        Some((key, _)) => Err(format!(
            "{}: applies to --repo, not to --dir",
            flag_name(key)
        )),
        None => Ok(()),
    }
}

/// Whether each setting of a git remote that has a flag is given, by its `watch.yml` key.
fn git_settings(args: &WatchArgs) -> [(&'static str, bool); 9] {
    [
        ("branch", args.branch.is_some()),
        ("tag", args.tag.is_some()),
        ("commit", args.commit.is_some()),
        ("token_file", args.token_file.is_some()),
        ("token_env", args.token_env.is_some()),
        ("username", args.username.is_some()),
        ("ssh_key_file", args.ssh_key_file.is_some()),
        (
            "ssh_key_passphrase_file",
            args.ssh_key_passphrase_file.is_some(),
        ),
        ("known_hosts_file", args.known_hosts_file.is_some()),
    ]
}

/// The flag for a `watch.yml` key: `ssh_key_file` is `--ssh-key-file`.
fn flag_name(key: &str) -> String {
    format!("--{}", key.replace('_', "-"))
}

fn stack(args: &WatchArgs, source: &str) -> Result<StackConfig, String> {
    let name = args
        .stack
        .as_deref()
        .ok_or("--stack: required with --repo or --dir")?;
    let name = StackName::new(name).map_err(|e| format!("--stack: {e}"))?;
    if args.paths.is_empty() {
        return Err(
            "--path: required with --repo or --dir (a stack file inside the source)".into(),
        );
    }
    let files = args
        .paths
        .iter()
        .map(|p| flag("--path", rules::inside_source(p)))
        .collect::<Result<Vec<_>, _>>()?;
    let env_file = args
        .env_file
        .as_deref()
        .map(|p| flag("--env-file", rules::inside_source(p)))
        .transpose()?;
    Ok(StackConfig {
        name,
        source: source.to_owned(),
        files,
        env_file,
        profiles: args.profiles.clone(),
        prune: args.prune,
        max_removals: args.max_removals,
        self_heal: args.self_heal,
        mode: args.mode,
        suspend: false,
        depends_on: Vec::new(),
        on_failure: args.on_failure,
    })
}

fn flag<T>(name: &str, result: Result<T, Problem>) -> Result<T, String> {
    result.map_err(|p| message(name, p))
}

fn message(flag: &str, problem: Problem) -> String {
    let text = match problem.help {
        Some(help) => format!("{flag}: {}; {help}", problem.message),
        None => format!("{flag}: {}", problem.message),
    };
    as_flags(&text)
}

/// The rules speak of file keys; on the command line the flags are what the user writes.
fn as_flags(text: &str) -> String {
    let flagged = keys::SOURCE
        .names
        .iter()
        .filter(|key| !matches!(**key, "git" | "dir" | "interval"));
    flagged.fold(text.to_owned(), |text, key| {
        text.replace(&format!("`{key}`"), &format!("`{}`", flag_name(key)))
    })
}

/// `--listen`, `--state-dir` and `--log-format` given with `--config`: they win over the
/// file's `controller:` keys.
pub fn override_controller(config: &mut WatchConfig, args: &WatchArgs) {
    let controller = &mut config.controller;
    if let Some(listen) = args.listen {
        controller.listen = Some(listen);
    }
    if let Some(dir) = &args.state_dir {
        controller.state_dir = Some(absolute(dir));
    }
    if let Some(format) = args.log_format {
        controller.log_format = format;
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::Parser;

    use super::{from_flags, override_controller};
    use crate::cli::watch::WatchArgs;
    use crate::watch::config::{ControllerConfig, LogFormat, SourceKind, WatchConfig};
    use crate::watch::source::GitRef;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: WatchArgs,
    }

    fn parse(args: &str) -> Result<WatchArgs, String> {
        let words = std::iter::once("watch").chain(args.split_whitespace());
        Cli::try_parse_from(words)
            .map(|c| c.args)
            .map_err(|e| e.kind().to_string())
    }

    fn config(args: &str) -> Result<WatchConfig, String> {
        from_flags(&parse(args).unwrap_or_else(|e| panic!("{args}: {e}")))
    }

    #[test]
    fn a_repository_stack() {
        let c = config(
            "--repo https://h/ops.git --branch prod --path stacks/web.yml --stack web --interval 30s \
             --self-heal --prune --listen 127.0.0.1:9090 --state-dir /var/lib/s --token-env GIT_TOKEN",
        )
        .unwrap();
        let source = &c.sources[0];
        assert_eq!(
            (source.name.as_str(), source.interval.as_secs()),
            ("repo", 30)
        );
        let SourceKind::Git(remote) = &source.kind else {
            panic!("{source:?}")
        };
        assert_eq!(remote.reference, GitRef::Branch("prod".into()));
        assert_eq!(remote.token_env.as_deref(), Some("GIT_TOKEN"));
        let stack = &c.stacks[0];
        assert_eq!(
            (stack.name.as_str(), stack.source.as_str()),
            ("web", "repo")
        );
        assert!(stack.self_heal && stack.prune);
        assert_eq!(c.controller.listen, Some("127.0.0.1:9090".parse().unwrap()));
        assert_eq!(c.controller.resync.as_secs(), 300);
    }

    #[test]
    fn a_folder_stack_resolves_the_folder() {
        let c = config("--dir stacks --path web.yml --path web.prod.yml --stack web").unwrap();
        let want = std::path::absolute("stacks").unwrap();
        assert_eq!(c.sources[0].kind, SourceKind::Dir(want));
        assert_eq!(c.sources[0].name, "dir");
        assert_eq!(
            c.stacks[0].files,
            [Path::new("web.yml"), Path::new("web.prod.yml")]
        );
    }

    #[test]
    fn flags_given_with_a_file_override_its_controller_keys() {
        let mut config = WatchConfig {
            sources: vec![],
            stacks: vec![],
            controller: ControllerConfig {
                listen: Some("127.0.0.1:1".parse().unwrap()),
                state_dir: Some("/from/file".into()),
                ..ControllerConfig::default()
            },
        };
        override_controller(
            &mut config,
            &parse("--config w.yml --log-format json").unwrap(),
        );
        assert_eq!(
            config.controller.listen,
            Some("127.0.0.1:1".parse().unwrap())
        );
        assert_eq!(config.controller.state_dir, Some("/from/file".into()));
        assert_eq!(config.controller.log_format, LogFormat::Json);
        let args = parse("--config w.yml --listen 0.0.0.0:9090 --state-dir /s").unwrap();
        override_controller(&mut config, &args);
        assert_eq!(
            config.controller.listen,
            Some("0.0.0.0:9090".parse().unwrap())
        );
        assert_eq!(config.controller.state_dir, Some("/s".into()));
        assert_eq!(config.controller.log_format, LogFormat::Json);
    }

    #[test]
    fn clap_refuses_combinations() {
        for args in [
            "--config w.yml --repo https://h/r.git",
            "--config w.yml --interval 10s",
            "--config w.yml --max-concurrent 2",
            "--repo https://h/r.git --stack web",
            "--dir d --path a.yml",
            "--repo https://h/r.git --dir d --path a.yml --stack web",
            "--repo https://h/r.git --path a.yml --stack web --branch a --tag b",
            "--repo https://h/r.git --path a.yml --stack web --token-file t --token-env T",
            "--repo https://h/r.git --path a.yml --stack web --listen localhost:1",
            "--repo https://h/r.git --path a.yml --stack web --mode deploy",
        ] {
            assert!(parse(args).is_err(), "{args}");
        }
        assert!(parse("--config w.yml -H tcp://h:2376").is_ok());
        assert!(
            parse("--config w.yml --listen 127.0.0.1:1 --state-dir s --log-format json").is_ok()
        );
    }

    #[test]
    fn rules_name_the_flag() {
        let base = "--path a.yml --stack web";
        for (args, want) in [
            (
                "--repo https://h/r.git --interval 500ms",
                "--interval: 500ms is too short: at least 1s",
            ),
            (
                "--repo https://h/r.git --resync 0s",
                "--resync: 0s is too short",
            ),
            (
                "--repo https://h/r.git --commit xyz",
                "--commit: `xyz` is not a commit id",
            ),
            (
                "--repo git@h:r.git --token-file t",
                "--token-file: `--token-file` authenticates over HTTPS, but this is an SSH URL; over SSH use `--ssh-key-file`",
            ),
            (
                "--repo https://h/r.git --ssh-key-file k",
                "--ssh-key-file: `--ssh-key-file` is for SSH URLs",
            ),
            ("--repo /srv/r.git", "--repo: `/srv/r.git` is not a git URL"),
            ("--dir d --path /abs.yml", "--path: `/abs.yml` is absolute"),
            (
                "--dir d --env-file ../.env",
                "--env-file: `../.env` leaves the source",
            ),
            (
                "--dir d --max-concurrent 0",
                "--max-concurrent: must be at least 1",
            ),
        ] {
            let got = config(&format!("{base} {args}")).unwrap_err();
            assert!(got.starts_with(want), "{args}:\n{got}");
        }
        let got = config("--dir d --path a.yml --stack web.app").unwrap_err();
        assert!(got.starts_with("--stack: invalid stack name"), "{got}");
        let got = config(&format!("{base} --repo https://bob:hunter2@h/r.git")).unwrap_err();
        assert!(
            got.starts_with("--repo: the git URL holds a password") && !got.contains("hunter2"),
            "{got}"
        );
    }
}
