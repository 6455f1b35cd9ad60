//! `stackctl watch` following real git remotes (file://, smart HTTP with a token, SSH with a
//! deploy key): a pushed commit is deployed within a poll interval; bad credentials or an
//! unknown host key leave the cluster untouched and say why.

use std::path::Path;
use std::time::{Duration, Instant};

use super::apply::Stack;
use super::git_server::{ConnectProxy, HttpServer, Repo, SshServer};
use super::watcher::{DEPLOYED, Watcher, app_stack, push_stack, short, watch_config};

/// The source keys of an ssh remote: the private key and the `known_hosts` file.
fn ssh_auth(key: &Path, known_hosts: &Path) -> String {
    format!(
        "ssh_key_file: {}\nknown_hosts_file: {}",
        key.display(),
        known_hosts.display()
    )
}

/// A new repo with app:1 pushed.
fn pushed_repo() -> Repo {
    let repo = Repo::new();
    push_stack(&repo, &app_stack("stackctl-test/app:1", 1), "one");
    repo
}

/// Push app:1, watch, see it deployed; push app:2 and see the apply start within the poll
/// interval (plus slack for a loaded machine) and converge.
fn follows_pushes(repo: &Repo, url: &str, auth: &str) {
    follows_pushes_with(repo, url, auth, &[]);
}

fn follows_pushes_with(repo: &Repo, url: &str, auth: &str, env: &[(&str, &str)]) {
    let stack = Stack::new("wgit");
    let first = push_stack(repo, &app_stack("stackctl-test/app:1", 1), "one");
    let watcher = Watcher::start_env(&watch_config(url, auth, &stack, &[]), "", env);
    watcher.wait_deployed(&stack.name, &first, DEPLOYED);
    assert_eq!(stack.image("app"), "stackctl-test/app:1");
    let second = repo.commit(
        &[("stacks/app.yml", &app_stack("stackctl-test/app:2", 1))],
        "two",
    );
    let pushed = Instant::now();
    repo.push();
    let applying = format!("applying revision {}", short(&second));
    watcher.wait_until("the new revision is being applied", DEPLOYED, |_| {
        watcher.log().contains(&applying)
    });
    let reaction = pushed.elapsed();
    assert!(
        reaction < Duration::from_millis(3500),
        "the apply started {reaction:?} after the push (interval 1s)\n{}",
        watcher.log()
    );
    let status = watcher.wait_deployed(&stack.name, &second, DEPLOYED);
    assert_eq!(stack.image("app"), "stackctl-test/app:2");
    assert_eq!(
        status["stacks"][&stack.name]["last_result"]["result"],
        "in sync"
    );
    assert_eq!(status["sources"]["repo"]["revision"], second.as_str());
}

#[test]
fn watch_follows_a_file_remote() {
    let repo = Repo::new();
    follows_pushes(&repo, &repo.file_url(), "");
}

#[test]
fn watch_follows_an_http_remote_with_a_token() {
    let repo = Repo::new();
    let server = HttpServer::start(&repo.root());
    let auth = format!("token_file: {}", server.token_file().display());
    follows_pushes(&repo, &server.url(&repo), &auth);
}

/// https with a private CA: trusted through `SSL_CERT_FILE` (the variable OpenSSL-based tools
/// read too), refused as a TLS error without it.
#[test]
fn watch_follows_an_https_remote_whose_ca_is_trusted_and_refuses_it_otherwise() {
    let repo = Repo::new();
    let server = HttpServer::start_tls(&repo.root());
    let auth = format!("token_file: {}", server.token_file().display());
    let ca = server.ca_file().display().to_string();
    follows_pushes_with(&repo, &server.url(&repo), &auth, &[("SSL_CERT_FILE", &ca)]);
    let (error, _) = refused(
        &server.url(&repo),
        &auth,
        "TLS certificate",
        Some(&server.token),
    );
    assert!(error.contains("UnknownIssuer"), "{error}");
}

