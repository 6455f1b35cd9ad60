//! A `stackctl watch` process's life on the real swarm: killed and restarted it writes nothing
//! it had written; a manual apply during its rollout waits for the stack's lock; SIGTERM during
//! a rollout exits at once, releases the lock and records the apply; the single-stack flags
//! deploy; a bad config file stops it before it starts; `/healthz` and `stackctl history`.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::apply::{Run, Stack, apply_command, stack_command};
use super::git_server::Repo;
use super::swarm::docker;
use super::util::Test;
use super::watch_drift::{replicas, writes};
use super::watcher::{
    DEPLOYED, Watcher, app_stack, history, lock_configs, push_stack, short, version, watch_config,
};

/// Two replicas rolled out one at a time, 3 s apart: a rollout that takes several seconds.
fn slow_stack(image: &str) -> String {
    format!(
        "services:
  app:
    image: {image}
    deploy:
      replicas: 2
      update_config: {{parallelism: 1, delay: 3s, monitor: 1s}}
      rollback_config: {{parallelism: 0, monitor: 1s}}
"
    )
}

/// Start watching `repo` for `stack` and wait for `revision` to be deployed.
fn watch_deployed(repo: &Repo, stack: &Stack, revision: &str) -> Watcher {
    let watcher = Watcher::start(&watch_config(&repo.file_url(), "", stack, &[]), "");
    watcher.wait_deployed(&stack.name, revision, DEPLOYED);
    watcher
}

/// The stack's `/status` entry once its last reconcile said it is in sync.
fn wait_in_sync(watcher: &Watcher, stack: &Stack, revision: &str) -> Value {
    let status = watcher.wait_until("the stack is reported in sync", DEPLOYED, |s| {
        let s = &s["stacks"][&stack.name];
        s["state"] == "idle"
            && s["deployed_revision"] == revision
            && s["last_result"]["result"] == "in sync"
    });
    status["stacks"][&stack.name].clone()
}

#[test]
fn a_killed_watcher_restarted_with_nothing_new_writes_nothing() {
    let stack = Stack::new("wlife-kill");
    let repo = Repo::new();
    let revision = push_stack(&repo, &app_stack("stackctl-test/app:1", 1), "one");
    let mut watcher = watch_deployed(&repo, &stack, &revision);
    // Let the events of its own writes be checked (an in-sync reconcile, no write).
    std::thread::sleep(Duration::from_secs(2));
    let version_before = version(&stack, "app");
    let history_before = history(&stack);
    assert_eq!(history_before.0.len(), 1, "{history_before:?}");
    watcher.kill();
    let logged = watcher.log().len();
    let watcher = watcher.restart();
    let status = wait_in_sync(&watcher, &stack, &revision);
    let second_run = watcher.log()[logged..].to_owned();
    let in_sync = format!(
        "in sync with revision {} (checked: startup",
        short(&revision)
    );
    assert!(second_run.contains(&in_sync), "{}", watcher.log());
    assert!(
        !second_run.contains("applying revision"),
        "{}",
        watcher.log()
    );
    let trigger = status["last_result"]["trigger"]
        .as_str()
        .unwrap_or_default();
    assert!(trigger.starts_with("startup"), "{status:#}");
    assert_eq!(writes(&watcher), 0, "{}", watcher.log());
    assert_eq!(version(&stack, "app"), version_before, "{}", watcher.log());
    assert_eq!(history(&stack), history_before, "{}", watcher.log());
    assert_eq!(lock_configs(&stack), "", "{}", watcher.log());
}

/// `app` rolled out slowly, then `after` (which depends on it) at once: while the watcher
/// waits for `app`, `after` still runs `image` of the previous revision.
fn two_step_stack(image: &str) -> String {
    format!(
        "{}  after:
    image: {image}
    depends_on: [app]
    deploy:
      replicas: 1
      update_config: {{parallelism: 0, monitor: 1s}}
",
        slow_stack(image)
    )
}

