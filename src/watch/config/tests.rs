//! Each rule of `watch.yml`, by a small file and the finding it must produce (message, place).

use std::path::Path;

use super::{ConfigFailure, LoadedConfig, load_text};
use crate::load::Severity;

fn load(yaml: &str) -> Result<LoadedConfig, ConfigFailure> {
    load_text(
        Path::new("watch.yml"),
        yaml.to_owned(),
        Path::new("/etc/stackctl"),
    )
}

/// Every finding as `line:col message`, or `message` when it has no place.
fn findings(yaml: &str) -> Vec<(Severity, String)> {
    let (diags, sources) = match load(yaml) {
        Ok(l) => (l.warnings, l.sources),
        Err(f) => (f.diagnostics, f.sources),
    };
    diags
        .iter()
        .map(|d| {
            let text = match d.span {
                Some(span) => {
                    let (line, col) = sources.line_col(span);
                    format!("{line}:{col} {}", d.message)
                }
                None => d.message.clone(),
            };
            (d.severity, text)
        })
        .collect()
}

const GOOD: &str = "\
sources:
  infra:
    git: https://git.example.com/ops/stacks.git
stacks:
  web:
    source: infra
    files: [web.yml]
";

#[test]
fn a_minimal_file_loads_with_defaults() {
    let loaded = load(GOOD).unwrap();
    assert!(loaded.warnings.is_empty());
    let c = loaded.config;
    assert_eq!(
        c.sources[0].interval,
        crate::watch::source::DEFAULT_INTERVAL
    );
    assert_eq!(c.stacks[0].files, [Path::new("web.yml")]);
    assert_eq!(c.controller, super::ControllerConfig::default());
}