/// Behind a proxy that only tunnels: every request goes through it (`https_proxy`).
#[test]
fn watch_follows_an_https_remote_through_the_proxy_https_proxy_names() {
    let repo = Repo::new();
    let server = HttpServer::start_tls(&repo.root());
    let proxy = ConnectProxy::start();
    let auth = format!("token_file: {}", server.token_file().display());
    let ca = server.ca_file().display().to_string();
    let env = [
        ("SSL_CERT_FILE", ca.as_str()),
        ("https_proxy", &proxy.url()),
        ("no_proxy", ""),
    ];
    follows_pushes_with(&repo, &server.url(&repo), &auth, &env);
    let host = server.url(&repo).split('/').nth(2).unwrap().to_owned();
    let targets = proxy.targets();
    assert!(targets.len() >= 2, "{targets:?}");
    assert!(
        targets.iter().all(|t| *t == host),
        "{targets:?} (server {host})"
    );
}

#[test]
fn watch_follows_an_ssh_remote_with_a_deploy_key() {
    let repo = Repo::new();
    let server = SshServer::start();
    let auth = ssh_auth(&server.keys.deploy_key, &server.keys.known_hosts);
    follows_pushes(&repo, &server.url(&repo), &auth);
}

/// A source that cannot be fetched: nothing of the stack appears in the cluster, `/status` and
/// the log say why (and never show the token). Returns the source's error in `/status` and the
/// log.
fn refused(url: &str, auth: &str, expected: &str, secret: Option<&str>) -> (String, String) {
    let stack = Stack::new("wgitno");
    let watcher = Watcher::start(&watch_config(url, auth, &stack, &[]), "");
    let status = watcher.wait_until(
        "the fetch error is reported",
        Duration::from_secs(30),
        |s| s["sources"]["repo"]["failures"].as_u64() >= Some(2),
    );
    let error = status["sources"]["repo"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(error.contains(expected), "{error}\n{}", watcher.log());
    assert!(watcher.log().contains(expected), "{}", watcher.log());
    assert_eq!(
        status["stacks"][&stack.name]["deployed_revision"],
        serde_json::Value::Null
    );
    assert_eq!(status["engine_calls"]["writes"], 0, "{status}");
    assert!(stack.leftovers().is_empty(), "{:?}", stack.leftovers());
    if let Some(secret) = secret {
        assert!(!watcher.log().contains(secret));
        assert!(!status.to_string().contains(secret));
    }
    let (code, body) = watcher.get("/healthz").unwrap();
    assert_eq!(code, 200, "{body}");
    (error, watcher.log())
}

#[test]
fn a_wrong_token_leaves_the_cluster_untouched_and_is_reported() {
    let repo = pushed_repo();
    let server = HttpServer::start(&repo.root());
    let wrong = repo.work().join("../wrong-token");
    std::fs::write(&wrong, "tok-not-the-right-one\n").unwrap();
    let auth = format!("token_file: {}", wrong.display());
    let _ = refused(
        &server.url(&repo),
        &auth,
        "authentication",
        Some("tok-not-the-right-one"),
    );
}

#[test]
fn a_wrong_key_leaves_the_cluster_untouched_and_is_reported() {
    let repo = pushed_repo();
    let server = SshServer::start();
    let auth = ssh_auth(&server.keys.wrong_key, &server.keys.known_hosts);
    let _ = refused(&server.url(&repo), &auth, "authentication", None);
}

#[test]
fn an_unknown_host_key_leaves_the_cluster_untouched_and_says_how_to_add_it() {
    let repo = pushed_repo();
    let server = SshServer::start();
    let auth = ssh_auth(&server.keys.deploy_key, &server.keys.empty_known_hosts);
    let (error, log) = refused(&server.url(&repo), &auth, "is unknown", None);
    // How to add it: the file it is missing from, and the `ssh-keyscan` line that appends it.
    let file = server.keys.empty_known_hosts.display().to_string();
    assert!(
        error.contains(&format!("is not in {file}")),
        "{error}\n{log}"
    );
    let scan = format!("ssh-keyscan -p {} ", server.port());
    let add = format!(">> {file}");
    assert!(
        log.contains(&scan) && log.contains(&add),
        "no ssh-keyscan advice in the log\n{log}"
    );
}
