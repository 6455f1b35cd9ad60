//! Configs and secrets through apply: a changed config rolls out as a new version, the service
//! is repointed and the old version removed; a secret's content never reaches any output.

use base64::Engine as _;
use serde_json::Value;
use stackctl::model::digest::sha256_hex;

use super::apply::{Run, Stack, apply, stack_command};
use super::swarm::docker;
use super::util::Test;

const STACK_FILE: &str = "services:
  web:
    image: stackctl-test/app:1
    configs:
      - source: site
        target: /www/site.txt
    secrets:
      - token
    deploy:
      replicas: 1
      update_config: {parallelism: 1, delay: 1s, monitor: 2s, order: start-first}
configs:
  site:
    file: ./site.txt
secrets:
  token:
    file: ./token.txt
";

fn files(site: &str, token: &str) -> Test {
    Test::new()
        .file("stack.yml", STACK_FILE)
        .file("site.txt", site)
        .file("token.txt", token)
}

fn apply_files(stack: &Stack, site: &str, token: &str) -> Run {
    apply(files(site, token), stack, &["stack.yml"], &[])
}

/// `docker config ls` names with the stack's namespace label.
fn config_names(stack: &Stack) -> Vec<String> {
    let filter = format!("label=com.docker.stack.namespace={}", stack.name);
    let out = docker(&["config", "ls", "--filter", &filter, "--format", "{{.Name}}"]);
    let mut names: Vec<String> = out.lines().map(str::to_owned).collect();
    names.sort();
    names
}

fn config_id(name: &str) -> String {
    docker(&["config", "inspect", "--format", "{{.ID}}", name])
        .trim()
        .to_owned()
}

#[test]
fn changed_config_rolls_out_as_a_new_version_and_the_old_one_goes() {
    let stack = Stack::new("apob-config");
    let token = "not the point of this test\n";
    let first = apply_files(&stack, "v1 content\n", token);
    assert_eq!(first.code, Some(0), "{}", first.text());
    let v1 = format!("{}_site", stack.name);
    assert_eq!(config_names(&stack), std::slice::from_ref(&v1));

    let second = apply_files(&stack, "v2 content\n", token);
    assert_eq!(second.code, Some(0), "{}", second.text());
    let service = stack.service_name("web");
    assert_eq!(
        second.summary_of(&service),
        format!("  ok   {service}: converged")
    );
    let v2 = format!("{v1}-{}", &sha256_hex(b"v2 content\n")[..12]);
    assert!(second.stdout.contains(&v2), "{}", second.text());
    let refs = stack.inspect("web")["Spec"]["TaskTemplate"]["ContainerSpec"]["Configs"].clone();
    let refs = refs.as_array().cloned().unwrap_or_default();
    assert_eq!(refs.len(), 1, "{refs:?}");
    assert_eq!(refs[0]["ConfigName"], Value::String(v2.clone()));
    assert_eq!(refs[0]["ConfigID"], Value::String(config_id(&v2)));
    assert_eq!(refs[0]["File"]["Name"], "/www/site.txt");
    // Converged, so nothing uses v1 any more: the apply removed it.
    assert_eq!(config_names(&stack), std::slice::from_ref(&v2));

    // The version is now what the files describe: applying again changes and writes nothing.
    let third = apply_files(&stack, "v2 content\n", token);
    assert_eq!(third.code, Some(0), "{}", third.text());
    assert!(third.stdout.starts_with("No changes."), "{}", third.text());
    assert_eq!(third.engine_calls().1, 0, "{}", third.text());
    assert_eq!(config_names(&stack), [v2]);
}

