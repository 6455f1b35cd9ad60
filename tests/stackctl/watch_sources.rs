//! `stackctl watch` with several sources and stacks on the real swarm: stacks of two remotes
//! reconcile independently (one failing does not hold the other), `depends_on` orders applies,
//! and a folder source deploys saved files, never a half-written one.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::apply::Stack;
use super::git_server::Repo;
use super::watch_reconcile::{config, git_source, lines_of, of, stack_entry};
use super::watcher::{DEPLOYED, Watcher, app_stack, short, version};

#[test]
fn stacks_of_two_remotes_reconcile_independently_while_one_fails() {
    let failing = Stack::new("wsfail");
    let healthy = Stack::new("wsgood");
    let (x, y) = (Repo::new(), Repo::new());
    let file = "stacks/app.yml";
    let x1 = x.commit(&[(file, &app_stack("stackctl-test/app:1", 1))], "x one");
    x.push();
    let y1 = y.commit(&[(file, &app_stack("stackctl-test/app:1", 1))], "y one");
    y.push();
    let body = config(
        &[git_source("x", &x), git_source("y", &y)],
        &[
            stack_entry(&failing, "x", &[file], ""),
            stack_entry(&healthy, "y", &[file], ""),
        ],
    );
    let watcher = Watcher::start(&body, "");
    watcher.wait_deployed(&failing.name, &x1, DEPLOYED);
    watcher.wait_deployed(&healthy.name, &y1, DEPLOYED);

    let x2 = x.commit(&[(file, &app_stack("stackctl-test/app:bad", 1))], "x bad");
    x.push();
    let y2 = y.commit(&[(file, &app_stack("stackctl-test/app:2", 1))], "y two");
    y.push();
    watcher.wait_deployed(&healthy.name, &y2, DEPLOYED);
    assert_eq!(
        healthy.image("app"),
        "stackctl-test/app:2",
        "{}",
        watcher.log()
    );
    let status = watcher.wait_until("the bad revision has failed", DEPLOYED, |s| {
        let entry = of(s, &failing);
        entry["last_result"]["result"] == "failed"
            && entry["last_result"]["revision"] == x2.as_str()
            && entry["state"] == "idle"
    });
    let log = watcher.log();
    let entry = of(&status, &failing);
    assert!(entry["attempts"].as_u64() >= Some(1), "{entry:#}\n{log}");
    assert!(entry["next_retry"].is_string(), "{entry:#}\n{log}");
    assert_eq!(entry["given_up"], Value::Null, "{entry:#}\n{log}");
    assert_eq!(entry["deployed_revision"], x1.as_str(), "{entry:#}\n{log}");
    assert_eq!(entry["desired_revision"], x2.as_str(), "{entry:#}\n{log}");
    // Swarm's failure_action rolled the service back to the image that worked.
    assert_eq!(failing.image("app"), "stackctl-test/app:1", "{log}");
    let failed = format!("error: apply of revision {} FAILED", short(&x2));
    assert_eq!(lines_of(&log, &failing, &failed).len(), 1, "{log}");
    let result = &of(&status, &healthy)["last_result"]["result"];
    assert!(
        result == "applied" || result == "in sync",
        "{result}\n{log}"
    );

    // While the failed revision waits for its retry, the other remote is still followed.
    let y3 = y.commit(&[(file, &app_stack("stackctl-test/app:1", 2))], "y three");
    y.push();
    let status = watcher.wait_deployed(&healthy.name, &y3, DEPLOYED);
    let log = watcher.log();
    let replicas = &healthy.inspect("app")["Spec"]["Mode"]["Replicated"]["Replicas"];
    assert_eq!(replicas, 2, "{log}");
    assert_eq!(healthy.image("app"), "stackctl-test/app:1", "{log}");
    assert_eq!(
        of(&status, &failing)["deployed_revision"],
        x1.as_str(),
        "{log}"
    );
    assert_eq!(status["sources"]["x"]["revision"], x2.as_str(), "{log}");
    assert_eq!(status["sources"]["y"]["revision"], y3.as_str(), "{log}");
}

/// Where `needle` first appears in `log`, or a panic showing the log.
fn position(log: &str, needle: &str) -> usize {
    log.find(needle)
        .unwrap_or_else(|| panic!("no `{needle}` in the log\n{log}"))
}

