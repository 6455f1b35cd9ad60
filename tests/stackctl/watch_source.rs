//! The git source (library) against real remotes: file://, smart HTTP with a token behind
//! lighttpd, and OpenSSH's sshd with deploy keys and host key checks.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stackctl::watch::source::git::{GitError, GitSource, Polled};
use stackctl::watch::source::{GitRef, GitRemote};

use crate::git_server::{HttpServer, RedirectServer, Repo, SshAgent, SshServer};

fn remote(url: String) -> GitRemote {
    GitRemote {
        url,
        ..GitRemote::default()
    }
}

fn open(remote: GitRemote, cache: &Path) -> GitSource {
    GitSource::open(remote, cache).expect("the source opens")
}

/// Every path under `dir` with what a write would change: size, mtime, inode.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, i64, i64, u64)> {
    let mut all = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                todo.push(path.clone());
            }
            all.insert(
                path,
                (meta.len(), meta.mtime(), meta.mtime_nsec(), meta.ino()),
            );
        }
    }
    all
}

/// Files under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let snapshot = snapshot(dir);
    let files = snapshot.keys().filter(|p| p.is_file());
    let holds = |p: &&PathBuf| {
        fs::read(p)
            .unwrap()
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    };
    files.filter(holds).cloned().collect()
}

/// Run the `#[ignore]`d test `name` of this binary in a child process with `vars` set, and
/// require it to pass within a minute (a hang is killed and fails the test).
///
/// For what a test must read from the environment: setting a variable in this multi-threaded
/// process is unsound (Rust 2024 makes `set_var` unsafe).
fn run_child_test(name: &str, vars: &[(&str, &OsStr)]) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("output");
    let out = fs::File::create(&log).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", &format!("watch_source::{name}"), "--ignored"])
        .envs(vars.iter().copied())
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = fs::read_to_string(&log).unwrap();
    let status = status.unwrap_or_else(|| panic!("{name} hung, killed after 60 s: {text}"));
    assert!(status.success() && text.contains("1 passed"), "{text}");
}

/// Poll twice, push, force-push back: the behaviour every transport must show.
fn follows_pushes(repo: &Repo, source: &mut GitSource, cache: &Path) {
    let first = repo.commit(&[("stack.yml", "services: {}\n")], "first");
    repo.push();
    assert_eq!(source.poll().unwrap(), Polled::Changed(first.clone()));
    let before = snapshot(cache);
    assert_eq!(source.poll().unwrap(), Polled::Unchanged(first.clone()));
    assert_eq!(
        snapshot(cache),
        before,
        "a poll of an unchanged remote writes nothing"
    );
    let second = repo.commit(&[("stack.yml", "services: {web: {image: x}}\n")], "second");
    repo.push();
    assert_eq!(source.poll().unwrap(), Polled::Changed(second.clone()));
    repo.force_push_to(&first);
    assert_eq!(source.poll().unwrap(), Polled::Changed(first.clone()));
    assert_eq!(source.tip(), Some(first));
}

#[test]
fn git_file_remote_follows_pushes_and_force_pushes() {
    let (repo, cache) = (Repo::new(), tempfile::tempdir().unwrap());
    let cache = cache.path().join("repo.git");
    let mut source = open(remote(repo.file_url()), &cache);
    follows_pushes(&repo, &mut source, &cache);
}

#[test]
fn git_http_with_the_right_token_follows_pushes_and_stores_no_token() {
    let repo = Repo::new();
    let http = HttpServer::start(&repo.root());
    let cache = tempfile::tempdir().unwrap();
    let with_file = GitRemote {
        username: Some(http.user.clone()),
        token_file: Some(http.token_file()),
        ..remote(http.url(&repo))
    };
    let mut source = open(with_file, cache.path());
    follows_pushes(&repo, &mut source, cache.path());
    assert_eq!(
        files_containing(cache.path(), &http.token),
        Vec::<PathBuf>::new()
    );
}

/// The token from an environment variable, read in a child run of this test binary.
#[test]
fn git_http_token_from_an_environment_variable() {
    let repo = Repo::new();
    let first = repo.commit(&[("a", "1")], "first");
    repo.push();
    let http = HttpServer::start(&repo.root());
    let url = http.url(&repo);
    let vars = [
        ("STACKCTL_TEST_GIT_TOKEN", OsStr::new(&http.token)),
        ("STACKCTL_TEST_GIT_URL", OsStr::new(&url)),
        ("STACKCTL_TEST_GIT_COMMIT", OsStr::new(&first)),
    ];
    run_child_test("git_http_token_from_env_child", &vars);
}

