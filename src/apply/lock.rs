//! One apply at a time per stack: a lock held in the cluster itself, as a Swarm config whose
//! name is unique (Swarm refuses a second one atomically). Its holder renews it (a label update
//! checked against the config's version) for as long as it runs, so no rollout outlives its
//! lock. A lock past its expiry is stale and is taken over by the same kind of update: the
//! daemon accepts only one update per version read, so of two contenders exactly one wins, and
//! a holder that renewed meanwhile keeps its lock. `--force-unlock` removes one.
//! `apply`, `rm` and `rollback` take it; the watcher's applies too.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::models::{Config, ConfigSpec};
use serde_json::json;

use super::Stop;
use crate::engine::{Engine, EngineError};
use crate::model::StackName;

const LOCK_LABEL: &str = "com.stackctl.lock";
const EXPIRES_LABEL: &str = "com.stackctl.lock.expires";
const OWNER_LABEL: &str = "com.stackctl.lock.owner";
const TAKEN_LABEL: &str = "com.stackctl.lock.taken";
/// Unique per acquisition: tells a holder its own lock from one taken over from it.
const TOKEN_LABEL: &str = "com.stackctl.lock.token";

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
            "it expired while this process could not renew it and another one took it over, or someone removed it (`--force-unlock`?); check `stackctl status` and apply again"
        )
    )]
    Lost { stack: String, why: String },
    /// Said in full by its message (it is also shown as a mere warning after an apply).
    #[error(
        "could not release the lock of stack {stack}: {cause}; it expires by itself, or clear it now with `stackctl apply --force-unlock -s {stack} FILES`"
    )]
    #[diagnostic(code(stackctl::apply::lock_not_released))]
    NotReleased { stack: String, cause: EngineError },
    /// Stopping was asked for before the lock was taken (see [`StackLock::acquire`]).
    #[error("stopped while waiting for the lock of stack {stack}")]
    #[diagnostic(code(stackctl::apply::lock_stopped))]
    Stopped { stack: String },
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
    token: String,
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

/// What a lock config says about its holder.
struct Holder {
    id: String,
    version: u64,
    spec: ConfigSpec,
    expires: u64,
}

impl Holder {
    fn of(config: Config) -> Self {
        let spec = config.spec.unwrap_or_default();
        let expires = label(&spec, EXPIRES_LABEL).parse().unwrap_or(0);
        Self {
            id: config.id.unwrap_or_default(),
            version: config.version.and_then(|v| v.index).unwrap_or_default(),
            spec,
            expires,
        }
    }

    fn held_error(&self, stack: &StackName) -> LockError {
        let taken: u64 = label(&self.spec, TAKEN_LABEL).parse().unwrap_or(0);
        let owner = label(&self.spec, OWNER_LABEL);
        LockError::Held {
            stack: stack.to_string(),
            owner: if owner.is_empty() {
                "another apply".into()
            } else {
                owner
            },
            age: now().saturating_sub(taken),
            left: self.expires.saturating_sub(now()),
        }
    }
}

fn label(spec: &ConfigSpec, key: &str) -> String {
    spec.labels
        .as_ref()
        .and_then(|l| l.get(key))
        .cloned()
        .unwrap_or_default()
}

/// The labels of a lock held by this process from now on.
fn holder_labels(spec: &mut ConfigSpec, stack: &StackName, token: &str, ttl: Duration) {
    let since = now();
    let labels = spec.labels.get_or_insert_with(Default::default);
    for (key, value) in [
        (LOCK_LABEL, stack.to_string()),
        (EXPIRES_LABEL, (since + ttl.as_secs()).to_string()),
        (OWNER_LABEL, owner()),
        (TAKEN_LABEL, since.to_string()),
        (TOKEN_LABEL, token.to_owned()),
    ] {
        labels.insert(key.to_owned(), value);
    }
}