/// `(yaml, expected finding)`: the finding must be among those reported.
const ERRORS: &[(&str, &str)] = &[
    (
        "sources:\n  infra:\n    git: https://h/r.git\n    brnach: main\nstacks:\n  web: {source: infra, files: [a.yml]}\n",
        "4:5 unknown key `brnach` in sources.infra",
    ),
    ("sourcs: {}\n", "1:1 unknown top-level key `sourcs`"),
    ("stacks: {}\n", "1:1 no `sources:`: nothing to watch"),
    (
        "sources: {}\nstacks: {}\n",
        "1:10 `sources:` is empty: nothing to watch",
    ),
    ("", "1:1 watch.yml is empty: nothing to watch"),
    (
        "sources: [a]\n",
        "1:10 sources must be a mapping of names, not an array",
    ),
    (
        "sources:\n  infra:\n    interval: 10s\nstacks:\n  web: {source: infra, files: [a.yml]}\n",
        "2:3 source `infra` has neither `git` nor `dir`",
    ),
    (
        "sources:\n  infra:\n    git: https://h/r.git\n    dir: /srv\nstacks:\n  web: {source: infra, files: [a.yml]}\n",
        "4:5 source `infra` has both `git` and `dir`",
    ),
    (
        "sources:\n  infra:\n    git: https://h/r.git\n    branch: main\n    tag: v1\nstacks:\n  web: {source: infra, files: [a.yml]}\n",
        "5:5 sources.infra has both `branch` and `tag`",
    ),
    (
        "sources:\n  infra:\n    git: https://h/r.git\n    commit: xyz123\nstacks:\n  web: {source: infra, files: [a.yml]}\n",
        "4:13 sources.infra.commit: `xyz123` is not a commit id",
    ),
    (
        "sources:\n  infra:\n    git: https://h/r.git\n    commit: abc\nstacks:\n  web: {source: infra, files: [a.yml]}\n",
        "4:13 sources.infra.commit: `abc` is not a commit id",
    ),
    (
        "sources:\n  infra:\n    git: https://h/r.git\n    branch: refs/heads/main\nstacks:\n  web: {source: infra, files: [a.yml]}\n",
        "4:13 sources.infra.branch: write the branch name without `refs/`",
    ),
    (
        "sources:\n  local:\n    dir: /srv\n    branch: main\nstacks:\n  web: {source: local, files: [a.yml]}\n",
        "4:5 `branch` applies to git sources; sources.local is a folder (`dir`)",
    ),
    (
        "sources:\n  infra:\n    git: git@h:ops/r.git\n    token_file: /t\nstacks:\n  web: {source: infra, files: [a.yml]}\n",
        "4:5 sources.infra.token_file: `token_file` authenticates over HTTPS, but this is an SSH URL",
    ),
    (
        "sources:\n  infra:\n    git: https://h/r.git\n    ssh_key_file: /k\nstacks:\n  web: {source: infra, files: [a.yml]}\n",
        "4:5 sources.infra.ssh_key_file: `ssh_key_file` is for SSH URLs, but this is an HTTP(S) URL",
    ),
    (
        "sources:\n  infra:\n    git: file:///srv/r.git\n    token_env: T\nstacks:\n  web: {source: infra, files: [a.yml]}\n",
        "4:5 sources.infra.token_env: `token_env` is set, but a file:// remote needs no credentials",
    ),
    (
        "sources:\n  infra:\n    git: https://h/r.git\n    token_file: /t\n    token_env: T\nstacks:\n  web: {source: infra, files: [a.yml]}\n",
        "5:5 sources.infra has both `token_file` and `token_env`",
    ),
    (
        "sources:\n  infra:\n    git: https://h/r.git\n    token_env: 1TOKEN\nstacks:\n  web: {source: infra, files: [a.yml]}\n",
        "4:16 sources.infra.token_env: `1TOKEN` is not an environment variable name",
    ),
    (
        "sources:\n  infra:\n    git: ssh://git@h/r.git\n    ssh_key_passphrase_file: /p\nstacks:\n  web: {source: infra, files: [a.yml]}\n",
        "4:5 sources.infra: `ssh_key_passphrase_file` without `ssh_key_file`",
    ),
    (
        "sources:\n  infra:\n    git: https://bob:hunter2@h/r.git\nstacks:\n  web: {source: infra, files: [a.yml]}\n",
        "watch.yml:3:10: sources.infra.git: the git URL holds a password",
    ),
    (
        "sources:\n  infra:\n    git: git://h/r.git\nstacks:\n  web: {source: infra, files: [a.yml]}\n",
        "3:10 sources.infra.git: unsupported URL scheme `git://`",
    ),
    (
        "sources:\n  infra:\n    git: /srv/r.git\nstacks:\n  web: {source: infra, files: [a.yml]}\n",
        "3:10 sources.infra.git: `/srv/r.git` is not a git URL",
    ),
    (
        "sources:\n  infra:\n    git: https://h/r.git\n    interval: 500ms\nstacks:\n  web: {source: infra, files: [a.yml]}\n",
        "4:15 sources.infra.interval: 500ms is too short: at least 1s",
    ),
    (
        "sources:\n  infra:\n    git: https://h/r.git\n    interval: 10\nstacks:\n  web: {source: infra, files: [a.yml]}\n",
        "4:15 sources.infra.interval must be a string, not an integer",
    ),
    (
        "sources:\n  infra:\n    git: https://h/r.git\n    interval: 1x\nstacks:\n  web: {source: infra, files: [a.yml]}\n",
        "4:15 sources.infra.interval: unknown unit \"x\" in duration \"1x\"",
    ),
    (
        "sources:\n  \"my source\":\n    dir: /srv\nstacks:\n  web: {source: my source, files: [a.yml]}\n",
        "2:3 sources: invalid source name \"my source\"",
    ),
    (
        "sources:\n  infra: {dir: /srv}\nstacks:\n  web: {source: infr, files: [a.yml]}\n",
        "4:17 stack `web` names source `infr`, which is not defined",
    ),
    (
        "sources:\n  infra: {dir: /srv}\nstacks:\n  web: {files: [a.yml]}\n",
        "4:3 stack `web` has no `source`",
    ),
    (
        "sources:\n  infra: {dir: /srv}\nstacks:\n  web: {source: infra}\n",
        "4:3 stack `web` has no `files`",
    ),
    (
        "sources:\n  infra: {dir: /srv}\nstacks:\n  web: {source: infra, files: []}\n",
        "4:31 stacks.web.files is empty",
    ),
    (
        "sources:\n  infra: {dir: /srv}\nstacks:\n  web: {source: infra, files: [/abs/web.yml]}\n",
        "4:32 stacks.web.files: `/abs/web.yml` is absolute; paths here are inside the source",
    ),
    (
        "sources:\n  infra: {dir: /srv}\nstacks:\n  web: {source: infra, files: [a/../../web.yml]}\n",
        "4:32 stacks.web.files: `a/../../web.yml` leaves the source",
    ),
    (
        "sources:\n  infra: {dir: /srv}\nstacks:\n  web: {source: infra, files: [a.yml], env_file: ../.env}\n",
        "4:50 stacks.web.env_file: `../.env` leaves the source",
    ),
    (
        "sources:\n  infra: {dir: /srv}\nstacks:\n  web.app: {source: infra, files: [a.yml]}\n",
        "4:3 stacks: invalid stack name \"web.app\"",
    ),
    (
        "sources:\n  infra: {dir: /srv}\nstacks:\n  web: {source: infra, files: [a.yml], mode: deploy}\n",
        "4:46 stacks.web.mode: `deploy` is not one of apply, plan",
    ),
    (
        "sources:\n  infra: {dir: /srv}\nstacks:\n  web: {source: infra, files: [a.yml], on_failure: rolback}\n",
        "4:52 stacks.web.on_failure: `rolback` is not one of stop, continue, rollback",
    ),
    (
        "sources:\n  infra: {dir: /srv}\nstacks:\n  web: {source: infra, files: [a.yml], prune: yes}\n",
        "4:47 stacks.web.prune must be a boolean, not a string",
    ),
    (
        "sources:\n  infra: {dir: /srv}\nstacks:\n  web: {source: infra, files: [a.yml], max_removals: -1}\n",
        "4:54 stacks.web.max_removals must be zero or more, not -1",
    ),
    (
        "sources:\n  infra: {dir: /srv}\nstacks:\n  web: {source: infra, files: [a.yml], depends_on: [web]}\n",
        "4:53 stack `web` depends on itself",
    ),
    (
        "sources:\n  infra: {dir: /srv}\nstacks:\n  web: {source: infra, files: [a.yml], depends_on: [bd]}\n  db: {source: infra, files: [b.yml]}\n",
        "4:53 stack `web` depends on `bd`, which is not a stack of this file",
    ),
    (
        "sources:\n  infra: {dir: /srv}\nstacks:\n  a: {source: infra, files: [a.yml], depends_on: [b]}\n  b: {source: infra, files: [b.yml], depends_on: [c]}\n  c: {source: infra, files: [c.yml], depends_on: [a]}\n",
        "6:51 depends_on cycle: a → b → c → a",
    ),
    (
        "controller:\n  listen: localhost:9090\n",
        "2:11 controller.listen: `localhost:9090` is not an address to listen on",
    ),
    (
        "controller:\n  max_concurrent: 0\n",
        "2:19 controller.max_concurrent must be at least 1",
    ),
    (
        "controller:\n  resync: 0s\n",
        "2:11 controller.resync: 0s is too short: at least 1s",
    ),
    (
        "controller:\n  log_format: jsn\n",
        "2:15 controller.log_format: `jsn` is not one of human, json",
    ),
    (
        "controller:\n  listn: 127.0.0.1:1\n",
        "2:3 unknown key `listn` in controller",
    ),
];

