//! Finding the daemon the way the docker CLI does (`--host`, `DOCKER_HOST`, `DOCKER_CONTEXT`,
//! the current context, the default socket) and connecting to it.

use std::fmt;
use std::path::{Path, PathBuf};

use super::context_store::{current_context, load_context};
use super::{DockerEngine, EngineError};

const DEFAULT_SOCKET: &str = "/var/run/docker.sock";
/// Port for `tcp://host` without one; the CLI uses the plain port even when TLS is on.
const DEFAULT_TCP_PORT: &str = "2375";
/// The host when none is given but TLS is on.
const DEFAULT_TLS_HOST: &str = "tcp://localhost:2376";
const DEFAULT_CONTEXT: &str = "default";

/// How to find the daemon; everything not here comes from the environment, as for `docker`.
#[derive(Clone, Debug, Default)]
pub struct ConnectOptions {
    /// `--host`: wins over `DOCKER_HOST` and every context.
    pub host: Option<String>,
}

/// Where the daemon is and how to talk to it, before connecting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Normalised: `unix:///path`, `tcp://host:port[/path]` or `ssh://…`.
    pub host: String,
    /// TLS for a `tcp://` host; `None` for sockets and ssh, where the CLI ignores TLS settings.
    pub tls: Option<TlsFiles>,
    pub source: EndpointSource,
    /// `DOCKER_API_VERSION`: use this API version instead of negotiating one.
    pub api_version: Option<String>,
}

/// TLS material, as paths. Only files that exist are listed, except `ca` for the default context,
/// which the CLI requires (it fails when `ca.pem` is missing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// Whether to verify the daemon's certificate (`DOCKER_TLS_VERIFY`; a context's
    /// `SkipTLSVerify` turns it off).
    pub verify: bool,
}

/// Which setting chose the endpoint, for error messages ("the address came from …").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndpointSource {
    HostOption,
    DockerHost,
    /// A named context, from `DOCKER_CONTEXT` (`from_env`) or `currentContext` in config.json.
    Context {
        name: String,
        from_env: bool,
    },
    Default,
}

impl fmt::Display for EndpointSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HostOption => f.write_str("--host"),
            Self::DockerHost => f.write_str("DOCKER_HOST"),
            Self::Context {
                name,
                from_env: true,
            } => write!(f, "docker context {name:?} named by DOCKER_CONTEXT"),
            Self::Context { name, .. } => {
                write!(
                    f,
                    "docker context {name:?}, the current context in config.json"
                )
            }
            Self::Default => f.write_str("the default socket"),
        }
    }
}

/// Find the daemon from `opts` and the environment, reading the CLI config and context store but
/// not connecting. `env` reads one variable (the real environment, or a table in tests); empty
/// values count as unset, as in the CLI.
///
/// Precedence, as `docker` has it: `--host`; `DOCKER_HOST`; `DOCKER_CONTEXT`; `currentContext`
/// in `$DOCKER_CONFIG/config.json` (default `~/.docker`); the default socket. For the first two
/// and the `default` context, TLS comes from `DOCKER_TLS_VERIFY` (any non-empty value, `0`
/// included, turns verification on: the CLI's rule) or `DOCKER_TLS` (TLS without verification),
/// with files from `DOCKER_CERT_PATH` (default: the config folder).
pub fn resolve_endpoint(
    env: &impl Fn(&str) -> Option<String>,
    opts: &ConnectOptions,
) -> Result<Endpoint, EngineError> {
    let var = |name: &str| env(name).filter(|value| !value.is_empty());
    let config_dir = var("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|home| Path::new(&home).join(".docker")));
    let defaults = Defaults {
        config_dir: config_dir.as_deref(),
        var: &var,
    };
    let mut endpoint = if let Some(host) = opts.host.as_deref().filter(|h| !h.is_empty()) {
        defaults.endpoint(host, EndpointSource::HostOption)?
    } else if let Some(host) = var("DOCKER_HOST") {
        defaults.endpoint(&host, EndpointSource::DockerHost)?
    } else {
        let (name, from_env) = match var("DOCKER_CONTEXT") {
            Some(name) => (name, true),
            None => match config_dir.as_deref().map(current_context).transpose()? {
                Some(Some(name)) => (name, false),
                _ => (DEFAULT_CONTEXT.to_owned(), false),
            },
        };
        if name == DEFAULT_CONTEXT {
            defaults.endpoint("", EndpointSource::Default)?
        } else {
            context_endpoint(config_dir.as_deref(), name, from_env)?
        }
    };
    endpoint.api_version = var("DOCKER_API_VERSION");
    Ok(endpoint)
}

/// The CLI's "default context": a host string plus TLS settings from the environment.
struct Defaults<'a, F: Fn(&str) -> Option<String>> {
    config_dir: Option<&'a Path>,
    var: &'a F,
}

