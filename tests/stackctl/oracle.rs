//! The reference test: every example deployed by `docker stack deploy` (the oracle) reads back
//! exactly as `stackctl render` describes it, after normalisation.

use serde_json::Value;
use stackctl::diff::{DaemonApi, normalize_service};

use super::swarm::{
    DockerStack, EXAMPLES, Example, Externals, docker, network_names, unique_stack,
};
use super::util::{Test, check_all, repo_root, stderr, stdout};

/// `Test` running `stackctl COMMAND -s STACK FILES...` with `env` set.
fn stackctl(command: &[&str], stack: &str, files: &[String], env: &[(&str, String)]) -> Test {
    let mut args: Vec<&str> = command.to_vec();
    args.extend(["-s", stack]);
    args.extend(files.iter().map(String::as_str));
    env.iter()
        .fold(Test::new().args(&args), |test, (k, v)| test.env(k, v))
}

fn render(stack: &str, files: &[String], env: &[(&str, String)]) -> Value {
    // Unmasked: the specs are compared value for value with what docker sent.
    let out = stackctl(&["render", "--show-sensitive"], stack, files, env).run();
    assert_eq!(
        out.status.code(),
        Some(0),
        "render failed: {}",
        stderr(&out)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Read-back spec with network IDs turned back into names, and the credential spec's config ID
/// into the config's name (`render` cannot know IDs).
fn live_spec(service: &Value, networks: &std::collections::HashMap<String, String>) -> Value {
    let mut spec = service["Spec"].clone();
    let container = &spec["TaskTemplate"]["ContainerSpec"];
    let credential_config = container
        .pointer("/Privileges/CredentialSpec/Config")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .and_then(|id| {
            container["Configs"]
                .as_array()?
                .iter()
                .find(|c| c["ConfigID"] == id)
        })
        .map(|c| c["ConfigName"].clone());
    if let Some(name) = credential_config {
        spec["TaskTemplate"]["ContainerSpec"]["Privileges"]["CredentialSpec"]["Config"] = name;
    }
    if let Some(Value::Array(attachments)) = spec.pointer_mut("/TaskTemplate/Networks") {
        for a in attachments {
            let id = a["Target"].as_str().unwrap_or("").to_owned();
            // `host` and `bridge` have swarm-side IDs that `docker network ls` does not show.
            let name = networks.get(&id).cloned().unwrap_or_else(|| {
                docker(&["network", "inspect", "--format", "{{.Name}}", &id])
                    .trim()
                    .to_owned()
            });
            a["Target"] = Value::String(name);
        }
    }
    spec
}

fn check_example(example: &Example) {
    let in_examples = |files: &[&str]| -> Vec<String> {
        files
            .iter()
            .map(|f| {
                repo_root()
                    .join("examples/stacks")
                    .join(f)
                    .display()
                    .to_string()
            })
            .collect()
    };
    let files = example.files;
    let paths = in_examples(files);
    let name = unique_stack(&format!("orc-{}", example.stem()));
    // Declared before the stack: dropped after it, once nothing uses the objects.
    let externals = example.externals.then(|| Externals::create(&name));
    let env = externals.as_ref().map_or(&[][..], Externals::env);
    let docker_paths = in_examples(example.docker_files.unwrap_or(files));
    same_as_docker(&name, &paths, &docker_paths, env, &format!("{files:?}"));
}

/// Deploy `docker_paths` with `docker stack deploy` as stack `name`; then `stackctl render` of
/// `paths` must equal what the daemon reports, service by service after normalisation, with the
/// same networks, configs and secrets, and `stackctl plan` must find nothing to change.
pub(crate) fn same_as_docker(
    name: &str,
    paths: &[String],
    docker_paths: &[String],
    env: &[(&str, String)],
    files: &str,
) {
    let docker_refs: Vec<&str> = docker_paths.iter().map(String::as_str).collect();
    let deployed = DockerStack::deploy_with_env(name, &docker_refs, env);
    let rendered = render(name, paths, env);
    let api = DaemonApi::parse("1.41");
    let networks = network_names();
    let live = deployed.services();
    let desired = rendered["services"].as_object().unwrap();
    let mut live_names: Vec<&String> = live.keys().collect();
    live_names.sort();
    let desired_names: Vec<&String> = desired.keys().collect();
    assert_eq!(live_names, desired_names, "{files}: service names");
    for (service, spec) in desired {
        let want = normalize_service(spec, api);
        let got = normalize_service(&live_spec(&live[service], &networks), api);
        assert_eq!(
            got, want,
            "{files}: {service} differs\nlive:     {got}\nrendered: {want}"
        );
    }
    for (kind, key) in [
        ("network", "networks"),
        ("config", "configs"),
        ("secret", "secrets"),
    ] {
        let mut want: Vec<String> = rendered[key].as_object().unwrap().keys().cloned().collect();
        want.sort();
        assert_eq!(deployed.object_names(kind), want, "{files}: {key}");
    }
    let plan = stackctl(&["plan", "--detailed-exitcode"], name, paths, env).run();
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{files}: plan against docker's deployment:\n{}{}",
        stdout(&plan),
        stderr(&plan)
    );
    assert!(
        stdout(&plan).starts_with("No changes."),
        "{files}: {}",
        stdout(&plan)
    );
}

#[test]
fn render_matches_what_docker_stack_deploy_creates() {
    // Each example publishes its own ports, so they can be deployed side by side.
    check_all(EXAMPLES, |e| format!("{:?}", e.files), check_example);
}

const BASE: &str = "services:
  web:
    image: stackctl-test/app:1
    environment:
      LOG_LEVEL: info
      MODE: demo
    ports:
      - \"18950:8080\"
    configs:
      - source: site
        target: /www/site.txt
    deploy:
      replicas: 2
      placement:
        constraints: [node.role == manager]
      update_config:
        parallelism: 1
        delay: 1s
  worker:
    image: stackctl-test/app:1
    deploy:
      replicas: 1
configs:
  site:
    file: ./site.txt
";

/// `(description, edit of the stack file, new site.txt, --prune, expected changes)` where
/// changes are `kind name action [paths]` lines of the JSON plan (unchanged objects omitted).
type Mutation = (
    &'static str,
    fn(&str) -> String,
    Option<&'static str>,
    bool,
    &'static [&'static str],
);

