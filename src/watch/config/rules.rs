//! The rules a watch configuration obeys, as pure checks shared by `watch.yml` and the flags.

use std::path::{Component, Path, PathBuf};

use crate::load::suggest::closest;

/// A broken rule: what is wrong and, where one helps, what to write instead.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    pub message: String,
    pub help: Option<String>,
}

impl Problem {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            help: None,
        }
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// How a git URL is reached: decides which credentials make sense.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    File,
    Http,
    Https,
    Ssh,
}

const URL_FORMS: &str =
    "use https://host/path, ssh://[user@]host/path, user@host:path or file:///path";

/// The transport of a git URL (a password in it is [`password`]'s business).
pub(crate) fn transport(url: &str) -> Result<Transport, Problem> {
    if url.trim().is_empty() {
        return Err(Problem::new("the git URL is empty").help(URL_FORMS));
    }
    let Some((scheme, _)) = url.split_once("://") else {
        return scp_like(url);
    };
    match scheme.to_ascii_lowercase().as_str() {
        "file" => Ok(Transport::File),
        "http" => Ok(Transport::Http),
        "https" => Ok(Transport::Https),
        "ssh" => Ok(Transport::Ssh),
        _ => Err(Problem::new(format!("unsupported URL scheme `{scheme}://`")).help(URL_FORMS)),
    }
}

/// A password written into an HTTP(S) URL: refused, and never repeated (messages end up in
/// logs).
pub(crate) fn password(url: &str) -> Option<Problem> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split('/').next().unwrap_or("");
    let has_password = authority
        .rsplit_once('@')
        .is_some_and(|(user_info, _)| user_info.contains(':'));
    (has_password && scheme.to_ascii_lowercase().starts_with("http")).then(|| {
        Problem::new("the git URL holds a password").help(
            "remove `user:password@` from the URL; put the token in a file named by `token_file` \
             (or a variable named by `token_env`), and the user in `username`",
        )
    })
}

/// `[user@]host:path`, git's scp-like SSH form: a colon before any slash.
fn scp_like(url: &str) -> Result<Transport, Problem> {
    match url.split_once(':') {
        Some((host, path)) if !host.is_empty() && !host.contains('/') && !path.is_empty() => {
            Ok(Transport::Ssh)
        }
        _ => Err(Problem::new(format!("`{url}` is not a git URL")).help(
            "a local repository is written file:///path/to/repo; to watch a plain folder use `dir:`",
        )),
    }
}

/// Whether a credential setting fits the URL's transport: tokens go with HTTP(S), keys with SSH,
/// and a `file://` remote needs none.
pub(crate) fn credential(key: &str, transport: Transport) -> Result<(), Problem> {
    let is_token = key.starts_with("token_");
    let fits = match transport {
        Transport::File => false,
        Transport::Http | Transport::Https => is_token || key == "username",
        Transport::Ssh => !is_token,
    };
    if fits {
        return Ok(());
    }
    let (message, help) = match transport {
        Transport::File => (
            "is set, but a file:// remote needs no credentials",
            "remove it, or use the https:// or ssh:// URL of the repository",
        ),
        Transport::Ssh => (
            "authenticates over HTTPS, but this is an SSH URL",
            "over SSH use `ssh_key_file` (or the ssh agent); or the https:// URL with the token",
        ),
        Transport::Http | Transport::Https => (
            "is for SSH URLs, but this is an HTTP(S) URL",
            "over HTTPS use `token_file` or `token_env`; or the ssh:// URL with the key",
        ),
    };
    Err(Problem::new(format!("`{key}` {message}")).help(help))
}

/// A commit id as git abbreviates it: 4 to 40 hexadecimal digits.
pub(crate) fn commit(id: &str) -> Result<(), Problem> {
    if (4..=40).contains(&id.len()) && id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Ok(());
    }
    Err(Problem::new(format!("`{id}` is not a commit id")).help(
        "a commit is 4 to 40 hexadecimal digits (as `git rev-parse HEAD` prints it); \
         to follow a branch or a tag, use `branch` or `tag`",
    ))
}

