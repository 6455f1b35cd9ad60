//! [`EngineError`]: every way an Engine API call can fail, sorted by what the caller can do next.

use miette::Diagnostic;
use thiserror::Error;

/// How the daemon words a stale `version` on a swarm object update (swarmkit's
/// `ErrSequenceConflict`); it arrives inside a generic 500, so only the text identifies it.
const OUT_OF_SEQUENCE: &str = "update out of sequence";

/// A failed Engine API call, or a failure to find or reach the daemon.
///
/// Retryable ([`EngineError::is_retryable`]): `Unreachable`, `Timeout`, `ConnectionLost` (after a
/// re-read, since a write may have landed), `VersionConflict` (after a re-read of the object) and
/// `Api` with status 503. Everything else needs a person to change something.
#[derive(Debug, Error, Diagnostic)]
pub enum EngineError {
    /// Nothing was sent: the address does not answer. Retryable.
    #[error("cannot reach the Docker daemon at {address}: {reason}")]
    #[diagnostic(
        code(stackctl::engine::unreachable),
        help(
            "is the Docker daemon running? is DOCKER_HOST right? (the address came from {found_via})"
        )
    )]
    Unreachable {
        address: String,
        found_via: String,
        reason: String,
    },

    /// The daemon took longer than the client's limit. Retryable; for a write, re-read first.
    #[error("the Docker daemon at {address} did not answer within {seconds} s")]
    #[diagnostic(
        code(stackctl::engine::timeout),
        help(
            "the daemon may be overloaded or a swarm leader election may be under way; try again"
        )
    )]
    Timeout { address: String, seconds: u64 },

    /// The connection broke after the request was sent. Retryable, but a write may or may not
    /// have been applied: re-read the object before trying again.
    #[error("the connection to the Docker daemon at {address} broke during the request: {reason}")]
    #[diagnostic(code(stackctl::engine::connection_lost))]
    ConnectionLost { address: String, reason: String },

    /// This node cannot run swarm commands (not in a swarm, a worker, or locked). Not retryable.
    #[error("{message}")]
    #[diagnostic(code(stackctl::engine::not_manager))]
    NotManager {
        message: String,
        #[help]
        advice: String,
    },

    /// A write carried a stale object version: someone changed the object since it was read.
    /// Retryable after re-reading the object.
    #[error("{object} changed since it was read (the daemon said: {message})")]
    #[diagnostic(
        code(stackctl::engine::version_conflict),
        help("something else updated it at the same time; read it again and retry")
    )]
    VersionConflict { object: String, message: String },

    /// The daemon refused the request. Retryable only when `status` is 503 (swarm briefly
    /// without a leader); otherwise the request itself must change.
    #[error("the Docker daemon refused the request ({status}): {message}")]
    #[diagnostic(code(stackctl::engine::api))]
    Api { status: u16, message: String },

    /// TLS material is missing, unreadable or not supported. Not retryable.
    #[error("TLS setup failed: {message}")]
    #[diagnostic(
        code(stackctl::engine::tls),
        help(
            "check DOCKER_CERT_PATH (default ~/.docker) or the context's TLS files: ca.pem, cert.pem, key.pem"
        )
    )]
    Tls { message: String },

    /// The endpoint could not be worked out: a bad host string, a missing or broken context.
    #[error("{message}")]
    #[diagnostic(code(stackctl::engine::config))]
    Config {
        message: String,
        #[help]
        advice: Option<String>,
    },

    /// The daemon's answer did not decode (or the request could not be built). What the daemon
    /// sent is not stackctl's fault, so the message names the answer, not a bug. Not retryable
    /// as such; for a write, re-read first (it may have landed).
    #[error("unexpected exchange with the Docker daemon: {message}")]
    #[diagnostic(
        code(stackctl::engine::protocol),
        help(
            "the daemon (or something between it and stackctl, such as a proxy) answered with something the Engine API does not describe; check the daemon, then run the command again"
        )
    )]
    Protocol { message: String },
}

impl EngineError {
    /// Whether trying the same call again later can succeed (see the type's docs for the
    /// re-reads some cases need first).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Unreachable { .. }
            | Self::Timeout { .. }
            | Self::ConnectionLost { .. }
            | Self::VersionConflict { .. } => true,
            Self::Api { status, .. } => *status == 503,
            Self::NotManager { .. }
            | Self::Tls { .. }
            | Self::Config { .. }
            | Self::Protocol { .. } => false,
        }
    }

    /// The daemon answered and refused: the call changed nothing (unlike a broken connection,
    /// after which a write may or may not have landed).
    #[must_use]
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Self::Api { .. } | Self::VersionConflict { .. } | Self::NotManager { .. }
        )
    }

    /// The object does not exist (HTTP 404): for removals, the goal is already reached.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Api { status: 404, .. })
    }

    /// A name is already taken (HTTP 409), e.g. creating a service that exists.
    #[must_use]
    pub fn is_name_conflict(&self) -> bool {
        matches!(self, Self::Api { status: 409, .. })
    }

    pub(crate) fn config(message: impl Into<String>, advice: Option<&str>) -> Self {
        Self::Config {
            message: message.into(),
            advice: advice.map(str::to_owned),
        }
    }
}

/// Where a call was going and what it was about, to word the error.
pub(crate) struct Context<'a> {
    pub(crate) address: &'a str,
    pub(crate) found_via: &'a str,
    pub(crate) seconds: u64,
    /// The object a write was about, e.g. `service abc123`.
    pub(crate) object: &'a str,
}

