//! Git over ssh with russh: the host key checked against `known_hosts`, a key file or the
//! agent's keys offered, then `git-upload-pack '<path>'` on one channel. Fetch only.

use std::io::{self, Read, Write};
use std::sync::Arc;

use git2::transport::{Service, SmartSubtransport, SmartSubtransportStream};
use russh::client::{self, Handle, Msg};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{ChannelStream, Disconnect};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;

use super::super::GitError;
use super::super::auth::{Auth, SshIdentity};
use super::super::url::{self, Transport};
use super::{CONNECT_TIMEOUT, READ_TIMEOUT, block_on};

pub(super) struct Ssh {
    auth: Arc<Auth>,
    runtime: Arc<Runtime>,
}

impl Ssh {
    pub(super) fn new(auth: Arc<Auth>, runtime: Arc<Runtime>) -> Self {
        Self { auth, runtime }
    }

    fn open(&self, url: &str) -> Result<Stream, GitError> {
        let auth = &self.auth;
        let Transport::Ssh { host, port, .. } = auth.transport().clone() else {
            return Err(auth.unreachable("not an ssh URL".into()));
        };
        let path = url::ssh_path(url)
            .ok_or_else(|| auth.unreachable("the URL names no repository path".into()))?;
        let command = format!("git-upload-pack {}", shell_quote(path));
        let identity = auth.ssh_identity()?;
        let user = auth.ssh_user();
        let work = async {
            let config = Arc::new(client::Config {
                inactivity_timeout: Some(READ_TIMEOUT),
                ..client::Config::default()
            });
            let checker = HostKeyCheck { auth: auth.clone() };
            let mut handle = client::connect(config, (host.as_str(), port), checker)
                .await
                .map_err(|e| auth.unreachable(format!("ssh to {host}:{port}: {e}")))?;
            authenticate(&mut handle, &user, identity, auth).await?;
            let channel = handle
                .channel_open_session()
                .await
                .map_err(|e| auth.unreachable(format!("opening an ssh channel: {e}")))?;
            channel
                .exec(true, command.as_str())
                .await
                .map_err(|e| auth.unreachable(format!("running {command}: {e}")))?;
            Ok((handle, channel.into_stream()))
        };
        let timed_out = |why: String| auth.unreachable(format!("ssh to {host}:{port}: {why}"));
        let (handle, channel) = block_on(&self.runtime, CONNECT_TIMEOUT, work, timed_out)?;
        Ok(Stream {
            auth: auth.clone(),
            runtime: self.runtime.clone(),
            handle: Some(handle),
            channel: Some(channel),
        })
    }
}

impl SmartSubtransport for Ssh {
    fn action(
        &self,
        url: &str,
        action: Service,
    ) -> Result<Box<dyn SmartSubtransportStream>, git2::Error> {
        match action {
            // libgit2 reuses this stream for the upload-pack that follows.
            Service::UploadPackLs | Service::UploadPack => match self.open(url) {
                Ok(stream) => Ok(Box::new(stream)),
                Err(err) => Err(self.auth.fail(err)),
            },
            Service::ReceivePackLs | Service::ReceivePack => Err(git2::Error::from_str(
                "stackctl only fetches; it never pushes",
            )),
        }
    }

    fn close(&self) -> Result<(), git2::Error> {
        Ok(())
    }
}

/// Offer the key file, or each key of the agent, until the server accepts one.
async fn authenticate(
    handle: &mut Handle<HostKeyCheck>,
    user: &str,
    identity: SshIdentity,
    auth: &Auth,
) -> Result<(), GitError> {
    let rsa_hash = async |handle: &Handle<HostKeyCheck>| {
        handle
            .best_supported_rsa_hash()
            .await
            .ok()
            .flatten()
            .flatten()
    };
    let refused = |e: &dyn std::fmt::Display| auth.unreachable(format!("ssh authentication: {e}"));
    match identity {
        SshIdentity::KeyFile { path, passphrase } => {
            let key = russh::keys::load_secret_key(&path, passphrase.as_deref()).map_err(|e| {
                auth.auth_failed(format!(
                    "cannot use the ssh key {}: {e} (a wrong or missing passphrase, or a key \
                     format stackctl cannot read)",
                    path.display()
                ))
            })?;
            let hash = if key.algorithm().is_rsa() {
                rsa_hash(handle).await
            } else {
                None
            };
            let key = PrivateKeyWithHashAlg::new(Arc::new(key), hash);
            let result = handle
                .authenticate_publickey(user, key)
                .await
                .map_err(|e| refused(&e))?;
            if result.success() {
                Ok(())
            } else {
                Err(auth.ssh_refused())
            }
        }
        SshIdentity::Agent => {
            let mut agent = AgentClient::connect_env().await.map_err(|e| {
                auth.auth_failed(format!("cannot reach the ssh agent (SSH_AUTH_SOCK): {e}"))
            })?;
            let identities = agent.request_identities().await.map_err(|e| {
                auth.auth_failed(format!("the ssh agent did not list its keys: {e}"))
            })?;
            for identity in identities {
                let AgentIdentity::PublicKey { key, .. } = identity else {
                    continue;
                };
                let hash = if key.algorithm().is_rsa() {
                    rsa_hash(handle).await
                } else {
                    None
                };
                let result = handle
                    .authenticate_publickey_with(user, key, hash, &mut agent)
                    .await;
                if result.is_ok_and(|r| r.success()) {
                    return Ok(());
                }
            }
            Err(auth.ssh_refused())
        }
    }
}

