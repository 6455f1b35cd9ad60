//! Git's smart HTTP protocol (`GET info/refs`, then `POST git-upload-pack`) over hyper, with
//! rustls for https and the system's trusted certificates. Fetch only.

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use bytes::{Buf, Bytes};
use git2::transport::{Service, SmartSubtransport, SmartSubtransportStream};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, LOCATION, USER_AGENT};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;

use super::super::GitError;
use super::super::auth::Auth;
use super::{CONNECT_TIMEOUT, READ_TIMEOUT, block_on};

const ADVERTISEMENT: &str = "application/x-git-upload-pack-advertisement";
const REFS_PATH: &str = "/info/refs?service=git-upload-pack";
/// Redirects followed for `info/refs`, as git does for the first request of a fetch.
const MAX_REDIRECTS: usize = 5;

type Credentials = Option<(String, String)>;

/// One connection's worth of requests to one remote.
pub(super) struct Http {
    client: Client,
    /// The repository URL after redirects, and the credentials read for this operation.
    state: Mutex<Option<(String, Credentials)>>,
}

#[derive(Clone)]
struct Client {
    auth: Arc<Auth>,
    runtime: Arc<Runtime>,
}

impl Http {
    pub(super) fn new(auth: Arc<Auth>, runtime: Arc<Runtime>) -> Self {
        Self {
            client: Client { auth, runtime },
            state: Mutex::new(None),
        }
    }

    fn advertisement(&self, url: &str) -> Result<Body, GitError> {
        let client = &self.client;
        let credentials = client.auth.http_credentials()?;
        let mut base = url.trim_end_matches('/').to_string();
        for _ in 0..=MAX_REDIRECTS {
            let target = format!("{base}{REFS_PATH}");
            let response = client.send(Method::GET, &target, None, credentials.as_ref())?;
            let status = response.status();
            if status.is_redirection() {
                let location = redirect_target(&target, &response).ok_or_else(|| {
                    client
                        .auth
                        .unreachable(format!("HTTP {status} without a usable Location"))
                })?;
                if credentials.is_some() {
                    client.auth.same_host(&location)?;
                }
                let Some((repo, _)) = location.split_once("/info/refs") else {
                    let reason = format!(
                        "redirected to {location}, which is not a git repository's info/refs"
                    );
                    return Err(client.auth.unreachable(reason));
                };
                base = repo.to_string();
                continue;
            }
            client.check_status(status, credentials.is_some(), &target)?;
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if content_type != ADVERTISEMENT {
                let reason = format!(
                    "{target} answered with {content_type:?}, not git's smart HTTP protocol \
                     (a plain web server, or a dumb-HTTP repository: not supported)"
                );
                return Err(client.auth.unreachable(reason));
            }
            *self
                .state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((base, credentials));
            return Ok(client.body(response));
        }
        Err(client
            .auth
            .unreachable(format!("more than {MAX_REDIRECTS} redirects")))
    }
}

impl SmartSubtransport for Http {
    fn action(
        &self,
        url: &str,
        action: Service,
    ) -> Result<Box<dyn SmartSubtransportStream>, git2::Error> {
        match action {
            Service::UploadPackLs => match self.advertisement(url) {
                Ok(body) => Ok(Box::new(body)),
                Err(err) => Err(self.client.auth.fail(err)),
            },
            Service::UploadPack => {
                let state = self
                    .state
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let (base, credentials) = match &*state {
                    Some(known) => known.clone(),
                    None => (url.trim_end_matches('/').to_string(), None),
                };
                Ok(Box::new(Post {
                    client: self.client.clone(),
                    url: format!("{base}/git-upload-pack"),
                    credentials,
                    request: Vec::new(),
                    response: None,
                }))
            }
            Service::ReceivePackLs | Service::ReceivePack => Err(git2::Error::from_str(
                "stackctl only fetches; it never pushes",
            )),
        }
    }

    fn close(&self) -> Result<(), git2::Error> {
        Ok(())
    }
}