impl Context<'_> {
    pub(crate) fn classify(&self, err: bollard::errors::Error) -> EngineError {
        use bollard::errors::Error as B;
        match err {
            B::DockerResponseServerError {
                status_code,
                message,
            } => self.response(status_code, &message),
            B::RequestTimeoutError => EngineError::Timeout {
                address: self.address.to_owned(),
                seconds: self.seconds,
            },
            B::SocketNotFoundError(path) => self.unreachable(format!("no socket at {path}")),
            B::HyperLegacyError { err } if err.is_connect() => self.unreachable(chain(&err)),
            B::IOError { err } => self.unreachable(chain(&err)),
            B::HyperLegacyError { err } => self.lost(chain(&err)),
            B::HyperResponseError { err } => self.lost(chain(&err)),
            B::NoHomePathError
            | B::CertPathError { .. }
            | B::CertMultipleKeys { .. }
            | B::CertParseError { .. }
            | B::NoNativeCertsError { .. }
            | B::LoadNativeCertsErrors { .. } => EngineError::Tls {
                message: chain(&err),
            },
            B::UnsupportedURISchemeError { uri } => EngineError::config(
                format!("unsupported Docker host {uri}"),
                Some("use unix://, tcp:// or ssh://"),
            ),
            other => EngineError::Protocol {
                message: format!(
                    "its answer about {} could not be read: {}",
                    self.object,
                    chain(&other)
                ),
            },
        }
    }

    fn response(&self, status: u16, message: &str) -> EngineError {
        let message = message.trim().to_owned();
        if message.contains(OUT_OF_SEQUENCE) {
            return EngineError::VersionConflict {
                object: self.object.to_owned(),
                message,
            };
        }
        if status == 503 && message.contains("not a swarm manager") {
            let advice = if message.contains("Worker nodes") {
                "run stackctl against a manager node, or promote this node: `docker node promote <node>`"
            } else {
                "make this node a manager: `docker swarm init`, or `docker swarm join` an existing swarm"
            };
            return EngineError::NotManager {
                message,
                advice: advice.to_owned(),
            };
        }
        EngineError::Api { status, message }
    }

    fn unreachable(&self, reason: String) -> EngineError {
        EngineError::Unreachable {
            address: self.address.to_owned(),
            found_via: self.found_via.to_owned(),
            reason,
        }
    }

    fn lost(&self, reason: String) -> EngineError {
        EngineError::ConnectionLost {
            address: self.address.to_owned(),
            reason,
        }
    }
}

/// An error and its causes on one line: hyper's own text ("client error (Connect)") hides the
/// useful part (e.g. "Permission denied") in its sources.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(cause) = next {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        next = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::{Context, EngineError};

    fn context() -> Context<'static> {
        Context {
            address: "unix:///var/run/docker.sock",
            found_via: "the default",
            seconds: 120,
            object: "service abc",
        }
    }

    fn server(status_code: u16, message: &str) -> EngineError {
        context().classify(bollard::errors::Error::DockerResponseServerError {
            status_code,
            message: message.to_owned(),
        })
    }

    #[test]
    fn daemon_answers_are_sorted_by_what_the_caller_can_do() {
        let conflict = server(
            500,
            "rpc error: code = Unknown desc = update out of sequence",
        );
        assert!(
            matches!(conflict, EngineError::VersionConflict { .. }),
            "{conflict:?}"
        );
        assert!(conflict.is_retryable());

        let worker = server(
            503,
            "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.",
        );
        let EngineError::NotManager { advice, .. } = &worker else {
            panic!("{worker:?}")
        };
        assert!(advice.contains("docker node promote"));
        assert!(!worker.is_retryable());

        let inactive = server(
            503,
            "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.",
        );
        let EngineError::NotManager { advice, .. } = &inactive else {
            panic!("{inactive:?}")
        };
        assert!(advice.contains("docker swarm init"));

        let missing = server(404, "service abc not found");
        assert!(missing.is_not_found() && !missing.is_retryable());
        assert!(server(409, "name conflicts").is_name_conflict());
        assert!(server(503, "rpc error: code = Unavailable").is_retryable());
    }

    /// Regression: an answer that did not decode blamed "a bug in stackctl" for what the
    /// daemon (or a proxy) sent.
    #[test]
    fn an_unreadable_answer_names_what_it_was_about_and_blames_no_bug() {
        let garbage = serde_json::from_str::<serde_json::Value>("{not json").unwrap_err();
        let err = context().classify(bollard::errors::Error::JsonSerdeError { err: garbage });
        let text = err.to_string();
        assert!(
            text.starts_with(
                "unexpected exchange with the Docker daemon: its answer about service abc could not be read: "
            ),
            "{text}"
        );
        let help = miette::Diagnostic::help(&err).unwrap().to_string();
        assert!(!help.contains("bug"), "{help}");
    }

    #[test]
    fn a_missing_socket_is_unreachable_with_the_address_and_a_hint() {
        let err = context().classify(bollard::errors::Error::SocketNotFoundError(
            "/nonexistent.sock".into(),
        ));
        assert!(err.is_retryable());
        let text = err.to_string();
        assert!(text.contains("/nonexistent.sock"), "{text}");
        let help = miette::Diagnostic::help(&err).unwrap().to_string();
        assert!(
            help.contains("is the Docker daemon running? is DOCKER_HOST right?"),
            "{help}"
        );
    }
}
