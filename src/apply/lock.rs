//! One apply at a time per stack: a lock held in the cluster itself, as a Swarm config whose
//! name is unique (Swarm refuses a second one atomically). Its holder renews it (a label update
//! checked against the config's version) for as long as it runs, so no rollout outlives its
//! lock; a lock past its expiry is stale and is taken over; `--force-unlock` removes one.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::models::ConfigSpec;
use serde_json::json;

use crate::engine::{Engine, EngineError};
use crate::model::StackName;

const LOCK_LABEL: &str = "com.stackctl.lock";
const EXPIRES_LABEL: &str = "com.stackctl.lock.expires";
const OWNER_LABEL: &str = "com.stackctl.lock.owner";

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LockError {
    #[error(
        "stack {stack} is being applied by {owner} (lock taken {age}s ago, expires in {left}s)"
    )]
    #[diagnostic(
        code(stackctl::apply::locked),
        help(
            "wait for that apply to finish; if it died, the lock expires by itself, or remove it with `stackctl apply --force-unlock`"
        )
    )]
    Held {
        stack: String,
        owner: String,
        age: u64,
        left: u64,
    },
    #[error("the apply lock of stack {stack} was lost: {why}")]
    #[diagnostic(
        code(stackctl::apply::lock_lost),
        help(
            "someone removed it (`--force-unlock`?) or it expired while this process could not reach the daemon; check `stackctl status` and apply again"
        )
    )]
    Lost { stack: String, why: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Engine(#[from] EngineError),
}

/// A held lock; keep it with [`StackLock::hold`], release it with [`StackLock::release`].
#[derive(Debug)]
pub struct StackLock {
    id: String,
    name: String,
    stack: String,
    ttl: Duration,
}

/// The lock's lifetime without renewal: a holder that died blocks the stack this long at most.
/// `STACKCTL_LOCK_TTL` (a duration such as `6s`) shortens it for tests of renewal and expiry.
#[must_use]
pub fn default_ttl() -> Duration {
    std::env::var("STACKCTL_LOCK_TTL")
        .ok()
        .and_then(|t| crate::model::Duration::parse(&t).ok())
        .and_then(|t| u64::try_from(t.nanos()).ok())
        .map(Duration::from_nanos)
        .filter(|t| *t >= Duration::from_secs(3))
        .unwrap_or(Duration::from_secs(120))
}

fn lock_name(stack: &StackName) -> String {
    format!("stackctl-lock_{stack}")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Who is applying: user, host and process, for the message another apply shows.
#[must_use]
pub fn owner() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| user_from_passwd());
    let host = std::fs::read_to_string("/etc/hostname")
        .map_or_else(|_| "unknown host".into(), |h| h.trim().to_owned());
    format!("{user}@{host} (pid {})", std::process::id())
}

/// The name of this process's user when the environment does not say (cron, containers).
fn user_from_passwd() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or("?")
        .to_owned();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.get(2) == Some(&uid.as_str()))
        .map_or_else(|| format!("uid {uid}"), |f| f[0].to_owned())
}

