//! One apply at a time per stack: a lock held in the cluster itself, as a Swarm config whose
//! name is unique (Swarm refuses a second one atomically). A lock past its expiry is stale and
//! is taken over; `--force-unlock` removes one.

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
    #[error(transparent)]
    #[diagnostic(transparent)]
    Engine(#[from] EngineError),
}

/// A held lock; release it with [`StackLock::release`].
#[derive(Debug)]
pub struct StackLock {
    id: String,
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
                Ok(created) => return Ok(Self { id: created.id }),
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
