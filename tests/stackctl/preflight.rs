//! What Swarm would refuse is refused before the first write, at its place in the file: by
//! `validate`, and by `apply` without connecting. The oracle test shows the daemon refuses each
//! case when `docker stack deploy` sends it (after docker has already created the network), so
//! stackctl refuses nothing docker's whole deploy would accept.

use std::process::Command;

use super::apply::{Run, Stack, apply};
use super::plan_cli::unwrapped;
use super::util::{Test, check_all};

struct Case {
    name: &'static str,
    yaml: String,
    /// Where the first error points, and what it says.
    line: u64,
    column: u64,
    message: &'static str,
    /// What the daemon answers `docker stack deploy` (`None`: it accepts the spec, then no task
    /// can start).
    daemon: Option<&'static str>,
}

const IMAGE: &str = "stackctl-test/app:1";

/// A one-service stack whose service `web` has `extra` (indented under it) added.
fn web(extra: &str) -> String {
    format!("services:\n  web:\n    image: {IMAGE}\n{extra}")
}

// One table of cases; splitting it would only scatter them.
#[allow(clippy::too_many_lines)]
fn cases() -> Vec<Case> {
    let case = |name, yaml: String, line, column, message, daemon| Case {
        name,
        yaml,
        line,
        column,
        message,
        daemon,
    };
    let dns = Some("name must be valid as a DNS name component");
    vec![
        case(
            "service name with a dot",
            format!("services:\n  web.api:\n    image: {IMAGE}\n"),
            2,
            3,
            "service name \"web.api\" is not valid in Swarm",
            dns,
        ),
        case(
            "network name with a dot",
            web("    networks: [front]\nnetworks:\n  front:\n    name: front.net\n"),
            7,
            11,
            "network \"front\": Swarm refuses the name \"front.net\"",
            dns,
        ),
        case(
            "config name ending in _",
            web("configs:\n  app_:\n    file: ./stack.yml\n"),
            5,
            3,
            "config name \"app_\" is not valid in Swarm",
            Some("invalid name, only 64 [a-zA-Z0-9-_.] characters allowed"),
        ),
        case(
            "negative health-check interval",
            web("    healthcheck:\n      test: [\"CMD\", \"true\"]\n      interval: -1s\n"),
            6,
            17,
            "healthcheck.interval: -1s is under 1ms, which Swarm refuses",
            Some("Interval in HealthConfig cannot be less than 1ms"),
        ),
        case(
            "health-check timeout under 1ms",
            web("    healthcheck:\n      test: [\"CMD\", \"true\"]\n      timeout: 500us\n"),
            6,
            16,
            "healthcheck.timeout: 500µs is under 1ms",
            Some("Timeout in HealthConfig cannot be less than 1ms"),
        ),
        case(
            "negative health-check start_period",
            web("    healthcheck:\n      test: [\"CMD\", \"true\"]\n      start_period: -2s\n"),
            6,
            21,
            "healthcheck.start_period: -2s is under 1ms",
            Some("StartPeriod in HealthConfig cannot be less than 1ms"),
        ),
        case(
            "negative update delay",
            web("    deploy:\n      update_config:\n        delay: -1s\n"),
            6,
            16,
            "deploy.update_config.delay: -1s is negative",
            Some("update-delay cannot be negative"),
        ),
        case(
            "negative update monitor",
            web("    deploy:\n      update_config:\n        monitor: -1m\n"),
            6,
            18,
            "deploy.update_config.monitor: -1m0s is negative",
            Some("update-monitor cannot be negative"),
        ),
        case(
            "failure ratio above 1",
            web("    deploy:\n      update_config:\n        max_failure_ratio: 2\n"),
            6,
            28,
            "deploy.update_config.max_failure_ratio: 2 is outside 0..1",
            Some("update-maxfailureratio cannot be less than 0 or bigger than 1"),
        ),
        case(
            "negative restart delay",
            web("    deploy:\n      restart_policy:\n        delay: -5s\n"),
            6,
            16,
            "deploy.restart_policy.delay: -5s is negative",
            Some("restart-delay cannot be negative"),
        ),
        case(
            "negative restart window",
            web("    deploy:\n      restart_policy:\n        window: -5s\n"),
            6,
            17,
            "deploy.restart_policy.window: -5s is negative",
            Some("restart-window cannot be negative"),
        ),
        case(
            "CPU limit under 0.001",
            web("    deploy:\n      resources:\n        limits:\n          cpus: \"0.0001\"\n"),
            7,
            17,
            "deploy.resources.limits.cpus: 0.0001 CPUs is less than the 0.001 Swarm accepts",
            Some("invalid cpu value 0.0001: Must be at least 0.001"),
        ),
        case(
            "memory reservation under 4MiB",
            web("    deploy:\n      resources:\n        reservations:\n          memory: 1M\n"),
            7,
            19,
            "deploy.resources.reservations.memory: 1048576 bytes is less than the 4MiB",
            Some("Must be at least 4MiB"),
        ),
        case(
            "port published twice",
            web("    ports: [\"18999:80\", \"18999:81/tcp\"]\n"),
            4,
            12,
            "ports: 18999/tcp is published twice, which Swarm refuses",
            Some("duplicate published ports provided"),
        ),
        case(
            "ingress port with dnsrr",
            web("    ports: [\"80\"]\n    deploy:\n      endpoint_mode: dnsrr\n"),
            4,
            12,
            "Swarm refuses with `endpoint_mode: dnsrr`",
            Some("port published with ingress mode can't be used with dnsrr mode"),
        ),
        case(
            "two mounts at one path",
            web("    volumes: [\"/tmp:/data\", \"/var/tmp:/data\"]\n"),
            4,
            29,
            "volumes: two mounts at \"/data\", which Swarm refuses",
            Some("duplicate mount point: /data"),
        ),
        case(
            "NUL in an environment value",
            web("    environment:\n      A: \"x\\0y\"\n"),
            5,
            10,
            "environment.A: contains a NUL character",
            None,
        ),
        case(
            "NUL in the command",
            web("    command: [\"sleep\", \"3\\06\"]\n"),
            4,
            14,
            "command: contains a NUL character",
            None,
        ),
    ]
}