#[test]
fn depends_on_applies_the_dependency_first_for_the_same_commit() {
    // The dependent sorts first: the controller's own order would start it first.
    let dependency = Stack::new("wsdepz");
    let dependent = Stack::new("wsdepa");
    let repo = Repo::new();
    let (a, b) = ("stacks/a.yml", "stacks/b.yml");
    let first = repo.commit(
        &[
            (a, &app_stack("stackctl-test/app:1", 1)),
            (b, &app_stack("stackctl-test/app:1", 1)),
        ],
        "one",
    );
    repo.push();
    let depends = format!("    depends_on: [{}]\n", dependency.name);
    let body = config(
        &[git_source("repo", &repo)],
        &[
            stack_entry(&dependency, "repo", &[a], ""),
            stack_entry(&dependent, "repo", &[b], &depends),
        ],
    );
    let watcher = Watcher::start(&body, "");
    watcher.wait_deployed(&dependency.name, &first, DEPLOYED);
    watcher.wait_deployed(&dependent.name, &first, DEPLOYED);

    let second = repo.commit(
        &[
            (a, &app_stack("stackctl-test/app:2", 1)),
            (b, &app_stack("stackctl-test/app:2", 1)),
        ],
        "both",
    );
    repo.push();
    watcher.wait_deployed(&dependency.name, &second, DEPLOYED);
    watcher.wait_deployed(&dependent.name, &second, DEPLOYED);
    let log = watcher.log();
    assert_eq!(dependency.image("app"), "stackctl-test/app:2", "{log}");
    assert_eq!(dependent.image("app"), "stackctl-test/app:2", "{log}");
    for commit in [&first, &second] {
        let applied = position(
            &log,
            &format!(" {}: applied revision {}", dependency.name, short(commit)),
        );
        let applying = position(
            &log,
            &format!(" {}: applying revision {}", dependent.name, short(commit)),
        );
        assert!(
            applied < applying,
            "{} was applied before its dependency at {}\n{log}",
            dependent.name,
            short(commit)
        );
    }
}

/// A folder source `local` at `dir` (rescanned every `interval`) and one stack of `app.yml`.
fn folder_config(dir: &Path, interval: &str, stack: &Stack) -> String {
    config(
        &[format!(
            "  local:\n    dir: {}\n    interval: {interval}\n",
            dir.display()
        )],
        &[stack_entry(stack, "local", &["app.yml"], "")],
    )
}

/// The revision the watcher names the folder stack's files by now (`files:` and 12 hex digits
/// of the digest of every file the stack reads), computed as the watcher does.
fn folder_revision(dir: &Path, stack: &Stack) -> String {
    let name = stackctl::model::StackName::new(&stack.name).unwrap();
    let files = [PathBuf::from("app.yml")];
    let inputs = stackctl::watch::inputs::read(
        &name,
        &stackctl::watch::inputs::StackFiles {
            root: dir,
            files: &files,
            env_file: None,
            profiles: &[],
            settle: None,
        },
    );
    let digest = inputs.digest().expect("the files are settled");
    format!("files:{}", short(digest))
}

/// app:1 written to `app.yml` of a new folder, watched (rescanned every 60 s) until deployed:
/// the folder, its file, the watcher and the revision of the file.
fn folder_deployed(stack: &Stack) -> (tempfile::TempDir, PathBuf, Watcher, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.yml");
    std::fs::write(&file, app_stack("stackctl-test/app:1", 1)).unwrap();
    let first = folder_revision(dir.path(), stack);
    let watcher = Watcher::start(&folder_config(dir.path(), "60s", stack), "");
    watcher.wait_deployed(&stack.name, &first, DEPLOYED);
    (dir, file, watcher, first)
}

#[test]
fn a_folder_source_deploys_an_edited_file() {
    let stack = Stack::new("wsdir");
    let (dir, file, watcher, first) = folder_deployed(&stack);
    assert_eq!(
        stack.image("app"),
        "stackctl-test/app:1",
        "{}",
        watcher.log()
    );

    std::fs::write(&file, app_stack("stackctl-test/app:2", 1)).unwrap();
    let second = folder_revision(dir.path(), &stack);
    assert_ne!(first, second);
    watcher.wait_deployed(&stack.name, &second, DEPLOYED);
    let log = watcher.log();
    assert_eq!(stack.image("app"), "stackctl-test/app:2", "{log}");
    let applying = lines_of(&log, &stack, &format!("applying revision {second} ("));
    assert_eq!(applying.len(), 1, "{log}");
    assert!(applying[0].contains("files changed"), "{log}");
}

