//! A bollard request hook that fixes two things bollard 0.21 sends wrong: it puts the negotiated
//! API version in the path, and re-encodes `X-Registry-Auth` in the alphabet the daemon decodes.
//!
//! bollard 0.21 drops the `/v1.xx` prefix (its URL join replaces the path), so the daemon answers
//! every call at its own newest API version, not the negotiated one the docker CLI would use. And
//! it base64-encodes registry auth with the standard alphabet (`+`, `/`) while the daemon decodes
//! the URL-safe one (`-`, `_`) and, for services, silently drops auth it cannot decode.

use bollard::BollardRequest;

use super::raw;

const REGISTRY_AUTH: &str = "x-registry-auth";

/// The hook for `Docker::with_request_modifier`, pinning API `version` (e.g. `1.41`). It also
/// turns [`raw`] reads back into the GET they stand for.
pub(crate) fn modifier(
    version: &str,
) -> impl Fn(BollardRequest) -> BollardRequest + Send + Sync + 'static {
    let prefix = format!("/v{version}");
    move |mut request| {
        let raw_target = raw::redirect(&request);
        pin_version(&mut request, &prefix, raw_target.as_deref());
        url_safe_auth(&mut request);
        request
    }
}

/// Put `prefix` before the path (or before `target`, which replaces path and query).
fn pin_version(request: &mut BollardRequest, prefix: &str, target: Option<&str>) {
    let uri = request.uri();
    let path_and_query = target.unwrap_or(uri.path_and_query().map_or("/", |pq| pq.as_str()));
    // Leave it alone once a bollard release fixes the path (a `/v1.` prefix already there).
    let prefix = if path_and_query.starts_with("/v1.") {
        ""
    } else {
        prefix
    };
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return;
    };
    let pinned = format!("{scheme}://{authority}{prefix}{path_and_query}");
    // Both parts came from a valid URI and the prefix is plain ASCII, so this cannot fail; if it
    // somehow did, the unversioned request still works against every daemon.
    if let Ok(uri) = pinned.parse() {
        *request.uri_mut() = uri;
    }
}

fn url_safe_auth(request: &mut BollardRequest) {
    let Some(value) = request.headers_mut().get_mut(REGISTRY_AUTH) else {
        return;
    };
    let Some(fixed) = value
        .to_str()
        .ok()
        .map(|text| text.replace('+', "-").replace('/', "_"))
    else {
        return;
    };
    if let Ok(fixed) = fixed.parse() {
        *value = fixed;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use bollard::auth::DockerCredentials;
    use bollard::models::ServiceSpec;
    use bollard::{API_DEFAULT_VERSION, Docker};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A one-shot HTTP server on loopback that records the request head and answers `body`.
    async fn recorder(body: &'static str) -> (String, Arc<Mutex<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("tcp://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(String::new()));
        let record = Arc::clone(&seen);
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = vec![0; 65536];
            let mut head = String::new();
            while !head.contains("\r\n\r\n") {
                let read = socket.read(&mut buffer).await.unwrap();
                assert!(read > 0, "client closed early");
                head.push_str(&String::from_utf8_lossy(&buffer[..read]));
            }
            *record.lock().unwrap() = head;
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(response.as_bytes()).await.unwrap();
        });
        (address, seen)
    }

    #[tokio::test]
    async fn bollard_alone_sends_no_version_and_the_hook_adds_it() {
        let (address, seen) = recorder("[]").await;
        let docker = Docker::connect_with_http(&address, 5, API_DEFAULT_VERSION).unwrap();
        docker.list_services(None).await.unwrap();
        // Guards the bollard 0.21 behaviour this hook exists for; if this fails, bollard has
        // fixed the path and the hook's early return takes over.
        assert!(
            seen.lock().unwrap().starts_with("GET /services HTTP/1.1"),
            "{seen:?}"
        );

        let (address, seen) = recorder("[]").await;
        let docker = Docker::connect_with_http(&address, 5, API_DEFAULT_VERSION)
            .unwrap()
            .with_request_modifier(super::modifier("1.41"));
        let options = bollard::query_parameters::ListServicesOptions {
            status: Some(false),
            ..Default::default()
        };
        docker.list_services(Some(options)).await.unwrap();
        let head = seen.lock().unwrap().clone();
        assert!(
            head.starts_with("GET /v1.41/services?status=false HTTP/1.1"),
            "{head}"
        );
    }

    #[tokio::test]
    async fn a_raw_read_leaves_as_the_get_it_stands_for() {
        let (address, seen) = recorder(r#"[{"ID":"s1"}]"#).await;
        let docker = Docker::connect_with_http(&address, 5, API_DEFAULT_VERSION)
            .unwrap()
            .with_request_modifier(super::modifier("1.41"));
        let answer =
            crate::engine::raw::get_json(&docker, "/services?status=false", |err| panic!("{err}"))
                .await
                .unwrap();
        assert_eq!(answer[0]["ID"], "s1");
        let head = seen.lock().unwrap().clone();
        assert!(
            head.starts_with("GET /v1.41/services?status=false HTTP/1.1"),
            "{head}"
        );
    }

    #[tokio::test]
    async fn registry_auth_goes_out_url_safe() {
        let (address, seen) = recorder(r#"{"ID":"s1"}"#).await;
        let docker = Docker::connect_with_http(&address, 5, API_DEFAULT_VERSION)
            .unwrap()
            .with_request_modifier(super::modifier("1.41"));
        // `?` and `>` runs make the standard alphabet emit `/` and `+`.
        let credentials = DockerCredentials {
            username: Some("u".into()),
            password: Some("???>>>??>>?>?>".into()),
            ..DockerCredentials::default()
        };
        docker
            .create_service(ServiceSpec::default(), Some(credentials))
            .await
            .unwrap();
        let head = seen.lock().unwrap().clone();
        let auth = head
            .lines()
            .find_map(|line| line.strip_prefix("x-registry-auth: "))
            .unwrap_or_else(|| panic!("no auth header in {head}"));
        assert!(!auth.contains(['+', '/']), "{auth}");
        assert!(
            auth.contains(['-', '_']),
            "the test password no longer exercises the fix: {auth}"
        );
    }
}
