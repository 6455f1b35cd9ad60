//! A Unix-socket proxy in front of the real daemon that breaks one chosen call: the nth request
//! matching a method and path pattern is answered with an error status or garbage, delayed, or
//! held until the test releases it; every other request goes to `/var/run/docker.sock`
//! untouched. Point stackctl at it with `DOCKER_HOST` ([`FaultProxy::host`]).
//!
//! Each client connection carries one request: the proxy forwards it with `Connection: close`,
//! so the daemon closes after its answer and the client opens a new connection for the next.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

const DAEMON: &str = "/var/run/docker.sock";

/// What the chosen call gets instead of the daemon's answer.
#[derive(Clone, Debug)]
pub(crate) enum Fault {
    /// This HTTP status with a daemon-style JSON error body; the daemon never sees the request.
    Status(u16),
    /// `200 OK` with a body that is not JSON; the daemon never sees the request.
    Garbage,
    /// Forwarded after this long.
    Delay(Duration),
    /// Forwarded once the test calls [`FaultProxy::release`].
    Hold,
}

/// Which call to break: `method`, a `path` pattern (`*` matches any run of characters; matched
/// against the path and query without the `/v1.xx` prefix) and which occurrence (1-based;
/// `None`: every one).
#[derive(Clone, Debug)]
pub(crate) struct Rule {
    pub(crate) method: &'static str,
    pub(crate) path: String,
    pub(crate) nth: Option<usize>,
    pub(crate) fault: Fault,
}

impl Rule {
    pub(crate) fn new(method: &'static str, path: &str, nth: usize, fault: Fault) -> Self {
        Self {
            method,
            path: path.to_owned(),
            nth: Some(nth),
            fault,
        }
    }

    pub(crate) fn every(method: &'static str, path: &str, fault: Fault) -> Self {
        Self {
            method,
            path: path.to_owned(),
            nth: None,
            fault,
        }
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        method == self.method && glob(&self.path, path)
    }
}

/// What the proxy saw: every request (`METHOD path`), how many matched the rule, how many are
/// held now.
#[derive(Default)]
struct Seen {
    requests: Vec<String>,
    matched: usize,
    held: usize,
    released: bool,
}

struct Shared {
    rule: Rule,
    seen: Mutex<Seen>,
    changed: Condvar,
    release: tokio::sync::watch::Sender<bool>,
}

impl Shared {
    /// A failed assertion while waiting leaves the lock poisoned; the counts stay usable (and
    /// the proxy's drop must not panic).
    fn seen(&self) -> MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update<T>(&self, change: impl FnOnce(&mut Seen) -> T) -> T {
        let mut seen = self.seen();
        let out = change(&mut seen);
        self.changed.notify_all();
        out
    }
}

pub(crate) struct FaultProxy {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FaultProxy {
    pub(crate) fn start(rule: Rule) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("docker.sock");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("proxy runtime");
        let (release, _) = tokio::sync::watch::channel(false);
        let shared = Arc::new(Shared {
            rule,
            seen: Mutex::default(),
            changed: Condvar::new(),
            release,
        });
        let listener = {
            let _entered = runtime.enter();
            UnixListener::bind(&socket).expect("proxy socket")
        };
        let accepting = Arc::clone(&shared);
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(client, Arc::clone(&accepting)));
            }
        });
        Self {
            _dir: dir,
            socket,
            shared,
            runtime: Some(runtime),
        }
    }

    /// The `DOCKER_HOST` value that reaches the daemon through this proxy.
    pub(crate) fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// Let held requests (and those still to come) through.
    pub(crate) fn release(&self) {
        self.shared.update(|seen| seen.released = true);
        self.shared.release.send_replace(true);
    }

    /// Wait until `count` requests are held, failing the test after `within`.
    pub(crate) fn wait_held(&self, count: usize, within: Duration) {
        self.wait_until(within, &format!("{count} held request(s)"), |seen| {
            seen.held >= count
        });
    }

    /// Wait until `count` requests matched `method` and the pattern `path`.
    pub(crate) fn wait_requests(&self, method: &str, path: &str, count: usize, within: Duration) {
        let what = format!("{count} request(s) {method} {path}");
        self.wait_until(within, &what, |seen| {
            let matching = seen.requests.iter().filter(|r| {
                r.split_once(' ')
                    .is_some_and(|(m, p)| m == method && glob(path, p))
            });
            matching.count() >= count
        });
    }

    /// Every request seen so far, as `METHOD path`.
    pub(crate) fn requests(&self) -> Vec<String> {
        self.shared.seen().requests.clone()
    }

    fn wait_until(&self, within: Duration, what: &str, done: impl Fn(&Seen) -> bool) {
        let deadline = Instant::now() + within;
        let mut seen = self.shared.seen();
        while !done(&seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "the proxy did not see {what} within {within:?}; it saw:\n{}",
                seen.requests.join("\n")
            );
            seen = self
                .shared
                .changed
                .wait_timeout(seen, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.release();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// One request head: method, target, and the head's bytes with `Connection: close`.
struct Head {
    method: String,
    path: String,
    content_length: usize,
    bytes: Vec<u8>,
}

async fn serve(mut client: UnixStream, shared: Arc<Shared>) {
    let Some((head, body_start)) = read_head(&mut client).await else {
        return;
    };
    let n = shared.update(|seen| {
        seen.requests.push(format!("{} {}", head.method, head.path));
        if shared.rule.matches(&head.method, &head.path) {
            seen.matched += 1;
            Some(seen.matched)
        } else {
            None
        }
    });
    let hit = n.is_some_and(|n| shared.rule.nth.is_none_or(|nth| nth == n));
    let fault = hit.then(|| shared.rule.fault.clone());
    match fault {
        Some(Fault::Status(status)) => {
            let body = format!(
                "{{\"message\":\"injected fault: {} {} refused with {status}\"}}",
                head.method, head.path
            );
            answer(&mut client, &head, body_start, status, &body).await;
        }
        Some(Fault::Garbage) => {
            answer(&mut client, &head, body_start, 200, "<html>garbage{").await;
        }
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            forward(client, head, body_start).await;
        }
        Some(Fault::Hold) => {
            let mut release = shared.release.subscribe();
            shared.update(|seen| seen.held += 1);
            let _ = release.wait_for(|released| *released).await;
            shared.update(|seen| seen.held -= 1);
            forward(client, head, body_start).await;
        }
        None => forward(client, head, body_start).await,
    }
}

/// Read up to the end of the head; returns it and the body bytes read with it.
async fn read_head(client: &mut UnixStream) -> Option<(Head, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let read = client.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let text = String::from_utf8_lossy(&buffer[..end]).into_owned();
    let mut lines = text.split("\r\n");
    let mut request = lines.next()?.split(' ');
    let (method, target) = (request.next()?.to_owned(), request.next()?.to_owned());
    let mut bytes = format!("{method} {target} HTTP/1.1\r\n");
    let mut content_length = 0;
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        if name.eq_ignore_ascii_case("connection") {
            continue;
        }
        if name.eq_ignore_ascii_case("content-length") {
            content_length = value.trim().parse().unwrap_or(0);
        }
        bytes.push_str(line);
        bytes.push_str("\r\n");
    }
    bytes.push_str("Connection: close\r\n\r\n");
    let head = Head {
        method,
        path: unversioned(&target).to_owned(),
        content_length,
        bytes: bytes.into_bytes(),
    };
    Some((head, buffer[end..].to_vec()))
}