impl Client {
    /// One request on a connection of its own (git's requests of a fetch are few).
    fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<Vec<u8>>,
        credentials: Option<&(String, String)>,
    ) -> Result<Response<Incoming>, GitError> {
        let uri: Uri = url.parse().map_err(|e| {
            self.auth
                .unreachable(format!("{url} is not a valid URL: {e}"))
        })?;
        let work = async {
            let io = connect(&uri).await.map_err(|e| self.connect_error(e))?;
            let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
                .await
                .map_err(|e| self.auth.unreachable(e.to_string()))?;
            // Driven by this runtime whenever it runs: while sending, and while libgit2 reads.
            tokio::spawn(connection);
            let request = request(method, &uri, body, credentials)
                .map_err(|e| self.auth.unreachable(e.to_string()))?;
            sender
                .send_request(request)
                .await
                .map_err(|e| self.auth.unreachable(format!("{url}: {e}")))
        };
        let timed_out = |reason: String| self.auth.unreachable(format!("{url}: {reason}"));
        block_on(
            &self.runtime,
            CONNECT_TIMEOUT + READ_TIMEOUT,
            work,
            timed_out,
        )
    }

    fn check_status(&self, status: StatusCode, had_token: bool, url: &str) -> Result<(), GitError> {
        match status {
            StatusCode::OK => Ok(()),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Err(self.auth.http_refused(had_token))
            }
            other => Err(self
                .auth
                .unreachable(format!("{url} answered HTTP {other}"))),
        }
    }

    fn connect_error(&self, err: ConnectError) -> GitError {
        match err {
            ConnectError::Tls(reason) => self.auth.tls(reason),
            ConnectError::Other(reason) => self.auth.unreachable(reason),
        }
    }

    fn body(&self, response: Response<Incoming>) -> Body {
        Body {
            client: self.clone(),
            incoming: response.into_body(),
            chunk: Bytes::new(),
        }
    }
}

fn request(
    method: Method,
    uri: &Uri,
    body: Option<Vec<u8>>,
    credentials: Option<&(String, String)>,
) -> Result<Request<Full<Bytes>>, hyper::http::Error> {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let host = uri.authority().map_or("", |a| a.as_str());
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, host)
        // Some servers speak the smart protocol only to user agents that say they are git.
        .header(
            USER_AGENT,
            concat!("git/2.0 (stackctl ", env!("CARGO_PKG_VERSION"), ")"),
        );
    if body.is_some() {
        builder = builder
            .header(CONTENT_TYPE, "application/x-git-upload-pack-request")
            .header(ACCEPT, "application/x-git-upload-pack-result");
    } else {
        builder = builder.header(ACCEPT, "*/*");
    }
    if let Some((user, token)) = credentials {
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}"));
        let mut value = hyper::header::HeaderValue::try_from(format!("Basic {encoded}"))?;
        value.set_sensitive(true);
        builder = builder.header(AUTHORIZATION, value);
    }
    builder.body(Full::new(Bytes::from(body.unwrap_or_default())))
}

/// Where a redirect leads, as an absolute URL.
fn redirect_target(from: &str, response: &Response<Incoming>) -> Option<String> {
    let location = response.headers().get(LOCATION)?.to_str().ok()?;
    if location.contains("://") {
        return Some(location.to_string());
    }
    let origin_end = from.find("://")? + 3;
    let authority_end = from[origin_end..]
        .find('/')
        .map_or(from.len(), |i| origin_end + i);
    location
        .starts_with('/')
        .then(|| format!("{}{location}", &from[..authority_end]))
}

/// The response body, read as libgit2 asks for bytes.
struct Body {
    client: Client,
    incoming: Incoming,
    chunk: Bytes,
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            let body = &mut self.incoming;
            let read = async { body.frame().await.transpose().map_err(|e| e.to_string()) };
            let frame = block_on(&self.client.runtime, READ_TIMEOUT, read, |why| why);
            match frame {
                Ok(Some(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.chunk = data;
                    }
                }
                Ok(None) => return Ok(0),
                Err(reason) => {
                    let err = self
                        .client
                        .auth
                        .unreachable(format!("reading the answer: {reason}"));
                    return Err(self.client.auth.fail_io(err));
                }
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk.advance(n);
        Ok(n)
    }
}

impl Write for Body {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::other(
            "git wrote to an HTTP response (a bug in stackctl)",
        ))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A `POST git-upload-pack`: libgit2 writes the request body, then reads the answer.
struct Post {
    client: Client,
    url: String,
    credentials: Credentials,
    request: Vec<u8>,
    response: Option<Body>,
}

