//! Registry credentials for `--with-registry-auth`, read from the docker CLI's config file
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`), `auths` section.

use std::path::PathBuf;

use base64::Engine as _;
use bollard::auth::DockerCredentials;
use serde_json::Value;

/// Docker Hub's key in `auths`.
const DOCKER_HUB: &str = "https://index.docker.io/v1/";

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

/// Credentials for `image`'s registry, if the config file has them inline. Credential helpers
/// (`credsStore`, `credHelpers`) are programs stackctl does not run; the caller warns.
#[must_use]
pub fn credentials_for(image: &str) -> Option<DockerCredentials> {
    let text = std::fs::read_to_string(config_path()?).ok()?;
    let config: Value = serde_json::from_str(&text).ok()?;
    let registry = registry_of(image);
    let auths = config.get("auths")?.as_object()?;
    let entry = auths.iter().find(|(key, _)| {
        let key = key
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        key == registry.trim_start_matches("https://")
            || key.split('/').next() == Some(registry.as_str())
    })?;
    let auth = entry.1.get("auth")?.as_str()?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth)
        .ok()?;
    let (username, password) = String::from_utf8(decoded)
        .ok()?
        .split_once(':')
        .map(|(u, p)| (u.to_owned(), p.to_owned()))?;
    Some(DockerCredentials {
        username: Some(username),
        password: Some(password),
        serveraddress: Some(registry),
        ..DockerCredentials::default()
    })
}

#[cfg(test)]
mod tests {
    use super::registry_of;

    #[test]
    fn registries() {
        assert_eq!(registry_of("nginx:1"), "https://index.docker.io/v1/");
        assert_eq!(registry_of("team/app"), "https://index.docker.io/v1/");
        assert_eq!(registry_of("reg.example.com/a/b:1"), "reg.example.com");
        assert_eq!(registry_of("localhost:5000/app"), "localhost:5000");
    }
}
