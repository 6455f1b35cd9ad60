//! Invalid stack files: each must fail with exit 1, and the first error must name the right
//! line, column and problem.

use super::util::Test;

struct Case {
    name: &'static str,
    yaml: &'static str,
    line: u64,
    column: u64,
    message: &'static str,
}

const fn case(
    name: &'static str,
    yaml: &'static str,
    line: u64,
    column: u64,
    message: &'static str,
) -> Case {
    Case {
        name,
        yaml,
        line,
        column,
        message,
    }
}

const CASES: &[Case] = &[
    case(
        "key newer than the file's version",
        "version: \"3.0\"\nservices:\n  web:\n    image: a\n    init: true\n",
        5,
        5,
        "`init` needs compose file version 3.7 or later; this file says 3.0",
    ),
    case(
        "unknown service key",
        "services:\n  web:\n    image: a\n    imgae: b\n",
        4,
        5,
        "unknown key `imgae` in services.web",
    ),
    case(
        "typo in deploy key",
        "services:\n  web:\n    image: a\n    deploy:\n      updte_config: {}\n",
        5,
        7,
        "unknown key `updte_config`",
    ),
    case(
        "update_config at service level",
        "services:\n  web:\n    image: a\n    update_config: {}\n",
        4,
        5,
        "unknown key `update_config` in services.web",
    ),
    case(
        "unknown top-level key",
        "servces:\n  web:\n    image: a\n",
        1,
        1,
        "unknown top-level key `servces`",
    ),
    case(
        "replicas as a string",
        "services:\n  web:\n    image: a\n    deploy:\n      replicas: \"3\"\n",
        5,
        17,
        "services.web.deploy.replicas must be an integer",
    ),
    case(
        "negative replicas",
        "services:\n  web:\n    image: a\n    deploy:\n      replicas: -1\n",
        5,
        17,
        "must be zero or more",
    ),
    case(
        "duration without unit",
        "services:\n  web:\n    image: a\n    stop_grace_period: 10\n",
        4,
        24,
        "stop_grace_period must be a string",
    ),
    case(
        "bad duration unit",
        "services:\n  web:\n    image: a\n    healthcheck:\n      interval: 10d\n",
        5,
        17,
        "unknown unit \"d\"",
    ),
    case(
        "bad memory",
        "services:\n  web:\n    image: a\n    deploy:\n      resources:\n        limits:\n          memory: 12X\n",
        7,
        19,
        "invalid suffix \"x\" in size \"12X\"",
    ),
    case(
        "bad cpus",
        "services:\n  web:\n    image: a\n    deploy:\n      resources:\n        limits:\n          cpus: lots\n",
        7,
        17,
        "invalid CPU count",
    ),
    case(
        "unknown deploy mode",
        "services:\n  web:\n    image: a\n    deploy:\n      mode: globl\n",
        5,
        13,
        "unknown mode \"globl\"",
    ),
    case(
        "replicas with global",
        "services:\n  web:\n    image: a\n    deploy:\n      mode: global\n      replicas: 2\n",
        6,
        17,
        "replicas can only be used with replicated mode",
    ),
    case(
        "update_config on a job",
        "services:\n  job:\n    image: a\n    deploy:\n      mode: replicated-job\n      update_config: {}\n",
        6,
        22,
        "jobs may not have an update config",
    ),
    case(
        "bad failure_action",
        "services:\n  web:\n    image: a\n    deploy:\n      update_config:\n        failure_action: rollbak\n",
        6,
        25,
        "unknown value \"rollbak\"",
    ),
    case(
        "bad order",
        "services:\n  web:\n    image: a\n    deploy:\n      update_config:\n        order: first\n",
        6,
        16,
        "unknown value \"first\"",
    ),
    case(
        "bad port",
        "services:\n  web:\n    image: a\n    ports:\n      - \"80:http\"\n",
        5,
        9,
        "invalid container port",
    ),
    case(
        "port out of range",
        "services:\n  web:\n    image: a\n    ports:\n      - target: 70000\n",
        5,
        17,
        "70000 is not a port number",
    ),
    case(
        "undefined network",
        "services:\n  web:\n    image: a\n    networks: [front]\nnetworks:\n  frontend: {}\n",
        4,
        16,
        "undefined network \"front\"",
    ),
    case(
        "undefined secret",
        "services:\n  web:\n    image: a\n    secrets:\n      - source: db_pw\n",
        5,
        17,
        "undefined secret \"db_pw\"",
    ),
    case(
        "an include option stackctl does not support",
        "include:\n  - path: a.yml\n    env_file: x.env\nservices:\n  web:\n    image: a\n",
        3,
        5,
        "unknown key `env_file` in include[0]",
    ),
    case(
        "credential spec naming an undefined config",
        "services:\n  web:\n    image: a\n    credential_spec:\n      config: gmsa\n",
        5,
        15,
        "undefined config \"gmsa\"",
    ),
    case(
        "undefined volume",
        "services:\n  web:\n    image: a\n    volumes:\n      - data:/data\n",
        5,
        9,
        "undefined volume \"data\"",
    ),
    case(
        "missing image",
        "services:\n  web:\n    command: [sh]\n",
        2,
        3,
        "service \"web\" has no image",
    ),
    case(
        "invalid image",
        "services:\n  web:\n    image: My/App\n",
        3,
        12,
        "invalid image reference",
    ),
    case(
        "version not a string",
        "version: 3.8\nservices:\n  web:\n    image: a\n",
        1,
        10,
        "version must be a string",
    ),
    case(
        "unsupported version",
        "version: \"2.4\"\nservices:\n  web:\n    image: a\n",
        1,
        10,
        "unsupported compose file version",
    ),
    case(
        "forbidden key",
        "services:\n  web:\n    image: a\n    mem_limit: 1g\n",
        4,
        5,
        "`mem_limit` is not supported",
    ),
    case(
        "lone dollar",
        "services:\n  web:\n    image: a\n    command: echo $1\n",
        4,
        19,
        "invalid interpolation format for services.web.command",
    ),
    case(
        "required variable",
        "services:\n  web:\n    image: \"${IMAGE:?set IMAGE}\"\n",
        3,
        13,
        "required variable IMAGE is missing a value: set IMAGE",
    ),
    case(
        "duplicate key",
        "services:\n  web:\n    image: a\n    image: b\n",
        4,
        5,
        "duplicate",
    ),
    case(
        "yaml syntax",
        "services:\n  web:\n    image: [a\n",
        3,
        12,
        "unclosed bracket",
    ),
    case(
        "healthcheck test and disable",
        "services:\n  web:\n    image: a\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      disable: true\n",
        5,
        7,
        "`test` and `disable` can't be set at the same time",
    ),
    case(
        "yes is not a boolean",
        "services:\n  web:\n    image: a\n    read_only: yes\n",
        4,
        16,
        "read_only must be a boolean",
    ),
    case(
        "secret without file",
        "services:\n  web:\n    image: a\n    secrets: [pw]\nsecrets:\n  pw: {}\n",
        6,
        3,
        "secret \"pw\" has no content",
    ),
    case(
        "external volume with driver",
        "services:\n  web:\n    image: a\nvolumes:\n  data:\n    external: true\n    driver: local\n",
        7,
        13,
        "`external` and `driver` conflict",
    ),
    case(
        "bad service name",
        "services:\n  \"web app\":\n    image: a\n",
        2,
        3,
        "invalid name \"web app\"",
    ),
    case(
        "volume without type",
        "services:\n  web:\n    image: a\n    volumes:\n      - target: /data\n",
        5,
        9,
        "needs a `type`",
    ),
    case(
        "tmpfs options on a volume",
        "services:\n  web:\n    image: a\n    volumes:\n      - type: volume\n        target: /x\n        tmpfs: {size: 10}\n",
        7,
        16,
        "tmpfs options are incompatible with type volume",
    ),
    case(
        "environment not a map",
        "services:\n  web:\n    image: a\n    environment: FOO=1\n",
        4,
        18,
        "must be a mapping or a list of strings",
    ),
    case(
        "depends_on unknown service",
        "services:\n  web:\n    image: a\n    depends_on: [dbb]\n  db:\n    image: b\n",
        4,
        18,
        "undefined service \"dbb\"",
    ),
];

