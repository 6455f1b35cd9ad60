//! Real git servers on loopback for the git source tests: `git http-backend` behind lighttpd
//! with basic auth, and OpenSSH's sshd (and an ssh-agent to hold keys for it); plus a bare
//! repository with a work clone to push from.
//!
//! Each server is a child process on a free 127.0.0.1 port with a generated config in its own
//! temp dir; dropping the server kills it and removes the dir. A missing lighttpd or sshd fails
//! the test (run `scripts/testbed`), it does not skip it.

use std::fmt::Write as _;
use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::watcher::free_port;

const LIGHTTPD: &str = "/usr/sbin/lighttpd";
const SSHD: &str = "/usr/sbin/sshd";
const HTTP_BACKEND: &str = "/usr/lib/git-core/git-http-backend";
const SSH_AGENT: &str = "/usr/bin/ssh-agent";
const SSH_ADD: &str = "/usr/bin/ssh-add";

/// Run `git` with a fixed identity (no global config needed); panic with its output on failure.
pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=stackctl test",
            "-c",
            "user.email=test@stackctl.invalid",
        ])
        .args(["-c", "advice.detachedHead=false", "-C"])
        .arg(dir)
        .args(args)
        .output()
        .expect("git runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        text(&out.stderr)
    );
    text(&out.stdout).trim().to_string()
}

/// A bare repository (`<tmp>/repos/origin.git`, branch `main`) and a work tree pushing to it.
pub(crate) struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = Self { dir };
        fs::create_dir_all(repo.root()).unwrap();
        git(
            &repo.root(),
            &["init", "-q", "--bare", "-b", "main", "origin.git"],
        );
        git(repo.dir.path(), &["init", "-q", "-b", "main", "work"]);
        git(
            &repo.work(),
            &["remote", "add", "origin", repo.bare().to_str().unwrap()],
        );
        repo
    }

    /// The directory holding the bare repository: what an [`HttpServer`] serves.
    pub(crate) fn root(&self) -> PathBuf {
        self.dir.path().join("repos")
    }

    pub(crate) fn bare(&self) -> PathBuf {
        self.root().join("origin.git")
    }

    /// The work tree commits are made in; write or chmod files here before [`Repo::commit`].
    pub(crate) fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    pub(crate) fn file_url(&self) -> String {
        format!("file://{}", self.bare().display())
    }

    /// Write `files` (path, content; parents created), commit every change in the work tree,
    /// and return the new commit's id. Not pushed yet.
    pub(crate) fn commit(&self, files: &[(&str, &str)], message: &str) -> String {
        for (path, content) in files {
            let path = self.work().join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, content).unwrap();
        }
        git(&self.work(), &["add", "-A"]);
        git(
            &self.work(),
            &["commit", "-q", "--allow-empty", "-m", message],
        );
        git(&self.work(), &["rev-parse", "HEAD"])
    }

    pub(crate) fn push(&self) {
        git(
            &self.work(),
            &["push", "-q", "origin", "HEAD:refs/heads/main"],
        );
    }

    /// Reset `main` to an older commit and force-push it (history rewritten on the remote).
    pub(crate) fn force_push_to(&self, commit: &str) {
        git(&self.work(), &["reset", "-q", "--hard", commit]);
        git(
            &self.work(),
            &["push", "-q", "--force", "origin", "HEAD:refs/heads/main"],
        );
    }

    /// An annotated tag at the work tree's HEAD, pushed.
    pub(crate) fn tag(&self, name: &str) {
        git(&self.work(), &["tag", "-a", "-m", name, name]);
        git(
            &self.work(),
            &["push", "-q", "origin", &format!("refs/tags/{name}")],
        );
    }

    /// Move the bare repository away: the remote is gone until [`Repo::restore`].
    pub(crate) fn remove(&self) {
        fs::rename(self.bare(), self.root().join("origin.git.removed")).unwrap();
    }

    pub(crate) fn restore(&self) {
        fs::rename(self.root().join("origin.git.removed"), self.bare()).unwrap();
    }
}

/// Kill a child process and reap it.
fn end(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A running child server; killed (and its temp dir removed) on drop.
struct Server {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        end(&mut self.child);
    }
}

