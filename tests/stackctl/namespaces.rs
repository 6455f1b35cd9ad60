//! A stack only touches its own objects. Stack names may contain `_`, so `<stack>_<key>` is
//! ambiguous: stack `A` key `x_web` and stack `A_x` key `web` are both `A_x_web`. A name held
//! by another stack's object, or by an unlabelled one, is refused by `plan` before any write,
//! and the object is left as it was.

use std::process::Command;

use super::apply::{Stack, apply, apply_ok};
use super::plan_cli::unwrapped;
use super::swarm::docker;
use super::util::{Test, check_all};

const IMAGE: &str = "stackctl-test/app:1";

/// `docker KIND inspect NAME`: version index and labels, to show an object was not touched.
fn version_and_labels(kind: &str, name: &str) -> (u64, serde_json::Value) {
    let out = docker(&[kind, "inspect", name]);
    let all: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let labels = match kind {
        "network" => all[0]["Labels"].clone(),
        _ => all[0]["Spec"]["Labels"].clone(),
    };
    (all[0]["Version"]["Index"].as_u64().unwrap_or(0), labels)
}

/// A stack file whose one service is `service` and which declares one `kind` object `key`
/// (used by the service), or nothing more for services.
fn stack_file(service: &str, kind: &str, key: &str) -> String {
    let head = format!("services:\n  {service}:\n    image: {IMAGE}\n");
    match kind {
        "network" => format!("{head}    networks: [{key}]\nnetworks:\n  {key}:\n"),
        "config" | "secret" => {
            format!("{head}    {kind}s: [{key}]\n{kind}s:\n  {key}:\n    file: ./data.txt\n")
        }
        _ => head,
    }
}

fn apply_refused(stack: &Stack, yaml: &str, message: &str) {
    let run = apply(
        Test::new().file("stack.yml", yaml).file("data.txt", "mine"),
        stack,
        &["stack.yml"],
        &[],
    );
    assert_eq!(run.code, Some(1), "{}", run.text());
    // (miette may break a long name at its hyphens.)
    let text = unwrapped(&run.stderr).replace("- ", "-");
    assert!(text.contains(message), "{}", run.text());
    let calls = run
        .stderr
        .lines()
        .find(|l| l.starts_with("Engine API calls: "));
    assert!(
        calls.is_some_and(|l| l.ends_with(" reads, 0 writes")),
        "{}",
        run.text()
    );
    assert!(stack.leftovers().is_empty(), "{:?}", stack.leftovers());
}

#[test]
fn another_stacks_object_with_the_same_name_is_refused_with_both_stacks_named() {
    let mine = Stack::new("ns");
    let theirs = Stack {
        name: format!("{}_x", mine.name),
    };
    let their_file = format!(
        "services:\n  web:\n    image: {IMAGE}\n    networks: [n]\n    configs: [c]\n    secrets: [s]\n\
         networks:\n  n:\nconfigs:\n  c:\n    file: ./data.txt\nsecrets:\n  s:\n    file: ./data.txt\n"
    );
    let run = apply(
        Test::new()
            .file("stack.yml", &their_file)
            .file("data.txt", "theirs"),
        &theirs,
        &["stack.yml"],
        &[],
    );
    assert_eq!(run.code, Some(0), "{}", run.text());
    let kinds = ["service", "network", "config", "secret"];
    check_all(
        &kinds,
        |k| (*k).to_owned(),
        |&kind| {
            // The key `x_<k>` in `mine` gives the very name `theirs` gave its `<k>`.
            let (yaml, held) = if kind == "service" {
                (
                    stack_file("x_web", kind, ""),
                    format!("{}_web", theirs.name),
                )
            } else {
                let k = &kind[..1];
                let yaml = stack_file("other", kind, &format!("x_{k}"));
                (yaml, format!("{}_{k}", theirs.name))
            };
            let before = version_and_labels(kind, &held);
            let message = format!(
                "{kind} {held:?} belongs to stack {:?}; stack {:?} would take it over",
                theirs.name, mine.name
            );
            apply_refused(&mine, &yaml, &message);
            assert_eq!(
                version_and_labels(kind, &held),
                before,
                "{held} was touched"
            );
        },
    );
}

