//! Credentials and host key checks for the connections of one operation: the token (http),
//! the ssh key, its passphrase or the agent, and `known_hosts`.
//!
//! libgit2 only sees "the transport failed"; the real reason is kept here ([`Auth::fail`]) and
//! reported instead ([`Auth::failure`]).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::{env, fs, io};

use super::GitError;
use super::known_hosts::{self, KnownHosts, Verdict};
use super::url::{self, Transport};
use crate::watch::source::GitRemote;

const DEFAULT_HTTP_USER: &str = "x-access-token";
const DEFAULT_SSH_USER: &str = "git";

/// What the transports of one operation may use, and the first reason one of them failed.
pub(crate) struct Auth {
    remote: GitRemote,
    transport: Transport,
    failure: Mutex<Option<GitError>>,
}

/// How an ssh connection authenticates.
pub(crate) enum SshIdentity {
    /// A key file and its passphrase, if it has one.
    KeyFile {
        path: PathBuf,
        passphrase: Option<String>,
    },
    /// The keys of the agent at `SSH_AUTH_SOCK`.
    Agent,
}

impl Auth {
    pub(crate) fn new(remote: &GitRemote, transport: &Transport) -> Self {
        Self {
            remote: remote.clone(),
            transport: transport.clone(),
            failure: Mutex::new(None),
        }
    }

    /// The configured URL (free of credentials), for messages and the redirect check.
    pub(crate) fn url(&self) -> &str {
        &self.remote.url
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Keep `err` as the reason of the failure (the first one wins) and give libgit2 a stand-in.
    pub(crate) fn fail(&self, err: GitError) -> git2::Error {
        let message = err.to_string();
        let mut slot = self
            .failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        slot.get_or_insert(err);
        git2::Error::from_str(&message)
    }

    /// As [`Self::fail`], for the `io::Error` a stream's read or write returns.
    pub(crate) fn fail_io(&self, err: GitError) -> io::Error {
        io::Error::other(self.fail(err).message().to_string())
    }

    /// Why a transport made the operation fail, if one did (taken: asked once per failure).
    pub(crate) fn failure(&self) -> Option<GitError> {
        self.failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    /// The basic-auth user and token for http(s), when a token is configured.
    pub(crate) fn http_credentials(&self) -> Result<Option<(String, String)>, GitError> {
        if self.remote.token_file.is_none() && self.remote.token_env.is_none() {
            return Ok(None);
        }
        let user = self.http_user().to_string();
        Ok(Some((user, self.token()?)))
    }

    pub(crate) fn http_user(&self) -> &str {
        self.remote.username.as_deref().unwrap_or(DEFAULT_HTTP_USER)
    }

    /// The remote answered 401/403: refused the token, or wants one and none is configured.
    pub(crate) fn http_refused(&self, had_token: bool) -> GitError {
        if had_token {
            let reason = format!("the remote refused the token (user {})", self.http_user());
            return self.auth_failed(reason);
        }
        let reason = "the remote asks for credentials and neither token_file nor token_env is set";
        self.auth_failed(reason.to_string())
    }

    /// Credentials go to the configured host only, not to wherever a redirect leads.
    pub(crate) fn same_host(&self, asking: &str) -> Result<(), GitError> {
        let (asking, configured) = (url::authority(asking), url::authority(self.url()));
        if asking.eq_ignore_ascii_case(configured) {
            return Ok(());
        }
        let reason = format!(
            "the remote redirected to {asking}; stackctl sends credentials only to {configured}"
        );
        Err(self.auth_failed(reason))
    }

    /// The ssh user: the URL's, else `username`, else `git`.
    pub(crate) fn ssh_user(&self) -> String {
        let from_url = match &self.transport {
            Transport::Ssh { user, .. } => user.clone(),
            _ => None,
        };
        from_url
            .or_else(|| self.remote.username.clone())
            .unwrap_or_else(|| DEFAULT_SSH_USER.to_string())
    }

    pub(crate) fn ssh_identity(&self) -> Result<SshIdentity, GitError> {
        let Some(key) = &self.remote.ssh_key_file else {
            if env::var_os("SSH_AUTH_SOCK").is_none() {
                let reason = "no ssh_key_file is set and no ssh agent runs (SSH_AUTH_SOCK unset)";
                return Err(self.auth_failed(reason.to_string()));
            }
            return Ok(SshIdentity::Agent);
        };
        fs::metadata(key).map_err(|e| self.io("ssh key file", key, &e))?;
        let passphrase = match &self.remote.ssh_key_passphrase_file {
            Some(path) => Some(self.read_secret("ssh key passphrase file", path)?),
            None => None,
        };
        Ok(SshIdentity::KeyFile {
            path: key.clone(),
            passphrase,
        })
    }

    /// The server refused every key offered.
    pub(crate) fn ssh_refused(&self) -> GitError {
        let reason = match &self.remote.ssh_key_file {
            Some(key) => format!("the remote refused the ssh key {}", key.display()),
            None => "the remote refused the keys of the ssh agent".to_string(),
        };
        self.auth_failed(reason)
    }

    fn token(&self) -> Result<String, GitError> {
        let token = if let Some(path) = &self.remote.token_file {
            self.read_secret("token file", path)?
        } else if let Some(var) = &self.remote.token_env {
            env::var(var).map_err(|_| {
                self.unreadable(format!("environment variable {var} (the token) is not set"))
            })?
        } else {
            return Err(self.http_refused(false));
        };
        if token.is_empty() {
            return Err(self.unreadable("the token is empty".to_string()));
        }
        Ok(token)
    }

    /// A secret from a file, without the trailing newline editors and `echo` add.
    fn read_secret(&self, what: &str, path: &Path) -> Result<String, GitError> {
        let text = fs::read_to_string(path).map_err(|e| self.io(what, path, &e))?;
        Ok(text.trim_end_matches(['\n', '\r']).to_string())
    }

    /// Check the ssh server's host key (`key_type` such as `ssh-ed25519`, `key` its wire-format
    /// blob) against `known_hosts`.
    pub(crate) fn check_host_key(&self, key_type: &str, key: &[u8]) -> Result<(), GitError> {
        let Transport::Ssh { host, port, .. } = &self.transport else {
            return Err(self.auth_failed("an ssh host key for a remote that is not ssh".into()));
        };
        let path = self.known_hosts_path()?;
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(self.io("known_hosts file", &path, &e)),
        };
        let verdict = KnownHosts::parse(&text).check(host, *port, key_type, key);
        let found = HostKey {
            host,
            port: *port,
            key_type,
            key,
            known_hosts: path,
        };
        match verdict {
            Verdict::Trusted => Ok(()),
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

    pub(crate) fn auth_failed(&self, reason: String) -> GitError {
        GitError::AuthFailed {
            url: self.url().to_string(),
            reason,
        }
    }

    pub(crate) fn unreachable(&self, reason: String) -> GitError {
        GitError::Unreachable {
            url: self.url().to_string(),
            reason,
        }
    }

    pub(crate) fn tls(&self, reason: String) -> GitError {
        GitError::Tls {
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
}

/// A host key that `known_hosts` does not vouch for.
struct HostKey<'a> {
    host: &'a str,
    port: u16,
    key_type: &'a str,
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
