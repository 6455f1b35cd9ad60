//! `stackctl plan` through the real binary: failures before and at the daemon, exit codes, the
//! human output in full, masking of sensitive values, and the JSON output against its schema.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::swarm::{DockerStack, unique_stack};
use crate::util::{Test, repo_root, stderr, stdout};

/// `docker info` of a daemon whose swarm mode is off.
const INACTIVE_INFO: &str = r#"{"ServerVersion":"20.10.24","Swarm":{"LocalNodeState":"inactive","ControlAvailable":false,"NodeID":""}}"#;
const VERSION: &str = r#"{"Version":"20.10.24","ApiVersion":"1.41","MinAPIVersion":"1.12","Os":"linux","Arch":"amd64"}"#;
/// The request the fake sends itself to know every earlier connection has been accepted.
const SETTLE: &str = "GET /__settle HTTP/1.1\r\nHost: fake\r\n\r\n";

/// A fake Engine API on a unix socket, for a daemon the test bed cannot become without being
/// torn down (not in a swarm). It answers `/_ping`, `/version` and `/info` (any `/v1.xx`
/// prefix), 404 otherwise, and records every request line and connection. It lives in this
/// file (which makes it longer than the house's ~400 lines) until a second test file needs it.
struct FakeEngine {
    dir: tempfile::TempDir,
    requests: Arc<Mutex<Vec<String>>>,
    connections: Arc<AtomicUsize>,
}

impl FakeEngine {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let listener = UnixListener::bind(dir.path().join("docker.sock")).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (log, count) = (Arc::clone(&requests), Arc::clone(&connections));
        // Connections are accepted in order (`seen` relies on it), each served by its own
        // thread. The accept thread is never stopped: once the temp dir and its socket are
        // gone nobody can reach it, and it ends with the test binary.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                count.fetch_add(1, Ordering::SeqCst);
                let log = Arc::clone(&log);
                std::thread::spawn(move || serve(stream, &log));
            }
        });
        Self {
            dir,
            requests,
            connections,
        }
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// Request lines (`GET /v1.41/info`), and the number of connections made, by clients other
    /// than this fake itself. Call after the client exited: a settling request on a connection
    /// of our own is answered only after every earlier connection was accepted.
    fn seen(&self) -> (Vec<String>, usize) {
        let mut stream = UnixStream::connect(self.socket()).unwrap();
        stream.write_all(SETTLE.as_bytes()).unwrap();
        let mut answer = [0; 12];
        stream.read_exact(&mut answer).unwrap();
        let requests = self.requests.lock().unwrap();
        let own = requests.iter().filter(|r| r.ends_with("/__settle")).count();
        let others = requests
            .iter()
            .filter(|r| !r.ends_with("/__settle"))
            .cloned()
            .collect();
        (others, self.connections.load(Ordering::SeqCst) - own)
    }
}

/// Answer HTTP/1.1 requests on one connection until the client closes it.
fn serve(stream: UnixStream, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let request = line.trim_end().trim_end_matches(" HTTP/1.1").to_owned();
        let mut body_length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header.trim_end().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    body_length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; body_length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        log.lock().unwrap().push(request.clone());
        let path = request.split(' ').nth(1).unwrap_or("/");
        if writer.write_all(answer(path).as_bytes()).is_err() {
            return;
        }
    }
}

