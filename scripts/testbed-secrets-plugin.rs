//! stackctl-test/secrets: the test bed's Docker secret driver plugin.
//!
//! scripts/testbed compiles this file on its own (`rustc`, std only, linked
//! statically; it is not part of the cargo crate) and installs the binary as
//! the managed plugin `stackctl-test/secrets:1`. Swarm then asks it for the
//! value of every secret whose spec names it as `driver`, and it answers with
//! a value that depends only on the secret's name, so a test can predict what
//! a task finds in /run/secrets/<target>:
//!
//!     value of <SecretName>\n
//!
//! (SecretName is the secret's name in the swarm, e.g. `mystack_token` for a
//! stack file's `token`.)
//!
//! Protocol: Docker's plugin API, JSON over HTTP/1.1 on a unix socket, which
//! the daemon expects at /run/docker/plugins/<socket> inside the plugin (the
//! socket name comes from config.json's `interface.socket`):
//!
//!     POST /Plugin.Activate          -> {"Implements": ["secretprovider"]}
//!     POST /SecretProvider.GetSecret    {"SecretName": ..., "ServiceName": ...}
//!                                    -> {"Value": <base64>, "Err": "", "DoNotReuse": false}
//!
//! Usage: stackctl-test-secrets [SOCKET_PATH]
//!        (default /run/docker/plugins/secrets.sock)
//!
//! It logs one line per request: the daemon copies a plugin's stdout into its
//! log at level info and its stderr at level error, so only failures go to
//! stderr.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

const DEFAULT_SOCKET: &str = "/run/docker/plugins/secrets.sock";
const CONTENT_TYPE: &str = "application/vnd.docker.plugins.v1.2+json";
/// Requests are a few hundred bytes; anything far larger is not the daemon.
const MAX_BODY: usize = 1 << 20;
const MAX_LINE: usize = 16 << 10;
/// The daemon keeps connections alive between calls; an idle one is dropped
/// after this long so threads do not pile up.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

// The plugin runs as PID 1 of its container, and PID 1 gets no default signal
// actions: without a handler, SIGTERM from `docker plugin disable` would be
// ignored and the daemon would wait out its grace period before SIGKILL.
// std has no signal API, so call libc's directly (std links it anyway).
const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;
extern "C" {
    fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
    fn _exit(status: i32) -> !;
}
extern "C" fn on_terminate(_signum: i32) {
    // _exit is async-signal-safe; there is no state worth flushing.
    unsafe { _exit(0) }
}

fn main() {
    unsafe {
        signal(SIGTERM, on_terminate);
        signal(SIGINT, on_terminate);
    }
    let path = std::env::args().nth(1).unwrap_or_else(|| DEFAULT_SOCKET.to_string());
    if let Some(dir) = std::path::Path::new(&path).parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    // A socket left over from an earlier run would make bind fail.
    let _ = std::fs::remove_file(&path);
    let listener = match UnixListener::bind(&path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("stackctl-test/secrets: cannot listen on {path}: {e}");
            std::process::exit(1);
        }
    };
    println!("stackctl-test/secrets: listening on {path}");
    for conn in listener.incoming() {
        match conn {
            Ok(stream) => {
                std::thread::spawn(move || {
                    if let Err(e) = serve(stream) {
                        eprintln!("stackctl-test/secrets: connection: {e}");
                    }
                });
            }
            Err(e) => eprintln!("stackctl-test/secrets: accept: {e}"),
        }
    }
}

// ------------------------------------------------------------------ HTTP --

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
    close: bool,
}