#[test]
fn a_manual_apply_during_a_watcher_rollout_waits_for_the_lock() {
    let stack = Stack::new("wlife-lock");
    let repo = Repo::new();
    let first = push_stack(&repo, &two_step_stack("stackctl-test/app:1"), "one");
    let watcher = watch_deployed(&repo, &stack, &first);
    let second = push_stack(&repo, &two_step_stack("stackctl-test/app:2"), "two");
    let app_written = format!("updated service {}", stack.service_name("app"));
    let after_written = format!("updated service {}", stack.service_name("after"));
    watcher.wait_until("the watcher rolls out app under the lock", DEPLOYED, |s| {
        s["stacks"][&stack.name]["lock"] == "held" && watcher.log().contains(&app_written)
    });
    assert!(
        !watcher.log().contains(&after_written),
        "`after` was written before `app` converged\n{}",
        watcher.log()
    );
    // Other files: revision two with a marker on `after`. The plan shown now updates its image
    // too; once the watcher is done, only the marker is left to change.
    let other = format!(
        "{}  after:
    image: stackctl-test/app:2
    depends_on: [app]
    environment:
      WHO: manual
    deploy:
      replicas: 1
      update_config: {{parallelism: 0, monitor: 1s}}
",
        slow_stack("stackctl-test/app:2")
    );
    let manual = apply_command(
        Test::new().file("other.yml", &other),
        &stack,
        &["other.yml"],
        &["--lock-wait", "2m"],
    );
    let applied = format!("applied revision {}", short(&second));
    let (run, ended, applied_at) = std::thread::scope(|scope| {
        let handle = scope.spawn(|| {
            let run = Run::of(&manual);
            (run, Instant::now())
        });
        let deadline = Instant::now() + Duration::from_secs(150);
        let mut applied_at = None;
        while applied_at.is_none() && Instant::now() < deadline {
            if watcher.log().contains(&applied) {
                applied_at = Some(Instant::now());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let (run, ended) = handle.join().unwrap();
        (run, ended, applied_at)
    });
    let both = format!("{}\n--- watcher\n{}", run.text(), watcher.log());
    assert_eq!(run.code, Some(0), "{both}");
    let applied_at = applied_at.unwrap_or_else(|| panic!("the watcher never applied\n{both}"));
    assert!(
        ended > applied_at,
        "the manual apply ended before the watcher's apply\n{both}"
    );
    assert!(
        run.stderr
            .contains("The cluster changed since the plan was shown"),
        "the manual apply did not re-plan under the lock\n{both}"
    );
    let after = stack.service_name("after");
    assert_eq!(
        run.summary_of(&after),
        format!("  ok   {after}: converged"),
        "{both}"
    );
    // Planned again under the lock (both plans are printed): the image of `after` was left to
    // change in the plan shown, not in the one applied; the marker in both.
    let image_change = "image: \"stackctl-test/app:1\" → \"stackctl-test/app:2\"";
    assert_eq!(run.stdout.matches(image_change).count(), 1, "{both}");
    assert_eq!(run.stdout.matches("WHO").count(), 2, "{both}");
    assert_eq!(lock_configs(&stack), "", "{both}");
    // The manual apply's files are what runs; the watcher (self_heal off) only reports it.
    let env = stack.inspect("after")["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"].to_string();
    assert!(env.contains("WHO=manual"), "{env}\n{both}");
    assert_eq!(stack.image("after"), "stackctl-test/app:2");
    // The drift of `after` (the manual apply's service), not any earlier one.
    let status = watcher.wait_until("the manual change is reported", DEPLOYED, |s| {
        let drift = &s["stacks"][&stack.name]["drift"];
        drift["action"] == "reported (self_heal is off)"
            && drift["changes"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|c| c.as_str().is_some_and(|c| c.contains(&after)))
            })
    });
    assert_eq!(status["stacks"][&stack.name]["lock"], "free", "{status:#}");
}

