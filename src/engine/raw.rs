//! Raw JSON answers for reads where bollard's models would drop fields (a service's
//! `PreviousSpec`, fields newer than the models), fetched through bollard's transport.
//!
//! bollard 0.21 has no untyped request. Its one plain GET whose body comes back untouched is the
//! container export, so a raw read is sent as an export of a marker "container" whose name
//! carries the real path in hex; the request hook ([`redirect`]) swaps the path back before the
//! request leaves. Everything else (transport, TLS, ssh, error statuses) is bollard's own.

use std::fmt::Write as _;

use bollard::{BollardRequest, Docker};
use futures::TryStreamExt;
use serde_json::Value;

use super::EngineError;

const MARKER: &str = "stackctl-raw-";
const EXPORT_PREFIX: &str = "/containers/";
const EXPORT_SUFFIX: &str = "/export";

/// `GET path_and_query` (unversioned, e.g. `/services?status=false`) and parse the body as JSON;
/// `fail` words transport and daemon errors.
pub(crate) async fn get_json(
    docker: &Docker,
    path_and_query: &str,
    fail: impl Fn(bollard::errors::Error) -> EngineError,
) -> Result<Value, EngineError> {
    let name = format!("{MARKER}{}", hex(path_and_query.as_bytes()));
    let body = docker
        .export_container(&name)
        .try_fold(Vec::new(), |mut body, chunk| {
            body.extend_from_slice(&chunk);
            futures::future::ready(Ok(body))
        })
        .await
        .map_err(fail)?;
    serde_json::from_slice(&body).map_err(|err| EngineError::Protocol {
        message: format!("the answer to GET {path_and_query} is not JSON: {err}"),
    })
}

/// The request hook's half: turn a marker export back into the GET it stands for. Returns the
/// real path and query, or `None` for every other request.
pub(crate) fn redirect(request: &BollardRequest) -> Option<String> {
    let path = request.uri().path();
    // A bollard that fixes its paths would send `/v1.xx/containers/…`.
    let path = match path.strip_prefix("/v1.") {
        Some(rest) => &rest[rest.find('/')?..],
        None => path,
    };
    let path = path
        .strip_prefix(EXPORT_PREFIX)?
        .strip_suffix(EXPORT_SUFFIX)?;
    let encoded = path.strip_prefix(MARKER)?;
    String::from_utf8(unhex(encoded)?).ok()
}

/// `key=value` query text, percent-encoded (bollard's own encoder is private).
pub(crate) fn query(pairs: &[(&str, &str)]) -> String {
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(key, value)| format!("{}={}", percent(key), percent(value)))
        .collect();
    encoded.join("&")
}

fn percent(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{hex, query, unhex};

    #[test]
    fn marker_names_round_trip_and_queries_are_encoded() {
        let target = r#"/services?filters={"label":["a=b"]}&status=false"#;
        assert_eq!(unhex(&hex(target.as_bytes())).unwrap(), target.as_bytes());
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
        assert_eq!(
            query(&[("filters", r#"{"label":["x=y z"]}"#), ("status", "false")]),
            "filters=%7B%22label%22%3A%5B%22x%3Dy%20z%22%5D%7D&status=false"
        );
    }
}
