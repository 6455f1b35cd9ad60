//! A request to stop an apply early (Ctrl-C, SIGTERM): no new write starts, waiting for rollouts
//! ends, and the write under way finishes, so no object is ever half-written.

use tokio::sync::watch;

/// Why a service was not started after a stop.
pub const STOPPED: &str = "stopping was asked for";

/// The side that asks to stop.
#[derive(Debug)]
pub struct StopHandle(watch::Sender<bool>);

impl StopHandle {
    pub fn stop(&self) {
        self.0.send_replace(true);
    }
}

/// The side that checks; cheap to clone. [`Stop::default`] never stops.
#[derive(Clone, Debug, Default)]
pub struct Stop(Option<watch::Receiver<bool>>);

impl Stop {
    #[must_use]
    pub fn new() -> (StopHandle, Self) {
        let (sender, receiver) = watch::channel(false);
        (StopHandle(sender), Self(Some(receiver)))
    }

    #[must_use]
    pub fn is_set(&self) -> bool {
        self.0.as_ref().is_some_and(|r| *r.borrow())
    }

    /// Resolves once stopping was asked for; never, for [`Stop::default`].
    pub async fn wait(&self) {
        match &self.0 {
            Some(receiver) => {
                let mut receiver = receiver.clone();
                // An error means the handle is gone: nobody can ask any more, so wait forever.
                if receiver.wait_for(|stop| *stop).await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending().await,
        }
    }
}