#[test]
fn sigterm_during_a_rollout_exits_releases_the_lock_and_records_the_apply() {
    let stack = Stack::new("wlife-term");
    let repo = Repo::new();
    let first = push_stack(&repo, &slow_stack("stackctl-test/app:1"), "one");
    let mut watcher = watch_deployed(&repo, &stack, &first);
    let second = push_stack(&repo, &slow_stack("stackctl-test/app:2"), "two");
    let written = format!("updated service {}", stack.service_name("app"));
    watcher.wait_until("the rollout is being watched", DEPLOYED, |s| {
        watcher.log().contains(&written) && s["stacks"][&stack.name]["lock"] == "held"
    });
    let (code, took) = watcher.stop();
    let log = watcher.log();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        took < Duration::from_secs(10),
        "stopped after {took:?}\n{log}"
    );
    assert!(log.contains("stopped while applying"), "{log}");
    assert_eq!(lock_configs(&stack), "", "{log}");
    let (_, entries) = history(&stack);
    let last = entries.last().expect("a history entry");
    assert_eq!(last["revision"], second.as_str(), "{last:#}\n{log}");
    let outcome = last["outcome"].as_str().unwrap_or_default();
    assert!(outcome.starts_with("interrupted"), "{last:#}\n{log}");
    // The spec was written: a restarted watcher finds nothing to do.
    let logged = log.len();
    let watcher = watcher.restart();
    wait_in_sync(&watcher, &stack, &second);
    let second_run = watcher.log()[logged..].to_owned();
    let in_sync = format!("in sync with revision {} (checked: startup", short(&second));
    assert!(second_run.contains(&in_sync), "{}", watcher.log());
    assert_eq!(writes(&watcher), 0, "{}", watcher.log());
    assert_eq!(stack.image("app"), "stackctl-test/app:2");
    assert_eq!(replicas(&stack), 2);
}

#[test]
fn the_single_stack_flags_deploy_the_stack() {
    let stack = Stack::new("wlife-flags");
    let repo = Repo::new();
    let revision = push_stack(&repo, &app_stack("stackctl-test/app:1", 1), "one");
    let url = repo.file_url();
    let watcher = Watcher::start_flags(&[
        "--repo",
        &url,
        "--path",
        "stacks/app.yml",
        "--stack",
        &stack.name,
        "--interval",
        "1s",
    ]);
    let status = watcher.wait_deployed(&stack.name, &revision, DEPLOYED);
    assert_eq!(
        stack.image("app"),
        "stackctl-test/app:1",
        "{}",
        watcher.log()
    );
    let applied = format!("applied revision {}", short(&revision));
    assert!(watcher.log().contains(&applied), "{}", watcher.log());
    let sources = status["sources"].as_object().unwrap();
    assert_eq!(sources.len(), 1, "{status:#}");
    let source = sources.values().next().unwrap();
    assert_eq!(source["revision"], revision.as_str(), "{status:#}");
    assert_eq!(source["location"], url.as_str(), "{status:#}");
}

/// `stackctl watch --config bad.yml`: exits 1 at once with the file's place of the problem.
/// The daemon is out of reach, so a config wrongly accepted fails another way, never hangs.
fn refused_config(config: &str, place: &str, message: &str) {
    let test = Test::new()
        .file("bad.yml", config)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(&["watch", "--config", "bad.yml"]);
    let run = Run::of(&test);
    assert_eq!(run.code, Some(1), "{}", run.text());
    assert!(run.elapsed < Duration::from_secs(5), "{}", run.text());
    assert!(run.stderr.contains(place), "{}", run.text());
    assert!(run.stderr.contains(message), "{}", run.text());
    assert!(
        run.stderr
            .contains("1 error(s) in bad.yml; nothing was started"),
        "{}",
        run.text()
    );
}

