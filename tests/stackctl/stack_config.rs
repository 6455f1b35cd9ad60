//! `stackctl config`: the merged, interpolated stack as one YAML file. Its output, loaded again
//! from another directory without the variables, renders the very same Engine API specs, for
//! every example and every stack file the oracle tests deploy; `--skip-interpolation` and the
//! masking of sensitive values as `docker stack config` does not.

use std::path::Path;

use serde_json::Value;

use crate::swarm::{EXAMPLES, Example};
use crate::util::{Test, check_all, repo_root, stderr, stdout};

/// The variables the examples read (externals.yml names its external objects with them).
const VARIABLES: &[(&str, &str)] = &[
    ("PROXY_NETWORK", "rt-proxy"),
    ("OPS_NETWORK", "rt-ops"),
    ("AUDIT_NETWORK", "rt-audit"),
    ("BACKUP_VOLUME", "rt-backups"),
    ("REGISTRY_TOKEN", "rt-registry-token"),
    ("LEGACY_TOKEN", "rt-legacy-token"),
    ("MOTD", "rt-motd"),
    ("LEGACY_MOTD", "rt-legacy-motd"),
    ("APP_TAG", "2"),
];

/// `stackctl ARGS` in `dir`, with `variables` set; stdout, failing on a non-zero exit.
fn stackctl(dir: &Path, args: &[&str], variables: &[(&str, &str)]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stackctl"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .envs(variables.iter().copied())
        .output()
        .expect("stackctl runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "stackctl {args:?} in {}: {}",
        dir.display(),
        stderr(&out)
    );
    stdout(&out)
}

/// The exit code of `stackctl COMMAND FILES` in `dir`.
fn stackctl_status(dir: &Path, command: &str, files: &[&str]) -> Option<i32> {
    std::process::Command::new(env!("CARGO_BIN_EXE_stackctl"))
        .arg(command)
        .args(files)
        .current_dir(dir)
        .output()
        .expect("stackctl runs")
        .status
        .code()
}

fn render(dir: &Path, files: &[&str], variables: &[(&str, &str)]) -> Value {
    let mut args = vec!["render", "--show-sensitive", "-s", "rt"];
    args.extend(files);
    serde_json::from_str(&stackctl(dir, &args, variables)).expect("render prints JSON")
}

/// The files in `dir` rendered, then `config` of them written to a new directory and rendered
/// from there without the variables: both renders must be equal, and `config` of the output
/// must be the output again.
fn assert_round_trip(dir: &Path, files: &[&str], variables: &[(&str, &str)]) {
    let original = render(dir, files, variables);
    let mut args = vec!["config", "--show-sensitive"];
    args.extend(files);
    let printed = stackctl(dir, &args, variables);
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(elsewhere.path().join("config.yml"), &printed).unwrap();
    let again = render(elsewhere.path(), &["config.yml"], &[]);
    assert_eq!(
        again, original,
        "{files:?}: the config output plans other specs:\n{printed}"
    );
    let twice = stackctl(
        elsewhere.path(),
        &["config", "--show-sensitive", "config.yml"],
        &[],
    );
    assert_eq!(twice, printed, "{files:?}: config is not stable");
}

#[test]
fn config_of_every_example_renders_the_same_specs() {
    let dir = repo_root().join("examples/stacks");
    check_all(
        EXAMPLES,
        |e: &Example| e.stem(),
        |example| assert_round_trip(&dir, example.files, VARIABLES),
    );
}

#[test]
fn config_of_every_oracle_stack_file_renders_the_same_specs() {
    let mut cases: Vec<(String, Vec<&str>)> = Vec::new();
    for (name, file) in crate::oracle_edges::CASES {
        cases.push(((*name).to_owned(), vec![file]));
    }
    for (name, first, second) in crate::oracle_overrides::CASES {
        cases.push(((*name).to_owned(), vec![first, second]));
    }
    for (name, file) in crate::oracle_accepts::CASES {
        cases.push((format!("accepts {name}"), vec![file]));
    }
    check_all(
        &cases,
        |(name, _)| name.clone(),
        |(_, texts)| {
            // Named as the oracle tests name them: some files read their neighbours.
            let names: &[&str] = if texts.len() == 1 {
                &["stack.yml"]
            } else {
                &["stack1.yml", "stack2.yml"]
            };
            let mut test = Test::new();
            for (name, text) in names.iter().zip(texts) {
                test = test.file(name, text);
            }
            // Files docker (and stackctl) refuse have nothing to print.
            let validate = stackctl_status(test.path(), "validate", names);
            if validate != Some(0) {
                return;
            }
            assert_round_trip(test.path(), names, &[]);
        },
    );
}

