//! git2 callbacks for one connection: credentials (token, ssh key or agent) and the ssh host
//! key check against `known_hosts`.
//!
//! libgit2 only sees "callback failed"; the real reason is kept here and reported instead
//! ([`Auth::failure`]). Each credential kind is offered once: libgit2 asks again after a
//! refusal, and offering the same thing again would loop forever.

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::{env, fs, io};

use git2::cert::Cert;
use git2::{CertificateCheckStatus, Cred, CredentialType, RemoteCallbacks};

use super::GitError;
use super::known_hosts::{self, KnownHosts, Verdict};
use super::url::{self, Transport};
use crate::watch::source::GitRemote;

const DEFAULT_HTTP_USER: &str = "x-access-token";
const DEFAULT_SSH_USER: &str = "git";

/// Credentials and host key checking for the connections of one operation.
pub(crate) struct Auth<'a> {
    remote: &'a GitRemote,
    transport: &'a Transport,
    tried: Cell<CredentialType>,
    failure: RefCell<Option<GitError>>,
}

impl<'a> Auth<'a> {
    pub(crate) fn new(remote: &'a GitRemote, transport: &'a Transport) -> Self {
        Self {
            remote,
            transport,
            tried: Cell::new(CredentialType::empty()),
            failure: RefCell::new(None),
        }
    }

    /// The configured URL (free of credentials), for messages and the redirect check.
    fn url(&self) -> &'a str {
        &self.remote.url
    }

    pub(crate) fn callbacks(&'a self) -> RemoteCallbacks<'a> {
        let mut callbacks = RemoteCallbacks::new();
        callbacks.credentials(|url, user, allowed| {
            self.record(
                self.same_host(url)
                    .and_then(|()| self.credential(user, allowed)),
            )
        });
        callbacks.certificate_check(|cert, _host| self.record(self.check_host_key(cert)));
        callbacks
    }

    /// Why a callback made the operation fail, if one did (taken: asked once per failure).
    pub(crate) fn failure(&self) -> Option<GitError> {
        self.failure.borrow_mut().take()
    }

    fn record<T>(&self, result: Result<T, GitError>) -> Result<T, git2::Error> {
        result.map_err(|err| {
            *self.failure.borrow_mut() = Some(err);
            git2::Error::from_str("stackctl refused to go on (see its error)")
        })
    }

    fn credential(&self, user: Option<&str>, allowed: CredentialType) -> Result<Cred, GitError> {
        let ssh_user = || {
            user.or(self.remote.username.as_deref())
                .unwrap_or(DEFAULT_SSH_USER)
        };
        if allowed.contains(CredentialType::SSH_KEY) {
            self.once(CredentialType::SSH_KEY)?;
            return self.ssh_key(ssh_user());
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            self.once(CredentialType::USER_PASS_PLAINTEXT)?;
            let user = self.remote.username.as_deref().unwrap_or(DEFAULT_HTTP_USER);
            return Cred::userpass_plaintext(user, &self.token()?).map_err(|e| self.git(&e));
        }
        if allowed.contains(CredentialType::USERNAME) {
            self.once(CredentialType::USERNAME)?;
            return Cred::username(ssh_user()).map_err(|e| self.git(&e));
        }
        Err(self.auth_failed(format!(
            "the remote wants {allowed:?}, which stackctl cannot give"
        )))
    }

    /// Credentials go to the configured host only, not to wherever a redirect leads.
    fn same_host(&self, asking: &str) -> Result<(), GitError> {
        let (asking, configured) = (url::authority(asking), url::authority(self.url()));
        if asking.eq_ignore_ascii_case(configured) {
            return Ok(());
        }
        let reason = format!(
            "the remote redirected to {asking}; stackctl sends credentials only to {configured}"
        );
        Err(self.auth_failed(reason))
    }

    /// Refuse a second offer of the same kind: the first one was refused by the server.
    fn once(&self, kind: CredentialType) -> Result<(), GitError> {
        let tried = self.tried.get();
        if !tried.contains(kind) {
            self.tried.set(tried | kind);
            return Ok(());
        }
        let reason = if kind == CredentialType::USER_PASS_PLAINTEXT {
            let user = self.remote.username.as_deref().unwrap_or(DEFAULT_HTTP_USER);
            format!("the remote refused the token (user {user})")
        } else if let Some(key) = &self.remote.ssh_key_file {
            format!("the remote refused the ssh key {}", key.display())
        } else {
            "the remote refused the keys of the ssh agent".to_string()
        };
        Err(self.auth_failed(reason))
    }

    fn token(&self) -> Result<String, GitError> {
        let token = if let Some(path) = &self.remote.token_file {
            self.read_secret("token file", path)?
        } else if let Some(var) = &self.remote.token_env {
            env::var(var).map_err(|_| {
                self.unreadable(format!("environment variable {var} (the token) is not set"))
            })?
        } else {
            let reason =
                "the remote asks for credentials and neither token_file nor token_env is set";
            return Err(self.auth_failed(reason.to_string()));
        };
        if token.is_empty() {
            return Err(self.unreadable("the token is empty".to_string()));
        }
        Ok(token)
    }

    fn ssh_key(&self, user: &str) -> Result<Cred, GitError> {
        let Some(key) = &self.remote.ssh_key_file else {
            if env::var_os("SSH_AUTH_SOCK").is_none() {
                let reason = "no ssh_key_file is set and no ssh agent runs (SSH_AUTH_SOCK unset)";
                return Err(self.auth_failed(reason.to_string()));
            }
            return Cred::ssh_key_from_agent(user).map_err(|e| self.git(&e));
        };
        // libssh2 reads the key only later and words a missing file vaguely: check now.
        fs::metadata(key).map_err(|e| self.io("ssh key file", key, &e))?;
        let passphrase = match &self.remote.ssh_key_passphrase_file {
            Some(path) => Some(self.read_secret("ssh key passphrase file", path)?),
            None => None,
        };
        Cred::ssh_key(user, None, key, passphrase.as_deref()).map_err(|e| self.git(&e))
    }

    /// A secret from a file, without the trailing newline editors and `echo` add.
    fn read_secret(&self, what: &str, path: &Path) -> Result<String, GitError> {
        let text = fs::read_to_string(path).map_err(|e| self.io(what, path, &e))?;
        Ok(text.trim_end_matches(['\n', '\r']).to_string())
    }

    fn check_host_key(&self, cert: &Cert<'_>) -> Result<CertificateCheckStatus, GitError> {
        let (Some(hostkey), Transport::Ssh { host, port, .. }) =
            (cert.as_hostkey(), &self.transport)
        else {
            // TLS: libgit2 has verified the certificate chain; keep its verdict.
            return Ok(CertificateCheckStatus::CertificatePassthrough);
        };
        let (Some(key), Some(kind)) = (hostkey.hostkey(), hostkey.hostkey_type()) else {
            return Err(self.auth_failed("the ssh library gave no host key to check".into()));
        };
        let path = self.known_hosts_path()?;
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(self.io("known_hosts file", &path, &e)),
        };
        let verdict = KnownHosts::parse(&text).check(host, *port, kind.name(), key);
        let found = HostKey {
            host,
            port: *port,
            key_type: kind.name(),
            key,
            known_hosts: path,
        };
        match verdict {
            Verdict::Trusted => Ok(CertificateCheckStatus::CertificateOk),
            other => Err(found.refusal(self.url(), &other)),
        }
    }

    fn known_hosts_path(&self) -> Result<PathBuf, GitError> {
        if let Some(path) = &self.remote.known_hosts_file {
            return Ok(path.clone());
        }
        let home = env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .ok_or_else(|| {
                self.unreadable("no known_hosts_file is set and HOME is unset".to_string())
            })?;
        Ok(PathBuf::from(home).join(".ssh/known_hosts"))
    }

    fn auth_failed(&self, reason: String) -> GitError {
        GitError::AuthFailed {
            url: self.url().to_string(),
            reason,
        }
    }

    fn unreadable(&self, reason: String) -> GitError {
        GitError::SecretUnreadable {
            url: self.url().to_string(),
            reason,
        }
    }

    fn io(&self, what: &str, path: &Path, err: &io::Error) -> GitError {
        self.unreadable(format!("cannot read the {what} {}: {err}", path.display()))
    }

    fn git(&self, err: &git2::Error) -> GitError {
        let reason = err.message().to_string();
        GitError::Git {
            url: self.url().to_string(),
            doing: "preparing credentials",
            reason,
        }
    }
}