impl Server {
    /// Start `command(dir, port)` on a free port until it listens (3 tries: another process
    /// may take the port between our probe and the server's bind).
    fn start(
        mut dir: tempfile::TempDir,
        what: &str,
        command: impl Fn(&Path, u16) -> Command,
    ) -> Self {
        let log = dir.path().join("server.log");
        for _ in 0..3 {
            let port = free_port();
            let stderr = fs::File::create(&log).unwrap();
            let child = command(dir.path(), port)
                .stdin(Stdio::null())
                .stdout(stderr.try_clone().unwrap())
                .stderr(stderr)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
            let mut server = Self { child, port, dir };
            if server.wait_listening() {
                return server;
            }
            dir = std::mem::replace(&mut server.dir, tempfile::tempdir().unwrap());
        }
        panic!(
            "{what} did not start: {}",
            fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Until the port accepts connections (true), or the server exits or 10 s pass (false).
    fn wait_listening(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

fn require(program: &str, package: &str) {
    assert!(
        Path::new(program).exists(),
        "{program} not found: run scripts/testbed (it installs {package})"
    );
}

/// `git http-backend` behind lighttpd, serving a directory of bare repositories over smart
/// HTTP at `/git/<name>.git`, with basic auth: `user` and `token` as the password.
pub(crate) struct HttpServer {
    server: Server,
    pub(crate) user: String,
    pub(crate) token: String,
    tls: bool,
}

impl HttpServer {
    pub(crate) fn start(repos: &Path) -> Self {
        Self::start_with(repos, false)
    }

    /// The same over https, with a certificate for 127.0.0.1 signed by a CA of its own
    /// ([`Self::ca_file`]), which no system trusts.
    pub(crate) fn start_tls(repos: &Path) -> Self {
        Self::start_with(repos, true)
    }

    fn start_with(repos: &Path, tls: bool) -> Self {
        require(LIGHTTPD, "lighttpd");
        require(HTTP_BACKEND, "git");
        let user = "x-access-token".to_string();
        let token = format!("tok-{:016x}", fastrand::u64(..));
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("users"), format!("{user}:{token}\n")).unwrap();
        fs::write(dir.path().join("token"), format!("{token}\n")).unwrap();
        if tls {
            make_certificates(dir.path());
        }
        let repos = repos.to_path_buf();
        let server = Server::start(dir, "lighttpd", |dir, port| {
            let config = dir.join("lighttpd.conf");
            let mut text = lighttpd_config(dir, &repos, port);
            if tls {
                let _ = write!(
                    text,
                    "server.modules += (\"mod_openssl\")\nssl.engine = \"enable\"\n\
                     ssl.pemfile = \"{0}/server.pem\"\nssl.privkey = \"{0}/server.key\"\n",
                    dir.display()
                );
            }
            fs::write(&config, text).unwrap();
            let mut command = Command::new(LIGHTTPD);
            command.arg("-D").arg("-f").arg(config);
            command
        });
        Self {
            server,
            user,
            token,
            tls,
        }
    }

    /// The URL of the repository named like `repo`'s bare directory.
    pub(crate) fn url(&self, repo: &Repo) -> String {
        let name = repo
            .bare()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}/git/{name}", self.server.port)
    }

    /// The CA certificate (PEM) that signed an https server's certificate.
    pub(crate) fn ca_file(&self) -> PathBuf {
        self.server.dir.path().join("ca.pem")
    }

    /// A file holding the token and a trailing newline, as `echo TOKEN > file` writes it.
    pub(crate) fn token_file(&self) -> PathBuf {
        self.server.dir.path().join("token")
    }
}

/// A CA and a server certificate for 127.0.0.1 and localhost signed by it, made with the
/// `openssl` program: `ca.pem`, `server.pem`, `server.key` in `dir`.
fn make_certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs (Debian package openssl)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"],
            &ec[..],
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=stackctl test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"],
            &ec[..],
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    );
    fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
}

fn lighttpd_config(dir: &Path, repos: &Path, port: u16) -> String {
    let (dir, repos) = (dir.display(), repos.display());
    format!(
        r#"server.document-root = "{repos}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{dir}/error.log"
server.modules = ("mod_alias", "mod_auth", "mod_authn_file", "mod_setenv", "mod_cgi")
alias.url = ("/git" => "{HTTP_BACKEND}")
$HTTP["url"] =~ "^/git" {{
  cgi.assign = ("" => "")
  setenv.set-environment = ("GIT_PROJECT_ROOT" => "{repos}", "GIT_HTTP_EXPORT_ALL" => "1")
  auth.backend = "plain"
  auth.backend.plain.userfile = "{dir}/users"
  auth.require = ("" => ("method" => "basic", "realm" => "git", "require" => "valid-user"))
}}
"#
    )
}

/// A lighttpd redirecting every request to an [`HttpServer`] under another host name
/// (`localhost` instead of `127.0.0.1`): credentials must not follow.
pub(crate) struct RedirectServer {
    server: Server,
}