/// A branch or tag name, short form (`main`, not `refs/heads/main`), by git's ref-name rules.
#[allow(clippy::case_sensitive_file_extension_comparisons)] // git's `.lock` rule is case-sensitive
pub(crate) fn ref_name(kind: &str, name: &str) -> Result<(), Problem> {
    if let Some(short) = name.strip_prefix("refs/") {
        let short = short.split_once('/').map_or(short, |(_, s)| s);
        return Err(
            Problem::new(format!("write the {kind} name without `refs/`"))
                .help(format!("`{short}`")),
        );
    }
    let is_bad_char = |c: char| c.is_whitespace() || c.is_control() || "~^:?*[\\".contains(c);
    let valid = !name.is_empty()
        && !name.contains("..")
        && !name.contains("@{")
        && !name.chars().any(is_bad_char)
        && !name.starts_with(['-', '/'])
        && !name.ends_with(['/', '.'])
        && !name.ends_with(".lock");
    if valid {
        return Ok(());
    }
    Err(Problem::new(format!("`{name}` is not a valid {kind} name"))
        .help("git ref names have no spaces, `..`, `~^:?*[\\`, and do not start with `-`"))
}

/// A path inside a source: relative, and staying inside after `..`. Returned normalized
/// (`./a/../b.yml` is `b.yml`).
pub(crate) fn inside_source(text: &str) -> Result<PathBuf, Problem> {
    let path = Path::new(text);
    if text.is_empty() {
        return Err(Problem::new("the path is empty"));
    }
    if path.is_absolute() {
        return Err(Problem::new(format!(
            "`{text}` is absolute; paths here are inside the source"
        ))
        .help("write it relative to the root of the repository (or of the folder)"));
    }
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::ParentDir if out.pop() => {}
            Component::ParentDir => {
                return Err(Problem::new(format!("`{text}` leaves the source"))
                    .help("only files inside the repository (or the folder) are read"));
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    if out.as_os_str().is_empty() {
        return Err(Problem::new(format!(
            "`{text}` names the source itself, not a file"
        )));
    }
    Ok(out)
}

/// A period the controller waits: at least a second, so a typo (`1ms`) cannot spin a loop.
pub(crate) fn period(d: crate::model::Duration) -> Result<std::time::Duration, Problem> {
    u64::try_from(d.nanos())
        .ok()
        .map(std::time::Duration::from_nanos)
        .filter(|p| p.as_secs() >= 1)
        .ok_or_else(|| {
            Problem::new(format!("{d} is too short: at least 1s"))
                .help("durations look like `30s`, `5m` or `1h`")
        })
}

/// A source name: letters, digits, `-` and `_`, as it may name a folder under the state dir.
pub(crate) fn source_name(name: &str) -> Result<(), Problem> {
    let valid = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if valid {
        return Ok(());
    }
    Err(Problem::new(format!("invalid source name {name:?}"))
        .help("use letters, digits, `-` and `_`, starting with a letter or digit"))
}

/// An environment variable name, as a shell accepts it.
pub(crate) fn env_name(name: &str) -> Result<(), Problem> {
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        return Ok(());
    }
    Err(
        Problem::new(format!("`{name}` is not an environment variable name"))
            .help("use letters, digits and `_`, not starting with a digit"),
    )
}

/// An address to listen on: an IP address and a port.
pub(crate) fn listen(text: &str) -> Result<std::net::SocketAddr, Problem> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    let port = text.rsplit_once(':').map_or("9090", |(_, p)| p);
    let help = if text.starts_with(':') {
        format!("write 0.0.0.0:{port} to listen on every interface, or 127.0.0.1:{port}")
    } else {
        format!("write an IP address and a port: 127.0.0.1:{port}, 0.0.0.0:{port} or [::]:{port}")
    };
    Err(Problem::new(format!("`{text}` is not an address to listen on")).help(help))
}

/// One of a fixed set of words (`mode`, `on_failure`, `log_format`); returns its index.
pub(crate) fn one_of(value: &str, accepted: &[&str]) -> Result<usize, Problem> {
    if let Some(i) = accepted.iter().position(|a| *a == value) {
        return Ok(i);
    }
    let mut problem = Problem::new(format!("`{value}` is not one of {}", accepted.join(", ")));
    if let Some(best) = closest(value, accepted.iter().copied()) {
        problem = problem.help(format!("did you mean `{best}`?"));
    }
    Err(problem)
}