#[test]
#[ignore = "run by git_http_token_from_an_environment_variable with the variables it needs"]
fn git_http_token_from_env_child() {
    let var = |name: &str| std::env::var(name).expect("run by its parent test");
    let with_env = GitRemote {
        token_env: Some("STACKCTL_TEST_GIT_TOKEN".into()),
        ..remote(var("STACKCTL_TEST_GIT_URL"))
    };
    let cache = tempfile::tempdir().unwrap();
    let polled = open(with_env, cache.path()).poll().unwrap();
    assert_eq!(polled, Polled::Changed(var("STACKCTL_TEST_GIT_COMMIT")));
}

#[test]
fn git_http_with_a_wrong_or_no_token_is_an_auth_error_that_never_shows_the_token() {
    let repo = Repo::new();
    repo.commit(&[("a", "1")], "first");
    repo.push();
    let http = HttpServer::start(&repo.root());
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong-token");
    fs::write(&wrong, "tok-wrong-secret\n").unwrap();
    let cases = [("wrong token", Some(wrong)), ("no token", None)];
    for (case, token_file) in cases {
        let remote = GitRemote {
            token_file,
            ..remote(http.url(&repo))
        };
        let cache = dir.path().join(case);
        let err = open(remote, &cache).poll().unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(matches!(err, GitError::AuthFailed { .. }), "{case}: {text}");
        assert!(!err.is_retryable(), "{case}");
        assert!(
            !text.contains("tok-wrong-secret") && !text.contains(&http.token),
            "{text}"
        );
        assert!(
            files_containing(&cache, "tok-wrong-secret").is_empty(),
            "{case}"
        );
    }
}

#[test]
fn git_http_credentials_do_not_follow_a_redirect_to_another_host() {
    let repo = Repo::new();
    repo.commit(&[("a", "1")], "first");
    repo.push();
    let http = HttpServer::start(&repo.root());
    let redirect = RedirectServer::start(&http);
    let cache = tempfile::tempdir().unwrap();
    let remote = GitRemote {
        token_file: Some(http.token_file()),
        ..remote(redirect.url(&repo))
    };
    let err = open(remote, cache.path()).poll().unwrap_err();
    assert!(matches!(err, GitError::AuthFailed { .. }), "{err:?}");
    assert!(
        err.to_string().contains("redirected to localhost:"),
        "{err}"
    );
}