/// Answers requests on one connection until the client closes it.
fn serve(stream: UnixStream) -> io::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let req = match read_request(&mut reader) {
            Ok(Some(req)) => req,
            Ok(None) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                let body = format!("{{\"Err\":{}}}", json_string(&e.to_string()));
                write_response(&mut writer, 400, "Bad Request", &body, true)?;
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let (code, reason, body) = route(&req);
        write_response(&mut writer, code, reason, &body, req.close)?;
        if req.close {
            return Ok(());
        }
    }
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Reads one line (up to CRLF or LF) without its line ending; None at EOF.
fn read_line(r: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = r.by_ref().take(MAX_LINE as u64 + 1).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.len() > MAX_LINE {
        return Err(bad("line too long"));
    }
    while matches!(buf.last(), Some(b'\n' | b'\r')) {
        buf.pop();
    }
    String::from_utf8(buf).map(Some).map_err(|_| bad("header is not UTF-8"))
}

fn read_request(r: &mut impl BufRead) -> io::Result<Option<Request>> {
    // Tolerate stray blank lines between requests (RFC 9112, 2.2).
    let line = loop {
        match read_line(r)? {
            None => return Ok(None),
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let mut parts = line.split_whitespace();
    let (method, path, version) = match (parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(p), Some(v)) => (m.to_string(), p.to_string(), v.to_string()),
        _ => return Err(bad(format!("malformed request line {line:?}"))),
    };
    let mut close = version == "HTTP/1.0";
    let mut length: Option<usize> = None;
    let mut chunked = false;
    for _ in 0..100 {
        let h = read_line(r)?.ok_or_else(|| bad("connection closed inside the headers"))?;
        if h.is_empty() {
            let body = if chunked {
                read_chunked(r)?
            } else {
                let n = length.unwrap_or(0);
                if n > MAX_BODY {
                    return Err(bad("request body too large"));
                }
                let mut body = vec![0; n];
                r.read_exact(&mut body)?;
                body
            };
            return Ok(Some(Request { method, path, body, close }));
        }
        let (name, value) = h.split_once(':').ok_or_else(|| bad(format!("malformed header {h:?}")))?;
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_ascii_lowercase());
        match name.as_str() {
            "content-length" => {
                length = Some(value.parse().map_err(|_| bad("bad Content-Length"))?);
            }
            "transfer-encoding" => chunked = value.ends_with("chunked"),
            "connection" => {
                if value.contains("close") {
                    close = true;
                } else if value.contains("keep-alive") {
                    close = false;
                }
            }
            _ => {}
        }
    }
    Err(bad("too many headers"))
}

fn read_chunked(r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(r)?.ok_or_else(|| bad("connection closed inside the body"))?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| bad("bad chunk size"))?;
        if size == 0 {
            // Trailers, if any, end with a blank line.
            while let Some(t) = read_line(r)? {
                if t.is_empty() {
                    break;
                }
            }
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            return Err(bad("request body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        read_line(r)?; // the CRLF after the chunk
    }
}

fn write_response(w: &mut impl Write, code: u16, reason: &str, body: &str, close: bool) -> io::Result<()> {
    let connection = if close { "close" } else { "keep-alive" };
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n",
        body.len()
    );
    w.write_all(head.as_bytes())?;
    w.write_all(body.as_bytes())?;
    w.flush()
}

// ---------------------------------------------------------------- plugin --

fn route(req: &Request) -> (u16, &'static str, String) {
    if req.method != "POST" {
        let body = format!("{{\"Err\":{}}}", json_string(&format!("method {} not allowed", req.method)));
        return (405, "Method Not Allowed", body);
    }
    match req.path.as_str() {
        "/Plugin.Activate" => {
            println!("stackctl-test/secrets: activated");
            (200, "OK", "{\"Implements\":[\"secretprovider\"]}".to_string())
        }
        "/SecretProvider.GetSecret" => (200, "OK", get_secret(&req.body)),
        other => {
            eprintln!("stackctl-test/secrets: unknown endpoint {other}");
            let body = format!("{{\"Err\":{}}}", json_string(&format!("unknown endpoint {other}")));
            (404, "Not Found", body)
        }
    }
}

