//! Table tests for endpoint resolution: precedence, host parsing, TLS, and a fake context store.

use std::collections::HashMap;
use std::path::Path;

use super::{ConnectOptions, Endpoint, EndpointSource, TlsFiles, parse_host, resolve_endpoint};
use crate::engine::EngineError;
use crate::engine::context_store::write_context;

/// Environment variables for one case; `$HOME` in a value stands for the fake home folder.
type Vars = &'static [(&'static str, &'static str)];

const TCP: (&str, &str) = ("DOCKER_HOST", "tcp://d:2376");
const PROD: &str = r#"{"Name":"prod","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://prod.example:2376","SkipTLSVerify":false}}}"#;
const LAB: &str = r#"{"Name":"lab","Metadata":{},"Endpoints":{"docker":{"Host":"ssh://me@lab","SkipTLSVerify":false}}}"#;
const INSECURE: &str = r#"{"Name":"insecure","Endpoints":{"docker":{"Host":"tcp://10.1.1.1:2376","SkipTLSVerify":true}}}"#;

/// A home folder with `~/.docker/config.json` (current context "prod"), three contexts, and a
/// second config folder (for `DOCKER_CONFIG`) whose current context is "lab".
fn home() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let docker = home.path().join(".docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(docker.join("config.json"), r#"{"currentContext":"prod"}"#).unwrap();
    write_context(&docker, "prod", PROD, &["ca.pem", "cert.pem", "key.pem"]);
    write_context(&docker, "lab", LAB, &[]);
    write_context(&docker, "insecure", INSECURE, &["ca.pem"]);
    for file in ["ca.pem", "cert.pem", "key.pem"] {
        std::fs::write(docker.join(file), "pem").unwrap();
    }
    let other = home.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("config.json"), r#"{"currentContext":"lab"}"#).unwrap();
    write_context(&other, "lab", LAB, &[]);
    home
}

fn resolve(
    home: &Path,
    host: Option<&str>,
    vars: &[(&str, &str)],
) -> Result<Endpoint, EngineError> {
    let mut env: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.replace("$HOME", &home.to_string_lossy())))
        .collect();
    env.entry("HOME".into())
        .or_insert_with(|| home.to_string_lossy().into_owned());
    let opts = ConnectOptions {
        host: host.map(str::to_owned),
    };
    resolve_endpoint(&|name| env.get(name).cloned(), &opts)
}

fn context(name: &str, from_env: bool) -> EndpointSource {
    EndpointSource::Context {
        name: name.into(),
        from_env,
    }
}

#[test]
fn precedence_follows_the_docker_cli() {
    let home = home();
    let cases: [(Option<&str>, Vars, &str, EndpointSource); 9] = [
        (
            Some("tcp://h1"),
            &[("DOCKER_HOST", "tcp://h2"), ("DOCKER_CONTEXT", "lab")],
            "tcp://h1:2375",
            EndpointSource::HostOption,
        ),
        (
            None,
            &[
                ("DOCKER_HOST", "unix:///tmp/d.sock"),
                ("DOCKER_CONTEXT", "lab"),
            ],
            "unix:///tmp/d.sock",
            EndpointSource::DockerHost,
        ),
        (
            Some(""),
            &[("DOCKER_HOST", "tcp://h2:1")],
            "tcp://h2:1",
            EndpointSource::DockerHost,
        ),
        (
            None,
            &[("DOCKER_HOST", ""), ("DOCKER_CONTEXT", "lab")],
            "ssh://me@lab",
            context("lab", true),
        ),
        (None, &[], "tcp://prod.example:2376", context("prod", false)),
        (
            None,
            &[("DOCKER_CONTEXT", "default")],
            "unix:///var/run/docker.sock",
            EndpointSource::Default,
        ),
        (
            None,
            &[("DOCKER_CONFIG", "$HOME/other")],
            "ssh://me@lab",
            context("lab", false),
        ),
        (
            None,
            &[("DOCKER_CONFIG", "$HOME/none")],
            "unix:///var/run/docker.sock",
            EndpointSource::Default,
        ),
        (
            None,
            &[("HOME", "$HOME/none")],
            "unix:///var/run/docker.sock",
            EndpointSource::Default,
        ),
    ];
    for (host, vars, expected_host, expected_source) in cases {
        let endpoint = resolve(home.path(), host, vars).unwrap();
        assert_eq!(endpoint.host, expected_host, "{host:?} {vars:?}");
        assert_eq!(endpoint.source, expected_source, "{host:?} {vars:?}");
    }
}

