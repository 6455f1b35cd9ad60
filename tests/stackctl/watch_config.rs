//! `watch.yml`: the example loads, the schema agrees with the parser, errors render with places.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};
use stackctl::load::diagnostic::render;
use stackctl::load::node::FileId;
use stackctl::load::yaml;
use stackctl::watch::config::{self, SourceKind, StackMode};

use super::examples::to_json;
use super::util::repo_root;

fn example() -> PathBuf {
    repo_root().join("examples/watch/watch.yml")
}

#[test]
fn the_example_loads_without_findings() {
    let loaded = config::load_file(&example()).unwrap_or_else(|f| {
        let text: Vec<String> = f
            .diagnostics
            .iter()
            .map(|d| render(d, &f.sources, false))
            .collect();
        panic!("{}", text.join("\n"))
    });
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let c = loaded.config;
    let names: Vec<&str> = c.stacks.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["db", "web", "monitoring"]);
    assert_eq!(c.stacks[2].mode, StackMode::Plan);
    assert_eq!(c.stacks[1].depends_on[0].as_str(), "db");
    // The anchor's `prune: true` is overridden where the stack says otherwise.
    assert!(!c.stacks[0].prune && c.stacks[1].prune);
    let local = repo_root().join("examples/watch/local");
    assert_eq!(c.sources[1].kind, SourceKind::Dir(local));
}

fn schema() -> Json {
    let text = std::fs::read_to_string(repo_root().join("schema/watch.schema.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn schema_errors(text: &str) -> Vec<String> {
    let validator = jsonschema::validator_for(&schema()).expect("schema compiles");
    let node = yaml::parse(FileId(0), text).unwrap();
    validator
        .iter_errors(&to_json(&node))
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

#[test]
fn every_watch_example_matches_the_schema() {
    let dir = repo_root().join("examples/watch");
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "yml") {
            let errors = schema_errors(&std::fs::read_to_string(&path).unwrap());
            assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
        }
    }
}

/// Files both the schema and the parser reject.
const INVALID: &[&str] = &[
    "sources:\n  a: {dir: /srv, brnch: x}\nstacks:\n  web: {source: a, files: [w.yml]}\n",
    "sources:\n  a: {git: https://h/r.git, dir: /srv}\nstacks:\n  web: {source: a, files: [w.yml]}\n",
    "sources:\n  a: {git: https://h/r.git, branch: a, tag: b}\nstacks:\n  web: {source: a, files: [w.yml]}\n",
    "sources:\n  a: {git: https://h/r.git, commit: xyz}\nstacks:\n  web: {source: a, files: [w.yml]}\n",
    "sources:\n  a: {dir: /srv, branch: main}\nstacks:\n  web: {source: a, files: [w.yml]}\n",
    "sources:\n  a: {dir: /srv}\nstacks:\n  web: {source: a, files: []}\n",
    "sources:\n  a: {dir: /srv}\nstacks:\n  web: {source: a, files: [/w.yml]}\n",
    "sources:\n  a: {dir: /srv}\nstacks:\n  web: {source: a, files: [w.yml], mode: deploy}\n",
    "sources:\n  a: {dir: /srv}\nstacks:\n  web.app: {source: a, files: [w.yml]}\n",
    "sources:\n  a: {dir: /srv}\nstacks:\n  web: {source: a, files: [w.yml]}\ncontroller: {max_concurrent: 0}\n",
    "sources:\n  a: {dir: /srv, interval: 10}\nstacks:\n  web: {source: a, files: [w.yml]}\n",
    "sources: {}\nstacks: {}\n",
];

#[test]
fn schema_and_parser_agree_on_invalid_files() {
    for (i, text) in INVALID.iter().enumerate() {
        assert!(
            !schema_errors(text).is_empty(),
            "case {i}: the schema accepts\n{text}"
        );
        let loaded = config::load_text(Path::new("w.yml"), (*text).to_owned(), Path::new("/"));
        assert!(loaded.is_err(), "case {i}: the parser accepts\n{text}");
    }
}

/// Every key path the schema describes (`stacks.*.depends_on`), extension keys aside.
fn schema_keys(node: &Json, path: &str, defs: &Map<String, Json>, out: &mut BTreeSet<String>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    if let Some(target) = node
        .get("$ref")
        .and_then(Json::as_str)
        .and_then(|r| r.strip_prefix("#/definitions/"))
    {
        schema_keys(&defs[target], path, defs, out);
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        for alternative in node
            .get(combinator)
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            schema_keys(alternative, path, defs, out);
        }
    }
    for (key, sub) in node
        .get("properties")
        .and_then(Json::as_object)
        .into_iter()
        .flatten()
    {
        out.insert(join(key));
        schema_keys(sub, &join(key), defs, out);
    }
    for (pattern, sub) in node
        .get("patternProperties")
        .and_then(Json::as_object)
        .into_iter()
        .flatten()
    {
        if !pattern.starts_with("^x-") {
            schema_keys(sub, &join("*"), defs, out);
        }
    }
}

#[test]
fn the_schema_describes_exactly_the_keys_the_parser_accepts() {
    let schema = schema();
    let defs = schema["definitions"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut described = BTreeSet::new();
    schema_keys(&schema, "", &defs, &mut described);
    let accepted: BTreeSet<String> = config::keys::accepted().into_iter().collect();
    assert!(accepted.len() > 30, "{accepted:?}");
    assert_eq!(described, accepted);
}

fn rendered(text: &str) -> String {
    let failure =
        config::load_text(Path::new("watch.yml"), text.to_owned(), Path::new("/etc")).unwrap_err();
    failure
        .diagnostics
        .iter()
        .map(|d| render(d, &failure.sources, false))
        .collect()
}

#[test]
fn an_unknown_key_renders_with_its_place_and_a_suggestion() {
    let text = "sources:\n  infra:\n    git: https://h/r.git\n    brnach: main\nstacks:\n  web: {source: infra, files: [web.yml]}\n";
    assert_eq!(
        rendered(text),
        "stackctl::load::unknown_key

  × unknown key `brnach` in sources.infra
   ╭─[watch.yml:4:5]
 3 │     git: https://h/r.git
 4 │     brnach: main
   ·     ───┬──
   ·        ╰── not allowed here
 5 │ stacks:
   ╰────
  help: did you mean `branch`?
"
    );
}

#[test]
fn an_undefined_source_and_a_cycle_render_together() {
    let text = "sources:\n  infra: {dir: /srv}\nstacks:\n  web: {source: infr, files: [a.yml], depends_on: [db]}\n  db: {source: infra, files: [b.yml], depends_on: [web]}\n";
    assert_eq!(
        rendered(text),
        "stackctl::watch::reference

  × stack `web` names source `infr`, which is not defined
   ╭─[watch.yml:4:17]
 3 │ stacks:
 4 │   web: {source: infr, files: [a.yml], depends_on: [db]}
   ·                 ──┬─
   ·                   ╰── unknown source
 5 │   db: {source: infra, files: [b.yml], depends_on: [web]}
   ╰────
  help: did you mean `infra`?
stackctl::watch::cycle

  × depends_on cycle: web → db → web
   ╭─[watch.yml:5:52]
 4 │   web: {source: infr, files: [a.yml], depends_on: [db]}
 5 │   db: {source: infra, files: [b.yml], depends_on: [web]}
   ·                                                    ─┬─
   ·                                                     ╰── closes the cycle
   ╰────
  help: a stack can only wait for stacks that do not wait for it: remove one of these
"
    );
}
