//! stackctl's own git transports for `http(s)://` (hyper over rustls) and ssh (russh), registered
//! with libgit2 in place of its OpenSSL and libssh2 ones.
//!
//! Why: the OpenSSL that libgit2's transports need was initialised at libgit2's start even for
//! `file://` and folder sources, and stayed resident for the watcher's whole life (about 4 MB of
//! its ~16 MB). rustls is the TLS stack the Docker client already uses; one is enough.
//!
//! libgit2 drives the git protocol and calls these transports for bytes. A transport is global
//! to the process, but credentials belong to one source: the operation in progress on this
//! thread ([`Scope`]) says which.

mod http;
mod ssh;

use std::cell::RefCell;
use std::future::Future;
use std::sync::{Arc, Once};
use std::time::Duration;

use git2::Remote;
use git2::transport::Transport as GitTransport;

use super::auth::Auth;

/// How long connecting (TCP, TLS or ssh handshake and authentication) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the remote may stay silent in the middle of a request.
const READ_TIMEOUT: Duration = Duration::from_secs(300);

thread_local! {
    static CURRENT: RefCell<Option<Arc<Auth>>> = const { RefCell::new(None) };
}

/// While alive, libgit2 operations on this thread connect with `auth`'s credentials.
pub(crate) struct Scope {
    previous: Option<Arc<Auth>>,
}

impl Scope {
    pub(crate) fn enter(auth: Arc<Auth>) -> Self {
        register();
        let previous = CURRENT.with(|c| c.borrow_mut().replace(auth));
        Self { previous }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        CURRENT.with(|c| *c.borrow_mut() = self.previous.take());
    }
}

fn current() -> Result<Arc<Auth>, git2::Error> {
    CURRENT
        .with(|c| c.borrow().clone())
        .ok_or_else(|| git2::Error::from_str("a git remote was reached outside a stackctl source"))
}

fn register() {
    static REGISTERED: Once = Once::new();
    REGISTERED.call_once(|| {
        for scheme in ["http", "https"] {
            // SAFETY: registration must not race another libgit2 operation; it runs once,
            // before the first operation that could use a transport (Scope::enter precedes it).
            let registered = unsafe { git2::transport::register(scheme, http_transport) };
            registered.expect("registering a transport libgit2 has no custom one for");
        }
        for scheme in ["ssh", "ssh+git", "git+ssh"] {
            // SAFETY: as above.
            let registered = unsafe { git2::transport::register(scheme, ssh_transport) };
            registered.expect("registering a transport libgit2 has no custom one for");
        }
    });
}

fn http_transport(remote: &Remote<'_>) -> Result<GitTransport, git2::Error> {
    // Stateless: every request of the exchange is a new HTTP request (rpc).
    GitTransport::smart(remote, true, http::Http::new(current()?, runtime()?))
}

fn ssh_transport(remote: &Remote<'_>) -> Result<GitTransport, git2::Error> {
    // One channel carries the whole exchange.
    GitTransport::smart(remote, false, ssh::Ssh::new(current()?, runtime()?))
}

/// The transports are async (hyper, russh) but libgit2 calls them from a blocking thread: each
/// connection gets a small runtime of its own, driven while libgit2 waits for bytes.
fn runtime() -> Result<Arc<tokio::runtime::Runtime>, git2::Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map(Arc::new)
        .map_err(|e| git2::Error::from_str(&format!("cannot start an I/O runtime: {e}")))
}

/// Run `work` on `runtime`; `timed_out` is the error when it takes longer than `limit`.
fn block_on<T, E>(
    runtime: &tokio::runtime::Runtime,
    limit: Duration,
    work: impl Future<Output = Result<T, E>>,
    timed_out: impl FnOnce(String) -> E,
) -> Result<T, E> {
    runtime.block_on(async {
        match tokio::time::timeout(limit, work).await {
            Ok(done) => done,
            Err(_) => Err(timed_out(format!("no answer within {}s", limit.as_secs()))),
        }
    })
}
