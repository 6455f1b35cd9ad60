//! The shipped examples load cleanly, and the JSON Schema in `schema/` agrees with the loader.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};
use stackctl::load::node::{FileId, Node, Scalar, Value};
use stackctl::load::yaml;

use super::util::{Test, repo_root, stderr};

fn examples() -> Vec<PathBuf> {
    let dir = repo_root().join("examples/stacks");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    files
}

fn override_pair() -> [PathBuf; 2] {
    let dir = repo_root().join("examples/stacks/override");
    [dir.join("base.yml"), dir.join("prod.yml")]
}

#[test]
fn every_example_validates() {
    let files = examples();
    assert!(
        files.len() >= 8,
        "examples/stacks has {} stacks",
        files.len()
    );
    let mut runs: Vec<Vec<PathBuf>> = files.into_iter().map(|f| vec![f]).collect();
    runs.push(override_pair().to_vec());
    for run in runs {
        let mut args = vec!["validate".to_owned()];
        args.extend(run.iter().map(|p| p.display().to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = Test::new().args(&args).run();
        assert_eq!(out.status.code(), Some(0), "{run:?}:\n{}", stderr(&out));
    }
}

/// The YAML as written, as JSON (what an editor's schema validator sees).
pub(crate) fn to_json(node: &Node) -> Json {
    match &node.value {
        Value::Scalar(Scalar::Null) => Json::Null,
        Value::Scalar(Scalar::Bool(b)) => Json::Bool(*b),
        Value::Scalar(Scalar::Int(i)) => Json::from(*i),
        Value::Scalar(Scalar::Float(f)) => {
            serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number)
        }
        Value::Scalar(Scalar::Str(s)) => Json::String(s.clone()),
        Value::Seq(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| (k.value.clone(), to_json(v)))
                .collect::<Map<_, _>>(),
        ),
    }
}

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo_root().join("schema/stack.schema.json")).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).expect("schema compiles")
}

fn schema_errors(validator: &jsonschema::Validator, path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let node = yaml::parse(FileId(0), &text).unwrap();
    validator
        .iter_errors(&to_json(&node))
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn every_example_matches_the_schema() {
    let validator = schema();
    let mut files = examples();
    files.extend(override_pair());
    for file in files {
        let errors = schema_errors(&validator, &file);
        assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
    }
}

/// Files the schema alone can judge: each is rejected by both the schema and the loader.
const INVALID: &[&str] = &[
    "services:\n  web:\n    image: a\n    imgae: b\n",
    "servces:\n  web:\n    image: a\n",
    "services:\n  web:\n    image: a\n    deploy:\n      replicas: \"3\"\n",
    "services:\n  web:\n    image: a\n    deploy:\n      updte_config: {}\n",
    "services:\n  web:\n    image: a\n    deploy:\n      mode: globl\n",
    "services:\n  web:\n    image: a\n    deploy:\n      update_config:\n        order: first\n",
    "services:\n  web:\n    image: a\n    stop_grace_period: 10\n",
    "services:\n  web:\n    image: a\n    read_only: yes\n",
    "version: 3.8\nservices:\n  web:\n    image: a\n",
    "services:\n  web:\n    image: a\n    environment: FOO=1\n",
    "services:\n  web:\n    image: a\n    ports:\n      - target: 80\n        publishd: 8080\n",
    "services:\n  web:\n    image: a\n    volumes:\n      - target: /data\n",
    "services:\n  web:\n    image: a\n    healthcheck:\n      interval: 10d\n",
    "services:\n  web:\n    image: a\n    deploy:\n      restart_policy:\n        condition: always\n",
    "services:\n  \"web app\":\n    image: a\n",
    "services:\n  web:\n    image: a\n    cap_add: [NET_ADMIN, NET_ADMIN]\n",
];

#[test]
fn schema_and_loader_agree_on_invalid_files() {
    let validator = schema();
    for (i, yaml_text) in INVALID.iter().enumerate() {
        let test = Test::new().file("s.yml", yaml_text);
        let schema_rejects = !schema_errors(&validator, &test.path().join("s.yml")).is_empty();
        let out = test.args(&["validate", "s.yml"]).run();
        assert!(schema_rejects, "case {i}: the schema accepts\n{yaml_text}");
        assert_eq!(
            out.status.code(),
            Some(1),
            "case {i}: the loader accepts\n{yaml_text}"
        );
    }
}

/// Every key path written in `node`, as patterns (`services.*.deploy.update_config.order`).
fn written_keys(node: &Node, path: &str, out: &mut std::collections::BTreeSet<String>) {
    match &node.value {
        Value::Map(entries) => {
            let pattern = stackctl::load::decode::key_pattern(path);
            for (key, value) in entries {
                out.insert(if pattern.is_empty() {
                    key.value.clone()
                } else {
                    format!("{pattern}.{}", key.value)
                });
                let child = if path.is_empty() {
                    key.value.clone()
                } else {
                    format!("{path}.{}", key.value)
                };
                written_keys(value, &child, out);
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                written_keys(item, &format!("{path}[{i}]"), out);
            }
        }
        Value::Scalar(_) => {}
    }
}

fn every_yaml_file(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            every_yaml_file(&path, out);
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(path);
        }
    }
}

