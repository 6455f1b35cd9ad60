//! `stackctl healthcheck [URL]`: exit 0 when a watcher's `/healthz` answers 200, 1 otherwise.
//! For the `healthcheck:` of a watcher service, whose image has no shell or curl.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::exit;

const TIMEOUT: Duration = Duration::from_secs(3);

#[must_use]
pub fn run(url: &str) -> i32 {
    match check(url) {
        Ok(()) => exit::OK,
        Err(why) => {
            eprintln!("unhealthy: {url}: {why}");
            exit::ERROR
        }
    }
}

fn check(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("only http:// URLs are checked")?;
    let (authority, path) = rest.split_once('/').map_or((rest, "/"), |(a, p)| (a, p));
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    let addr = authority
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("{authority} resolves to no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    let status = response.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) == Some("200") {
        return Ok(());
    }
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .trim();
    Err(format!("{status}: {body}"))
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn only_a_200_is_healthy() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            for answer in ["200 OK", "503 Service Unavailable"] {
                let (mut stream, _) = listener.accept().unwrap();
                let mut buffer = [0u8; 512];
                let _ = std::io::Read::read(&mut stream, &mut buffer);
                let text = format!("HTTP/1.1 {answer}\r\nContent-Length: 3\r\n\r\nxyz");
                std::io::Write::write_all(&mut stream, text.as_bytes()).unwrap();
            }
        });
        let url = format!("http://127.0.0.1:{port}/healthz");
        assert_eq!(check(&url), Ok(()));
        let unhealthy = check(&url).unwrap_err();
        assert!(
            unhealthy.contains("503") && unhealthy.contains("xyz"),
            "{unhealthy}"
        );
        server.join().unwrap();
        assert!(check("https://example.invalid/").is_err());
    }
}