/// A changed config becomes a new version `<name>-<digest>`; the service is repointed to it and
/// the old version is removed once unused.
const CONTENT_CHANGE: &str = "content change";

fn content_change_lines(stack: &str) -> Vec<String> {
    let digest = &stackctl::model::digest::sha256_hex(b"v2 content\n")[..12];
    vec![
        format!(
            "service web update configs.{stack}_site-{digest}:/www/site.txt configs.{stack}_site:/www/site.txt"
        ),
        format!("config site-{digest} create"),
        "config site remove".to_owned(),
    ]
}

fn drop_worker(s: &str) -> String {
    s.replace(
        "  worker:\n    image: stackctl-test/app:1\n    deploy:\n      replicas: 1\n",
        "",
    )
}

const MUTATIONS: &[Mutation] = &[
    (
        "image tag",
        |s| s.replacen("app:1", "app:2", 1),
        None,
        false,
        &["service web update image"],
    ),
    (
        "one env var",
        |s| s.replace("LOG_LEVEL: info", "LOG_LEVEL: debug"),
        None,
        false,
        &["service web update environment.LOG_LEVEL"],
    ),
    (
        "replicas",
        |s| s.replace("replicas: 2", "replicas: 3"),
        None,
        false,
        &["service web update deploy.replicas"],
    ),
    (
        "a port",
        |s| s.replace("18950:8080", "18951:8080"),
        None,
        false,
        &["service web update ports.18950:8080/tcp ports.18951:8080/tcp"],
    ),
    (
        "a constraint",
        |s| s.replace("node.role == manager", "node.role != worker"),
        None,
        false,
        &["service web update deploy.placement.constraints"],
    ),
    (
        "update parallelism",
        |s| s.replace("parallelism: 1", "parallelism: 2"),
        None,
        false,
        &["service web update deploy.update_config.parallelism"],
    ),
    (
        "config content",
        str::to_owned,
        Some("v2 content\n"),
        false,
        &[CONTENT_CHANGE],
    ),
    (
        "add a service",
        |s| {
            s.replace(
                "configs:\n  site:",
                "  extra:\n    image: stackctl-test/app:2\nconfigs:\n  site:",
            )
        },
        None,
        false,
        &["service extra create"],
    ),
    // Without --prune nothing changes: the service is only reported as kept.
    (
        "drop a service",
        drop_worker,
        None,
        false,
        &["kept service worker"],
    ),
    (
        "drop a service, --prune",
        drop_worker,
        None,
        true,
        &["service worker remove"],
    ),
];

fn summarise(plan: &Value, stack: &str) -> Vec<String> {
    let strip = |name: &str| {
        name.strip_prefix(&format!("{stack}_"))
            .unwrap_or(name)
            .to_owned()
    };
    let mut lines = Vec::new();
    for (kind, key) in [
        ("service", "services"),
        ("network", "networks"),
        ("config", "configs"),
        ("secret", "secrets"),
    ] {
        for item in plan[key].as_array().unwrap() {
            if item["action"] == "unchanged" && item["changes"].as_array().is_none_or(Vec::is_empty)
            {
                continue;
            }
            let paths: Vec<&str> = item["changes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["path"].as_str().unwrap())
                .collect();
            let line = format!(
                "{kind} {} {} {}",
                strip(item["name"].as_str().unwrap()),
                item["action"].as_str().unwrap(),
                paths.join(" ")
            );
            lines.push(line.trim_end().to_owned());
        }
    }
    for kept in plan["kept"].as_array().unwrap() {
        lines.push(format!(
            "kept {} {}",
            kept["kind"].as_str().unwrap(),
            strip(kept["name"].as_str().unwrap())
        ));
    }
    lines
}

#[test]
fn plan_names_exactly_the_change_and_nothing_else() {
    let stack = unique_stack("orc-change");
    let base = Test::new()
        .file("stack.yml", BASE)
        .file("site.txt", "v1 content\n");
    let stack_file = base.path().join("stack.yml").display().to_string();
    let _deployed = DockerStack::deploy(&stack, &[&stack_file]);
    let mut failures = Vec::new();
    for (what, edit, site, prune, want) in MUTATIONS {
        let test = Test::new()
            .file("stack.yml", &edit(BASE))
            .file("site.txt", site.unwrap_or("v1 content\n"));
        let mut args = vec![
            "plan",
            "--format",
            "json",
            "--detailed-exitcode",
            "-s",
            &stack,
            "stack.yml",
        ];
        if *prune {
            args.push("--prune");
        }
        let out = test.args(&args).run();
        let plan: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{what}: {}", stderr(&out)));
        let got = summarise(&plan, &stack);
        let want: Vec<String> = if *want == [CONTENT_CHANGE] {
            content_change_lines(&stack)
        } else {
            want.iter().map(|w| (*w).to_owned()).collect()
        };
        let changes = want.iter().any(|w| !w.starts_with("kept"));
        if got != want || out.status.code() != Some(if changes { 2 } else { 0 }) {
            failures.push(format!(
                "{what}: exit {:?}, got {got:?}, want {want:?}",
                out.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