const DOLLARS: &str = "services:
  a:
    image: stackctl-test/app:${TAG:-1}
    command: echo $$HOME ${GREETING}
    environment:
      - HOME
      - PRICE=$$5
";

#[test]
fn literal_dollars_are_escaped_so_loading_the_output_does_not_interpolate_again() {
    let test = Test::new().file("stack.yml", DOLLARS);
    let printed = stackctl(
        test.path(),
        &["config", "stack.yml"],
        &[("GREETING", "hi $USER"), ("HOME", "/home/u")],
    );
    assert_eq!(
        printed,
        "version: \"3.13\"\nservices:\n  a:\n    image: stackctl-test/app:1\n    command:\n      - echo\n      - $$HOME\n      - hi\n      - $$USER\n    environment:\n      HOME: /home/u\n      PRICE: $$5\n"
    );
}

#[test]
fn skip_interpolation_prints_variables_as_written() {
    let test = Test::new().file("stack.yml", DOLLARS);
    let printed = stackctl(
        test.path(),
        &["config", "--skip-interpolation", "stack.yml"],
        &[("HOME", "/home/u")],
    );
    // As `docker stack config --skip-interpolation`: bare variables are still looked up.
    assert_eq!(
        printed,
        "version: \"3.13\"\nservices:\n  a:\n    image: \"stackctl-test/app:${TAG:-1}\"\n    command:\n      - echo\n      - $$HOME\n      - \"${GREETING}\"\n    environment:\n      HOME: /home/u\n      PRICE: $$5\n"
    );
}

#[test]
fn sensitive_values_are_masked_unless_asked_for() {
    let file = "services:\n  a:\n    image: stackctl-test/app:1\n    command: [\"run\", \"--api-token=tok-123\"]\n    environment:\n      DB_PASSWORD: pw-456\n      MODE: plain\n    labels:\n      com.example.secret: lbl-789\n";
    let test = Test::new().file("stack.yml", file);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stackctl"))
        .args(["config", "stack.yml"])
        .current_dir(test.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let printed = stdout(&out);
    for secret in ["tok-123", "pw-456", "lbl-789"] {
        assert!(!printed.contains(secret), "{secret} shown:\n{printed}");
    }
    assert!(
        printed.contains("DB_PASSWORD: \"(sensitive)\""),
        "{printed}"
    );
    assert!(
        printed.contains("- \"--api-token=(sensitive)\""),
        "{printed}"
    );
    assert!(printed.contains("MODE: plain"), "{printed}");
    assert!(
        stderr(&out).contains("3 value(s) whose names look secret are masked"),
        "{}",
        stderr(&out)
    );
    let shown = stackctl(
        test.path(),
        &["config", "--show-sensitive", "stack.yml"],
        &[],
    );
    for secret in ["tok-123", "pw-456", "lbl-789"] {
        assert!(shown.contains(secret), "{secret} missing:\n{shown}");
    }
}

#[test]
fn invalid_files_are_reported_with_their_place_and_print_nothing() {
    let test = Test::new().file(
        "stack.yml",
        "services:\n  a:\n    image: app\n    deploy:\n      replics: 2\n",
    );
    let out = test.args(&["config", "stack.yml"]).run();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("stack.yml:5:7"), "{}", stderr(&out));
}

/// Examples whose `docker stack config` output loads again: docker does not escape a literal
/// `$` (anchors.yml, jobs.yml), keeps `env_file:` relative to nothing (web-db-cache.yml) and
/// drops `oom_score_adj` (legacy.yml); stackctl deliberately does none of these.
const DOCKER_RELOADABLE: &[&str] = &[
    "agent-global.yml",
    "compose-spec/as-docker.yml",
    "externals.yml",
    "monitoring.yml",
    "reverse-proxy.yml",
    "rollout.yml",
    "secrets.yml",
];

#[test]
fn config_describes_the_same_stack_as_docker_stack_config() {
    let examples = repo_root().join("examples/stacks");
    check_all(
        DOCKER_RELOADABLE,
        |file| (*file).to_owned(),
        |file| {
            let out = std::process::Command::new("docker")
                .args(["stack", "config", "-c", file])
                .current_dir(&examples)
                .envs(VARIABLES.iter().copied())
                .output()
                .expect("docker runs");
            assert!(out.status.success(), "{}", stderr(&out));
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("docker.yml"), &out.stdout).unwrap();
            let ours = stackctl(&examples, &["config", "--show-sensitive", file], VARIABLES);
            std::fs::write(dir.path().join("ours.yml"), ours).unwrap();
            assert_eq!(
                render(dir.path(), &["ours.yml"], &[]),
                render(dir.path(), &["docker.yml"], &[]),
                "{file}"
            );
        },
    );
}