#[test]
fn git_https_url_with_credentials_is_refused_without_echoing_them() {
    let cache = tempfile::tempdir().unwrap();
    let url = "https://user:hunter2@git.example.com/org/repo.git".to_string();
    let err = GitSource::open(remote(url), cache.path()).err().unwrap();
    assert!(matches!(err, GitError::CredentialsInUrl { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("hunter2"));
}

fn ssh_remote(ssh: &SshServer, repo: &Repo, key: &Path, known_hosts: &Path) -> GitRemote {
    GitRemote {
        ssh_key_file: Some(key.to_path_buf()),
        known_hosts_file: Some(known_hosts.to_path_buf()),
        ..remote(ssh.url(repo))
    }
}

#[test]
fn git_ssh_with_the_deploy_key_and_a_known_host_follows_pushes() {
    let (repo, ssh) = (Repo::new(), SshServer::start());
    let cache = tempfile::tempdir().unwrap();
    let remote = ssh_remote(&ssh, &repo, &ssh.keys.deploy_key, &ssh.keys.known_hosts);
    let mut source = open(remote, cache.path());
    follows_pushes(&repo, &mut source, cache.path());
}

#[test]
fn git_ssh_with_a_passphrase_protected_key() {
    let (repo, ssh) = (Repo::new(), SshServer::start());
    let first = repo.commit(&[("a", "1")], "first");
    repo.push();
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong-passphrase");
    fs::write(&wrong, "not it\n").unwrap();
    let with = |passphrase: &Path, name: &str| {
        let remote = GitRemote {
            ssh_key_passphrase_file: Some(passphrase.to_path_buf()),
            ..ssh_remote(&ssh, &repo, &ssh.keys.passphrase_key, &ssh.keys.known_hosts)
        };
        open(remote, &dir.path().join(name)).poll()
    };
    assert_eq!(
        with(&ssh.keys.passphrase_file, "right").unwrap(),
        Polled::Changed(first)
    );
    let err = with(&wrong, "wrong").unwrap_err();
    assert!(matches!(err, GitError::AuthFailed { .. }), "{err:?}");
}

#[test]
fn git_ssh_refuses_a_wrong_key_an_unknown_host_and_a_changed_host_key() {
    let (repo, ssh) = (Repo::new(), SshServer::start());
    repo.commit(&[("a", "1")], "first");
    repo.push();
    let dir = tempfile::tempdir().unwrap();
    let poll = |key: &Path, known_hosts: &Path, name: &str| {
        let remote = ssh_remote(&ssh, &repo, key, known_hosts);
        open(remote, &dir.path().join(name)).poll().unwrap_err()
    };

    let err = poll(&ssh.keys.wrong_key, &ssh.keys.known_hosts, "wrong-key");
    assert!(matches!(err, GitError::AuthFailed { .. }), "{err:?}");
    assert!(err.to_string().contains("refused the ssh key"), "{err}");

    let err = poll(&ssh.keys.deploy_key, &ssh.keys.empty_known_hosts, "unknown");
    let GitError::HostKeyUnknown {
        host,
        key_type,
        fingerprint,
        advice,
        ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(host, &format!("[127.0.0.1]:{}", ssh.port()));
    assert_eq!(
        (key_type.as_str(), fingerprint),
        ("ssh-ed25519", &ssh.keys.host_fingerprint)
    );
    assert!(
        err.to_string().contains(&ssh.keys.host_fingerprint),
        "{err}"
    );
    let scan = format!(
        "ssh-keyscan -p {} 127.0.0.1 >> {}",
        ssh.port(),
        ssh.keys.empty_known_hosts.display()
    );
    assert!(advice.contains(&scan), "{advice}");

    let err = poll(
        &ssh.keys.deploy_key,
        &ssh.keys.changed_known_hosts,
        "changed",
    );
    assert!(
        matches!(err, GitError::HostKeyChanged { line: 1, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("host key CHANGED") && text.contains("man-in-the-middle"),
        "{text}"
    );
    assert!(
        text.contains(&format!("{}:1", ssh.keys.changed_known_hosts.display())),
        "{text}"
    );
}

/// `ssh-keygen -H -f`: a copy of `known_hosts` with its host names hashed, as OpenSSH writes
/// them by default on Debian (`HashKnownHosts yes`).
fn hashed_copy(known_hosts: &Path, to: &Path) -> PathBuf {
    fs::copy(known_hosts, to).unwrap();
    let out = Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(to)
        .output()
        .expect("ssh-keygen runs");
    assert!(
        out.status.success(),
        "ssh-keygen -H failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = fs::read_to_string(to).unwrap();
    assert!(
        text.starts_with("|1|") && !text.contains("127.0.0.1"),
        "{text}"
    );
    to.to_path_buf()
}

#[test]
fn git_ssh_with_a_hashed_known_hosts_file() {
    let (repo, ssh) = (Repo::new(), SshServer::start());
    let first = repo.commit(&[("a", "1")], "first");
    repo.push();
    let dir = tempfile::tempdir().unwrap();
    let poll = |known_hosts: &Path, name: &str| {
        let remote = ssh_remote(&ssh, &repo, &ssh.keys.deploy_key, known_hosts);
        open(remote, &dir.path().join(name)).poll()
    };

    let known_hosts = hashed_copy(
        &ssh.keys.known_hosts,
        &dir.path().join("known_hosts.hashed"),
    );
    assert_eq!(poll(&known_hosts, "known").unwrap(), Polled::Changed(first));

    let changed = hashed_copy(
        &ssh.keys.changed_known_hosts,
        &dir.path().join("changed.hashed"),
    );
    let err = poll(&changed, "changed").unwrap_err();
    assert!(
        matches!(err, GitError::HostKeyChanged { line: 1, .. }),
        "{err:?}"
    );
}

/// No key file: the key is in a real ssh-agent, found through `SSH_AUTH_SOCK` (so each case
/// runs in a child, see [`run_child_test`]). An agent without the deploy key is an auth error.
#[test]
fn git_ssh_through_an_agent_with_or_without_the_deploy_key() {
    let (repo, ssh) = (Repo::new(), SshServer::start());
    let first = repo.commit(&[("a", "1")], "first");
    repo.push();
    let with_key = SshAgent::start();
    with_key.add(&ssh.keys.deploy_key);
    let other_key = SshAgent::start();
    other_key.add(&ssh.keys.wrong_key);
    let empty = SshAgent::start();
    let url = ssh.url(&repo);
    let cases = [
        (&with_key, first.as_str()),
        (&other_key, "auth failed"),
        (&empty, "auth failed"),
    ];
    for (agent, expect) in cases {
        let socket = agent.socket();
        let vars = [
            ("SSH_AUTH_SOCK", socket.as_os_str()),
            ("STACKCTL_TEST_GIT_URL", OsStr::new(&url)),
            (
                "STACKCTL_TEST_KNOWN_HOSTS",
                ssh.keys.known_hosts.as_os_str(),
            ),
            ("STACKCTL_TEST_EXPECT", OsStr::new(expect)),
        ];
        run_child_test("git_ssh_agent_child", &vars);
    }
}

#[test]
#[ignore = "run by git_ssh_through_an_agent_with_or_without_the_deploy_key with its agent"]
fn git_ssh_agent_child() {
    let var = |name: &str| std::env::var(name).expect("run by its parent test");
    let through_agent = GitRemote {
        known_hosts_file: Some(var("STACKCTL_TEST_KNOWN_HOSTS").into()),
        ..remote(var("STACKCTL_TEST_GIT_URL"))
    };
    let cache = tempfile::tempdir().unwrap();
    let polled = open(through_agent, cache.path()).poll();
    match var("STACKCTL_TEST_EXPECT").as_str() {
        "auth failed" => {
            let err = polled.unwrap_err();
            assert!(matches!(err, GitError::AuthFailed { .. }), "{err:?}");
            assert!(
                err.to_string()
                    .contains("refused the keys of the ssh agent"),
                "{err}"
            );
        }
        commit => assert_eq!(polled.unwrap(), Polled::Changed(commit.to_string())),
    }
}

#[test]
fn git_checkout_writes_exactly_the_tree() {
    let repo = Repo::new();
    let script = repo.work().join("bin/deploy.sh");
    repo.commit(
        &[
            ("bin/deploy.sh", "#!/bin/sh\n"),
            ("stack.yml", "services: {}\n"),
        ],
        "files",
    );
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("stack.yml", repo.work().join("compose.yml")).unwrap();
    let commit = repo.commit(&[("docs/README", "hi\n")], "modes");
    repo.push();
    let cache = tempfile::tempdir().unwrap();
    let mut source = open(remote(repo.file_url()), &cache.path().join("repo.git"));
    source.poll().unwrap();
    let out = cache.path().join("tree");
    source.checkout(&commit, &out).unwrap();

    let files: Vec<_> = snapshot(&out)
        .into_keys()
        .map(|p| p.strip_prefix(&out).unwrap().to_path_buf())
        .collect();
    let want = [
        "bin",
        "bin/deploy.sh",
        "compose.yml",
        "docs",
        "docs/README",
        "stack.yml",
    ];
    assert_eq!(files, want.map(PathBuf::from));
    let mode = fs::metadata(out.join("bin/deploy.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    assert_eq!(
        fs::read_link(out.join("compose.yml")).unwrap(),
        Path::new("stack.yml")
    );
    assert_eq!(fs::read_to_string(out.join("docs/README")).unwrap(), "hi\n");
}

#[test]
fn git_tags_and_fixed_commits() {
    let repo = Repo::new();
    let first = repo.commit(&[("a", "1")], "first");
    repo.tag("v1");
    let second = repo.commit(&[("a", "2"), ("b", "new")], "second");
    repo.push();
    let cache = tempfile::tempdir().unwrap();
    let with = |reference| GitRemote {
        reference,
        ..remote(repo.file_url())
    };

    let mut tag = open(with(GitRef::Tag("v1".into())), &cache.path().join("tag"));
    assert_eq!(tag.poll().unwrap(), Polled::Changed(first.clone()));
    let changed = tag.changed_paths(&first, &first).unwrap();
    assert!(changed.is_empty(), "{changed:?}");

    let mut fixed = open(
        with(GitRef::Commit(second[..12].into())),
        &cache.path().join("c"),
    );
    assert_eq!(fixed.poll().unwrap(), Polled::Changed(second.clone()));
    assert_eq!(
        fixed.changed_paths(&first, &second).unwrap(),
        [Path::new("a"), Path::new("b")]
    );
    repo.remove();
    assert_eq!(
        fixed.poll().unwrap(),
        Polled::Unchanged(second),
        "no network for a fixed commit"
    );
}

#[test]
fn git_a_removed_remote_is_a_retryable_error_until_it_is_back() {
    let repo = Repo::new();
    let http = HttpServer::start(&repo.root());
    let first = repo.commit(&[("a", "1")], "first");
    repo.push();
    let cache = tempfile::tempdir().unwrap();
    let token = GitRemote {
        token_file: Some(http.token_file()),
        ..remote(http.url(&repo))
    };
    let mut sources = [
        open(remote(repo.file_url()), &cache.path().join("file")),
        open(token, &cache.path().join("http")),
    ];
    for source in &mut sources {
        source.poll().unwrap();
    }
    repo.remove();
    for source in &mut sources {
        let err = source.poll().unwrap_err();
        assert!(
            matches!(err, GitError::Unreachable { .. }) && err.is_retryable(),
            "{err:?}"
        );
    }
    repo.restore();
    for source in &mut sources {
        assert_eq!(source.poll().unwrap(), Polled::Unchanged(first.clone()));
    }
}

#[test]
fn git_a_reopened_cache_knows_its_tip() {
    let repo = Repo::new();
    let first = repo.commit(&[("a", "1")], "first");
    repo.push();
    let cache = tempfile::tempdir().unwrap();
    open(remote(repo.file_url()), cache.path()).poll().unwrap();
    let mut again = open(remote(repo.file_url()), cache.path());
    assert_eq!(again.tip(), Some(first.clone()));
    assert_eq!(again.poll().unwrap(), Polled::Unchanged(first));
}
