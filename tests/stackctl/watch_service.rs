//! `stackctl watch` as a Swarm service, as `examples/watch/service.yaml` runs it: the image of
//! `scripts/watcher-image`, deployed with `stackctl apply`, follows a folder of the host
//! (bind-mounted) and keeps the stack there deployed, through an edit of its file.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::apply::{Stack, apply};
use super::swarm::docker;
use super::util::{Test, repo_root};
use super::watcher::{app_stack, free_port, http_status};

/// `scripts/watcher-image --debug` on the binary under test (quick when the image is current).
fn build_image() {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_stackctl"));
    let target_dir = bin.parent().and_then(Path::parent).expect("target/debug");
    let out = Command::new(repo_root().join("scripts/watcher-image"))
        .arg("--debug")
        .env("CARGO_TARGET_DIR", target_dir)
        .output()
        .expect("scripts/watcher-image runs");
    assert!(
        out.status.success(),
        "scripts/watcher-image --debug failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `text` with `from` replaced, which must be there (the example changed otherwise).
fn replaced(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the example no longer has {from:?}");
    text.replace(from, to)
}

/// What the watcher service logged so far.
fn service_logs(service: &str) -> String {
    Command::new("docker")
        .args(["service", "logs", "--raw", service])
        .output()
        .map(|o| {
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        })
        .unwrap_or_default()
}

/// `NAME IMAGE REPLICAS` lines of the stack's services, as `docker service ls` shows them.
fn service_ls(stack: &Stack) -> String {
    let filter = format!("label=com.docker.stack.namespace={}", stack.name);
    let out = Command::new("docker")
        .args(["service", "ls", "--filter", &filter])
        .args(["--format", "{{.Name}} {{.Image}} {{.Replicas}}"])
        .output()
        .expect("docker CLI runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Wait until the target stack runs `image` everywhere, its rollout is over and the watcher
/// reports that revision deployed; panics with what is known after `timeout`.
fn wait_deployed(target: &Stack, image: &str, port: u16, watcher: &str, timeout: Duration) {
    let wanted = format!("{} {image} 1/1\n", target.service_name("app"));
    let deadline = Instant::now() + timeout;
    let (mut listed, mut last) = (String::new(), Value::Null);
    while Instant::now() < deadline {
        listed = service_ls(target);
        if let Some(s) = http_status(port) {
            last = s["stacks"][&target.name].clone();
        }
        let idle = last["state"] == "idle"
            && !last["deployed_revision"].is_null()
            && last["deployed_revision"] == last["desired_revision"];
        let rolled = listed == wanted && {
            let update = &target.inspect("app")["UpdateStatus"]["State"];
            update.is_null() || update == "completed"
        };
        if idle && rolled {
            return;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!(
        "timed out after {timeout:?} waiting for {wanted}--- docker service ls\n{listed}\
         --- watcher status of {}\n{}\n--- watcher log\n{}",
        target.name,
        serde_json::to_string_pretty(&last).unwrap_or_default(),
        service_logs(watcher)
    );
}

#[test]
fn the_watcher_runs_as_a_swarm_service_and_follows_a_host_folder() {
    let started = Instant::now();
    build_image();

    // Dropped in reverse: the watcher goes first (it would redeploy the target otherwise),
    // then the target, then the folder the watcher had mounted.
    let folder = tempfile::tempdir().expect("temp dir");
    let target = Stack::new("wsvc-app");
    let watcher = Stack::new("wsvc");
    let port = free_port();

    let web = folder.path().join("web.yml");
    std::fs::write(&web, app_stack("stackctl-test/app:1", 1)).unwrap();

    // The example stack, with the host folder of this test and the watcher's /status
    // published on a free host port (host mode: no routing mesh).
    let examples = repo_root().join("examples/watch");
    let stack_file = std::fs::read_to_string(examples.join("service.yaml")).unwrap();
    let stack_file = replaced(
        &stack_file,
        "        source: /srv/stacks\n",
        &format!("        source: {}\n", folder.path().display()),
    );
    let stack_file = replaced(
        &stack_file,
        "    stop_grace_period: 30s\n",
        &format!(
            "    stop_grace_period: 30s\n    ports:\n      - {{target: 9090, published: {port}, mode: host}}\n"
        ),
    );
    let config = std::fs::read_to_string(examples.join("service-watch.yml")).unwrap();
    let config = replaced(&config, "\n  web:\n", &format!("\n  {}:\n", target.name));
    let test = Test::new()
        .file("service.yaml", &stack_file)
        .file("service-watch.yml", &config);

    let run = apply(test, &watcher, &["service.yaml"], &[]);
    let service = watcher.service_name("watch");
    assert_eq!(
        run.code,
        Some(0),
        "applying the watcher's stack failed:\n{}--- watcher log\n{}",
        run.text(),
        service_logs(&service)
    );
    assert_eq!(watcher.image("watch"), "stackctl/watch:local");
    // Swarm runs a task with a health check only once it is healthy: `stackctl healthcheck`
    // in the task's container got a 200 from the watcher's /healthz.
    let health = docker(&[
        "ps",
        "--filter",
        &format!("label=com.docker.swarm.service.name={service}"),
        "--format",
        "{{.Status}}",
    ]);
    assert!(
        health.contains("(healthy)"),
        "{health}
{}",
        service_logs(&service)
    );

    // The watcher deploys the folder's stack on its own ...
    wait_deployed(
        &target,
        "stackctl-test/app:1",
        port,
        &service,
        Duration::from_secs(45),
    );
    // ... and follows an edit of the file on the host.
    std::fs::write(&web, app_stack("stackctl-test/app:2", 1)).unwrap();
    wait_deployed(
        &target,
        "stackctl-test/app:2",
        port,
        &service,
        Duration::from_secs(45),
    );
    let log = service_logs(&service);
    let applied = format!("{}: applied revision", target.name);
    assert!(
        log.matches(&applied).count() >= 2,
        "expected two applies of {} in the watcher's log:\n{log}",
        target.name
    );

    // Removing the watcher leaves what it deployed alone.
    drop(watcher);
    assert_eq!(
        service_ls(&target),
        format!("{} stackctl-test/app:2 1/1\n", target.service_name("app"))
    );
    drop(target);
    drop(folder);
    eprintln!(
        "watch service test: {:.1}s",
        started.elapsed().as_secs_f64()
    );
}