/// The whole HTTP response for a request path.
fn answer(path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    // `/v1.41/info` and `/info` are the same call.
    let path = match path.strip_prefix("/v1.") {
        Some(rest) => rest.find('/').map_or(path, |at| &rest[at..]),
        None => path,
    };
    let (status, kind, body) = match path {
        "/_ping" | "/__settle" => ("200 OK", "text/plain", "OK"),
        "/version" => ("200 OK", "application/json", VERSION),
        "/info" => ("200 OK", "application/json", INACTIVE_INFO),
        _ => (
            "404 Not Found",
            "application/json",
            r#"{"message":"page not found"}"#,
        ),
    };
    format!(
        "HTTP/1.1 {status}\r\nApi-Version: 1.41\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

const SMALL: &str = "services:\n  web:\n    image: stackctl-test/app:1\n";

/// miette wraps at 80 columns and draws a margin; the text as one line, to search in.
pub(crate) fn unwrapped(text: &str) -> String {
    text.replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn an_unreachable_daemon_is_named_with_a_hint_and_nothing_else() {
    for extra in [&[][..], &["--detailed-exitcode"]] {
        let mut args = vec!["plan", "-H", "unix:///nonexistent.sock", "s.yml"];
        args.extend(extra);
        let out = Test::new().file("s.yml", SMALL).args(&args).run();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {err}");
        assert_eq!(stdout(&out), "", "{extra:?}");
        assert!(err.lines().count() < 25, "more than a screen:\n{err}");
        let err = unwrapped(&err);
        for expected in [
            "cannot reach the Docker daemon at unix:///nonexistent.sock",
            "help: is the Docker daemon running? is DOCKER_HOST right?",
            "(the address came from --host)",
        ] {
            assert!(err.contains(expected), "{expected:?} not in {err}");
        }
    }
}

#[test]
fn a_daemon_that_is_not_a_swarm_manager_is_refused_before_anything_is_written() {
    let fake = FakeEngine::start();
    let out = Test::new()
        .file("s.yml", SMALL)
        .args(&["plan", "-H", &fake.host(), "s.yml"])
        .run();
    let (requests, _) = fake.seen();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(stdout(&out), "");
    assert!(err.lines().count() < 25, "more than a screen:\n{err}");
    let err = unwrapped(&err);
    for expected in [
        "this node is not a swarm manager (swarm mode is inactive)",
        "help: make this node a manager: `docker swarm init`",
    ] {
        assert!(err.contains(expected), "{expected:?} not in {err}");
    }
    assert!(
        requests.iter().any(|r| r.ends_with("/info")),
        "the daemon was not asked: {requests:?}"
    );
    assert!(
        requests.iter().all(|r| r.starts_with("GET ")),
        "a write reached the daemon: {requests:?}"
    );
}

#[test]
fn an_invalid_stack_file_is_reported_without_contacting_the_daemon() {
    let fake = FakeEngine::start();
    let out = Test::new()
        .file(
            "s.yml",
            "services:\n  web:\n    image: stackctl-test/app:1\n    deploy:\n      replicsa: 2\n",
        )
        .args(&["plan", "-H", &fake.host(), "s.yml"])
        .run();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        "\
stackctl::load::unknown_key

  × unknown key `replicsa` in services.web.deploy
   ╭─[s.yml:5:7]
 4 │     deploy:
 5 │       replicsa: 2
   ·       ────┬───
   ·           ╰── not allowed here
   ╰────
  help: did you mean `replicas`?
1 error(s) found; nothing was changed
"
    );
    assert_eq!(fake.seen(), (Vec::new(), 0), "the daemon was contacted");
}

/// Stack files in one scratch folder, used by absolute path (docker and stackctl run elsewhere).
struct Files(tempfile::TempDir);

impl Files {
    fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.0.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }
}

/// `stackctl plan -s STACK FILE EXTRA…` against the test-bed daemon.
fn plan(stack: &str, file: &str, extra: &[&str]) -> Output {
    let mut args = vec!["plan", "-s", stack, file];
    args.extend(extra);
    Test::new().args(&args).run()
}

/// The stdout of a plan that must exit 0, the stack name replaced by `STACK`.
fn plan_text(stack: &str, file: &str, extra: &[&str]) -> String {
    let out = plan(stack, file, extra);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out).replace(stack, "STACK")
}