/// The answer to /SecretProvider.GetSecret. Errors go into `Err`, which
/// swarm reports as the reason the task could not get its secret.
fn get_secret(body: &[u8]) -> String {
    let reply_err = |msg: String| {
        eprintln!("stackctl-test/secrets: GetSecret: {msg}");
        format!("{{\"Value\":null,\"Err\":{},\"DoNotReuse\":false}}", json_string(&msg))
    };
    let fields = match parse_json(body) {
        Ok(Json::Obj(fields)) => fields,
        Ok(_) => return reply_err("request is not a JSON object".into()),
        Err(e) => return reply_err(format!("request is not valid JSON: {e}")),
    };
    let text = |key: &str| match fields.get(key) {
        Some(Json::Str(s)) => s.as_str(),
        _ => "",
    };
    let secret = text("SecretName");
    if secret.is_empty() {
        return reply_err("request has no SecretName".into());
    }
    let value = format!("value of {secret}\n");
    println!(
        "stackctl-test/secrets: GetSecret secret={secret:?} service={:?} -> {} bytes",
        text("ServiceName"),
        value.len()
    );
    // Go decodes a JSON string into []byte as standard base64.
    format!("{{\"Value\":\"{}\",\"Err\":\"\",\"DoNotReuse\":false}}", base64(value.as_bytes()))
}

// ------------------------------------------------------------------ JSON --

/// Just enough JSON to read a request: numbers are kept as text.
#[allow(dead_code)]
enum Json {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(BTreeMap<String, Json>),
}

fn parse_json(input: &[u8]) -> Result<Json, String> {
    let mut p = Parser { s: input, i: 0 };
    let v = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("trailing data at byte {}", p.i));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at byte {}", c as char, self.i))
        }
    }

    fn literal(&mut self, word: &str, v: Json) -> Result<Json, String> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(format!("unexpected token at byte {}", self.i))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, String> {
        if depth > 64 {
            return Err("nested too deeply".into());
        }
        self.ws();
        match self.peek() {
            None => Err("unexpected end of input".into()),
            Some(b'{') => {
                self.i += 1;
                let mut obj = BTreeMap::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(obj));
                }
                loop {
                    self.ws();
                    let key = self.string()?;
                    self.expect(b':')?;
                    let v = self.value(depth + 1)?;
                    obj.insert(key, v);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(obj));
                        }
                        _ => return Err(format!("expected ',' or '}}' at byte {}", self.i)),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut arr = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(Json::Arr(arr));
                }
                loop {
                    arr.push(self.value(depth + 1)?);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(arr));
                        }
                        _ => return Err(format!("expected ',' or ']' at byte {}", self.i)),
                    }
                }
            }
            Some(b'"') => self.string().map(Json::Str),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.i;
                while matches!(self.peek(), Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')) {
                    self.i += 1;
                }
                Ok(Json::Num(String::from_utf8_lossy(&self.s[start..self.i]).into_owned()))
            }
            Some(_) => Err(format!("unexpected character at byte {}", self.i)),
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self.s.get(self.i..self.i + 4).ok_or("truncated \\u escape")?;
        let text = std::str::from_utf8(digits).map_err(|_| "bad \\u escape")?;
        let v = u32::from_str_radix(text, 16).map_err(|_| "bad \\u escape")?;
        self.i += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, String> {
        if self.peek() != Some(b'"') {
            return Err(format!("expected a string at byte {}", self.i));
        }
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = self.peek().ok_or("unterminated string")?;
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).map_err(|_| "string is not UTF-8".into()),
                b'\\' => {
                    let e = self.peek().ok_or("unterminated string")?;
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) && self.s[self.i..].starts_with(b"\\u") {
                                self.i += 2;
                                let lo = self.hex4()?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                                } else {
                                    0xFFFD
                                }
                            } else {
                                hi
                            };
                            char::from_u32(code).unwrap_or('\u{FFFD}')
                        }
                        _ => return Err(format!("bad escape at byte {}", self.i - 1)),
                    };
                    let mut buf = [0; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                _ => out.push(c),
            }
        }
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Standard base64 with padding, as Go's encoding/json expects for []byte.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity((data.len() + 2) / 3 * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
