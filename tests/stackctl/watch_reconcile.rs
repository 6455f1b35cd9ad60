//! `stackctl watch` reconciling what a git remote says, on the real swarm: an invalid commit
//! changes nothing and says where it is wrong, a config file's new content rolls out as a new
//! config version without touching the other stacks of the repository, a force-push back to an
//! older commit deploys that older state, and a remote that disappears is waited out.

use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use super::apply::Stack;
use super::git_server::Repo;
use super::swarm::docker;
use super::watcher::{DEPLOYED, Watcher, app_stack, deployed, short, version, watch_config};

/// One `sources:` entry: the git remote of `repo`, branch `main`, polled every second.
pub(crate) fn git_source(name: &str, repo: &Repo) -> String {
    format!(
        "  {name}:\n    git: {}\n    branch: main\n    interval: 1s\n",
        repo.file_url()
    )
}

/// One `stacks:` entry: `stack` made of `files` of `source`, plus `extra` (indented lines).
pub(crate) fn stack_entry(stack: &Stack, source: &str, files: &[&str], extra: &str) -> String {
    format!(
        "  {}:\n    source: {source}\n    files: [{}]\n{extra}",
        stack.name,
        files.join(", ")
    )
}

/// A watch config body from `sources:` and `stacks:` entries.
pub(crate) fn config(sources: &[String], stacks: &[String]) -> String {
    format!("sources:\n{}stacks:\n{}", sources.concat(), stacks.concat())
}

/// stackctl's history configs of `stack` (one per apply), by name.
pub(crate) fn history_configs(stack: &Stack) -> Vec<String> {
    let filter = format!("label=com.stackctl.history={}", stack.name);
    let out = docker(&["config", "ls", "--filter", &filter, "--format", "{{.Name}}"]);
    let mut names: Vec<String> = out.lines().map(str::to_owned).collect();
    names.sort();
    names
}

/// The log lines `<time> <stack>: <what>…` (first lines only, not the details under them).
pub(crate) fn lines_of<'a>(log: &'a str, stack: &Stack, what: &str) -> Vec<&'a str> {
    let needle = format!(" {}: {what}", stack.name);
    log.lines().filter(|l| l.contains(&needle)).collect()
}

/// `stack`'s entry of `/status`.
pub(crate) fn of<'a>(status: &'a Value, stack: &Stack) -> &'a Value {
    &status["stacks"][&stack.name]
}

#[test]
fn an_invalid_commit_changes_nothing_and_says_where_then_the_next_good_one_deploys() {
    let stack = Stack::new("wrinv");
    let repo = Repo::new();
    let first = repo.commit(
        &[("stacks/app.yml", &app_stack("stackctl-test/app:1", 1))],
        "one",
    );
    repo.push();
    let watcher = Watcher::start(&watch_config(&repo.file_url(), "", &stack, &[]), "");
    let status = watcher.wait_deployed(&stack.name, &first, DEPLOYED);
    let index = version(&stack, "app");
    let writes = status["engine_calls"]["writes"].as_u64().unwrap();

    // Line 3 of app_stack is `    image: …`: the typo is at 3:5.
    let typo = app_stack("stackctl-test/app:2", 1).replace("    image:", "    imagee:");
    let bad = repo.commit(&[("stacks/app.yml", &typo)], "typo");
    repo.push();
    let status = watcher.wait_until("the invalid commit is reported", DEPLOYED, |s| {
        let result = &of(s, &stack)["last_result"];
        result["revision"] == bad.as_str()
            && result["result"] == "invalid"
            && of(s, &stack)["state"] == "idle"
    });
    let log = watcher.log();
    let entry = of(&status, &stack);
    let findings = entry["last_result"]["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f["file"] == "stacks/app.yml"
            && f["line"] == 3
            && f["column"] == 5
            && f["message"].as_str().unwrap_or_default().contains("imagee")),
        "no finding at stacks/app.yml:3:5 naming `imagee`: {findings:#?}\n{log}"
    );
    assert_eq!(
        entry["deployed_revision"],
        first.as_str(),
        "{entry:#}\n{log}"
    );
    assert_eq!(entry["desired_revision"], bad.as_str(), "{entry:#}\n{log}");
    assert_eq!(
        version(&stack, "app"),
        index,
        "the service was written\n{log}"
    );
    assert_eq!(stack.image("app"), "stackctl-test/app:1", "{log}");
    assert_eq!(
        status["engine_calls"]["writes"].as_u64(),
        Some(writes),
        "an invalid commit made writes\n{log}"
    );
    let refused = format!("revision {} does not load", short(&bad));
    assert!(log.contains(&refused), "{log}");
    assert!(log.contains("stacks/app.yml:3:5: "), "{log}");
    assert!(
        lines_of(&log, &stack, &format!("applying revision {}", short(&bad))).is_empty(),
        "{log}"
    );

    let good = repo.commit(
        &[("stacks/app.yml", &app_stack("stackctl-test/app:2", 1))],
        "fixed",
    );
    repo.push();
    let status = watcher.wait_deployed(&stack.name, &good, DEPLOYED);
    let log = watcher.log();
    assert_eq!(stack.image("app"), "stackctl-test/app:2", "{log}");
    let result = &of(&status, &stack)["last_result"];
    assert!(
        result["result"] == "applied" || result["result"] == "in sync",
        "{result:#}\n{log}"
    );
    assert_eq!(
        result["findings"].as_array().map(Vec::len),
        Some(0),
        "{result:#}\n{log}"
    );
}

