//! The loader end to end through the library: interpolation as docker does it, merges of
//! several files, env files, `.env`, profiles and includes.

use std::collections::HashMap;
use std::fmt::Write;
use std::path::PathBuf;

use stackctl::load::{LoadOptions, Loaded, load};
use stackctl::model::Stack;

use super::util::{Test, stderr};

fn load_in(test: &Test, files: &[&str], env: &[(&str, &str)]) -> Result<Loaded, String> {
    let options = LoadOptions {
        files: files
            .iter()
            .map(|f| test.path().join(f))
            .collect::<Vec<PathBuf>>(),
        environment: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<HashMap<_, _>>(),
        ..LoadOptions::default()
    };
    load(&options).map_err(|f| {
        f.diagnostics
            .iter()
            .map(|d| d.message.clone())
            .collect::<Vec<_>>()
            .join("\n")
    })
}

fn stack(test: &Test, files: &[&str], env: &[(&str, &str)]) -> Stack {
    load_in(test, files, env)
        .unwrap_or_else(|e| panic!("load failed: {e}"))
        .stack
}

/// Each row: an `environment` value as written, and what docker CLI 28 makes of it with
/// SET=val, EMPTY="" and UNSET unset.
const INTERPOLATION: &[(&str, &str)] = &[
    ("$SET", "val"),
    ("${SET}", "val"),
    ("${UNSET}", ""),
    ("${UNSET:-def}", "def"),
    ("${EMPTY:-def}", "def"),
    ("${EMPTY-def}", ""),
    ("${UNSET-def}", "def"),
    ("${SET:-def}", "val"),
    ("${SET?oops}", "val"),
    ("${EMPTY?oops}", ""),
    ("$$SET", "$SET"),
    ("pre-${SET}-post", "pre-val-post"),
    ("pre$SET.post", "preval.post"),
    ("$SET:8080", "val:8080"),
    ("${UNSET:-${SET}}", "${SET}"),
    ("${SET:?must-be-set}", "be-set"),
    ("$SET-suffix/app", "val"),
    ("${UNSET:-a b c}", "a b c"),
    ("no variables", "no variables"),
];

#[test]
fn interpolation_matches_docker() {
    let mut yaml = String::from("services:\n  web:\n    image: a\n    environment:\n");
    for (i, (value, _)) in INTERPOLATION.iter().enumerate() {
        writeln!(yaml, "      V{i:02}: '{value}'").unwrap();
    }
    let test = Test::new().file("s.yml", &yaml);
    let stack = stack(&test, &["s.yml"], &[("SET", "val"), ("EMPTY", "")]);
    let env = &stack.services["web"].environment;
    for (i, (value, want)) in INTERPOLATION.iter().enumerate() {
        assert_eq!(env[&format!("V{i:02}")].as_deref(), Some(*want), "{value}");
    }
}

#[test]
fn interpolated_numbers_become_numbers_where_docker_casts_them() {
    let yaml = "services:\n  web:\n    image: a\n    deploy:\n      replicas: ${N}\n      update_config:\n        parallelism: ${P:-2}\n    secrets:\n      - source: s\n        mode: ${MODE}\nsecrets:\n  s:\n    file: ./s.txt\n";
    let test = Test::new().file("s.yml", yaml).file("s.txt", "x");
    let stack = stack(&test, &["s.yml"], &[("N", "4"), ("MODE", "0440")]);
    let web = &stack.services["web"];
    assert_eq!(web.deploy.replicas, Some(4));
    assert_eq!(
        web.deploy.update_config.as_ref().unwrap().parallelism,
        Some(2)
    );
    // docker casts with Atoi: "0440" is decimal 440, not octal.
    assert_eq!(web.secrets[0].mode, Some(440));
}

#[test]
fn dotenv_supplies_variables_and_the_process_environment_wins() {
    let test = Test::new().file(".env", "TAG=1\nREPLICAS=3\n").file(
        "s.yml",
        "services:\n  web:\n    image: app:${TAG}\n    deploy:\n      replicas: ${REPLICAS}\n",
    );
    let s = stack(&test, &["s.yml"], &[("TAG", "2")]);
    assert_eq!(s.services["web"].image.as_ref().unwrap().value, "app:2");
    assert_eq!(s.services["web"].deploy.replicas, Some(3));
}