/// The examples are the oracle test's input: together they must use every key the loader
/// accepts, so that each one is compared with what `docker stack deploy` makes of it.
#[test]
fn the_examples_exercise_every_accepted_key() {
    let mut files = Vec::new();
    every_yaml_file(&repo_root().join("examples"), &mut files);
    let mut written = std::collections::BTreeSet::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let node = yaml::parse(FileId(0), &text).unwrap();
        written_keys(&node, "", &mut written);
    }
    let accepted = stackctl::load::decode::keys::accepted();
    assert!(accepted.len() > 150, "{} keys", accepted.len());
    let missing: Vec<&String> = accepted.iter().filter(|k| !written.contains(*k)).collect();
    assert!(
        missing.is_empty(),
        "no file under examples/ uses these {} keys:\n{}",
        missing.len(),
        missing
            .iter()
            .map(|k| format!("  {k}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Every key path the JSON Schema describes, as patterns like the loader's.
fn schema_keys(
    node: &Json,
    path: &str,
    defs: &Map<String, Json>,
    out: &mut std::collections::BTreeSet<String>,
    depth: usize,
) {
    if depth > 30 {
        return;
    }
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    if let Some(reference) = node.get("$ref").and_then(Json::as_str) {
        if let Some(target) = reference
            .strip_prefix("#/definitions/")
            .and_then(|name| defs.get(name))
        {
            schema_keys(target, path, defs, out, depth + 1);
        }
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        for alternative in node
            .get(combinator)
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            schema_keys(alternative, path, defs, out, depth + 1);
        }
    }
    if let Some(properties) = node.get("properties").and_then(Json::as_object) {
        for (key, sub) in properties {
            out.insert(join(key));
            schema_keys(sub, &join(key), defs, out, depth + 1);
        }
    }
    if let Some(patterns) = node.get("patternProperties").and_then(Json::as_object) {
        for (pattern, sub) in patterns {
            if !pattern.starts_with("^x-") {
                schema_keys(sub, &join("*"), defs, out, depth + 1);
            }
        }
    }
    if let Some(items) = node.get("items") {
        schema_keys(items, &join("[]"), defs, out, depth + 1);
    }
}

/// The editor schema and the loader accept the same keys, everywhere (values aside).
#[test]
fn the_schema_describes_exactly_the_keys_the_loader_accepts() {
    let text = std::fs::read_to_string(repo_root().join("schema/stack.schema.json")).unwrap();
    let schema: Json = serde_json::from_str(&text).unwrap();
    let defs = schema["definitions"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut described = std::collections::BTreeSet::new();
    schema_keys(&schema, "", &defs, &mut described, 0);
    // What the loader takes without looking inside: a build section (ignored by Swarm) and
    // extension fields.
    described.retain(|k| !k.starts_with("services.*.build.") && !k.contains(".x-"));
    let accepted: std::collections::BTreeSet<String> = stackctl::load::decode::keys::accepted()
        .into_iter()
        .collect();
    let only_schema: Vec<&String> = described.difference(&accepted).collect();
    let only_loader: Vec<&String> = accepted.difference(&described).collect();
    assert!(
        only_schema.is_empty() && only_loader.is_empty(),
        "in the schema only: {only_schema:#?}\naccepted by the loader only: {only_loader:#?}"
    );
}