/// Objects made by hand, removed on drop.
struct Handmade(Vec<(&'static str, String)>);

impl Drop for Handmade {
    fn drop(&mut self) {
        for (kind, name) in &self.0 {
            let _ = Command::new("docker").args([kind, "rm", name]).output();
        }
    }
}

#[test]
fn an_unlabelled_object_with_the_name_is_refused_with_how_to_adopt_it() {
    let stack = Stack::new("ns-bare");
    let name = |key: &str| format!("{}_{key}", stack.name);
    let data = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(data.path(), "mine").unwrap();
    let path = data.path().to_str().unwrap().to_owned();
    docker(&[
        "service",
        "create",
        "-q",
        "--detach",
        "--replicas",
        "0",
        "--name",
        &name("web"),
        IMAGE,
    ]);
    let handmade = Handmade(vec![
        ("service", name("web")),
        ("network", name("n")),
        ("config", name("c")),
        ("secret", name("s")),
    ]);
    docker(&["network", "create", "--driver", "overlay", &name("n")]);
    // Same content as the file: docker would adopt (relabel) these.
    docker(&["config", "create", &name("c"), &path]);
    docker(&["secret", "create", &name("s"), &path]);
    let kinds = ["service", "network", "config", "secret"];
    let adopt = |kind: &str| match kind {
        "service" => format!(
            "docker service update --label-add com.docker.stack.namespace={} {}",
            stack.name,
            name("web")
        ),
        _ => format!(
            "declare it `external: true` with `name: {}`",
            name(&kind[..1])
        ),
    };
    check_all(
        &kinds,
        |k| (*k).to_owned(),
        |&kind| {
            let yaml = match kind {
                "service" => stack_file("web", kind, ""),
                _ => stack_file("other", kind, &kind[..1]),
            };
            let held = if kind == "service" {
                name("web")
            } else {
                name(&kind[..1])
            };
            let before = version_and_labels(kind, &held);
            let message = format!(
                "{kind} {held:?} already exists and belongs to no stack; stack {:?} would take it over",
                stack.name
            );
            apply_refused(&stack, &yaml, &message);
            let text = unwrapped(&stack_plan_stderr(&stack, &yaml)).replace("- ", "-");
            assert!(text.contains(&adopt(kind)), "{text}");
            assert_eq!(
                version_and_labels(kind, &held),
                before,
                "{held} was touched"
            );
        },
    );
    drop(handmade);
}

/// `stackctl plan` of `yaml` for `stack`: its stderr.
fn stack_plan_stderr(stack: &Stack, yaml: &str) -> String {
    let out = Test::new()
        .file("stack.yml", yaml)
        .file("data.txt", "mine")
        .args(&["plan", "-s", &stack.name, "stack.yml"])
        .run();
    assert_eq!(out.status.code(), Some(1));
    super::util::stderr(&out)
}

/// The declared way to use an unlabelled object: `external`. It is used, not taken over.
#[test]
fn an_unlabelled_network_declared_external_is_used_as_it_is() {
    // Declared first, dropped last: the stack's service must be gone before the network goes.
    let handmade: Handmade;
    let stack = Stack::new("ns-ext");
    let network = format!("{}_n", stack.name);
    docker(&["network", "create", "--driver", "overlay", &network]);
    handmade = Handmade(vec![("network", network.clone())]);
    let yaml = format!(
        "services:\n  web:\n    image: {IMAGE}\n    networks: [n]\nnetworks:\n  n:\n    external: true\n    name: {network}\n"
    );
    apply_ok(&stack, &yaml);
    // Still nobody's: not labelled for the stack, and not removed with it (below).
    let (_, labels) = version_and_labels("network", &network);
    assert!(
        labels.get("com.docker.stack.namespace").is_none(),
        "{labels}"
    );
    drop(stack);
    docker(&["network", "inspect", &network]);
    drop(handmade);
}