#[test]
fn env_file_then_environment_then_the_empty_value_rule() {
    let test = Test::new()
        .file("app.env", "# comment\nFROM_FILE=1\nOVERRIDDEN=file\nQUOTED=\"kept\"\nBARE\n")
        .file("s.yml", "services:\n  web:\n    image: a\n    env_file: app.env\n    environment:\n      OVERRIDDEN: yaml\n      EMPTY: \"\"\n      NULL_VALUE:\n      NOT_SET:\n");
    let s = stack(
        &test,
        &["s.yml"],
        &[("BARE", "b"), ("EMPTY", "from-shell"), ("NULL_VALUE", "n")],
    );
    let env = &s.services["web"].environment;
    let get = |k: &str| env.get(k).cloned().flatten();
    assert_eq!(get("FROM_FILE").as_deref(), Some("1"));
    assert_eq!(get("OVERRIDDEN").as_deref(), Some("yaml"));
    assert_eq!(get("QUOTED").as_deref(), Some("\"kept\""));
    assert_eq!(get("BARE").as_deref(), Some("b"));
    assert_eq!(get("EMPTY").as_deref(), Some("from-shell"));
    assert_eq!(get("NULL_VALUE").as_deref(), Some("n"));
    assert!(env.contains_key("NOT_SET") && get("NOT_SET").is_none());
}

#[test]
fn relative_paths_resolve_against_the_first_files_directory() {
    let test = Test::new()
        .file("app/s.yml", "services:\n  web:\n    image: a\n    configs: [c]\n    volumes: [\"./data:/data\"]\nconfigs:\n  c:\n    file: ./c.conf\n")
        .file("app/c.conf", "x")
        .file("over/o.yml", "configs:\n  c:\n    file: ./other.conf\n");
    let s = stack(&test, &["app/s.yml", "over/o.yml"], &[]);
    let app = test.path().join("app");
    assert_eq!(
        s.configs["c"].file.as_deref(),
        Some(app.join("other.conf").as_path())
    );
    assert_eq!(
        s.services["web"].volumes[0].source,
        app.join("data").to_string_lossy()
    );
}

#[test]
fn merge_overrides_scalars_and_merges_lists_by_key() {
    let base = "services:\n  web:\n    image: app:1\n    command: [a, b]\n    environment: {A: '1', B: '1'}\n    ports: ['8080:80', '9090:90']\n    volumes: ['v1:/a', 'v2:/b']\n    deploy:\n      replicas: 2\n      placement:\n        constraints: [node.role==manager]\n      update_config: {parallelism: 2, delay: 5s}\nvolumes: {v1: {}, v2: {}, v3: {}}\n";
    let over = "services:\n  web:\n    image: app:2\n    command: [c]\n    environment: {B: '2'}\n    ports: ['8080:81']\n    volumes: ['v3:/b']\n    deploy:\n      replicas: 3\n      placement:\n        constraints: [node.labels.x==y]\n      update_config: {order: start-first}\n  extra:\n    image: b\n";
    let test = Test::new().file("base.yml", base).file("over.yml", over);
    let s = stack(&test, &["base.yml", "over.yml"], &[]);
    let web = &s.services["web"];
    assert_eq!(web.image.as_ref().unwrap().value, "app:2");
    assert_eq!(
        web.command.as_deref(),
        Some(&["c".to_owned()][..]),
        "commands are replaced"
    );
    assert_eq!(web.environment["A"].as_deref(), Some("1"));
    assert_eq!(web.environment["B"].as_deref(), Some("2"));
    let ports: Vec<(u32, u32)> = web.ports.iter().map(|p| (p.published, p.target)).collect();
    assert_eq!(
        ports,
        [(8080, 81), (9090, 90)],
        "ports merge by published port"
    );
    let volumes: Vec<(&str, &str)> = web
        .volumes
        .iter()
        .map(|v| (v.source.as_str(), v.target.as_str()))
        .collect();
    assert_eq!(
        volumes,
        [("v1", "/a"), ("v3", "/b")],
        "volumes merge by target"
    );
    assert_eq!(web.deploy.replicas, Some(3));
    assert_eq!(
        web.deploy.placement.constraints,
        ["node.role==manager", "node.labels.x==y"],
        "constraints append"
    );
    let update = web.deploy.update_config.as_ref().unwrap();
    assert_eq!(
        (update.parallelism, update.delay.0, update.order.as_str()),
        (Some(2), 5_000_000_000, "start-first")
    );
    assert!(s.services.contains_key("extra"));
}

#[test]
fn merge_replaces_top_level_objects_whole_and_merges_logging_by_driver() {
    let base = "services:\n  web:\n    image: a\n    networks: [n]\n    logging: {driver: json-file, options: {max-size: 10m}}\nnetworks:\n  n: {attachable: true, labels: {a: b}}\n";
    let over = "services:\n  web:\n    logging: {options: {max-file: '3'}}\nnetworks:\n  n: {internal: true}\n";
    let test = Test::new().file("a.yml", base).file("b.yml", over);
    let s = stack(&test, &["a.yml", "b.yml"], &[]);
    let n = &s.networks["n"];
    assert!(n.internal && !n.attachable && n.labels.is_empty());
    let logging = s.services["web"].logging.as_ref().unwrap();
    assert_eq!(logging.driver, "json-file");
    assert_eq!(logging.options.len(), 2);
}