impl<F: Fn(&str) -> Option<String>> Defaults<'_, F> {
    fn endpoint(&self, host: &str, source: EndpointSource) -> Result<Endpoint, EngineError> {
        let verify = (self.var)("DOCKER_TLS_VERIFY").is_some();
        let use_tls = verify || (self.var)("DOCKER_TLS").is_some();
        let host = parse_host(host, use_tls)?;
        let tls = if use_tls && host.starts_with("tcp://") {
            Some(self.tls_files(verify)?)
        } else {
            None
        };
        Ok(Endpoint {
            host,
            tls,
            source,
            api_version: None,
        })
    }

    fn tls_files(&self, verify: bool) -> Result<TlsFiles, EngineError> {
        let dir = match (self.var)("DOCKER_CERT_PATH") {
            Some(dir) => PathBuf::from(dir),
            None => self
                .config_dir
                .map(Path::to_path_buf)
                .ok_or_else(|| EngineError::Tls {
                    message: "TLS is on but neither DOCKER_CERT_PATH nor HOME is set".into(),
                })?,
        };
        let ca = dir.join("ca.pem");
        if !ca.is_file() {
            return Err(EngineError::Tls {
                message: format!("TLS is on but {} does not exist", ca.display()),
            });
        }
        Ok(TlsFiles {
            ca: Some(ca),
            cert: existing(dir.join("cert.pem")),
            key: existing(dir.join("key.pem")),
            verify,
        })
    }
}

fn context_endpoint(
    config_dir: Option<&Path>,
    name: String,
    from_env: bool,
) -> Result<Endpoint, EngineError> {
    let Some(config_dir) = config_dir else {
        return Err(EngineError::config(
            format!(
                "cannot look up docker context {name:?}: neither DOCKER_CONFIG nor HOME is set"
            ),
            None,
        ));
    };
    let stored = load_context(config_dir, &name)?;
    // An empty host in a context means the platform default, as for the CLI's client.
    let host = parse_host(&stored.host, false)?;
    let tls = (host.starts_with("tcp://") && (stored.tls_dir.is_some() || stored.skip_tls_verify))
        .then(|| TlsFiles {
            ca: stored
                .tls_dir
                .as_ref()
                .and_then(|d| existing(d.join("ca.pem"))),
            cert: stored
                .tls_dir
                .as_ref()
                .and_then(|d| existing(d.join("cert.pem"))),
            key: stored
                .tls_dir
                .as_ref()
                .and_then(|d| existing(d.join("key.pem"))),
            verify: !stored.skip_tls_verify,
        });
    Ok(Endpoint {
        host,
        tls,
        source: EndpointSource::Context { name, from_env },
        api_version: None,
    })
}

fn existing(path: PathBuf) -> Option<PathBuf> {
    path.is_file().then_some(path)
}

/// Normalise a host string as the CLI does: no scheme means tcp; `tcp://` gets host and port
/// defaults; `unix://` gets the default socket path; ssh is passed through.
pub(crate) fn parse_host(value: &str, default_tls: bool) -> Result<String, EngineError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(if default_tls {
            DEFAULT_TLS_HOST.to_owned()
        } else {
            format!("unix://{DEFAULT_SOCKET}")
        });
    }
    let (scheme, rest) = value.split_once("://").unwrap_or(("tcp", value));
    let invalid = || {
        EngineError::config(
            format!("invalid Docker host {value:?}"),
            Some("use unix:///path/to/socket, tcp://host:port or ssh://[user@]host"),
        )
    };
    match scheme {
        "unix" if rest.contains("://") => Err(invalid()),
        "unix" if rest.is_empty() => Ok(format!("unix://{DEFAULT_SOCKET}")),
        "unix" | "ssh" => Ok(value.to_owned()),
        "tcp" => parse_tcp(rest).ok_or_else(invalid),
        "npipe" | "fd" => Err(EngineError::config(
            format!("Docker host {value:?} is not supported by stackctl"),
            Some("use unix://, tcp:// or ssh://"),
        )),
        _ => Err(invalid()),
    }
}

/// `host:port/path` with `localhost` and 2375 filled in; `None` when malformed.
fn parse_tcp(rest: &str) -> Option<String> {
    if rest.contains("://") {
        return None;
    }
    let (authority, path) = rest.find('/').map_or((rest, ""), |at| rest.split_at(at));
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (inside, after) = bracketed.split_once(']')?;
        let port = if after.is_empty() {
            ""
        } else {
            after.strip_prefix(':')?
        };
        (format!("[{inside}]"), port)
    } else if authority.matches(':').count() > 1 {
        // A bare IPv6 address: the CLI brackets it and adds the default port.
        (format!("[{authority}]"), "")
    } else {
        let (host, port) = authority.split_once(':').unwrap_or((authority, ""));
        (host.to_owned(), port)
    };
    let host = if host.is_empty() {
        "localhost".to_owned()
    } else {
        host
    };
    let port = if port.is_empty() {
        DEFAULT_TCP_PORT
    } else {
        port
    };
    port.parse::<u16>().ok()?;
    Some(format!("tcp://{host}:{port}{path}"))
}

/// Find the daemon from `opts` and the process environment, connect, and settle the API version.
pub async fn connect(opts: &ConnectOptions) -> Result<DockerEngine, EngineError> {
    let endpoint = resolve_endpoint(&|name| std::env::var(name).ok(), opts)?;
    DockerEngine::connect(&endpoint).await
}

#[cfg(test)]
#[path = "connect_tests.rs"]
mod tests;
