//! The reference test: every example deployed by `docker stack deploy` (the oracle) reads back
//! exactly as `stackctl render` describes it, after normalisation.

use serde_json::Value;
use stackctl::diff::{DaemonApi, normalize_service};

use super::swarm::{DockerStack, network_names, unique_stack};
use super::util::{Test, repo_root, stderr};

const EXAMPLES: &[&[&str]] = &[
    &["agent-global.yml"],
    &["anchors.yml"],
    &["jobs.yml"],
    &["monitoring.yml"],
    &["reverse-proxy.yml"],
    &["rollout.yml"],
    &["secrets.yml"],
    &["web-db-cache.yml"],
    &["override/base.yml", "override/prod.yml"],
];

fn render(stack: &str, files: &[String]) -> Value {
    let mut args = vec!["render".to_owned(), "-s".to_owned(), stack.to_owned()];
    args.extend(files.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = Test::new().args(&args).run();
    assert_eq!(
        out.status.code(),
        Some(0),
        "render failed: {}",
        stderr(&out)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Read-back spec with network IDs turned back into names.
fn live_spec(service: &Value, networks: &std::collections::HashMap<String, String>) -> Value {
    let mut spec = service["Spec"].clone();
    if let Some(Value::Array(attachments)) = spec.pointer_mut("/TaskTemplate/Networks") {
        for a in attachments {
            let id = a["Target"].as_str().unwrap_or("").to_owned();
            if let Some(name) = networks.get(&id) {
                a["Target"] = Value::String(name.clone());
            }
        }
    }
    spec
}

fn check_example(files: &[&str]) {
    let paths: Vec<String> = files
        .iter()
        .map(|f| {
            repo_root()
                .join("examples/stacks")
                .join(f)
                .display()
                .to_string()
        })
        .collect();
    let stem = files[0].trim_end_matches(".yml").replace('/', "-");
    let name = unique_stack(&format!("orc-{stem}"));
    let path_refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    let deployed = DockerStack::deploy(&name, &path_refs);
    let rendered = render(&name, &paths);
    let api = DaemonApi::parse("1.41");
    let networks = network_names();
    let live = deployed.services();
    let desired = rendered["services"].as_object().unwrap();
    let mut live_names: Vec<&String> = live.keys().collect();
    live_names.sort();
    let desired_names: Vec<&String> = desired.keys().collect();
    assert_eq!(live_names, desired_names, "{files:?}: service names");
    for (service, spec) in desired {
        let want = normalize_service(spec, api);
        let got = normalize_service(&live_spec(&live[service], &networks), api);
        assert_eq!(
            got, want,
            "{files:?}: {service} differs\nlive:     {got}\nrendered: {want}"
        );
    }
    for (kind, key) in [
        ("network", "networks"),
        ("config", "configs"),
        ("secret", "secrets"),
    ] {
        let mut want: Vec<String> = rendered[key].as_object().unwrap().keys().cloned().collect();
        want.sort();
        assert_eq!(deployed.object_names(kind), want, "{files:?}: {key}");
    }
}

#[test]
fn render_matches_what_docker_stack_deploy_creates() {
    // Each example publishes its own ports, so they can be deployed side by side.
    std::thread::scope(|scope| {
        let handles: Vec<_> = EXAMPLES
            .iter()
            .map(|files| scope.spawn(move || check_example(files)))
            .collect();
        let failures: Vec<String> = handles
            .into_iter()
            .zip(EXAMPLES)
            .filter_map(|(h, files)| {
                h.join()
                    .err()
                    .map(|e| format!("{files:?}: {}", panic_text(&e)))
            })
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    });
}

fn panic_text(e: &Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}