impl StackLock {
    /// Take the lock, waiting up to `wait` for another apply to finish.
    pub async fn acquire<E: Engine>(
        engine: &E,
        stack: &StackName,
        ttl: Duration,
        wait: Duration,
    ) -> Result<Self, LockError> {
        let name = lock_name(stack);
        let owner = owner();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let taken = now();
            let spec: ConfigSpec = serde_json::from_value(json!({
                "Name": name,
                "Labels": {LOCK_LABEL: stack.as_str(), EXPIRES_LABEL: (taken + ttl.as_secs()).to_string(), OWNER_LABEL: owner, "com.stackctl.lock.taken": taken.to_string()},
                "Data": base64_of(owner.as_bytes()),
            }))
            .expect("a config spec is plain data");
            match engine.create_config(&spec).await {
                Ok(created) => {
                    return Ok(Self {
                        id: created.id,
                        name,
                        stack: stack.to_string(),
                        ttl,
                    });
                }
                Err(err) if err.is_name_conflict() => {}
                Err(err) => return Err(err.into()),
            }
            let held = engine
                .list_configs_named(std::slice::from_ref(&name))
                .await?;
            let Some(existing) = held.into_iter().next() else {
                continue;
            };
            let labels = existing
                .spec
                .as_ref()
                .and_then(|s| s.labels.clone())
                .unwrap_or_default();
            let expires: u64 = labels
                .get(EXPIRES_LABEL)
                .and_then(|e| e.parse().ok())
                .unwrap_or(0);
            if expires <= now() {
                // Stale: its apply died without releasing it.
                let id = existing.id.unwrap_or_default();
                match engine.remove_config(&id).await {
                    Ok(()) => continue,
                    Err(err) if err.is_not_found() => continue,
                    Err(err) => return Err(err.into()),
                }
            }
            if tokio::time::Instant::now() >= deadline {
                let taken: u64 = labels
                    .get("com.stackctl.lock.taken")
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0);
                return Err(LockError::Held {
                    stack: stack.to_string(),
                    owner: labels
                        .get(OWNER_LABEL)
                        .cloned()
                        .unwrap_or_else(|| "another apply".into()),
                    age: now().saturating_sub(taken),
                    left: expires.saturating_sub(now()),
                });
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Run `work` while renewing the lock every third of its lifetime. Renewal failures do not
    /// stop the work (it may be a rollout under way); the last one is returned with its output.
    pub async fn hold<E: Engine, T>(
        &self,
        engine: &E,
        work: impl Future<Output = T>,
    ) -> (T, Option<LockError>) {
        let mut work = std::pin::pin!(work);
        let mut lost = None;
        let period = self.ttl / 3;
        loop {
            tokio::select! {
                out = &mut work => return (out, lost),
                () = tokio::time::sleep(period) => {
                    lost = self.renew(engine).await.err();
                }
            }
        }
    }

    /// Push the expiry one lifetime ahead. The update names the version just read, so a lock
    /// taken over or removed meanwhile is reported as lost, never silently re-created.
    pub async fn renew<E: Engine>(&self, engine: &E) -> Result<(), LockError> {
        let found = engine
            .list_configs_named(std::slice::from_ref(&self.name))
            .await?;
        let lost = |why: &str| LockError::Lost {
            stack: self.stack.clone(),
            why: why.to_owned(),
        };
        let Some(config) = found
            .into_iter()
            .find(|c| c.id.as_deref() == Some(&self.id))
        else {
            return Err(lost("it no longer exists"));
        };
        let version = config.version.and_then(|v| v.index).unwrap_or_default();
        let mut spec = config.spec.unwrap_or_default();
        let labels = spec.labels.get_or_insert_with(Default::default);
        labels.insert(
            EXPIRES_LABEL.into(),
            (now() + self.ttl.as_secs()).to_string(),
        );
        match engine.update_config(&self.id, version, &spec).await {
            Ok(()) => Ok(()),
            Err(err) if err.is_not_found() => Err(lost("it no longer exists")),
            Err(err) => Err(err.into()),
        }
    }

    pub async fn release<E: Engine>(self, engine: &E) -> Result<(), EngineError> {
        match engine.remove_config(&self.id).await {
            Err(err) if !err.is_not_found() => Err(err),
            _ => Ok(()),
        }
    }
}

/// Remove the stack's lock whoever holds it. Returns whether there was one.
pub async fn force_unlock<E: Engine>(engine: &E, stack: &StackName) -> Result<bool, EngineError> {
    let held = engine.list_configs_named(&[lock_name(stack)]).await?;
    for config in &held {
        engine
            .remove_config(config.id.as_deref().unwrap_or_default())
            .await?;
    }
    Ok(!held.is_empty())
}

fn base64_of(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}