/// Like `examples/stacks/web-db-cache.yml`, smaller; zero replicas so nothing has to start.
const EXAMPLE_LIKE: &str = r#"services:
  web:
    image: stackctl-test/app:1
    environment:
      APP_UPSTREAM: api:8080
      APP_WORKERS: 4
    labels:
      com.example.role: frontend
    ports:
      - "8080"
    networks: [front]
    healthcheck:
      test: wget -q -O- http://127.0.0.1:8080/health || exit 1
      interval: 5s
      timeout: 2s
      retries: 3
    deploy:
      replicas: 0
      labels:
        com.example.tier: web
      resources:
        limits:
          cpus: "0.50"
          memory: 64M
      restart_policy:
        condition: on-failure
        delay: 5s
      update_config:
        parallelism: 1
        delay: 2s
        order: start-first
        failure_action: rollback
  api:
    image: stackctl-test/app:1
    command: ["/usr/local/bin/stackctl-test-app"]
    networks: [front]
    deploy:
      replicas: 0
networks:
  front:
    driver: overlay
    labels:
      com.example.tier: public
"#;

#[test]
fn detailed_exitcode_is_2_only_when_something_would_change() {
    let files = Files::new();
    let deployed = files.write("app.yml", EXAMPLE_LIKE);
    let changed = files.write(
        "app-v2.yml",
        &EXAMPLE_LIKE.replacen("stackctl-test/app:1", "stackctl-test/app:2", 1),
    );
    let stack = DockerStack::deploy(&unique_stack("plan-exit"), &[&deployed]);

    let same = plan(&stack.name, &deployed, &["--detailed-exitcode"]);
    assert_eq!(same.status.code(), Some(0), "{}", stderr(&same));
    assert_eq!(
        stdout(&same).replace(&stack.name, "STACK"),
        "No changes. Stack STACK matches the files (3 objects).\n"
    );

    let update = plan(&stack.name, &changed, &["--detailed-exitcode"]);
    assert_eq!(update.status.code(), Some(2), "{}", stderr(&update));
    let text = stdout(&update).replace(&stack.name, "STACK");
    assert!(
        text.contains("  ~ STACK_web (update)\n      image: \"stackctl-test/app:1\" → \"stackctl-test/app:2\"\n"),
        "{text}"
    );

    let without_flag = plan(&stack.name, &changed, &[]);
    assert_eq!(
        without_flag.status.code(),
        Some(0),
        "{}",
        stderr(&without_flag)
    );
    assert_eq!(stdout(&without_flag), stdout(&update));
}

const TWO_SERVICES: &str = "services:
  web:
    image: stackctl-test/app:1
    environment:
      LOG_LEVEL: info
    deploy:
      replicas: 0
  worker:
    image: stackctl-test/app:1
    deploy:
      replicas: 0
";

#[test]
fn human_output_for_a_stack_not_deployed_yet() {
    let files = Files::new();
    let file = files.write("two.yml", TWO_SERVICES);
    let stack = unique_stack("plan-new");
    assert_eq!(
        plan_text(&stack, &file, &[]),
        "\
Services:
  + STACK_web (create)
      image stackctl-test/app:1, 0 replica(s)
  + STACK_worker (create)
      image stackctl-test/app:1, 0 replica(s)
Networks:
  + STACK_default (create)

Plan: 3 to create, 0 to update, 0 to remove, 0 unchanged.
"
    );
}

#[test]
fn human_output_for_no_change_update_and_remove() {
    let files = Files::new();
    let deployed = files.write("two.yml", TWO_SERVICES);
    let updated = files.write(
        "two-updated.yml",
        &TWO_SERVICES
            .replace("LOG_LEVEL: info", "LOG_LEVEL: debug")
            .replacen("replicas: 0", "replicas: 2", 1),
    );
    let web_only = files.write(
        "web-only.yml",
        TWO_SERVICES.split("  worker:").next().unwrap(),
    );
    let stack = DockerStack::deploy(&unique_stack("plan-human"), &[&deployed]);
    let name = stack.name.as_str();

    assert_eq!(
        plan_text(name, &deployed, &[]),
        "No changes. Stack STACK matches the files (3 objects).\n"
    );
    assert_eq!(
        plan_text(name, &updated, &[]),
        "\
Services:
  ~ STACK_web (update)
      deploy.replicas: 0 → 2
      environment.LOG_LEVEL: \"info\" → \"debug\"
      rollout: 2 batch(es) of 1, stop-first, monitor 5s, on failure: pause

Plan: 0 to create, 1 to update, 0 to remove, 2 unchanged.
"
    );
    assert_eq!(
        plan_text(name, &web_only, &[]),
        "\
No changes. Stack STACK matches the files (2 objects).
Not in the files, kept (use --prune to remove): service STACK_worker
"
    );
    assert_eq!(
        plan_text(name, &web_only, &["--prune"]),
        "\
Services:
  - STACK_worker (remove)

Plan: 0 to create, 0 to update, 1 to remove, 2 unchanged.
"
    );
}

