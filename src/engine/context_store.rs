//! The docker CLI's config and context store: `config.json`'s `currentContext`, and a named
//! context's endpoint from `contexts/meta/<sha256(name)>/meta.json` and `contexts/tls/…`.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::EngineError;
use crate::model::digest::sha256_hex as hex_digest;

/// The part of `config.json` stackctl reads.
#[derive(Deserialize)]
struct ConfigFile {
    #[serde(rename = "currentContext", default)]
    current_context: String,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(rename = "Endpoints", default)]
    endpoints: HashMap<String, EndpointMeta>,
}

#[derive(Deserialize)]
struct EndpointMeta {
    #[serde(rename = "Host", default)]
    host: String,
    #[serde(rename = "SkipTLSVerify", default)]
    skip_tls_verify: bool,
}

/// A context's docker endpoint as stored: the host, and its TLS material if any.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct StoredEndpoint {
    pub(crate) host: String,
    pub(crate) skip_tls_verify: bool,
    /// `contexts/tls/<hash>/docker`, when it exists.
    pub(crate) tls_dir: Option<PathBuf>,
}

/// The `currentContext` of `<config_dir>/config.json`; `None` when the file or field is absent.
///
/// Unlike the docker CLI, which warns and carries on with the default context, an unreadable or
/// malformed file is an error: deploying to the local daemon instead of the context the user set
/// up would be worse than stopping.
pub(crate) fn current_context(config_dir: &Path) -> Result<Option<String>, EngineError> {
    let path = config_dir.join("config.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(unreadable(&path, &err)),
    };
    let config: ConfigFile = serde_json::from_str(&text).map_err(|err| {
        EngineError::config(
            format!("cannot parse {}: {err}", path.display()),
            Some("fix the file, or set DOCKER_HOST or DOCKER_CONTEXT to bypass it"),
        )
    })?;
    Ok(Some(config.current_context).filter(|name| !name.is_empty()))
}

/// The docker endpoint of the context `name` in `<config_dir>/contexts`.
pub(crate) fn load_context(config_dir: &Path, name: &str) -> Result<StoredEndpoint, EngineError> {
    let store = config_dir.join("contexts");
    let id = hex_digest(name.as_bytes());
    let path = store.join("meta").join(&id).join("meta.json");
    let text = std::fs::read_to_string(&path).map_err(|err| {
        if err.kind() == ErrorKind::NotFound {
            EngineError::config(
                format!("docker context {name:?} not found (no {})", path.display()),
                Some("list contexts with `docker context ls`; check DOCKER_CONTEXT and `currentContext` in config.json"),
            )
        } else {
            unreadable(&path, &err)
        }
    })?;
    let meta: Meta = serde_json::from_str(&text).map_err(|err| {
        EngineError::config(format!("cannot parse {}: {err}", path.display()), None)
    })?;
    let Some(docker) = meta.endpoints.get("docker") else {
        return Err(EngineError::config(
            format!("docker context {name:?} has no docker endpoint"),
            Some("recreate it with `docker context create --docker host=…`"),
        ));
    };
    let tls_dir = store.join("tls").join(&id).join("docker");
    Ok(StoredEndpoint {
        host: docker.host.clone(),
        skip_tls_verify: docker.skip_tls_verify,
        tls_dir: tls_dir.is_dir().then_some(tls_dir),
    })
}

fn unreadable(path: &Path, err: &std::io::Error) -> EngineError {
    EngineError::config(format!("cannot read {}: {err}", path.display()), None)
}

/// Write a context the way `docker context create` lays it out (for tests here and elsewhere).
#[cfg(test)]
pub(crate) fn write_context(config_dir: &Path, name: &str, meta_json: &str, tls_files: &[&str]) {
    let id = hex_digest(name.as_bytes());
    let meta = config_dir.join("contexts/meta").join(&id);
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::write(meta.join("meta.json"), meta_json).unwrap();
    if !tls_files.is_empty() {
        let tls = config_dir.join("contexts/tls").join(&id).join("docker");
        std::fs::create_dir_all(&tls).unwrap();
        for file in tls_files {
            std::fs::write(tls.join(file), "pem").unwrap();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{StoredEndpoint, current_context, load_context, write_context};
    use crate::engine::EngineError;

    #[test]
    fn current_context_from_config_json() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(current_context(dir.path()).unwrap(), None, "no file");
        let cases = [
            (
                r#"{"currentContext": "remote", "auths": {}}"#,
                Some("remote"),
            ),
            (r#"{"currentContext": ""}"#, None),
            (r#"{"auths": {}}"#, None),
        ];
        for (json, expected) in cases {
            std::fs::write(dir.path().join("config.json"), json).unwrap();
            assert_eq!(
                current_context(dir.path()).unwrap().as_deref(),
                expected,
                "{json}"
            );
        }
        std::fs::write(dir.path().join("config.json"), "{not json").unwrap();
        let err = current_context(dir.path()).unwrap_err();
        assert!(err.to_string().contains("config.json"), "{err}");
    }

    #[test]
    fn context_meta_is_found_by_the_hash_of_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let meta = r#"{"Name":"prod","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://10.0.0.1:2376","SkipTLSVerify":false}}}"#;
        write_context(dir.path(), "prod", meta, &["ca.pem", "cert.pem", "key.pem"]);
        let found = load_context(dir.path(), "prod").unwrap();
        // The folder `docker context create prod` makes: sha256("prod") in hex.
        let id = "6754af9632a2745e85c293e5aac0863370d9bd3330b9938c00cadfd215227d77";
        assert_eq!(
            found,
            StoredEndpoint {
                host: "tcp://10.0.0.1:2376".into(),
                skip_tls_verify: false,
                tls_dir: Some(dir.path().join(format!("contexts/tls/{id}/docker"))),
            }
        );
    }

    #[test]
    fn broken_contexts_are_config_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = load_context(dir.path(), "nope").unwrap_err();
        assert!(
            missing.to_string().contains("\"nope\" not found"),
            "{missing}"
        );
        write_context(dir.path(), "k8s", r#"{"Name":"k8s","Endpoints":{}}"#, &[]);
        let no_docker = load_context(dir.path(), "k8s").unwrap_err();
        assert!(
            matches!(no_docker, EngineError::Config { .. }),
            "{no_docker:?}"
        );
    }
}