#[test]
fn every_rule_reports_its_place() {
    let mut missed = Vec::new();
    for (yaml, want) in ERRORS {
        let got = findings(yaml);
        if !got
            .iter()
            .any(|(s, f)| *s == Severity::Error && f.starts_with(want))
        {
            missed.push(format!("want {want:?} in {got:#?}\nfor:\n{yaml}"));
        }
    }
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}

#[test]
fn all_errors_of_a_file_are_reported_in_one_run() {
    let yaml = "sources:\n  infra:\n    git: https://h/r.git\n    brnch: x\nstacks:\n  web: {source: nope, files: [/a.yml], mode: x}\n";
    let errors = findings(yaml)
        .into_iter()
        .filter(|(s, _)| *s == Severity::Error)
        .count();
    assert_eq!(errors, 4, "{:#?}", findings(yaml));
}

#[test]
fn suggestions_name_the_closest_key_source_and_stack() {
    let failure = load("sources:\n  infra: {dir: /srv, intervl: 1m}\nstacks:\n  web: {source: infr, files: [a.yml], depends_on: [wbe]}\n  wb: {source: infra, files: [a.yml]}\n").unwrap_err();
    let helps: Vec<_> = failure
        .diagnostics
        .iter()
        .filter_map(|d| d.help.clone())
        .collect();
    assert_eq!(
        helps,
        [
            "did you mean `interval`?",
            "did you mean `infra`?",
            "did you mean `wb`?"
        ]
    );
}

