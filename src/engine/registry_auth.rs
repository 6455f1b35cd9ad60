//! Registry credentials for `--with-registry-auth`, found the way the docker CLI finds them in
//! its config file (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`): a credential
//! helper named for the registry in `credHelpers`, else the `credsStore` helper, else the
//! `auths` entry written inline.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::Engine as _;
use bollard::auth::DockerCredentials;
use serde_json::Value;

/// Docker Hub's key in `auths` and the server URL its helpers are asked for.
const DOCKER_HUB: &str = "https://index.docker.io/v1/";

/// The user name a helper answers with when the secret is an identity token.
const TOKEN_USER: &str = "<token>";

/// The registry an image is pulled from: its first path component when that looks like a
/// host (has a `.` or `:`, or is `localhost`), else Docker Hub.
#[must_use]
pub fn registry_of(image: &str) -> String {
    match image.split_once('/') {
        Some((host, _)) if host.contains(['.', ':']) || host == "localhost" => host.to_owned(),
        _ => DOCKER_HUB.to_owned(),
    }
}

fn config_path() -> Option<PathBuf> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))?;
    Some(dir.join("config.json"))
}

/// Credentials for `image`'s registry, or `None` when the config has none for it (the image is
/// then pulled anonymously, as docker would). A failing helper counts as none.
#[must_use]
pub fn credentials_for(image: &str) -> Option<DockerCredentials> {
    let text = std::fs::read_to_string(config_path()?).ok()?;
    let config: Value = serde_json::from_str(&text).ok()?;
    credentials_in(&config, image, &|name, registry| {
        ask_helper(&format!("docker-credential-{name}"), registry)
    })
}

/// [`credentials_for`] with the config given, and `helper(name, registry)` standing for running
/// the credential helper `name`.
pub fn credentials_in(
    config: &Value,
    image: &str,
    helper: &dyn Fn(&str, &str) -> Option<Value>,
) -> Option<DockerCredentials> {
    let registry = registry_of(image);
    let helper_name = config["credHelpers"]
        .as_object()
        .and_then(|helpers| {
            helpers
                .iter()
                .find(|(key, _)| same_registry(key, &registry))
        })
        .and_then(|(_, name)| name.as_str())
        .or_else(|| config["credsStore"].as_str())
        .filter(|name| !name.is_empty());
    match helper_name {
        Some(name) => from_helper_answer(&helper(name, &registry)?, &registry),
        None => from_auths(config, &registry),
    }
}

/// `auths` keys may be bare hosts or URLs with a scheme and a path.
fn same_registry(key: &str, registry: &str) -> bool {
    let bare = |s: &str| {
        s.trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned()
    };
    let key = bare(key);
    key == bare(registry) || key.split('/').next() == Some(registry)
}

fn from_auths(config: &Value, registry: &str) -> Option<DockerCredentials> {
    let auths = config.get("auths")?.as_object()?;
    let (_, entry) = auths.iter().find(|(key, _)| same_registry(key, registry))?;
    let mut credentials = DockerCredentials {
        serveraddress: Some(registry.to_owned()),
        ..DockerCredentials::default()
    };
    if let Some(token) = entry["identitytoken"].as_str().filter(|t| !t.is_empty()) {
        credentials.identitytoken = Some(token.to_owned());
        return Some(credentials);
    }
    let auth = entry.get("auth")?.as_str()?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth)
        .ok()?;
    let (username, password) = String::from_utf8(decoded)
        .ok()?
        .split_once(':')
        .map(|(u, p)| (u.to_owned(), p.to_owned()))?;
    credentials.username = Some(username);
    credentials.password = Some(password);
    Some(credentials)
}

/// Run a credential helper `program get` for `registry`, as the docker CLI does: the server URL
/// on stdin, `{"ServerURL", "Username", "Secret"}` on stdout. `None` when it fails.
#[must_use]
// The one subprocess stackctl runs: a credential helper is a program by its protocol.
#[allow(clippy::disallowed_methods)]
pub fn ask_helper(program: &str, registry: &str) -> Option<Value> {
    let mut child = Command::new(program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(registry.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    if !out.status.success() {
        // "credentials not found in native keychain": nothing stored for this registry.
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

fn from_helper_answer(answer: &Value, registry: &str) -> Option<DockerCredentials> {
    let user = answer["Username"].as_str().unwrap_or_default();
    let secret = answer["Secret"].as_str().filter(|s| !s.is_empty())?;
    let mut credentials = DockerCredentials {
        serveraddress: Some(registry.to_owned()),
        ..DockerCredentials::default()
    };
    if user == TOKEN_USER {
        credentials.identitytoken = Some(secret.to_owned());
    } else {
        credentials.username = Some(user.to_owned());
        credentials.password = Some(secret.to_owned());
    }
    Some(credentials)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::{credentials_in, registry_of, same_registry};

    fn helper(name: &str, registry: &str) -> Option<Value> {
        match name {
            "ecr" => Some(json!({"ServerURL": registry, "Username": "AWS", "Secret": "ecr-pw"})),
            "desktop" => {
                Some(json!({"ServerURL": registry, "Username": "<token>", "Secret": "tok"}))
            }
            _ => None,
        }
    }

    #[test]
    fn helpers_come_before_inline_auths_as_in_the_docker_cli() {
        let config = json!({
            "credHelpers": {"123.dkr.ecr.eu-west-1.amazonaws.com": "ecr"},
            "credsStore": "desktop",
            "auths": {"reg.example.com": {"auth": "dTpwdw=="}},
        });
        let ecr = credentials_in(
            &config,
            "123.dkr.ecr.eu-west-1.amazonaws.com/app:1",
            &helper,
        )
        .unwrap();
        assert_eq!(ecr.username.as_deref(), Some("AWS"));
        assert_eq!(ecr.password.as_deref(), Some("ecr-pw"));
        // The store answers for every other registry; a `<token>` user means an identity token.
        let hub = credentials_in(&config, "team/app:1", &helper).unwrap();
        assert_eq!(hub.identitytoken.as_deref(), Some("tok"));
        assert_eq!(
            hub.serveraddress.as_deref(),
            Some("https://index.docker.io/v1/")
        );
        assert_eq!(hub.username, None);

        let inline = json!({"auths": {"https://reg.example.com/v1/": {"auth": "dTpwdw=="}}});
        let found = credentials_in(&inline, "reg.example.com/app:1", &helper).unwrap();
        assert_eq!(
            (found.username.as_deref(), found.password.as_deref()),
            (Some("u"), Some("pw"))
        );
        let broken_helper =
            json!({"credsStore": "missing", "auths": {"reg.example.com": {"auth": "dTpwdw=="}}});
        assert!(credentials_in(&broken_helper, "reg.example.com/app:1", &helper).is_none());
    }

    #[test]
    fn registries() {
        assert_eq!(registry_of("nginx:1"), "https://index.docker.io/v1/");
        assert_eq!(registry_of("team/app"), "https://index.docker.io/v1/");
        assert_eq!(registry_of("reg.example.com/a/b:1"), "reg.example.com");
        assert_eq!(registry_of("localhost:5000/app"), "localhost:5000");
    }

    #[test]
    fn auths_keys_match_with_or_without_scheme_and_path() {
        assert!(same_registry(
            "https://reg.example.com/v2/",
            "reg.example.com"
        ));
        assert!(same_registry("reg.example.com", "reg.example.com"));
        assert!(same_registry(
            "https://index.docker.io/v1/",
            "https://index.docker.io/v1/"
        ));
        assert!(!same_registry("other.example.com", "reg.example.com"));
    }
}