/// A host key that `known_hosts` does not vouch for.
struct HostKey<'a> {
    host: &'a str,
    port: u16,
    key_type: &'static str,
    key: &'a [u8],
    known_hosts: PathBuf,
}

impl HostKey<'_> {
    fn refusal(self, url: &str, verdict: &Verdict) -> GitError {
        let url = url.to_string();
        let host = known_hosts::host_name(self.host, self.port);
        let key_type = self.key_type.to_string();
        let fingerprint = known_hosts::fingerprint(self.key);
        let known_hosts = self.known_hosts;
        match *verdict {
            Verdict::Revoked { line } => GitError::HostKeyRevoked {
                url,
                host,
                key_type,
                fingerprint,
                known_hosts,
                line,
            },
            Verdict::Changed { line } => GitError::HostKeyChanged {
                url,
                host,
                key_type,
                fingerprint,
                known_hosts,
                line,
            },
            Verdict::Trusted | Verdict::Unknown => {
                let advice = unknown_host_advice(self.host, self.port, &known_hosts);
                GitError::HostKeyUnknown {
                    url,
                    host,
                    key_type,
                    fingerprint,
                    known_hosts,
                    advice,
                }
            }
        }
    }
}

fn unknown_host_advice(host: &str, port: u16, file: &Path) -> String {
    let scan = if port == 22 {
        format!("ssh-keyscan {host}")
    } else {
        format!("ssh-keyscan -p {port} {host}")
    };
    format!(
        "check that the fingerprint is the server's (ask its owner; `{scan} | ssh-keygen -lf -` \
         shows what it presents), then add it: `{scan} >> {}`",
        file.display()
    )
}