/// A stack whose service mounts a config read from `site.conf` next to the stack file.
fn site_stack(image: &str) -> String {
    format!(
        "services:
  app:
    image: {image}
    configs:
      - source: site
        target: /etc/site.conf
    deploy:
      replicas: 1
      update_config: {{parallelism: 0, monitor: 1s, failure_action: rollback}}
      rollback_config: {{parallelism: 0, monitor: 1s}}
configs:
  site:
    file: ./site.conf
"
    )
}

/// The config service `key` of `stack` mounts (its name), and that config's content.
fn mounted_config(stack: &Stack, key: &str) -> (String, String) {
    let service = stack.inspect(key);
    let configs = &service["Spec"]["TaskTemplate"]["ContainerSpec"]["Configs"];
    let name = configs[0]["ConfigName"]
        .as_str()
        .unwrap_or_else(|| panic!("no config mounted: {configs}"))
        .to_owned();
    let out = docker(&["config", "inspect", &name]);
    let all: Vec<Value> = serde_json::from_str(&out).unwrap();
    let data = all[0]["Spec"]["Data"].as_str().unwrap_or_default();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .expect("config data is base64");
    (name, String::from_utf8(bytes).unwrap())
}

#[test]
fn a_config_file_change_rolls_a_new_config_out_and_leaves_the_other_stack_alone() {
    let site = Stack::new("wrcfga");
    let other = Stack::new("wrcfgb");
    let repo = Repo::new();
    let first = repo.commit(
        &[
            ("stacks/site.yml", &site_stack("stackctl-test/app:1")),
            ("stacks/site.conf", "listen 8080;\n# one\n"),
            ("stacks/other.yml", &app_stack("stackctl-test/app:1", 1)),
        ],
        "one",
    );
    repo.push();
    let body = config(
        &[git_source("repo", &repo)],
        &[
            stack_entry(&site, "repo", &["stacks/site.yml"], ""),
            stack_entry(&other, "repo", &["stacks/other.yml"], ""),
        ],
    );
    let watcher = Watcher::start(&body, "");
    watcher.wait_deployed(&site.name, &first, DEPLOYED);
    let status = watcher.wait_deployed(&other.name, &first, DEPLOYED);
    let (old_name, old_content) = mounted_config(&site, "app");
    assert_eq!(old_content, "listen 8080;\n# one\n", "{}", watcher.log());
    let other_index = version(&other, "app");
    let other_history = history_configs(&other);
    let other_result = of(&status, &other)["last_result"].clone();
    assert!(!other_history.is_empty(), "no history for {}", other.name);
    let applying_other = lines_of(&watcher.log(), &other, "applying").len();

    let second = repo.commit(&[("stacks/site.conf", "listen 8080;\n# two\n")], "conf");
    repo.push();
    watcher.wait_deployed(&site.name, &second, DEPLOYED);
    // The other stack saw the revision too, and is done with it.
    let status = watcher.wait_until("the other stack has read the new revision", DEPLOYED, |s| {
        of(s, &other)["desired_revision"] == second.as_str() && of(s, &other)["state"] == "idle"
    });
    let log = watcher.log();
    let (new_name, new_content) = mounted_config(&site, "app");
    assert_ne!(new_name, old_name, "the config was not versioned\n{log}");
    assert_eq!(new_content, "listen 8080;\n# two\n", "{log}");
    assert_eq!(site.image("app"), "stackctl-test/app:1", "{log}");
    assert_eq!(
        lines_of(&log, &site, &format!("applied revision {}", short(&second))).len(),
        1,
        "{log}"
    );

    assert_eq!(
        version(&other, "app"),
        other_index,
        "the other stack's service was written\n{log}"
    );
    assert_eq!(
        history_configs(&other),
        other_history,
        "the other stack's history was written\n{log}"
    );
    assert_eq!(
        of(&status, &other)["last_result"],
        other_result,
        "the other stack has a new result\n{log}"
    );
    assert_eq!(
        lines_of(&log, &other, "applying").len(),
        applying_other,
        "the other stack was applied\n{log}"
    );
}