const WITH_SECRET: &str = "services:
  db:
    image: stackctl-test/app:1
    environment:
      DB_PASSWORD: PASSWORD_VALUE
      LOG_LEVEL: info
    secrets: [db_root]
    deploy:
      replicas: 0
secrets:
  db_root:
    file: ./db_root.txt
";

#[test]
fn sensitive_values_are_masked_and_secret_contents_never_printed() {
    let files = Files::new();
    let name = unique_stack("plan-sensitive");
    let markers = [
        format!("{name}-first-secret"),
        format!("{name}-second-secret"),
    ];
    files.write("db_root.txt", &markers[0]);
    let deployed = files.write(
        "db.yml",
        &WITH_SECRET.replace("PASSWORD_VALUE", "pw-one-4f2a"),
    );
    let changed = files.write(
        "db-v2.yml",
        &WITH_SECRET.replace("PASSWORD_VALUE", "pw-two-9c1e"),
    );
    let render = || Test::new().args(&["render", "-s", &name, &changed]).run();
    let mut outputs = vec![
        render(),
        plan(&name, &deployed, &[]),
        plan(&name, &deployed, &["--format", "json"]),
        plan(&name, &deployed, &["--show-sensitive"]),
    ];
    let stack = DockerStack::deploy(&name, &[&deployed]);
    // New content for the deployed secret: the daemon never returns secret data, so the plan
    // cannot see the change, but the file is still read.
    files.write("db_root.txt", &markers[1]);

    let human = plan(&stack.name, &changed, &[]);
    let text = stdout(&human);
    assert!(
        text.contains("      environment.DB_PASSWORD: (sensitive) → (sensitive)\n"),
        "{text}"
    );
    let json = plan(&stack.name, &changed, &["--format", "json"]);
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    let password = report["services"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "environment.DB_PASSWORD")
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(password["old"], "(sensitive)");
    assert_eq!(password["new"], "(sensitive)");
    for masked in [&human, &json] {
        let out = stdout(masked) + &stderr(masked);
        assert!(!out.contains("pw-one") && !out.contains("pw-two"), "{out}");
    }
    let shown = plan(&stack.name, &changed, &["--show-sensitive"]);
    let text = stdout(&shown);
    assert!(
        text.contains("      environment.DB_PASSWORD: \"pw-one-4f2a\" → \"pw-two-9c1e\"\n"),
        "{text}"
    );

    outputs.extend([
        human,
        json,
        shown,
        plan(
            &stack.name,
            &changed,
            &["--format", "json", "--show-sensitive"],
        ),
        render(),
    ]);
    for out in &outputs {
        assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
        let text = stdout(out) + &stderr(out);
        for marker in &markers {
            assert!(
                !text.contains(marker.as_str()),
                "secret content printed:\n{text}"
            );
        }
    }
}

fn plan_schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo_root().join("schema/plan.schema.json")).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).expect("schema compiles")
}

fn schema_errors(validator: &jsonschema::Validator, plan: &Value) -> Vec<String> {
    validator
        .iter_errors(plan)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// `plan --format json`, parsed, after checking it exits 0.
fn plan_json(stack: &str, file: &str, extra: &[&str]) -> Value {
    let mut args = vec!["--format", "json"];
    args.extend(extra);
    let out = plan(stack, file, &args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(&out)))
}