impl RedirectServer {
    pub(crate) fn start(to: &HttpServer) -> Self {
        require(LIGHTTPD, "lighttpd");
        let target = format!("http://localhost:{}", to.server.port);
        let server = Server::start(tempfile::tempdir().unwrap(), "lighttpd", |dir, port| {
            let config = dir.join("lighttpd.conf");
            let text = format!(
                "server.document-root = \"{dir}\"\nserver.bind = \"127.0.0.1\"\n\
                 server.port = {port}\nserver.modules = (\"mod_redirect\")\n\
                 url.redirect = (\"^(.*)$\" => \"{target}$1\")\n",
                dir = dir.display()
            );
            fs::write(&config, text).unwrap();
            let mut command = Command::new(LIGHTTPD);
            command.arg("-D").arg("-f").arg(config);
            command
        });
        Self { server }
    }

    pub(crate) fn url(&self, repo: &Repo) -> String {
        let name = repo
            .bare()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        format!("http://127.0.0.1:{}/git/{name}", self.server.port)
    }
}

/// OpenSSH's sshd with its own host key, accepting the deploy keys in [`SshKeys`] for the
/// current user.
pub(crate) struct SshServer {
    server: Server,
    user: String,
    pub(crate) keys: SshKeys,
}

/// Key files for the tests, made fresh for each server.
pub(crate) struct SshKeys {
    /// Authorized, no passphrase.
    pub(crate) deploy_key: PathBuf,
    /// Not authorized.
    pub(crate) wrong_key: PathBuf,
    /// Authorized, encrypted with the passphrase in `passphrase_file`.
    pub(crate) passphrase_key: PathBuf,
    pub(crate) passphrase_file: PathBuf,
    /// The server's host key as `[127.0.0.1]:PORT`.
    pub(crate) known_hosts: PathBuf,
    /// Another key for `[127.0.0.1]:PORT`: the server's key looks changed.
    pub(crate) changed_known_hosts: PathBuf,
    /// No line at all: the server is unknown.
    pub(crate) empty_known_hosts: PathBuf,
    /// The host key's `SHA256:…` fingerprint, as `ssh-keygen -l` prints it.
    pub(crate) host_fingerprint: String,
}

impl SshServer {
    pub(crate) fn start() -> Self {
        require(SSHD, "openssh-server");
        // sshd's privilege separation directory; Debian creates it only in its init script.
        fs::create_dir_all("/run/sshd").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let keys = SshKeys::generate(dir.path());
        let server = Server::start(dir, "sshd", |dir, port| {
            let config = dir.join("sshd_config");
            fs::write(&config, sshd_config(dir, port)).unwrap();
            let mut command = Command::new(SSHD);
            command.arg("-D").arg("-e").arg("-f").arg(config);
            command
        });
        keys.write_known_hosts(server.dir.path(), server.port);
        Self {
            server,
            user: current_user(),
            keys,
        }
    }

    /// `ssh://USER@127.0.0.1:PORT/<absolute path of the bare repository>`.
    pub(crate) fn url(&self, repo: &Repo) -> String {
        let port = self.server.port;
        format!(
            "ssh://{}@127.0.0.1:{port}{}",
            self.user,
            repo.bare().display()
        )
    }

    pub(crate) fn port(&self) -> u16 {
        self.server.port
    }
}

impl SshKeys {
    /// Key pairs and `authorized_keys` in `dir`; the `known_hosts` files wait for the port.
    fn generate(dir: &Path) -> Self {
        let key = |name: &str| keygen(&dir.join(name), "");
        let host_key = key("host_key");
        let passphrase_key = keygen(&dir.join("encrypted"), "open sesame");
        let passphrase_file = dir.join("passphrase");
        fs::write(&passphrase_file, "open sesame\n").unwrap();
        let deploy_key = key("deploy");
        let public = |key: &Path| fs::read_to_string(key.with_extension("pub")).unwrap();
        let authorized = public(&deploy_key) + &public(&passphrase_key);
        fs::write(dir.join("authorized_keys"), authorized).unwrap();
        Self {
            deploy_key,
            wrong_key: key("wrong"),
            passphrase_key,
            passphrase_file,
            known_hosts: dir.join("known_hosts"),
            changed_known_hosts: dir.join("changed_known_hosts"),
            empty_known_hosts: dir.join("empty_known_hosts"),
            host_fingerprint: fingerprint(&host_key.with_extension("pub")),
        }
    }