impl StackLock {
    /// Take the lock, waiting up to `wait` for another holder to finish. Only the write that
    /// takes it is sent: a lock seen held is waited for with reads. `stop` ends the wait
    /// between calls, never during one: a create cut off in flight could leave a lock nobody
    /// knows it holds.
    pub async fn acquire<E: Engine>(
        engine: &E,
        stack: &StackName,
        ttl: Duration,
        wait: Duration,
        stop: &Stop,
    ) -> Result<Self, LockError> {
        let name = lock_name(stack);
        let token = format!("{:016x}", fastrand::u64(..));
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let found = engine
                .list_configs_named(std::slice::from_ref(&name))
                .await?;
            if stop.is_set() {
                return Err(LockError::Stopped {
                    stack: stack.to_string(),
                });
            }
            let won = match found.into_iter().next().map(Holder::of) {
                None => Self::create(engine, stack, &name, &token, ttl).await?,
                // Stale: its holder stopped renewing it.
                Some(stale) if stale.expires <= now() => {
                    Self::take_over(engine, stack, stale, &token, ttl).await?
                }
                Some(held) if tokio::time::Instant::now() >= deadline => {
                    return Err(held.held_error(stack));
                }
                Some(_) => None,
            };
            if let Some(id) = won {
                return Ok(Self {
                    id,
                    name,
                    stack: stack.to_string(),
                    token,
                    ttl,
                });
            }
            if tokio::time::Instant::now() < deadline {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(500)) => {}
                    () = stop.wait() => {}
                }
            }
        }
    }

    /// A new lock; `None` when another contender created it first.
    async fn create<E: Engine>(
        engine: &E,
        stack: &StackName,
        name: &str,
        token: &str,
        ttl: Duration,
    ) -> Result<Option<String>, LockError> {
        let mut spec: ConfigSpec = serde_json::from_value(json!({
            "Name": name,
            "Data": base64_of(owner().as_bytes()),
        }))
        .expect("a config spec is plain data");
        holder_labels(&mut spec, stack, token, ttl);
        match engine.create_config(&spec).await {
            Ok(created) => Ok(Some(created.id)),
            Err(err) if err.is_name_conflict() => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Take a stale lock over: relabel it, naming the version read. The daemon refuses the
    /// update if anyone wrote the lock since (its holder renewing, another contender taking
    /// it over first); `None` then, and the caller looks again.
    async fn take_over<E: Engine>(
        engine: &E,
        stack: &StackName,
        stale: Holder,
        token: &str,
        ttl: Duration,
    ) -> Result<Option<String>, LockError> {
        let mut spec = stale.spec;
        holder_labels(&mut spec, stack, token, ttl);
        match engine.update_config(&stale.id, stale.version, &spec).await {
            Ok(()) => Ok(Some(stale.id)),
            Err(EngineError::VersionConflict { .. }) => Ok(None),
            Err(err) if err.is_not_found() => Ok(None),
            Err(err) => Err(err.into()),
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
        let lost = |why: &str| LockError::Lost {
            stack: self.stack.clone(),
            why: why.to_owned(),
        };
        let Some(mine) = self.read_mine(engine).await? else {
            return Err(lost("another process took it over or removed it"));
        };
        let mut spec = mine.spec;
        let labels = spec.labels.get_or_insert_with(Default::default);
        labels.insert(
            EXPIRES_LABEL.into(),
            (now() + self.ttl.as_secs()).to_string(),
        );
        match engine.update_config(&self.id, mine.version, &spec).await {
            Ok(()) => Ok(()),
            Err(err) if err.is_not_found() => Err(lost("it no longer exists")),
            Err(EngineError::VersionConflict { .. }) => Err(lost("another process took it over")),
            Err(err) => Err(err.into()),
        }
    }

    /// The lock as it is now, if it is still this holder's (same config, same token).
    async fn read_mine<E: Engine>(&self, engine: &E) -> Result<Option<Holder>, EngineError> {
        let found = engine
            .list_configs_named(std::slice::from_ref(&self.name))
            .await?;
        Ok(found
            .into_iter()
            .map(Holder::of)
            .find(|h| h.id == self.id && label(&h.spec, TOKEN_LABEL) == self.token))
    }

    /// Remove the lock if it is still this holder's (one taken over after this holder stopped
    /// renewing it belongs to someone else now). A failure says how to clear it.
    pub async fn release<E: Engine>(self, engine: &E) -> Result<(), LockError> {
        let not_released = |cause| LockError::NotReleased {
            stack: self.stack.clone(),
            cause,
        };
        match self.read_mine(engine).await {
            Ok(None) => return Ok(()),
            Ok(Some(_)) => {}
            Err(err) => return Err(not_released(err)),
        }
        match engine.remove_config(&self.id).await {
            Err(err) if !err.is_not_found() => Err(not_released(err)),
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
