//! Secret values never reach an output: every command's stdout and stderr, saved plans and the
//! cluster's history records are searched for marker values kept under sensitive names
//! (environment, labels, `env_file`, interpolated variables, a `--flag=value` argument), on the
//! real Swarm and on broken files. The markers are checked to be really deployed and shown by
//! `--show-sensitive`, so the search can fail.

use std::path::Path;

use base64::Engine as _;
use serde_json::Value;

use super::apply::{APPLY_TIMEOUT, Run, Stack, stack_command};
use super::swarm::docker;
use super::util::Test;

/// A stack file whose sensitive values are markers ending in `version`.
fn stack_file(version: &str) -> String {
    format!(
        "services:
  web:
    image: stackctl-test/app:1
    command: [\"/usr/local/bin/stackctl-test-app\", \"--api-key=mark-arg-{version}\"]
    env_file: ./secrets.env
    environment:
      DB_PASSWORD: mark-env-{version}
      APP_SECRET: ${{APP_SECRET}}
      LOG_LEVEL: info
    labels:
      com.example.secret: mark-label-{version}
    deploy:
      replicas: 1
      labels:
        com.example.api-token: mark-deploy-label-{version}
      update_config: {{parallelism: 0, monitor: 1s}}
"
    )
}

/// The files of version `version` in `dir`: the stack, its `env_file` and its `.env`.
fn write_version(dir: &Path, version: &str) {
    std::fs::write(dir.join("stack.yml"), stack_file(version)).unwrap();
    std::fs::write(
        dir.join("secrets.env"),
        format!("SMTP_PASS=mark-env-file-{version}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join(".env"),
        format!("APP_SECRET=mark-variable-{version}\n"),
    )
    .unwrap();
}

/// Everything stackctl keeps in the cluster about the stack's applies: the history configs,
/// inspected, with their data decoded.
fn history_records(stack: &Stack) -> String {
    let filter = format!("label=com.stackctl.history={}", stack.name);
    let ids = docker(&["config", "ls", "-q", "--filter", &filter]);
    let mut out = String::new();
    for id in ids.lines() {
        let inspected = docker(&["config", "inspect", id]);
        let parsed: Value = serde_json::from_str(&inspected).unwrap();
        let data = parsed[0]["Spec"]["Data"].as_str().unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap();
        out.push_str(&inspected);
        out.push_str(&String::from_utf8_lossy(&bytes));
    }
    assert!(!out.is_empty(), "no history recorded for {}", stack.name);
    out
}

/// `stackctl ARGS…`, with each argument naming a file of `dir` (`stack.yml`, `saved.json`)
/// made absolute: the files' own directory is where `.env` and `env_file` are read from.
fn run(dir: &Path, args: &[&str]) -> Run {
    let args: Vec<String> = args
        .iter()
        .map(|a| {
            let is_file = Path::new(a).extension().is_some() && !a.starts_with('-');
            if is_file {
                dir.join(a).display().to_string()
            } else {
                (*a).to_owned()
            }
        })
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Run::of(&Test::new().args(&args))
}

fn assert_no_marker(what: &str, text: &str) {
    assert!(
        !text.contains("mark-"),
        "a secret value is shown by {what}:\n{text}"
    );
}

/// Regression: plan, apply, render, history and status once showed values of names like
/// `SECRETS`, `SMTP_PASS` or labels, and `render` printed every value.
#[test]
fn no_command_prints_a_sensitive_value() {
    let stack = Stack::new("secrets-output");
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let name = stack.name.as_str();
    write_version(dir, "one");
    let mut runs: Vec<(String, Run)> = Vec::new();
    let mut record = |what: &str, run: Run, code: i32| {
        assert_eq!(run.code, Some(code), "{what}:\n{}", run.text());
        runs.push((what.to_owned(), run));
    };
    record("validate", run(dir, &["validate", "stack.yml"]), 0);
    record("render", run(dir, &["render", "-s", name, "stack.yml"]), 0);
    let apply = ["apply", "-y", "--timeout", APPLY_TIMEOUT, "-s", name];
    record(
        "first apply",
        run(dir, &[&apply[..], &["stack.yml"]].concat()),
        0,
    );

    // The second version changes every marker: plans show old and new values of each.
    write_version(dir, "two");
    let plan = ["plan", "-s", name, "stack.yml"];
    record("plan", run(dir, &plan), 0);
    record(
        "plan --format json --out",
        run(
            dir,
            &[&plan[..], &["--format", "json", "--out", "saved.json"]].concat(),
        ),
        0,
    );
    let saved = std::fs::read_to_string(dir.join("saved.json")).unwrap();
    assert!(saved.contains("environment.DB_PASSWORD"), "{saved}");
    assert_no_marker("the saved plan", &saved);
    record(
        "apply --plan-file",
        run(
            dir,
            &[&apply[..], &["--plan-file", "saved.json", "stack.yml"]].concat(),
        ),
        0,
    );
    record("history", stack_command("history", &stack, &[]), 0);
    record("status", stack_command("status", &stack, &[]), 0);

    for (what, run) in &runs {
        assert_no_marker(what, &format!("{}{}", run.stdout, run.stderr));
    }
    let plan_text = &runs.iter().find(|(w, _)| w == "plan").unwrap().1.stdout;
    for masked in [
        "environment.DB_PASSWORD: (sensitive) → (sensitive)",
        "environment.SMTP_PASS: (sensitive) → (sensitive)",
        "environment.APP_SECRET: (sensitive) → (sensitive)",
        "labels.com.example.secret: (sensitive) → (sensitive)",
        "deploy.labels.com.example.api-token: (sensitive) → (sensitive)",
        "--api-key=(sensitive)",
    ] {
        assert!(plan_text.contains(masked), "{masked}:\n{plan_text}");
    }
    assert_no_marker("the history records", &history_records(&stack));

    // The markers are really there: deployed, and shown on request.
    let spec = stack.inspect("web")["Spec"].to_string();
    for marker in [
        "env",
        "env-file",
        "variable",
        "label",
        "deploy-label",
        "arg",
    ] {
        assert!(spec.contains(&format!("mark-{marker}-two")), "{spec}");
    }
    let shown = run(
        dir,
        &["render", "--show-sensitive", "-s", name, "stack.yml"],
    );
    assert!(shown.stdout.contains("mark-env-two"), "{}", shown.text());
    let shown = run(dir, &[&plan[..], &["--show-sensitive"]].concat());
    assert!(shown.stdout.contains("No changes"), "{}", shown.text());
}

/// Broken files: messages and excerpts show names and places, never a value.
#[test]
fn errors_do_not_print_sensitive_values() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "interpolation errors next to and in sensitive keys",
            &[(
                "stack.yml",
                "services:
  web:
    image: stackctl-test/app:1
    environment:
      API_TOKEN: mark-excerpt
      MODE: ${UNSET_MODE:?set MODE}
      DB_PASSWORD: \"mark-interpolation$1\"
    command: [\"serve\", \"--api-key=mark-flag\", \"$\"]
    labels:
      - com.example.token=mark-list$
",
            )],
        ),
        (
            "a broken .env",
            &[
                (
                    "stack.yml",
                    "services:\n  web:\n    image: stackctl-test/app:1\n",
                ),
                (
                    ".env",
                    "SECRET_KEY=mark-dotenv\nPASSWORD=\"mark-unterminated\nLEVEL=1\n",
                ),
            ],
        ),
        (
            "a broken env_file",
            &[
                (
                    "stack.yml",
                    "services:\n  web:\n    image: stackctl-test/app:1\n    env_file: bad.env\n",
                ),
                ("bad.env", "DB_PASSWORD mark-env-file\n"),
            ],
        ),
    ];
    for (case, files) in cases {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in *files {
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        let commands: &[&[&str]] = &[
            &["validate", "stack.yml"],
            &["validate", "--format", "json", "stack.yml"],
            &["render", "-s", "never-deployed", "stack.yml"],
            &["plan", "-s", "never-deployed", "stack.yml"],
            &["apply", "-y", "-s", "never-deployed", "stack.yml"],
        ];
        for args in commands {
            let out = run(dir.path(), args);
            assert_eq!(out.code, Some(1), "{case}: {args:?}\n{}", out.text());
            assert_no_marker(&format!("{case}: {args:?}"), &out.text());
        }
    }
}

/// The excerpt of an error keeps the sensitive lines, masked (so masking is really at work),
/// and the error's place stays that of the file.
#[test]
fn excerpts_mask_the_lines_of_sensitive_keys() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stack.yml"),
        "services:
  web:
    image: stackctl-test/app:1
    environment:
      API_TOKEN: mark-excerpt
      MODE: ${UNSET_MODE:?set MODE}
    command: [\"serve\", \"--api-key=mark-flag\", \"$\"]
",
    )
    .unwrap();
    let out = run(dir.path(), &["validate", "stack.yml"]);
    // The place is the file's own: the mask is longer than the value before the `$`.
    assert!(out.stderr.contains("stack.yml:7:48]"), "{}", out.text());
    assert!(
        out.stderr.contains("\"--api-key=(sensitive)\", \"$\"]"),
        "{}",
        out.text()
    );
    assert_no_marker("validate", &out.text());
    assert_eq!(out.code, Some(1), "{}", out.text());
    assert!(
        out.stderr.contains("API_TOKEN: (sensitive)"),
        "{}",
        out.text()
    );
    assert!(
        out.stderr.contains("MODE: ${UNSET_MODE:?set MODE}"),
        "{}",
        out.text()
    );
}
