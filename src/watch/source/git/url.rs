//! Remote URLs: which transport, which host and port to check host keys for, and refusing
//! credentials written into the URL (they would end up in logs, /status and error messages).

use super::GitError;

/// How a remote is reached, as far as authentication and host key checks care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Transport {
    /// `file://` or a local path: no credentials.
    Local,
    /// `http://` or `https://`: a token as basic-auth password.
    Http,
    /// `ssh://` or scp-like `user@host:path`: a key, and the host key checked.
    Ssh {
        user: Option<String>,
        host: String,
        port: u16,
    },
}

/// Parse `url`, refusing a user or password in an http(s) URL and a password in an ssh URL.
pub(crate) fn parse(url: &str) -> Result<Transport, GitError> {
    if let Some((scheme, rest)) = url.split_once("://") {
        let authority = rest.split('/').next().unwrap_or_default();
        return match scheme.to_ascii_lowercase().as_str() {
            "file" => Ok(Transport::Local),
            "http" | "https" if authority.contains('@') => Err(credentials_in_url(url)),
            "http" | "https" => Ok(Transport::Http),
            "ssh" | "git+ssh" | "ssh+git" => ssh_authority(url, authority),
            _ => Err(invalid(
                url,
                "the scheme is not one of file, http, https, ssh",
            )),
        };
    }
    if url.starts_with('/') {
        return Ok(Transport::Local);
    }
    // scp-like `[user@]host:path`: a colon before any slash.
    match url.split_once(':') {
        Some((authority, _)) if !authority.is_empty() && !authority.contains('/') => {
            let (user, host) = split_user(url, authority)?;
            Ok(Transport::Ssh {
                user,
                host: host.to_string(),
                port: 22,
            })
        }
        _ => Err(invalid(
            url,
            "expected file://, http(s)://, ssh:// or user@host:path",
        )),
    }
}

/// The `[user@]host[:port]` part of a URL with a scheme; for scp-like URLs, what precedes the
/// path's colon. Compared to keep credentials from following a redirect to another host.
pub(crate) fn authority(url: &str) -> &str {
    match url.split_once("://") {
        Some((_, rest)) => rest.split('/').next().unwrap_or_default(),
        None => url.split(':').next().unwrap_or_default(),
    }
}

/// The repository path an ssh URL names, as `git-upload-pack` is given it: absolute for
/// `ssh://host/path` (`~user/…` kept home-relative, as git does), as written for scp-like
/// `host:path`.
pub(crate) fn ssh_path(url: &str) -> Option<&str> {
    if let Some((_, rest)) = url.split_once("://") {
        let path = &rest[rest.find('/')?..];
        return Some(path.strip_prefix("/~").map_or(path, |_| &path[1..]));
    }
    let (_, path) = url.split_once(':')?;
    (!path.is_empty()).then_some(path)
}

/// The URL with any user information replaced, safe to print even when it held a secret.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

fn ssh_authority(url: &str, authority: &str) -> Result<Transport, GitError> {
    let (user, host_port) = split_user(url, authority)?;
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        // [::1]:2222 or [::1]
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| invalid(url, "unclosed [ in the host"))?;
        (host, after.strip_prefix(':'))
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    let port = match port {
        None | Some("") => 22,
        Some(port) => port
            .parse()
            .map_err(|_| invalid(url, "the port is not a number"))?,
    };
    if host.is_empty() {
        return Err(invalid(url, "no host"));
    }
    Ok(Transport::Ssh {
        user,
        host: host.to_string(),
        port,
    })
}

/// `user@host` → (Some(user), host); a `user:password@` is refused.
fn split_user<'a>(url: &str, authority: &'a str) -> Result<(Option<String>, &'a str), GitError> {
    match authority.rsplit_once('@') {
        Some((user, _)) if user.contains(':') => Err(credentials_in_url(url)),
        Some((user, host)) => Ok((Some(user.to_string()), host)),
        None => Ok((None, authority)),
    }
}

