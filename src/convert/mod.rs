//! Loaded stack -> the Engine API objects `docker stack deploy` would send: service specs,
//! networks to create, configs and secrets. Pure: file contents are passed in.

mod image;
mod objects;
mod service;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use serde_json::Value;

pub use image::normalize_image;

use crate::model::{Stack, StackName};

/// A service as it should be: its cluster name, compose key and Engine API spec (JSON in the
/// daemon's own field names, so it compares directly with what the daemon returns).
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredService {
    pub key: String,
    pub name: String,
    pub spec: Value,
    /// Services this one waits for during a rollout (`depends_on`, cluster names).
    pub depends_on: Vec<String>,
}

/// A network the stack creates (external networks are only referenced).
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredNetwork {
    pub key: String,
    pub name: String,
    /// The `POST /networks/create` body.
    pub spec: Value,
}

/// A config or secret the stack creates. `data` is the file content; for secrets it must never
/// be printed.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredObject {
    pub key: String,
    pub name: String,
    /// The spec without `Data`.
    pub spec: Value,
    pub data: Vec<u8>,
}

/// Everything one stack deploy would create or update.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Desired {
    pub services: BTreeMap<String, DesiredService>,
    pub networks: BTreeMap<String, DesiredNetwork>,
    pub external_networks: BTreeSet<String>,
    pub configs: BTreeMap<String, DesiredObject>,
    pub secrets: BTreeMap<String, DesiredObject>,
}

/// Contents of the files that secrets and configs name, read by the caller.
pub type ObjectFiles = HashMap<PathBuf, Vec<u8>>;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ConvertError {
    #[error("cannot read {kind} file {path}: not loaded")]
    #[diagnostic(
        code(stackctl::convert::file),
        help("this is a bug in stackctl: object files are read before converting")
    )]
    MissingFile { kind: &'static str, path: String },
    #[error("{kind} {name:?}: the file is empty")]
    #[diagnostic(
        code(stackctl::convert::empty),
        help("Swarm refuses empty configs and secrets; put content in the file")
    )]
    Empty { kind: &'static str, name: String },
    #[error("{kind} {name:?} is {size} bytes; Swarm accepts at most {limit}")]
    #[diagnostic(code(stackctl::convert::too_large))]
    TooLarge {
        kind: &'static str,
        name: String,
        size: usize,
        limit: usize,
    },
    #[error("service {service:?}: invalid credential spec: {message}")]
    #[diagnostic(code(stackctl::convert::credential_spec))]
    CredentialSpec { service: String, message: String },
    #[error("service {service:?}: unknown restart policy {value:?}")]
    #[diagnostic(
        code(stackctl::convert::restart),
        help("use no, always, on-failure[:N] or unless-stopped, or deploy.restart_policy")
    )]
    RestartPolicy { service: String, value: String },
    #[error("service {service:?}: the name {name:?} is too long for Swarm (63 characters at most)")]
    #[diagnostic(
        code(stackctl::convert::name),
        help("use a shorter stack name or service key")
    )]
    NameTooLong { service: String, name: String },
}

/// Convert a loaded stack to the objects docker would deploy under `stack`.
pub fn convert(
    stack: &Stack,
    name: &StackName,
    files: &ObjectFiles,
) -> Result<Desired, ConvertError> {
    let mut desired = Desired::default();
    for (key, service) in &stack.services {
        let converted = service::convert_service(stack, name, key, service)?;
        desired.services.insert(converted.name.clone(), converted);
    }
    let (networks, external) = objects::networks(stack, name);
    desired.networks = networks;
    desired.external_networks = external;
    desired.configs = objects::file_objects(name, &stack.configs, files, objects::Kind::Config)?;
    desired.secrets = objects::file_objects(name, &stack.secrets, files, objects::Kind::Secret)?;
    Ok(desired)
}

/// The files secrets and configs name, read from disk (the one I/O step of converting).
pub fn read_object_files(stack: &Stack) -> Result<ObjectFiles, (String, std::io::Error)> {
    let mut files = ObjectFiles::new();
    for object in stack.secrets.values().chain(stack.configs.values()) {
        if let Some(path) = &object.file {
            let data =
                crate::load::read::read(path).map_err(|e| (path.display().to_string(), e))?;
            files.insert(path.clone(), data);
        }
    }
    Ok(files)
}