/// `/v1.41/services/create` -> `/services/create`.
fn unversioned(target: &str) -> &str {
    target
        .strip_prefix("/v1.")
        .and_then(|rest| rest.find('/').map(|at| &rest[at..]))
        .unwrap_or(target)
}

/// Read the rest of the request body (the answer is ours, not the daemon's), then answer.
async fn answer(client: &mut UnixStream, head: &Head, mut body: Vec<u8>, status: u16, text: &str) {
    let mut chunk = [0u8; 8192];
    while body.len() < head.content_length {
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(read) => body.extend_from_slice(&chunk[..read]),
        }
    }
    let reason = if status == 200 {
        "OK"
    } else {
        "Injected Fault"
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = client.write_all(response.as_bytes()).await;
    let _ = client.shutdown().await;
}

async fn forward(mut client: UnixStream, head: Head, body_start: Vec<u8>) {
    let Ok(mut daemon) = UnixStream::connect(DAEMON).await else {
        return;
    };
    if daemon.write_all(&head.bytes).await.is_err() || daemon.write_all(&body_start).await.is_err()
    {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut daemon).await;
}

/// `*` matches any run of characters (slashes included); everything else literally.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(tail) = text.strip_prefix(head) else {
                return false;
            };
            (0..=tail.len())
                .filter(|at| tail.is_char_boundary(*at))
                .any(|at| glob(rest, &tail[at..]))
        }
    }
}

#[test]
fn glob_matches_paths_with_stars() {
    assert!(glob(
        "/services/*/update*",
        "/services/abc/update?version=3"
    ));
    assert!(!glob(
        "/services/*/update",
        "/services/abc/update?version=3"
    ));
    assert!(glob("/tasks*", "/tasks?filters=x"));
    assert!(!glob("/tasks", "/tasks?filters=x"));
    assert!(!glob("/configs/create", "/configs/abc/update"));
    assert_eq!(unversioned("/v1.41/configs/create"), "/configs/create");
    assert_eq!(unversioned("/_ping"), "/_ping");
}

/// The proxy itself: a delayed call still reaches the daemon and answers, after the delay;
/// every other call passes untouched; the proxy lists what it saw.
#[tokio::test]
async fn the_proxy_delays_the_chosen_call_and_forwards_the_rest() {
    use stackctl::engine::{ConnectOptions, Engine, connect};
    let delay = Duration::from_millis(1500);
    let proxy = FaultProxy::start(Rule::new("GET", "/info", 1, Fault::Delay(delay)));
    let engine = connect(&ConnectOptions {
        host: Some(proxy.host()),
    })
    .await
    .expect("the daemon answers through the proxy");
    let started = Instant::now();
    let probe = engine.probe().await.expect("the delayed call is answered");
    assert!(started.elapsed() >= delay, "{:?}", started.elapsed());
    assert!(probe.is_manager());
    let started = Instant::now();
    engine
        .probe()
        .await
        .expect("the second call is not delayed");
    assert!(started.elapsed() < delay, "{:?}", started.elapsed());
    let requests = proxy.requests();
    assert_eq!(
        requests.iter().filter(|r| *r == "GET /info").count(),
        2,
        "{requests:?}"
    );
}