    fn write_known_hosts(&self, dir: &Path, port: u16) {
        let other_host_key = keygen(&dir.join("other_host_key"), "");
        let entry = |key: &Path| known_hosts_line(port, &key.with_extension("pub"));
        fs::write(&self.known_hosts, entry(&dir.join("host_key"))).unwrap();
        fs::write(&self.changed_known_hosts, entry(&other_host_key)).unwrap();
        fs::write(&self.empty_known_hosts, "").unwrap();
    }
}

fn sshd_config(dir: &Path, port: u16) -> String {
    let dir = dir.display();
    format!(
        "Port {port}
ListenAddress 127.0.0.1
HostKey {dir}/host_key
PidFile none
AuthorizedKeysFile {dir}/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
"
    )
}

/// A new ed25519 key pair at `path` (and `path.pub`), encrypted when `passphrase` is not empty.
fn keygen(path: &Path, passphrase: &str) -> PathBuf {
    let status = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            passphrase,
            "-C",
            "stackctl-test",
            "-f",
        ])
        .arg(path)
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success(), "ssh-keygen failed");
    path.to_path_buf()
}

fn fingerprint(public_key: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(public_key)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_whitespace()
        .nth(1)
        .expect("ssh-keygen -l prints a fingerprint")
        .to_string()
}

/// `[127.0.0.1]:PORT <type> <base64>` for a public key file.
fn known_hosts_line(port: u16, public_key: &Path) -> String {
    let text = fs::read_to_string(public_key).unwrap();
    let mut fields = text.split_whitespace();
    let (kind, blob) = (fields.next().unwrap(), fields.next().unwrap());
    format!("[127.0.0.1]:{port} {kind} {blob}\n")
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id runs");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// OpenSSH's ssh-agent in the foreground (`-D`) on a socket of its own, holding only the keys
/// given to [`SshAgent::add`]; killed (and its socket removed) on drop.
pub(crate) struct SshAgent {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for SshAgent {
    fn drop(&mut self) {
        end(&mut self.child);
    }
}

impl SshAgent {
    pub(crate) fn start() -> Self {
        require(SSH_AGENT, "openssh-client");
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(SSH_AGENT)
            .arg("-D")
            .arg("-a")
            .arg(dir.path().join("agent.sock"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh-agent runs");
        let mut agent = Self { child, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !agent.socket().exists() {
            let exited = agent.child.try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "ssh-agent did not start ({exited:?})"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        agent
    }

    /// What `SSH_AUTH_SOCK` must name for a client of this agent.
    pub(crate) fn socket(&self) -> PathBuf {
        self.dir.path().join("agent.sock")
    }

    /// `ssh-add` a private key (without a passphrase) to this agent.
    pub(crate) fn add(&self, key: &Path) {
        require(SSH_ADD, "openssh-client");
        let out = Command::new(SSH_ADD)
            .arg("-q")
            .arg(key)
            .env("SSH_AUTH_SOCK", self.socket())
            .stdin(Stdio::null())
            .output()
            .expect("ssh-add runs");
        assert!(
            out.status.success(),
            "ssh-add failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// An HTTP proxy on loopback that only tunnels (`CONNECT host:port`), as corporate proxies do
/// for https; it records every target it was asked for.
pub(crate) struct ConnectProxy {
    port: u16,
    targets: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ConnectProxy {
    pub(crate) fn start() -> Self {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let targets = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = targets.clone();
        // Accepts until the test process ends; one thread per tunnel direction.
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let seen = seen.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(client.try_clone().unwrap());
                    let mut request = String::new();
                    let _ = reader.read_line(&mut request);
                    let mut line = String::new();
                    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                        line.clear();
                    }
                    let mut words = request.split_whitespace();
                    let (Some("CONNECT"), Some(target)) = (words.next(), words.next()) else {
                        let _ = (&client).write_all(b"HTTP/1.1 405 Only CONNECT\r\n\r\n");
                        return;
                    };
                    seen.lock().unwrap().push(target.to_owned());
                    let Ok(upstream) = TcpStream::connect(target) else {
                        let _ = (&client).write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
                        return;
                    };
                    let _ = (&client).write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                    let (mut up_read, mut down_write) = (upstream.try_clone().unwrap(), client);
                    let mut up_write = upstream;
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut up_read, &mut down_write);
                        let _ = down_write.shutdown(std::net::Shutdown::Both);
                    });
                    let _ = std::io::copy(&mut reader, &mut up_write);
                    let _ = up_write.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        Self { port, targets }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every `host:port` a client asked to be tunnelled to.
    pub(crate) fn targets(&self) -> Vec<String> {
        self.targets.lock().unwrap().clone()
    }
}