fn credentials_in_url(url: &str) -> GitError {
    GitError::CredentialsInUrl { url: redact(url) }
}

fn invalid(url: &str, reason: &'static str) -> GitError {
    GitError::InvalidUrl {
        url: redact(url),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ssh(user: Option<&str>, host: &str, port: u16) -> Transport {
        Transport::Ssh {
            user: user.map(String::from),
            host: host.into(),
            port,
        }
    }

    #[test]
    fn transports() {
        let table = [
            ("file:///srv/git/repo.git", Transport::Local),
            ("/srv/git/repo.git", Transport::Local),
            ("https://git.example.com/org/repo.git", Transport::Http),
            ("HTTP://127.0.0.1:8080/git/repo.git", Transport::Http),
            (
                "ssh://git@git.example.com/org/repo.git",
                ssh(Some("git"), "git.example.com", 22),
            ),
            (
                "ssh://git.example.com:2222/repo.git",
                ssh(None, "git.example.com", 2222),
            ),
            (
                "ssh://root@127.0.0.1:40022/tmp/r.git",
                ssh(Some("root"), "127.0.0.1", 40022),
            ),
            (
                "ssh://git@[::1]:2222/repo.git",
                ssh(Some("git"), "::1", 2222),
            ),
            (
                "git@github.com:org/repo.git",
                ssh(Some("git"), "github.com", 22),
            ),
            ("github.com:org/repo.git", ssh(None, "github.com", 22)),
        ];
        for (url, want) in table {
            assert_eq!(parse(url).unwrap(), want, "{url}");
        }
    }

    #[test]
    fn credentials_in_the_url_are_refused_and_never_echoed() {
        let table = [
            "https://user:s3cret@git.example.com/repo.git",
            "https://s3cret@git.example.com/repo.git",
            "ssh://git:s3cret@git.example.com/repo.git",
        ];
        for url in table {
            let err = parse(url).unwrap_err();
            assert!(
                matches!(err, GitError::CredentialsInUrl { .. }),
                "{url}: {err:?}"
            );
            let text = format!("{err} {err:?}");
            assert!(!text.contains("s3cret"), "{url}: {text}");
        }
    }

    #[test]
    fn invalid_urls() {
        for url in [
            "ftp://host/repo",
            "ssh://host:port/repo",
            "relative/path",
            "ssh:///repo",
        ] {
            assert!(
                matches!(parse(url), Err(GitError::InvalidUrl { .. })),
                "{url}"
            );
        }
    }

    #[test]
    fn authorities() {
        let table = [
            ("https://git.example.com/org/repo.git", "git.example.com"),
            (
                "http://127.0.0.1:8080/git/origin.git/info/refs",
                "127.0.0.1:8080",
            ),
            ("ssh://git@host:2222/repo", "git@host:2222"),
            ("git@host:org/repo", "git@host"),
        ];
        for (url, want) in table {
            assert_eq!(authority(url), want, "{url}");
        }
    }

    #[test]
    fn ssh_paths() {
        let table = [
            ("ssh://git@host/org/repo.git", "/org/repo.git"),
            ("ssh://host:2222/~/repo.git", "~/repo.git"),
            ("ssh://host/~alice/repo.git", "~alice/repo.git"),
            ("git@host:org/repo.git", "org/repo.git"),
            ("git@host:/srv/repo.git", "/srv/repo.git"),
        ];
        for (url, want) in table {
            assert_eq!(ssh_path(url), Some(want), "{url}");
        }
        assert_eq!(ssh_path("ssh://host"), None);
    }

    #[test]
    fn redaction() {
        assert_eq!(redact("https://u:p@h/r@x"), "https://***@h/r@x");
        assert_eq!(redact("https://h/r"), "https://h/r");
        assert_eq!(redact("git@h:r"), "git@h:r");
    }
}