/// Accepts the server only when `known_hosts` vouches for its key; the refusal's reason is kept
/// in [`Auth`] (russh only learns "unknown key").
struct HostKeyCheck {
    auth: Arc<Auth>,
}

impl client::Handler for HostKeyCheck {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        presented: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = presented else {
            let reason = "the server presented a host certificate; stackctl checks host keys \
                          against known_hosts only";
            self.auth.fail(self.auth.auth_failed(reason.into()));
            return Ok(false);
        };
        let Ok(blob) = key.to_bytes() else {
            let reason = "the server's host key could not be encoded to be checked";
            self.auth.fail(self.auth.auth_failed(reason.into()));
            return Ok(false);
        };
        match self.auth.check_host_key(key.algorithm().as_str(), &blob) {
            Ok(()) => Ok(true),
            Err(refusal) => {
                self.auth.fail(refusal);
                Ok(false)
            }
        }
    }
}

/// The channel running `git-upload-pack`, read and written as libgit2 asks.
struct Stream {
    auth: Arc<Auth>,
    runtime: Arc<Runtime>,
    // Options only so that Drop can drop them inside the runtime they need.
    handle: Option<Handle<HostKeyCheck>>,
    channel: Option<ChannelStream<Msg>>,
}

impl Stream {
    fn lost(&self, why: &str) -> io::Error {
        let err = self
            .auth
            .unreachable(format!("the ssh connection failed: {why}"));
        self.auth.fail_io(err)
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(channel) = self.channel.as_mut() else {
            return Ok(0);
        };
        let read = async { channel.read(buf).await.map_err(|e| e.to_string()) };
        block_on(&self.runtime, READ_TIMEOUT, read, |why| why).map_err(|why| self.lost(&why))
    }
}

impl Write for Stream {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let Some(channel) = self.channel.as_mut() else {
            return Err(self.lost("the channel is closed"));
        };
        let write = async {
            channel.write_all(data).await?;
            channel.flush().await
        };
        let write = async { write.await.map_err(|e| e.to_string()) };
        block_on(&self.runtime, READ_TIMEOUT, write, |why| why).map_err(|why| self.lost(&why))?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // Say goodbye rather than drop the TCP connection; a server that does not answer in a
        // second is left to notice on its own.
        if let Some(handle) = &self.handle {
            let bye = handle.disconnect(Disconnect::ByApplication, "", "en");
            let limit = std::time::Duration::from_secs(1);
            let _ = self
                .runtime
                .block_on(async { tokio::time::timeout(limit, bye).await });
        }
        let _context = self.runtime.enter();
        drop(self.channel.take());
        drop(self.handle.take());
    }
}

/// `path` quoted for the remote shell, as git quotes it (`'…'`, with `'` and `!` escaped).
fn shell_quote(path: &str) -> String {
    let mut quoted = String::from("'");
    for c in path.chars() {
        match c {
            '\'' | '!' => {
                quoted.push_str("'\\");
                quoted.push(c);
                quoted.push('\'');
            }
            c => quoted.push(c),
        }
    }
    quoted.push('\'');
    quoted
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn paths_are_quoted_as_git_quotes_them() {
        assert_eq!(shell_quote("/srv/r.git"), "'/srv/r.git'");
        assert_eq!(shell_quote("it's!"), "'it'\\''s'\\!''");
    }
}