#[test]
fn an_invalid_watch_config_stops_the_watcher_before_it_starts() {
    let source = "sources:\n  repo:\n    git: file:///nowhere/origin.git\n    branch: main\n";
    let undefined =
        format!("{source}stacks:\n  web:\n    source: nope\n    files: [stacks/app.yml]\n");
    refused_config(
        &undefined,
        "bad.yml:7:13",
        "stack `web` names source `nope`, which is not defined",
    );
    let unknown = "sources:\n  repo:\n    git: file:///nowhere/origin.git\n    brnach: main\nstacks:\n  web:\n    source: repo\n    files: [stacks/app.yml]\n";
    refused_config(
        unknown,
        "bad.yml:4:5",
        "unknown key `brnach` in sources.repo",
    );
}

#[test]
fn healthz_answers_and_the_history_names_the_revision_applied() {
    let stack = Stack::new("wlife-hist");
    let repo = Repo::new();
    let revision = push_stack(&repo, &app_stack("stackctl-test/app:1", 1), "one");
    let watcher = watch_deployed(&repo, &stack, &revision);
    let (code, body) = watcher.get("/healthz").expect("/healthz answers");
    assert_eq!((code, body.as_str()), (200, "ok\n"), "{}", watcher.log());
    let run = stack_command("history", &stack, &[]);
    assert_eq!(run.code, Some(0), "{}", run.text());
    let at = format!("at revision {}", short(&revision));
    assert!(
        run.stdout.contains(&at),
        "{}\n--- watcher\n{}",
        run.text(),
        watcher.log()
    );
    assert!(
        run.stdout.contains("from watch: repo ("),
        "{}\n--- watcher\n{}",
        run.text(),
        watcher.log()
    );
    assert!(run.stdout.contains("succeeded"), "{}", run.text());
    let run = stack_command("status", &stack, &[]);
    assert_eq!(run.code, Some(0), "{}", run.text());
    assert!(
        run.stdout.contains("from watch: repo (")
            && run.stdout.contains(&format!("{at}: succeeded")),
        "{}",
        run.text()
    );
}

#[test]
fn sigterm_while_waiting_for_the_lock_exits_without_writing() {
    let stack = Stack::new("wlife-wait");
    let repo = Repo::new();
    let first = push_stack(&repo, &app_stack("stackctl-test/app:1", 1), "one");
    let mut watcher = watch_deployed(&repo, &stack, &first);
    // Someone else's apply holds the stack's lock (for ten minutes).
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let scratch = tempfile::tempdir().unwrap();
    let owner = scratch.path().join("owner");
    std::fs::write(&owner, "someone else").unwrap();
    docker(&[
        "config",
        "create",
        "--label",
        &format!("com.stackctl.lock={}", stack.name),
        "--label",
        &format!("com.stackctl.lock.expires={expires}"),
        "--label",
        "com.stackctl.lock.owner=someone else",
        &format!("stackctl-lock_{}", stack.name),
        &owner.display().to_string(),
    ]);
    let history_before = history(&stack);
    push_stack(&repo, &app_stack("stackctl-test/app:2", 1), "two");
    watcher.wait_until("the watcher waits for the lock", DEPLOYED, |s| {
        s["stacks"][&stack.name]["lock"] == "waiting"
    });
    std::thread::sleep(Duration::from_secs(2));
    let (code, took) = watcher.stop();
    let log = watcher.log();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        took < Duration::from_secs(10),
        "stopped after {took:?}\n{log}"
    );
    assert!(
        log.contains("stopped while waiting for the stack's lock; nothing was applied"),
        "{log}"
    );
    assert_eq!(stack.image("app"), "stackctl-test/app:1", "{log}");
    assert_eq!(history(&stack), history_before, "{log}");
    // The lock is still someone else's.
    assert_eq!(lock_configs(&stack).lines().count(), 1, "{log}");
}