#[test]
fn anchors_merge_keys_and_extension_fields() {
    let yaml = "version: '3.8'\nx-common: &common\n  image: app:1\n  environment: {LOG: info}\n  deploy: &deploy\n    replicas: 2\nservices:\n  a:\n    <<: *common\n    x-note: ignored\n  b:\n    <<: *common\n    deploy:\n      <<: *deploy\n      replicas: 5\n";
    let test = Test::new().file("s.yml", yaml);
    let s = stack(&test, &["s.yml"], &[]);
    assert_eq!(s.services["a"].image.as_ref().unwrap().value, "app:1");
    assert_eq!(s.services["a"].deploy.replicas, Some(2));
    assert_eq!(s.services["b"].deploy.replicas, Some(5));
    assert_eq!(s.services["b"].environment["LOG"].as_deref(), Some("info"));
}

#[test]
fn profiles_select_services() {
    let yaml = "services:\n  web:\n    image: a\n  debug:\n    image: b\n    profiles: [debug]\n";
    let test = Test::new().file("s.yml", yaml);
    assert_eq!(stack(&test, &["s.yml"], &[]).services.len(), 1);
    let options = LoadOptions {
        files: vec![test.path().join("s.yml")],
        profiles: vec!["debug".into()],
        ..LoadOptions::default()
    };
    assert_eq!(load(&options).unwrap().stack.services.len(), 2);
}

#[test]
fn include_brings_in_other_files() {
    let test = Test::new()
        .file(
            "s.yml",
            "include:\n  - db/db.yml\nservices:\n  web:\n    image: a\n",
        )
        .file(
            "db/db.yml",
            "services:\n  db:\n    image: b\n    env_file: db.env\n",
        )
        .file("db/db.env", "PORT=5432\n");
    let s = stack(&test, &["s.yml"], &[]);
    assert_eq!(s.services.keys().collect::<Vec<_>>(), ["db", "web"]);
    // An included file's relative paths resolve against its own directory.
    assert_eq!(
        s.services["db"].environment["PORT"].as_deref(),
        Some("5432")
    );
}

#[test]
fn a_missing_included_file_is_named_as_written_with_the_file_that_includes_it() {
    let test = Test::new()
        .file(
            "stacks/s.yml",
            "include:\n  - db/db.yml\nservices:\n  web:\n    image: a\n",
        )
        .args(&["validate", "stacks/s.yml"]);
    let out = test.run();
    assert_eq!(out.status.code(), Some(1));
    let message = stderr(&out);
    assert!(
        message.contains("cannot read stack file stacks/db/db.yml")
            && message.contains("check `include:` in stacks/s.yml"),
        "{message}"
    );
}

#[test]
fn versionless_files_and_short_version_use_the_newest_schema() {
    let test = Test::new()
        .file("a.yml", "services:\n  web:\n    image: a\n")
        .file("b.yml", "version: '3'\nservices:\n  web:\n    image: a\n");
    assert_eq!(stack(&test, &["a.yml"], &[]).version, "3.13");
    assert_eq!(stack(&test, &["b.yml"], &[]).version, "3.13");
}

#[test]
fn ignored_keys_give_one_warning() {
    let yaml = "services:\n  web:\n    image: a\n    build: .\n    restart: always\n    container_name: x\n    depends_on: [db]\n  db:\n    image: b\n    links: [web]\n";
    let test = Test::new().file("s.yml", yaml);
    let loaded = load_in(&test, &["s.yml"], &[]).unwrap();
    let warnings: Vec<&str> = loaded.warnings.iter().map(|d| d.message.as_str()).collect();
    assert!(
        warnings.contains(&"Ignoring unsupported options: build, links, restart"),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("Ignoring deprecated options: container_name")),
        "{warnings:?}"
    );
}

#[test]
fn short_syntaxes_expand_like_docker() {
    let yaml = "services:\n  web:\n    image: a\n    command: sh -c 'echo hi'\n    ports: ['9000-9001:8000-8001/udp', 80]\n    extra_hosts: ['db:10.0.0.2', 'v6=::1']\n    healthcheck:\n      test: curl -f localhost\n    ulimits: {nofile: {soft: 10, hard: 20}, nproc: 5}\n";
    let test = Test::new().file("s.yml", yaml);
    let s = stack(&test, &["s.yml"], &[]);
    let web = &s.services["web"];
    assert_eq!(web.command.as_deref().unwrap(), ["sh", "-c", "echo hi"]);
    let ports: Vec<(u32, u32, &str)> = web
        .ports
        .iter()
        .map(|p| (p.published, p.target, p.protocol.as_str()))
        .collect();
    assert_eq!(
        ports,
        [(9000, 8000, "udp"), (9001, 8001, "udp"), (0, 80, "tcp")]
    );
    assert_eq!(web.extra_hosts, ["db:10.0.0.2", "v6:::1"]);
    assert_eq!(
        web.healthcheck.as_ref().unwrap().test.as_deref().unwrap(),
        ["CMD-SHELL", "curl -f localhost"]
    );
    assert_eq!(web.ulimits.len(), 2);
}