#[test]
fn a_password_in_the_url_is_never_repeated() {
    let failure = load("sources:\n  infra:\n    git: https://bob:hunter2@h/r.git\nstacks:\n  web: {source: infra, files: [a.yml]}\n").unwrap_err();
    for d in failure.diagnostics.iter() {
        let rendered = crate::load::diagnostic::render(d, &failure.sources, false);
        assert!(!rendered.contains("hunter2"), "{rendered}");
    }
}

#[test]
fn warnings_do_not_fail_the_load() {
    let yaml = "sources:\n  infra: {git: http://h/r.git, token_env: T}\n  spare: {dir: spare}\nstacks:\n  web: {source: infra, files: [a.yml]}\n";
    let got = findings(yaml);
    assert_eq!(
        got,
        [
            (
                Severity::Warning,
                "2:16 sources.infra: the token is sent unencrypted over http://".to_owned()
            ),
            (
                Severity::Warning,
                "3:3 source `spare` is not used by any stack".to_owned()
            ),
        ]
    );
    let config = load(yaml).unwrap().config;
    assert_eq!(
        config.sources[1].kind,
        super::SourceKind::Dir("/etc/stackctl/spare".into())
    );
}

#[test]
fn extension_keys_are_ignored_and_paths_normalized() {
    let yaml = "x-a: 1\nsources:\n  s: {dir: /srv, x-b: 2}\nstacks:\n  web: {source: s, files: [./a/../web.yml], x-c: 3}\ncontroller: {x-d: 4}\n";
    let config = load(yaml).unwrap().config;
    assert_eq!(config.stacks[0].files, [Path::new("web.yml")]);
}

#[test]
fn the_config_serializes_settings_not_secrets() {
    let yaml = "sources:\n  infra: {git: https://h/r.git, tag: v1, token_env: GIT_TOKEN}\nstacks:\n  web: {source: infra, files: [a.yml], on_failure: rollback}\n";
    let json = serde_json::to_value(load(yaml).unwrap().config).unwrap();
    assert_eq!(
        json["sources"][0],
        serde_json::json!({"name": "infra", "git": "https://h/r.git", "tag": "v1", "token_env": "GIT_TOKEN", "interval": "1m0s"})
    );
    assert_eq!(json["stacks"][0]["on_failure"], "rollback");
    assert_eq!(json["controller"]["resync"], "5m0s");
}

#[test]
fn urls_and_their_transports() {
    use super::rules::{Transport, transport};
    for (url, want) in [
        ("https://h/r.git", Transport::Https),
        ("http://h/r.git", Transport::Http),
        ("ssh://git@h:2222/r.git", Transport::Ssh),
        ("git@github.com:ops/stacks.git", Transport::Ssh),
        ("h:r.git", Transport::Ssh),
        ("file:///srv/r.git", Transport::File),
    ] {
        assert_eq!(transport(url), Ok(want), "{url}");
    }
    for bad in ["", "/srv/r.git", "./r", "ftp://h/r"] {
        assert!(transport(bad).is_err(), "{bad}");
    }
    assert!(super::rules::password("https://user@h/r.git").is_none());
    assert!(super::rules::password("ssh://u:p@h/r.git").is_none());
}
