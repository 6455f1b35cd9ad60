//! Every shipped example applies on an empty swarm and converges; applying it again changes
//! nothing and writes nothing.

use std::path::Path;
use std::process::Command;

use super::apply::{Run, Stack, apply_command};
use super::swarm::{EXAMPLES, Example, Externals, docker, unique_stack};
use super::util::{Test, check_all, repo_root};

/// An example as this test deploys it. The same files are deployed at the same time by the
/// oracle test (and by other runs of this suite on the same test bed), so what must be unique
/// in a swarm is made unique, and nothing else is touched: published ports are left to Swarm
/// (it assigns free ones from 30000-32767), the explicitly named secret and config get the stack
/// name, and the fixed subnet becomes a free one.
fn isolated(text: &str, stack: &str, subnet: &str) -> String {
    let text = text
        .replace(
            "name: stackctl-example-tls-v1",
            &format!("name: {stack}-tls-v1"),
        )
        .replace(
            "name: monitoring_grafana_datasource_v1",
            &format!("name: {stack}_grafana_datasource_v1"),
        )
        .replace("10.247.61.0/24", subnet);
    text.lines()
        .filter_map(unpublished)
        .map(|l| l + "\n")
        .collect()
}

/// One line with its published port removed: `published:` keys go, and the short syntax
/// `"HOST:CONTAINER[/proto]"` keeps only the container side.
fn unpublished(line: &str) -> Option<String> {
    if line.trim_start().starts_with("published:") {
        return None;
    }
    if let Some((head, rest)) = line.split_once("- \"") {
        if let Some((host, container)) = rest.split_once(':') {
            if !host.is_empty() && host.bytes().all(|b| b.is_ascii_digit()) {
                return Some(format!("{head}- \"{container}"));
            }
        }
    }
    Some(line.to_owned())
}

/// A /24 in 10.247.0.0/16 that no network uses now (the example's own 10.247.61.0/24 is taken
/// while the oracle test runs), starting from a per-process offset so that two runs of this
/// suite at the same time are unlikely to pick the same one.
fn free_subnet() -> String {
    let ids = docker(&["network", "ls", "-q"]);
    let mut args = vec![
        "network",
        "inspect",
        "--format",
        "{{range .IPAM.Config}}{{.Subnet}} {{end}}",
    ];
    args.extend(ids.split_whitespace());
    // Not `docker()`: a network removed since the listing fails the command, not the test.
    let out = Command::new("docker").args(&args).output().unwrap();
    let used = String::from_utf8_lossy(&out.stdout);
    let start = std::process::id() % 200;
    (0..200)
        .map(|i| format!("10.247.{}.0/24", 20 + (start + i) % 200))
        .find(|subnet| !used.split_whitespace().any(|u| u == subnet))
        .expect("a free /24 in 10.247.20.0-10.247.219.0")
}

/// A scratch copy of `examples/stacks` (stack files isolated, data files as they are).
fn copy_examples(test: Test, dir: &Path, under: &str, stack: &str, subnet: &str) -> Test {
    let mut test = test;
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let name = format!("{under}{}", entry.file_name().to_string_lossy());
        if entry.file_type().unwrap().is_dir() {
            test = copy_examples(test, &entry.path(), &format!("{name}/"), stack, subnet);
            continue;
        }
        let content = std::fs::read_to_string(entry.path()).unwrap();
        let is_stack_file = Path::new(&name).extension().is_some_and(|e| e == "yml");
        let content = if is_stack_file {
            isolated(&content, stack, subnet)
        } else {
            content
        };
        test = test.file(&name, &content);
    }
    test
}

fn example_test(stack: &Stack) -> Test {
    copy_examples(
        Test::new(),
        &repo_root().join("examples/stacks"),
        "",
        &stack.name,
        &free_subnet(),
    )
}

fn service_names(stack: &Stack) -> Vec<String> {
    let filter = format!("label=com.docker.stack.namespace={}", stack.name);
    let out = docker(&[
        "service",
        "ls",
        "--filter",
        &filter,
        "--format",
        "{{.Name}}",
    ]);
    let mut names: Vec<String> = out.lines().map(str::to_owned).collect();
    names.sort();
    names
}

/// Apply, check every service converged, apply again, check nothing was written.
fn check_example(example: &Example) -> String {
    let files = example.files;
    // Declared before the stack: dropped after it, once nothing uses the objects.
    let externals = example
        .externals
        .then(|| Externals::create(&unique_stack("apx-ext")));
    let stack = Stack::new(&format!("apx-{}", example.stem()));
    let env = externals.as_ref().map_or(&[][..], Externals::env);
    let test = env
        .iter()
        .fold(example_test(&stack), |test, (k, v)| test.env(k, v));
    // One directory for both applies: a relative bind-mount source resolves to its path.
    let test = apply_command(test, &stack, files, &[]);
    let first = Run::of(&test);
    assert_eq!(first.code, Some(0), "first apply:\n{}", first.text());
    assert!(
        first.stdout.contains("\nApply complete in "),
        "{}",
        first.text()
    );
    let services = service_names(&stack);
    assert!(!services.is_empty(), "no services:\n{}", first.text());
    for service in &services {
        assert_eq!(
            first.summary_of(service),
            format!("  ok   {service}: converged"),
            "{}",
            first.text()
        );
    }
    let (_, writes) = first.engine_calls();
    assert!(writes > 0, "{}", first.text());

    let second = Run::of(&test);
    assert_eq!(second.code, Some(0), "second apply:\n{}", second.text());
    assert!(
        second.stdout.starts_with("No changes."),
        "{}",
        second.text()
    );
    assert_eq!(second.engine_calls().1, 0, "{}", second.text());
    format!(
        "{files:?}: {} services, first apply {:.1}s, second {:.1}s",
        services.len(),
        first.elapsed.as_secs_f64(),
        second.elapsed.as_secs_f64()
    )
}

#[test]
fn every_example_converges_then_reapplies_with_no_writes() {
    for line in check_all(EXAMPLES, |e| format!("{:?}", e.files), check_example) {
        eprintln!("{line}");
    }
}