#[test]
fn tls_from_the_environment_for_tcp_hosts() {
    let home = home();
    let docker = home.path().join(".docker");
    let files = |verify| TlsFiles {
        ca: Some(docker.join("ca.pem")),
        cert: Some(docker.join("cert.pem")),
        key: Some(docker.join("key.pem")),
        verify,
    };
    let cases: [(Vars, &str, Option<TlsFiles>); 7] = [
        (&[TCP], "tcp://d:2376", None),
        (
            &[TCP, ("DOCKER_TLS_VERIFY", "1")],
            "tcp://d:2376",
            Some(files(true)),
        ),
        // The CLI's rule: any non-empty value turns verification on, "0" included.
        (
            &[TCP, ("DOCKER_TLS_VERIFY", "0")],
            "tcp://d:2376",
            Some(files(true)),
        ),
        (&[TCP, ("DOCKER_TLS_VERIFY", "")], "tcp://d:2376", None),
        (
            &[TCP, ("DOCKER_TLS", "1")],
            "tcp://d:2376",
            Some(files(false)),
        ),
        (
            &[
                ("DOCKER_HOST", "unix:///d.sock"),
                ("DOCKER_TLS_VERIFY", "1"),
            ],
            "unix:///d.sock",
            None,
        ),
        (
            &[("DOCKER_CONTEXT", "default"), ("DOCKER_TLS_VERIFY", "1")],
            "tcp://localhost:2376",
            Some(files(true)),
        ),
    ];
    for (vars, expected_host, expected_tls) in cases {
        let endpoint = resolve(home.path(), None, vars).unwrap();
        assert_eq!(
            (endpoint.host.as_str(), endpoint.tls),
            (expected_host, expected_tls),
            "{vars:?}"
        );
    }
}

#[test]
fn cert_path_and_missing_ca() {
    let home = home();
    let certs = home.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let vars = [
        ("DOCKER_HOST", "tcp://d"),
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_CERT_PATH", "$HOME/certs"),
    ];
    let err = resolve(home.path(), None, &vars).unwrap_err();
    assert!(
        matches!(&err, EngineError::Tls { message } if message.contains("certs/ca.pem")),
        "{err:?}"
    );
    std::fs::write(certs.join("ca.pem"), "pem").unwrap();
    let tls = resolve(home.path(), None, &vars).unwrap().tls.unwrap();
    // Client certificate and key are optional, as for the CLI.
    assert_eq!(
        (tls.ca, tls.cert, tls.key),
        (Some(certs.join("ca.pem")), None, None)
    );
}

#[test]
fn tls_from_the_context_store() {
    let home = home();
    let docker = home.path().join(".docker");
    let tls_dir = |name: &str| {
        let id = crate::model::digest::sha256_hex(name.as_bytes());
        docker.join("contexts/tls").join(id).join("docker")
    };
    let prod = resolve(home.path(), None, &[]).unwrap().tls.unwrap();
    assert_eq!(prod.ca, Some(tls_dir("prod").join("ca.pem")));
    assert_eq!(prod.key, Some(tls_dir("prod").join("key.pem")));
    assert!(prod.verify);
    let insecure = resolve(home.path(), None, &[("DOCKER_CONTEXT", "insecure")]).unwrap();
    let tls = insecure.tls.unwrap();
    assert_eq!((tls.cert, tls.verify), (None, false));
    // Environment TLS settings do not apply to a named context.
    let lab = resolve(
        home.path(),
        None,
        &[("DOCKER_CONTEXT", "lab"), ("DOCKER_TLS_VERIFY", "1")],
    );
    assert_eq!(lab.unwrap().tls, None);
}

#[test]
fn api_version_and_unknown_context() {
    let home = home();
    let pinned = resolve(home.path(), None, &[("DOCKER_API_VERSION", "1.41")]).unwrap();
    assert_eq!(pinned.api_version.as_deref(), Some("1.41"));
    let err = resolve(home.path(), None, &[("DOCKER_CONTEXT", "gone")]).unwrap_err();
    assert!(matches!(err, EngineError::Config { .. }), "{err:?}");
    assert!(err.to_string().contains("\"gone\" not found"), "{err}");
}

#[test]
fn host_strings_are_normalised_like_the_cli() {
    let cases = [
        ("", false, "unix:///var/run/docker.sock"),
        ("", true, "tcp://localhost:2376"),
        ("unix://", false, "unix:///var/run/docker.sock"),
        (
            "unix:///run/user/1000/docker.sock",
            false,
            "unix:///run/user/1000/docker.sock",
        ),
        ("tcp://", false, "tcp://localhost:2375"),
        ("tcp://", true, "tcp://localhost:2375"),
        ("10.0.0.1", false, "tcp://10.0.0.1:2375"),
        (":2377", false, "tcp://localhost:2377"),
        ("tcp://h:2376/base", false, "tcp://h:2376/base"),
        ("tcp://[::1]:2376", false, "tcp://[::1]:2376"),
        ("tcp://[::1]", false, "tcp://[::1]:2375"),
        ("tcp://::1", false, "tcp://[::1]:2375"),
        ("  ssh://me@host  ", false, "ssh://me@host"),
    ];
    for (input, tls, expected) in cases {
        assert_eq!(parse_host(input, tls).unwrap(), expected, "{input:?}");
    }
    for bad in [
        "http://h",
        "tcp://h:abc",
        "tcp://h:99999",
        "unix://tcp://x",
        "npipe:////./pipe/d",
        "fd://",
    ] {
        let err = parse_host(bad, false).unwrap_err();
        assert!(matches!(err, EngineError::Config { .. }), "{bad}: {err:?}");
    }
}