/// The first error of `validate --format json`.
fn first_error(yaml: &str) -> (i32, serde_json::Value) {
    let (code, report) = Test::new()
        .file("stack.yml", yaml)
        .args(&["validate", "stack.yml"])
        .validate_json();
    let first = report["diagnostics"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["severity"] == "error"))
        .cloned()
        .unwrap_or_else(|| panic!("no error in {report:#}"));
    (code, first)
}

/// `apply` stopped at the files: exit 1, the place and message, and no connection to the
/// daemon at all (so no write), nothing of the stack in the cluster.
fn assert_refused_before_connecting(run: &Run, stack: &Stack, place: &str, message: &str) {
    assert_eq!(run.code, Some(1), "{}", run.text());
    assert!(run.stderr.contains(&format!("[{place}]")), "{}", run.text());
    // (miette may break a long name at its hyphens.)
    let text = unwrapped(&run.stderr).replace("- ", "-");
    assert!(text.contains(message), "{}", run.text());
    assert!(run.stderr.contains("nothing was changed"), "{}", run.text());
    assert!(!run.stderr.contains("Engine API calls"), "{}", run.text());
    assert!(stack.leftovers().is_empty(), "{:?}", stack.leftovers());
}

#[test]
fn validate_refuses_each_case_at_its_place() {
    check_all(
        &cases(),
        |c| c.name.to_owned(),
        |c| {
            let (code, error) = first_error(&c.yaml);
            assert_eq!(code, 1, "{error:#}");
            assert_eq!(
                (error["line"].as_u64(), error["column"].as_u64()),
                (Some(c.line), Some(c.column)),
                "{error:#}"
            );
            let message = error["message"].as_str().unwrap_or_default();
            assert!(message.contains(c.message), "{error:#}");
        },
    );
}

#[test]
fn apply_refuses_each_case_before_any_write() {
    check_all(
        &cases(),
        |c| c.name.to_owned(),
        |c| {
            let stack = Stack::new("pf");
            let run = apply(
                Test::new().file("stack.yml", &c.yaml),
                &stack,
                &["stack.yml"],
                &[],
            );
            let place = format!("stack.yml:{}:{}", c.line, c.column);
            assert_refused_before_connecting(&run, &stack, &place, c.message);
        },
    );
}