impl Write for Post {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.response.is_some() {
            return Err(io::Error::other(
                "git wrote after reading the answer (a bug in stackctl)",
            ));
        }
        self.request.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for Post {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.response.is_none() {
            let client = &self.client;
            let body = std::mem::take(&mut self.request);
            let sent = client
                .send(
                    Method::POST,
                    &self.url,
                    Some(body),
                    self.credentials.as_ref(),
                )
                .and_then(|response| {
                    client.check_status(
                        response.status(),
                        self.credentials.is_some(),
                        &self.url,
                    )?;
                    Ok(client.body(response))
                });
            self.response = Some(sent.map_err(|err| client.auth.fail_io(err))?);
        }
        self.response.as_mut().map_or(Ok(0), |body| body.read(buf))
    }
}

enum ConnectError {
    Tls(String),
    Other(String),
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// TCP (through the proxy the environment names, if any), then TLS for https.
async fn connect(uri: &Uri) -> Result<Box<dyn Io>, ConnectError> {
    let https = uri.scheme_str() == Some("https");
    let host = uri
        .host()
        .ok_or_else(|| ConnectError::Other(format!("{uri} has no host")))?
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tcp = match proxy_for(https, host) {
        Some(proxy) => tunnel(&proxy, host, port).await?,
        None => TcpStream::connect((host, port))
            .await
            .map_err(|e| ConnectError::Other(format!("cannot connect to {host}:{port}: {e}")))?,
    };
    if !https {
        return Ok(Box::new(tcp));
    }
    let config = tls_config().map_err(ConnectError::Tls)?;
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| ConnectError::Tls(format!("{host} is not a valid TLS server name: {e}")))?;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(
            |e| match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                Some(tls) => ConnectError::Tls(tls.to_string()),
                None => ConnectError::Other(format!("TLS handshake with {host}:{port}: {e}")),
            },
        )?;
    Ok(Box::new(tls))
}

/// The system's trusted certificates (`SSL_CERT_FILE`/`SSL_CERT_DIR` honoured), read once they
/// are found: a store that is missing at one poll is looked for again at the next.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    if let Some(config) = CONFIG.get() {
        return Ok(config.clone());
    }
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        return Err(
            "no trusted CA certificates found on this system (install the \
                    ca-certificates package, or set SSL_CERT_FILE)"
                .to_string(),
        );
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(CONFIG.get_or_init(|| Arc::new(config)).clone())
}

/// The proxy `https_proxy` / `http_proxy` (or `all_proxy`) names for `host`, unless `no_proxy`
/// exempts it: the variables git and curl read.
fn proxy_for(https: bool, host: &str) -> Option<String> {
    let var = |name: &str| {
        std::env::var(name)
            .or_else(|_| std::env::var(name.to_ascii_uppercase()))
            .ok()
            .filter(|v| !v.is_empty())
    };
    let proxy = if https {
        var("https_proxy")
    } else {
        var("http_proxy")
    }
    .or_else(|| var("all_proxy"))?;
    let exempt = var("no_proxy").is_some_and(|list| {
        list.split(',').map(str::trim).any(|entry| {
            let entry = entry.trim_start_matches('.');
            entry == "*" || host == entry || host.ends_with(&format!(".{entry}"))
        })
    });
    (!exempt).then_some(proxy)
}

/// A TCP connection to `host:port` through an HTTP proxy (`CONNECT`).
async fn tunnel(proxy: &str, host: &str, port: u16) -> Result<TcpStream, ConnectError> {
    let address = proxy
        .split_once("://")
        .map_or(proxy, |(_, rest)| rest)
        .trim_end_matches('/');
    let address = address.rsplit_once('@').map_or(address, |(_, a)| a);
    let failed = |reason: String| ConnectError::Other(format!("proxy {address}: {reason}"));
    let mut stream = TcpStream::connect(address)
        .await
        .map_err(|e| failed(format!("cannot connect: {e}")))?;
    let target = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let hello = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n");
    stream
        .write_all(hello.as_bytes())
        .await
        .map_err(|e| failed(e.to_string()))?;
    let mut answer = Vec::new();
    while !answer.ends_with(b"\r\n\r\n") {
        if answer.len() > 16 * 1024 {
            return Err(failed("an endless answer to CONNECT".into()));
        }
        let byte = stream.read_u8().await.map_err(|e| failed(e.to_string()))?;
        answer.push(byte);
    }
    let status_line = String::from_utf8_lossy(&answer);
    let status_line = status_line.lines().next().unwrap_or_default();
    if status_line.split_whitespace().nth(1) != Some("200") {
        return Err(failed(format!(
            "refused the tunnel to {target}: {status_line}"
        )));
    }
    Ok(stream)
}