/// A secret from a secret provider plugin (the test bed's `stackctl-test/secrets:1`) has no
/// data: a change of its driver options is what makes a new version.
#[test]
fn changed_secret_driver_options_make_a_new_version() {
    let stack = Stack::new("apob-driver");
    let yaml = |version: &str| {
        format!(
            "services:
  web:
    image: stackctl-test/app:1
    entrypoint: [/bin/sh, -c]
    command: [\"test -s /run/secrets/token && exec /usr/local/bin/stackctl-test-app\"]
    secrets: [token]
secrets:
  token:
    driver: stackctl-test/secrets:1
    driver_opts:
      path: shop/token
      version: \"{version}\"
"
        )
    };
    let secrets = || {
        let filter = format!("label=com.docker.stack.namespace={}", stack.name);
        let out = docker(&["secret", "ls", "--filter", &filter, "--format", "{{.Name}}"]);
        out.lines().map(str::to_owned).collect::<Vec<_>>()
    };
    let first = super::apply::apply_ok(&stack, &yaml("1"));
    assert!(first.stdout.contains("converged"), "{}", first.text());
    assert_eq!(secrets(), [format!("{}_token", stack.name)]);

    let second = super::apply::apply_ok(&stack, &yaml("2"));
    let service = stack.service_name("web");
    assert_eq!(
        second.summary_of(&service),
        format!("  ok   {service}: converged"),
        "{}",
        second.text()
    );
    let now = secrets();
    assert_eq!(now.len(), 1, "{now:?}");
    assert!(
        now[0].starts_with(&format!("{}_token-", stack.name)),
        "{now:?}"
    );
    let third = super::apply::apply_ok(&stack, &yaml("2"));
    assert!(third.stdout.starts_with("No changes."), "{}", third.text());
}

/// A marker that only the secret file holds, unique to this process.
fn marker(n: u32) -> String {
    format!("stackctl-secret-marker-{}-{n}-QZX", std::process::id())
}

/// Every way the marker could leak: as is, and base64-encoded as a spec's `Data` carries it.
fn assert_no_secret(run: &Run, what: &str, contents: &[String]) {
    for content in contents {
        let encoded = base64::engine::general_purpose::STANDARD.encode(content);
        let line = content.trim_end();
        for needle in [line, encoded.as_str()] {
            assert!(
                !run.stdout.contains(needle) && !run.stderr.contains(needle),
                "{what} shows the secret ({needle}):\n{}",
                run.text()
            );
        }
    }
}

fn plan(stack: &Stack, site: &str, token: &str, format: &str) -> Run {
    let test =
        files(site, token).args(&["plan", "--format", format, "-s", &stack.name, "stack.yml"]);
    Run::of(&test)
}

#[test]
fn secret_content_never_appears_in_any_output() {
    let stack = Stack::new("apob-secret");
    let contents = [format!("{}\n", marker(1)), format!("{}\n", marker(2))];
    let site = "site\n";
    let mut runs = Vec::new();
    for token in &contents {
        runs.push(("plan", plan(&stack, site, token, "human")));
        runs.push(("plan --format json", plan(&stack, site, token, "json")));
        let applied = apply_files(&stack, site, token);
        assert_eq!(applied.code, Some(0), "{}", applied.text());
        runs.push(("apply", applied));
        runs.push(("status", stack_command("status", &stack, &[])));
        runs.push(("history", stack_command("history", &stack, &[])));
    }
    // The second apply rotated the secret: a new version, so the test saw a secret change.
    let secret =
        stack.inspect("web")["Spec"]["TaskTemplate"]["ContainerSpec"]["Secrets"][0]["SecretName"]
            .clone();
    let v2 = format!(
        "{}_token-{}",
        stack.name,
        &sha256_hex(contents[1].as_bytes())[..12]
    );
    assert_eq!(secret, Value::String(v2));
    for (what, run) in &runs {
        assert_no_secret(run, what, &contents);
    }
}

/// A service naming an external config or secret that the cluster lacks: the plan says which
/// and how to create it, and apply stops before writing anything (no network half-created).
#[test]
fn a_missing_external_config_or_secret_stops_apply_before_any_write() {
    for (kind, yaml) in [
        (
            "config",
            "services:\n  web:\n    image: stackctl-test/app:1\n    configs: [motd]\nconfigs:\n  motd:\n    external: true\n    name: stackctl-test-no-such-config\n",
        ),
        (
            "secret",
            "services:\n  web:\n    image: stackctl-test/app:1\n    secrets: [token]\nsecrets:\n  token:\n    external: true\n    name: stackctl-test-no-such-secret\n",
        ),
    ] {
        let stack = Stack::new("apob-missing");
        let run = apply(
            Test::new().file("stack.yml", yaml),
            &stack,
            &["stack.yml"],
            &[],
        );
        assert_eq!(run.code, Some(1), "{}", run.text());
        // (miette may break the long name at its hyphens.)
        let message = super::plan_cli::unwrapped(&run.stderr).replace("- ", "-");
        let wanted = format!(
            "uses the {kind} \"stackctl-test-no-such-{kind}\", which is external and could not be found"
        );
        assert!(message.contains(&wanted), "{}", run.text());
        assert!(
            message.contains(&format!("docker {kind} create")),
            "{}",
            run.text()
        );
        assert!(message.contains("reads, 0 writes"), "{}", run.text());
        assert!(stack.leftovers().is_empty(), "{:?}", stack.leftovers());
    }
}