/// `docker stack deploy STACK` of `yaml`: its exit code and stderr. The stack is removed after.
fn docker_deploy(stack: &Stack, yaml: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stack.yml");
    std::fs::write(&file, yaml).unwrap();
    let out = Command::new("docker")
        .args([
            "stack",
            "deploy",
            "--resolve-image",
            "never",
            "--detach=true",
            "-c",
        ])
        .arg(&file)
        .arg(&stack.name)
        .current_dir(dir.path())
        .output()
        .expect("docker CLI runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn docker_stack_deploy_fails_at_the_daemon_on_each_refused_case() {
    let cases: Vec<Case> = cases().into_iter().filter(|c| c.daemon.is_some()).collect();
    check_all(
        &cases,
        |c| c.name.to_owned(),
        |c| {
            let stack = Stack::new("pf-oracle");
            let (code, stderr) = docker_deploy(&stack, &c.yaml);
            assert_ne!(code, Some(0), "docker accepted it: {stderr}");
            let daemon = c.daemon.unwrap();
            assert!(stderr.contains(daemon), "{stderr}");
        },
    );
}

/// `<stack>_<key>` one character over the limit: a key that long for this stack name.
fn key_over(stack: &str, limit: usize, first: char) -> String {
    let mut key = String::from(first);
    key.push_str(&"a".repeat(limit - stack.len() - 1));
    key
}

#[test]
fn names_over_swarms_limits_with_the_stack_prefix_are_refused_before_any_write() {
    let kinds = [
        ("service", 63, "name must be 63 characters or fewer"),
        ("network", 63, "name must be 63 characters or fewer"),
        (
            "config",
            64,
            "invalid name, only 64 [a-zA-Z0-9-_.] characters allowed",
        ),
        (
            "secret",
            64,
            "invalid name, only 64 [a-zA-Z0-9-_.] characters allowed",
        ),
    ];
    check_all(
        &kinds,
        |k| k.0.to_owned(),
        |&(kind, limit, daemon)| {
            let stack = Stack::new("pf-long");
            let key = key_over(&stack.name, limit, kind.chars().next().unwrap());
            let (yaml, line) = match kind {
                "service" => (format!("services:\n  {key}:\n    image: {IMAGE}\n"), 2),
                "network" => (
                    web(&format!("    networks: [{key}]\nnetworks:\n  {key}:\n")),
                    6,
                ),
                _ => (
                    web(&format!("{kind}s:\n  {key}:\n    file: ./stack.yml\n")),
                    5,
                ),
            };
            let scoped = format!("{}_{key}", stack.name);
            let message = format!(
                "would be named {scoped:?}, {} characters; Swarm allows at most {limit}",
                limit + 1
            );
            let run = apply(
                Test::new().file("stack.yml", &yaml),
                &stack,
                &["stack.yml"],
                &[],
            );
            let place = format!("stack.yml:{line}:3");
            assert_refused_before_connecting(&run, &stack, &place, &message);
            let (code, stderr) = docker_deploy(&stack, &yaml);
            assert_ne!(code, Some(0), "docker accepted it: {stderr}");
            assert!(stderr.contains(daemon), "{stderr}");
            // One character less is within the limit: planned (nothing is written by a plan).
            let shorter = yaml.replace(&key, &key[1..]);
            let plan = Run::of(&Test::new().file("stack.yml", &shorter).args(&[
                "plan",
                "-s",
                &stack.name,
                "stack.yml",
            ]));
            assert_eq!(plan.code, Some(0), "{}", plan.text());
        },
    );
}

/// Regression guard: the daemon accepts these (checked by hand on the test bed: the services
/// are created and run), so refusing them would refuse deploys docker makes.
#[test]
fn what_the_daemon_accepts_stays_valid() {
    let yaml = web(concat!(
        "    stop_grace_period: -1s\n",
        "    labels:\n      a: \"x\\0y\"\n",
        "    healthcheck:\n      test: [\"CMD\", \"true\"]\n      interval: 0s\n      timeout: 1ms\n",
        "    deploy:\n      labels:\n        b: \"x\\0y\"\n",
        "      rollback_config:\n        delay: -1s\n        monitor: -1s\n        max_failure_ratio: 3\n",
        "    ports: [\"18998:80\", \"18998:80/udp\"]\n",
        "configs:\n  app.conf:\n    file: ./stack.yml\n",
        "secrets:\n  s:\n    name: a.b-c_d\n    file: ./stack.yml\n",
    ));
    let (code, report) = Test::new()
        .file("stack.yml", &yaml)
        .args(&["validate", "stack.yml"])
        .validate_json();
    assert_eq!(
        (code, &report["valid"]),
        (0, &serde_json::json!(true)),
        "{report:#}"
    );
}
