//! The single-stack form of `stackctl watch` (flags instead of a file), checked by the same rules.

use std::path::{Path, PathBuf};

use super::rules::{self, Problem, Transport};
use super::types::{ControllerConfig, SourceConfig, SourceKind, StackConfig, WatchConfig};
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
        resync: flag("--resync", rules::period(nanos(args.resync)))?,
        max_concurrent: match args.max_concurrent {
            0 => return Err("--max-concurrent: must be at least 1".into()),
            n => n,
        },
        log_format: args.log_format,
        ..ControllerConfig::default()
    };
    Ok(WatchConfig {
        sources: vec![source],
        stacks: vec![stack],
        controller,
    })
}

fn source(args: &WatchArgs) -> Result<SourceConfig, String> {
    let interval = flag("--interval", rules::period(nanos(args.interval)))?;
    let (name, kind) = match (&args.repo, &args.dir) {
        (Some(url), None) => ("repo", SourceKind::Git(remote(args, url)?)),
        (None, Some(dir)) => ("dir", SourceKind::Dir(absolute(dir))),
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
    let given = [
        ("token_file", args.token_file.is_some()),
        ("token_env", args.token_env.is_some()),
        ("username", args.username.is_some()),
        ("ssh_key_file", args.ssh_key_file.is_some()),
        (
            "ssh_key_passphrase_file",
            args.ssh_key_passphrase_file.is_some(),
        ),
        ("known_hosts_file", args.known_hosts_file.is_some()),
    ];
    for (key, _) in given.into_iter().filter(|(_, is_given)| *is_given) {
        let name = format!("--{}", key.replace('_', "-"));
        // The rules speak of keys; on the command line the flag is what the user wrote.
        rules::credential(key, transport).map_err(|p| {
            let p = Problem {
                message: p.message.replace(&format!("`{key}`"), &format!("`{name}`")),
                ..p
            };
            message(&name, p)
        })?;
    }
    if args.token_file.is_some() && args.token_env.is_some() {
        return Err("--token-file and --token-env: give the token one way".into());
    }
    Ok(())
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
    match problem.help {
        Some(help) => format!("{flag}: {} ({help})", problem.message),
        None => format!("{flag}: {}", problem.message),
    }
}

fn nanos(d: std::time::Duration) -> crate::model::Duration {
    crate::model::Duration(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
