//! The stack's apply history, kept in the cluster as one small Swarm config (the last entries),
//! replaced by a new one on every apply that ran (failed ones included, with what they wrote; an
//! apply stopped before its first write leaves none). Nothing of it goes into service specs, so
//! it never causes a rollout.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bollard::models::{Config, ConfigSpec};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::engine::{Engine, EngineError};
use crate::model::StackName;
use crate::model::digest::sha256_hex;

const HISTORY_LABEL: &str = "com.stackctl.history";
/// Entries kept.
const KEEP: usize = 20;

/// One apply, as `stackctl history` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Seconds since the Unix epoch.
    pub time: u64,
    pub user: String,
    /// Where the files came from: paths, or a git commit for the watcher.
    pub source: String,
    /// What the apply's calls wrote (not what its plan meant to): services by name, networks,
    /// configs and secrets as `network NAME` and so on.
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub removed: Vec<String>,
    /// `succeeded`, `interrupted: …`, or what failed (the error that ended the apply first).
    pub outcome: String,
    /// The revision the files came from (a git commit, or a folder's content digest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Digest of every file the stack read: the watcher knows after a restart what is deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<String>,
    /// What changed, one masked line per field (`app_web: image: "a:1" → "a:2"`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
}

impl Entry {
    /// An apply whose services all ended well.
    #[must_use]
    pub fn succeeded(&self) -> bool {
        self.outcome == SUCCEEDED
    }
}

/// The outcome text of a successful apply.
pub const SUCCEEDED: &str = "succeeded";

impl Entry {
    #[must_use]
    pub fn now(source: String) -> Self {
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self {
            time,
            user: super::lock::owner(),
            source,
            created: vec![],
            updated: vec![],
            removed: vec![],
            outcome: String::new(),
            revision: None,
            inputs: None,
            changes: vec![],
        }
    }
}

fn is_history_of(config: &Config, stack: &StackName) -> bool {
    let labels = config.spec.as_ref().and_then(|s| s.labels.as_ref());
    labels
        .and_then(|l| l.get(HISTORY_LABEL))
        .is_some_and(|s| s == stack.as_str())
}

fn entries_of(config: &Config) -> Vec<Entry> {
    let data = config
        .spec
        .as_ref()
        .and_then(|s| s.data.as_deref())
        .unwrap_or_default();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or_default()
}

/// The stack's history, newest last (one list call).
pub async fn read<E: Engine>(engine: &E, stack: &StackName) -> Result<Vec<Entry>, EngineError> {
    let mut all = read_many(engine, std::slice::from_ref(stack)).await?;
    Ok(all.pop().unwrap_or_default())
}

/// The histories of several stacks, in their order, with the same one list call.
pub async fn read_many<E: Engine>(
    engine: &E,
    stacks: &[StackName],
) -> Result<Vec<Vec<Entry>>, EngineError> {
    let configs = engine.list_all_configs().await?;
    Ok(stacks
        .iter()
        .map(|stack| {
            configs
                .iter()
                .filter(|c| is_history_of(c, stack))
                .flat_map(entries_of)
                .collect()
        })
        .collect())
}

/// Add an entry: a new history config with the last entries, then the old one removed.
pub async fn append<E: Engine>(
    engine: &E,
    stack: &StackName,
    entry: Entry,
) -> Result<(), EngineError> {
    let configs = engine.list_all_configs().await?;
    let old: Vec<&Config> = configs.iter().filter(|c| is_history_of(c, stack)).collect();
    let mut entries: Vec<Entry> = old.iter().flat_map(|c| entries_of(c)).collect();
    entries.push(entry);
    let start = entries.len().saturating_sub(KEEP);
    let entries = &entries[start..];
    let data = serde_json::to_vec(entries).expect("entries serialise");
    // Unique per apply and short enough for Swarm's 64-character names whatever the stack.
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let name = format!(
        "stackctl-history-{}-{millis}",
        &sha256_hex(stack.as_str().as_bytes())[..12]
    );
    let spec: ConfigSpec = serde_json::from_value(json!({
        "Name": name,
        "Labels": {HISTORY_LABEL: stack.as_str()},
        "Data": base64::engine::general_purpose::STANDARD.encode(data),
    }))
    .expect("a config spec is plain data");
    engine.create_config(&spec).await?;
    for config in old {
        engine
            .remove_config(config.id.as_deref().unwrap_or_default())
            .await?;
    }
    Ok(())
}