#[test]
fn a_force_push_to_an_older_commit_deploys_that_older_state() {
    let stack = Stack::new("wrforce");
    let (repo, watcher, first) = deployed(&stack, &[], "");
    let second = repo.commit(
        &[("stacks/app.yml", &app_stack("stackctl-test/app:2", 1))],
        "two",
    );
    repo.push();
    watcher.wait_deployed(&stack.name, &second, DEPLOYED);
    assert_eq!(
        stack.image("app"),
        "stackctl-test/app:2",
        "{}",
        watcher.log()
    );

    repo.force_push_to(&first);
    let status = watcher.wait_deployed(&stack.name, &first, DEPLOYED);
    let log = watcher.log();
    assert_eq!(stack.image("app"), "stackctl-test/app:1", "{log}");
    assert_eq!(
        status["sources"]["repo"]["revision"],
        first.as_str(),
        "{log}"
    );
    assert_eq!(
        of(&status, &stack)["last_result"]["result"],
        "in sync",
        "{log}"
    );
    let applied = lines_of(&log, &stack, &format!("applied revision {}", short(&first)));
    assert_eq!(applied.len(), 2, "first deploy and the force-push\n{log}");
}

/// The `next try in Ns` delays the log shows for source `name`, in order.
fn fetch_delays(log: &str, name: &str) -> Vec<u64> {
    let subject = format!(" source {name}: error: fetch failed (");
    log.lines()
        .filter(|l| l.contains(&subject))
        .filter_map(|l| {
            let rest = l.split_once("next try in ")?.1;
            rest.split_once("s)")?.0.parse().ok()
        })
        .collect()
}

#[test]
fn a_removed_remote_is_waited_out_with_growing_delays_and_followed_again_once_back() {
    let stack = Stack::new("wrgone");
    let (repo, watcher, first) = deployed(&stack, &[], "");

    repo.remove();
    let status = watcher.wait_until("a failed fetch", Duration::from_secs(30), |s| {
        s["sources"]["repo"]["failures"].as_u64() >= Some(1)
    });
    let early = status["sources"]["repo"]["failures"].as_u64().unwrap();
    // Seen before the fourth failure, so that `failures > early` below shows the count growing
    // (and not a wait that any count of 4 or more satisfied at once).
    assert!(early < 4, "{status:#}\n{}", watcher.log());
    // Delays from 1s, doubling: the 4th failure comes about 7 s after the first.
    let status = watcher.wait_until("four failed fetches", Duration::from_secs(40), |s| {
        s["sources"]["repo"]["failures"].as_u64() >= Some(4)
    });
    let log = watcher.log();
    let source = &status["sources"]["repo"];
    assert!(
        source["failures"].as_u64() > Some(early),
        "{source:#}\n{log}"
    );
    assert!(
        source["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{source:#}\n{log}"
    );
    assert!(source["next_check"].is_string(), "{source:#}\n{log}");
    let (code, body) = watcher.get("/healthz").expect("the watcher answers");
    assert_eq!(code, 200, "{body}\n{log}");
    let delays = fetch_delays(&log, "repo");
    assert!(delays.len() >= 4, "{delays:?}\n{log}");
    assert!(
        delays.windows(2).all(|w| w[0] <= w[1]) && delays[delays.len() - 1] > delays[0],
        "the delays do not grow: {delays:?}\n{log}"
    );
    assert_eq!(
        of(&status, &stack)["deployed_revision"],
        first.as_str(),
        "{log}"
    );
    assert_eq!(stack.image("app"), "stackctl-test/app:1", "{log}");

    repo.restore();
    let second = repo.commit(
        &[("stacks/app.yml", &app_stack("stackctl-test/app:2", 1))],
        "two",
    );
    repo.push();
    let status = watcher.wait_deployed(&stack.name, &second, DEPLOYED);
    let log = watcher.log();
    assert_eq!(stack.image("app"), "stackctl-test/app:2", "{log}");
    let source = &status["sources"]["repo"];
    assert_eq!(source["failures"], 0, "{source:#}\n{log}");
    assert_eq!(source["error"], Value::Null, "{source:#}\n{log}");
    assert_eq!(source["revision"], second.as_str(), "{log}");
}