const FULL: &str = "services:
  web:
    image: stackctl-test/app:1
    environment:
      LOG_LEVEL: info
    configs:
      - source: app_conf
        target: /etc/app.conf
    secrets: [api_key]
    networks: [back]
    depends_on: [api]
    deploy:
      # One task, so the image change is a real rolling update (a service at zero replicas
      # has nothing to restart).
      replicas: 1
  api:
    image: stackctl-test/app:1
    networks: [back]
    deploy:
      replicas: 0
networks:
  back:
    driver: overlay
configs:
  app_conf:
    file: ./CONF_FILE
secrets:
  api_key:
    file: ./api_key.txt
";

#[test]
fn json_plans_match_the_schema() {
    let validator = plan_schema();
    let files = Files::new();
    files.write("app.conf", "workers = 2\n");
    files.write("app-v2.conf", "workers = 4\n");
    files.write("api_key.txt", "k3y\n");
    let deployed = files.write("full.yml", &FULL.replace("CONF_FILE", "app.conf"));
    // An image change (rollout), a replicas-only change (no rollout), new config content.
    let updated = files.write(
        "full-v2.yml",
        &FULL
            .replace("CONF_FILE", "app-v2.conf")
            .replacen("stackctl-test/app:1", "stackctl-test/app:2", 1)
            .replace("replicas: 0\nnetworks", "replicas: 3\nnetworks"),
    );
    // `api` and the config dropped.
    let smaller = files.write(
        "full-v3.yml",
        "services:\n  web:\n    image: stackctl-test/app:1\n    environment:\n      LOG_LEVEL: info\n    secrets: [api_key]\n    networks: [back]\n    deploy:\n      replicas: 0\nnetworks:\n  back:\n    driver: overlay\nsecrets:\n  api_key:\n    file: ./api_key.txt\n",
    );
    let name = unique_stack("plan-schema");
    let mut plans = vec![("create", plan_json(&name, &deployed, &[]))];
    let stack = DockerStack::deploy(&name, &[&deployed]);
    plans.extend([
        ("unchanged", plan_json(&stack.name, &deployed, &[])),
        ("update", plan_json(&stack.name, &updated, &[])),
        ("kept", plan_json(&stack.name, &smaller, &[])),
        ("remove", plan_json(&stack.name, &smaller, &["--prune"])),
    ]);
    let mut actions = std::collections::BTreeSet::new();
    for (case, plan) in &plans {
        let errors = schema_errors(&validator, plan);
        assert!(errors.is_empty(), "{case}: {errors:#?}\n{plan:#}");
        for list in ["services", "networks", "configs", "secrets"] {
            for item in plan[list].as_array().unwrap() {
                actions.insert(format!("{list} {}", item["action"].as_str().unwrap()));
            }
        }
    }
    // The outputs exercised every part of the schema that can vary.
    let update = &plans[2].1;
    let rollouts: Vec<bool> = update["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["rollout"].is_object())
        .collect();
    assert_eq!(
        rollouts,
        [false, true],
        "api: replicas only; web: new image\n{update:#}"
    );
    // A changed config is a new version; the old one is marked superseded, with a note.
    let superseded = update["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["superseded"] == true);
    assert!(
        superseded.is_some_and(|c| c["note"].is_string()),
        "{update:#}"
    );
    assert!(!plans[3].1["kept"].as_array().unwrap().is_empty());
    for expected in ["create", "update", "remove", "unchanged"] {
        assert!(
            actions.contains(&format!("services {expected}")),
            "{actions:?}"
        );
    }
    for expected in ["configs create", "configs remove", "secrets unchanged"] {
        assert!(actions.contains(expected), "{actions:?}");
    }

    // The schema is not vacuous: a stray field, or a change without `new`, is refused.
    let mut stray = update.clone();
    stray["services"][0]["extra"] = Value::Bool(true);
    assert!(!schema_errors(&validator, &stray).is_empty());
    let mut partial = update.clone();
    partial["services"][1]["changes"][0]
        .as_object_mut()
        .unwrap()
        .remove("new");
    assert!(!schema_errors(&validator, &partial).is_empty());
}