#[test]
fn every_invalid_file_is_reported_at_its_line_and_column() {
    assert!(CASES.len() >= 25);
    let mut failures = Vec::new();
    for case in CASES {
        let (code, report) = Test::new()
            .file("stack.yml", case.yaml)
            .args(&["validate", "stack.yml"])
            .validate_json();
        let first = report["diagnostics"]
            .as_array()
            .and_then(|d| d.iter().find(|d| d["severity"] == "error"))
            .cloned();
        let Some(first) = first else {
            failures.push(format!("{}: no error reported (exit {code})", case.name));
            continue;
        };
        let got = (
            first["line"].as_u64(),
            first["column"].as_u64(),
            first["message"].as_str().unwrap_or(""),
        );
        if code != 1
            || got.0 != Some(case.line)
            || got.1 != Some(case.column)
            || !got.2.contains(case.message)
        {
            failures.push(format!(
                "{}: exit {code}, got {}:{} {:?}, want {}:{} containing {:?}",
                case.name,
                got.0.unwrap_or(0),
                got.1.unwrap_or(0),
                got.2,
                case.line,
                case.column,
                case.message
            ));
        }
        assert_eq!(first["file"], "stack.yml", "{}", case.name);
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn several_errors_in_one_file_are_all_reported() {
    let yaml = "services:\n  web:\n    imgae: a\n    deploy:\n      replicas: x\n  db:\n    image: b\n    ports: [\"99999\"]\n";
    let (code, report) = Test::new()
        .file("s.yml", yaml)
        .args(&["validate", "s.yml"])
        .validate_json();
    assert_eq!(code, 1);
    let lines: Vec<u64> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["severity"] == "error")
        .map(|d| d["line"].as_u64().unwrap())
        .collect();
    // unknown key (3), replicas type (5), invalid port (8), and the missing image of web (2).
    assert_eq!(lines, [2, 3, 5, 8]);
}

#[test]
fn human_output_quotes_the_file_line_and_hint() {
    let out = Test::new()
        .file(
            "stack.yml",
            "services:\n  web:\n    image: a\n    deploy:\n      updte_config: {}\n",
        )
        .args(&["validate", "stack.yml"])
        .run();
    assert_eq!(out.status.code(), Some(1));
    let err = super::util::stderr(&out);
    assert!(err.contains("[stack.yml:5:7]"), "{err}");
    assert!(err.contains("updte_config: {}"), "{err}");
    assert!(err.contains("did you mean `update_config`?"), "{err}");
    assert!(err.contains("1 error(s) found"), "{err}");
}

#[test]
fn a_missing_required_variable_names_the_variable_and_where_it_is_used() {
    let yaml = "services:\n  web:\n    image: a\n    environment:\n      DB: \"${DB_HOST:?needs a database}\"\n";
    let (code, report) = Test::new()
        .file("s.yml", yaml)
        .args(&["validate", "s.yml"])
        .validate_json();
    assert_eq!(code, 1);
    let d = &report["diagnostics"][0];
    assert_eq!(
        d["message"],
        "required variable DB_HOST is missing a value: needs a database"
    );
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(5), Some(12))
    );
    assert!(
        d["label"]
            .as_str()
            .unwrap()
            .contains("services.web.environment.DB")
    );
}

#[test]
fn a_valid_file_prints_a_summary_and_exits_zero() {
    let out = Test::new()
        .file(
            "stack.yml",
            "services:\n  web:\n    image: app:${TAG:-1}\n  db:\n    image: db\n",
        )
        .env("TAG", "2")
        .args(&["validate", "-c", "stack.yml"])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", super::util::stderr(&out));
    assert_eq!(
        super::util::stdout(&out),
        "stack.yml: valid, 2 service(s): db, web\n"
    );
}