/// Write `content` to `path` in pieces cut at `cuts`, flushed one by one, `pause` apart: what
/// a slow copy or an editor writing in place leaves on disk meanwhile.
fn write_in_chunks(path: &Path, content: &str, cuts: &[usize], pause: Duration) {
    let mut file = std::fs::File::create(path).unwrap();
    let mut start = 0;
    for &end in cuts.iter().chain([&content.len()]) {
        file.write_all(&content.as_bytes()[start..end]).unwrap();
        file.flush().unwrap();
        start = end;
        if end < content.len() {
            std::thread::sleep(pause);
        }
    }
}

/// Where to cut `content` so that its prefixes are by turns invalid and valid stacks, the
/// valid ones not the final state (an untagged image; no `rollback_config`).
fn cuts(content: &str) -> Vec<usize> {
    let after = |needle: &str| {
        content
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} not in {content}"))
            + needle.len()
    };
    vec![
        after("    ima"),
        after("image: stackctl-test/app"),
        after("update_config: {parallelism: 0, mon"),
        after("failure_action: rollback}\n"),
    ]
}

#[test]
fn a_half_written_file_never_reaches_the_cluster() {
    let stack = Stack::new("wshalf");
    let (dir, file, watcher, _first) = folder_deployed(&stack);
    let index = version(&stack, "app");
    let before = watcher.log().len();

    let last = app_stack("stackctl-test/app:2", 2);
    // Five pieces 100 ms apart: a copy that takes 0.4 s, longer than the 0.3 s debounce.
    write_in_chunks(&file, &last, &cuts(&last), Duration::from_millis(100));
    let second = folder_revision(dir.path(), &stack);
    watcher.wait_deployed(&stack.name, &second, DEPLOYED);
    // Time for a late reconcile of an intermediate state to show.
    std::thread::sleep(Duration::from_secs(3));
    let log = watcher.log();
    let since = &log[before..];
    let applying = lines_of(since, &stack, "applying revision");
    assert_eq!(
        applying.len(),
        1,
        "not exactly one apply after the edit began: an intermediate state reached the cluster\n{log}"
    );
    assert!(
        applying[0].contains(&format!("applying revision {second} (")),
        "{log}"
    );
    assert!(
        !since.contains("does not load"),
        "an intermediate state was read\n{log}"
    );
    let status = watcher.status().unwrap();
    let entry = of(&status, &stack);
    assert_eq!(entry["deployed_revision"], second.as_str(), "{log}");
    let result = &entry["last_result"]["result"];
    assert!(
        result == "applied" || result == "in sync",
        "{result}\n{log}"
    );
    let service = stack.inspect("app");
    assert_eq!(stack.image("app"), "stackctl-test/app:2", "{log}");
    assert_eq!(
        service["Spec"]["Mode"]["Replicated"]["Replicas"], 2,
        "{log}"
    );
    // One update: the service went app:1 -> app:2 once, nothing in between.
    let previous = &service["PreviousSpec"]["TaskTemplate"]["ContainerSpec"]["Image"];
    assert_eq!(previous, "stackctl-test/app:1", "{log}");
    assert!(version(&stack, "app") > index, "{log}");
}

/// A folder stack whose files do not change is not reconciled again until the resync: the
/// watcher's own reads of the files must not count as changes. (`next_check` is set to
/// now + resync at the end of every reconcile, so it stands still while nothing runs.)
#[test]
fn a_folder_stack_whose_files_do_not_change_is_left_alone() {
    let stack = Stack::new("wsquiet");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("app.yml"),
        app_stack("stackctl-test/app:1", 1),
    )
    .unwrap();
    let revision = folder_revision(dir.path(), &stack);
    let mut body = folder_config(dir.path(), "60s", &stack);
    // Plan mode: nothing is written, so no drift events from our own writes either.
    body.push_str("    mode: plan\n");
    let watcher = Watcher::start(&body, "");
    let status = watcher.wait_until("the folder stack is planned", DEPLOYED, |s| {
        let entry = of(s, &stack);
        entry["last_result"]["result"] == "planned"
            && entry["desired_revision"] == revision.as_str()
            && entry["state"] == "idle"
    });
    let next_check = of(&status, &stack)["next_check"].clone();
    assert!(next_check.is_string(), "{status:#}");
    std::thread::sleep(Duration::from_secs(4));
    let status = watcher.status().unwrap();
    let log = watcher.log();
    assert_eq!(
        of(&status, &stack)["next_check"],
        next_check,
        "the stack was reconciled again with nothing changed (the watcher's own reads of \
         app.yml trigger it?)\n{:#}\n{log}",
        of(&status, &stack)
    );
    assert_eq!(status["engine_calls"]["writes"], 0, "{log}");
}
