//! Opening a bollard client for an [`Endpoint`] with the API version settled: the unix socket,
//! TCP (with verified TLS) and ssh transports bollard 0.21 has, and a clear error for the rest.

use std::path::Path;

use bollard::{ClientVersion, Docker};

use super::error::Context;
use super::{Endpoint, EndpointSource, EngineError, TlsFiles, version_pin};

/// How long one call may take; bollard's default, and long enough for a big service list.
pub(crate) const TIMEOUT_SECONDS: u64 = 120;

/// A client for `endpoint` and the API version its requests carry (e.g. `1.41`).
pub(crate) async fn open(endpoint: &Endpoint) -> Result<(Docker, String), EngineError> {
    let found_via = endpoint.source.to_string();
    let context = Context {
        address: &endpoint.host,
        found_via: &found_via,
        seconds: TIMEOUT_SECONDS,
        object: "the daemon",
    };
    let classify = |err| context.classify(err);
    let docker = match &endpoint.api_version {
        Some(pinned) => client(endpoint, &parse_version(pinned)?, &context)?,
        None => client(endpoint, bollard::API_DEFAULT_VERSION, &context)?
            .negotiate_version()
            .await
            .map_err(classify)?,
    };
    let version = docker.client_version();
    let api_version = format!("{}.{}", version.major_version, version.minor_version);
    let docker = docker.with_request_modifier(version_pin::modifier(&api_version));
    Ok((docker, api_version))
}

/// bollard's client for the endpoint's transport; it connects lazily, on the first request.
fn client(
    endpoint: &Endpoint,
    version: &ClientVersion,
    context: &Context<'_>,
) -> Result<Docker, EngineError> {
    let host = endpoint.host.as_str();
    let docker = if host.starts_with("unix://") {
        Docker::connect_with_unix(host, TIMEOUT_SECONDS, version)
    } else if host.starts_with("ssh://") {
        check_ssh(host)?;
        Docker::connect_with_ssh(host, TIMEOUT_SECONDS, version, None)
    } else if let Some(tls) = &endpoint.tls {
        let ca = check_tls(tls, &endpoint.source)?;
        // bollard reads the client pair lazily and goes without one when the files are absent,
        // as the CLI does; it needs paths all the same, so name the usual ones.
        let dir = ca.parent().unwrap_or(ca);
        let cert = tls.cert.clone().unwrap_or_else(|| dir.join("cert.pem"));
        let key = tls.key.clone().unwrap_or_else(|| dir.join("key.pem"));
        Docker::connect_with_ssl(host, &key, &cert, ca, TIMEOUT_SECONDS, version)
    } else {
        Docker::connect_with_http(host, TIMEOUT_SECONDS, version)
    };
    docker.map_err(|err| context.classify(err))
}

/// bollard 0.21 hands `user@host:port` to `ssh` as the destination, which ssh reads as a host
/// name containing a colon; only the port-less form works.
fn check_ssh(host: &str) -> Result<(), EngineError> {
    let authority = host
        .trim_start_matches("ssh://")
        .split('/')
        .next()
        .unwrap_or_default();
    let host_part = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_part.contains(':') {
        return Err(EngineError::config(
            format!("{host}: ssh:// with a port is not supported by stackctl"),
            Some("add a `Host` entry with `Port` to ~/.ssh/config and use ssh://[user@]that-host"),
        ));
    }
    Ok(())
}

/// bollard 0.21 always verifies the daemon's certificate, against a CA file it must be given.
fn check_tls<'a>(tls: &'a TlsFiles, source: &EndpointSource) -> Result<&'a Path, EngineError> {
    if !tls.verify {
        return Err(EngineError::config(
            format!("TLS without certificate verification ({source}) is not supported by stackctl"),
            Some(
                "give the daemon's CA as ca.pem and verify (DOCKER_TLS_VERIFY=1, or a context without SkipTLSVerify), or use ssh://",
            ),
        ));
    }
    tls.ca.as_deref().ok_or_else(|| EngineError::Tls {
        message: format!("{source} has TLS files but no ca.pem to verify the daemon with"),
    })
}

fn parse_version(text: &str) -> Result<ClientVersion, EngineError> {
    let parsed = text.split_once('.').and_then(|(major, minor)| {
        Some(ClientVersion {
            major_version: major.parse().ok()?,
            minor_version: minor.parse().ok()?,
        })
    });
    parsed.ok_or_else(|| {
        EngineError::config(
            format!("DOCKER_API_VERSION={text:?} is not an API version"),
            Some("use a version like 1.41, or unset it to negotiate"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::{check_ssh, parse_version};

    #[test]
    fn ssh_hosts_with_a_port_are_refused_with_a_workaround() {
        for ok in ["ssh://host", "ssh://me@host", "ssh://me@host/ignored/path"] {
            assert!(check_ssh(ok).is_ok(), "{ok}");
        }
        for port in ["ssh://host:2222", "ssh://me@host:22"] {
            let err = check_ssh(port).unwrap_err();
            let help = miette::Diagnostic::help(&err).unwrap().to_string();
            assert!(help.contains("~/.ssh/config"), "{port}: {help}");
        }
    }

    #[test]
    fn api_versions_parse_as_major_dot_minor() {
        let v = parse_version("1.41").unwrap();
        assert_eq!((v.major_version, v.minor_version), (1, 41));
        for bad in ["1", "v1.41", "1.x", ""] {
            assert!(parse_version(bad).is_err(), "{bad}");
        }
    }
}
