//! `sources:` entries: a git remote (URL, ref, credentials that fit the URL) or a folder.

use super::keys::{self, CREDENTIALS};
use super::parse::{Entries, Parser};
use super::rules::{self, Transport};
use super::types::{SourceConfig, SourceKind};
use crate::load::Diagnostic;
use crate::load::node::{At, Node};
use crate::watch::source::{DEFAULT_INTERVAL, GitRef, GitRemote};

impl Parser<'_> {
    pub(crate) fn sources(
        &mut self,
        entries: &[(At<String>, Node)],
    ) -> Vec<(At<String>, Option<SourceConfig>)> {
        entries
            .iter()
            .map(|(name, node)| (name.clone(), self.source(name, node)))
            .collect()
    }

    fn source(&mut self, name: &At<String>, node: &Node) -> Option<SourceConfig> {
        let path = format!("sources.{name}");
        let valid_name = self.rule_at(name.span, "sources", rules::source_name(&name.value));
        let f = self.fields(node, &path, &keys::SOURCE)?;
        let interval = match f.get("interval") {
            Some(n) => self.period(n, &format!("{path}.interval")),
            None => Some(DEFAULT_INTERVAL),
        };
        let kind = match (f.entry("git"), f.entry("dir")) {
            (Some(_), Some((dir_key, _))) => {
                let message = format!("source `{name}` has both `git` and `dir`");
                let help = "a source is a git remote or a folder: make two sources";
                self.error(
                    dir_key.span,
                    "stackctl::watch::source",
                    message,
                    "second kind",
                    Some(help),
                );
                None
            }
            (None, Some((_, dir))) => self.dir(&f, dir, &path),
            (Some((_, git)), None) => self.remote(&f, git, &path),
            (None, None) => {
                let message = format!("source `{name}` has neither `git` nor `dir`");
                let help = "add `git: <url>` to follow a repository, or `dir: <folder>`";
                self.error(
                    name.span,
                    "stackctl::watch::source",
                    message,
                    "what to watch?",
                    Some(help),
                );
                None
            }
        };
        valid_name?;
        Some(SourceConfig {
            name: name.value.clone(),
            kind: kind?,
            interval: interval?,
        })
    }

    fn dir(&mut self, f: &Entries<'_>, dir: &Node, path: &str) -> Option<SourceKind> {
        // Every key of a source but `dir` and `interval` is a git setting.
        let git_only = keys::SOURCE
            .names
            .iter()
            .filter(|k| !matches!(**k, "dir" | "interval"));
        for key in git_only {
            if let Some((key_node, _)) = f.entry(key) {
                let message = format!("`{key}` applies to git sources; {path} is a folder (`dir`)");
                self.error(
                    key_node.span,
                    "stackctl::watch::source",
                    message,
                    "git only",
                    Some("remove it"),
                );
            }
        }
        self.host_path(dir, &format!("{path}.dir"))
            .map(SourceKind::Dir)
    }

    fn remote(&mut self, f: &Entries<'_>, git: &Node, path: &str) -> Option<SourceKind> {
        let url = self.d.string(git, &format!("{path}.git"))?;
        let transport = self.transport(git, &url, path);
        let reference = self.reference(f, path);
        let mut remote = GitRemote {
            url,
            ..GitRemote::default()
        };
        let credentials = self.credentials(f, transport, path, &mut remote);
        remote.reference = reference?;
        credentials?;
        transport?;
        Some(SourceKind::Git(remote))
    }

    fn transport(&mut self, git: &Node, url: &str, path: &str) -> Option<Transport> {
        if let Some(problem) = rules::password(url) {
            // Quoting the line would print the password: name the place in words instead.
            let name = &self.sources.get(git.span.file).name;
            let (line, col) = self.sources.line_col(git.span);
            let message = format!("{name}:{line}:{col}: {path}.git: {}", problem.message);
            let mut diag = Diagnostic::error("stackctl::watch::password", message);
            diag.help = problem.help;
            self.d.push(diag);
            return None;
        }
        self.rule(git, &format!("{path}.git"), rules::transport(url))
    }

    /// At most one of `branch`, `tag`, `commit`; `branch: main` when none.
    fn reference(&mut self, f: &Entries<'_>, path: &str) -> Option<GitRef> {
        let given: Vec<_> = ["branch", "tag", "commit"]
            .into_iter()
            .filter_map(|key| f.entry(key).map(|(k, v)| (key, k, v)))
            .collect();
        let Some(&(kind, _, node)) = given.first() else {
            return Some(GitRef::default());
        };
        if let Some((second, key, _)) = given.get(1) {
            let message = format!("{path} has both `{kind}` and `{second}`");
            let help = "a source follows one branch, one tag or one commit";
            self.error(
                key.span,
                "stackctl::watch::source",
                message,
                "second reference",
                Some(help),
            );
            return None;
        }
        let key_path = format!("{path}.{kind}");
        let name = self.d.string(node, &key_path)?;
        let check = match kind {
            "commit" => rules::commit(&name),
            _ => rules::ref_name(kind, &name),
        };
        self.rule(node, &key_path, check)?;
        Some(match kind {
            "branch" => GitRef::Branch(name),
            "tag" => GitRef::Tag(name),
            _ => GitRef::Commit(name),
        })
    }

    /// Fill the credential settings, each checked against the URL's transport.
    fn credentials(
        &mut self,
        f: &Entries<'_>,
        transport: Option<Transport>,
        path: &str,
        remote: &mut GitRemote,
    ) -> Option<()> {
        let mut ok = true;
        for key in CREDENTIALS {
            let Some((key_node, value)) = f.entry(key) else {
                continue;
            };
            let key_path = format!("{path}.{key}");
            if let Some(t) = transport {
                ok &= self
                    .rule_at(key_node.span, &key_path, rules::credential(key, t))
                    .is_some();
            }
            ok &= self.credential(key, value, &key_path, remote).is_some();
        }
        ok &= self.credential_pairs(f, path);
        if transport == Some(Transport::Http)
            && (remote.token_file.is_some() || remote.token_env.is_some())
        {
            let message = format!("{path}: the token is sent unencrypted over http://");
            let diag = Diagnostic::warning("stackctl::watch::plain_http", message)
                .at(f.get("git").expect("a git source").span, "plain HTTP")
                .with_help("use the https:// URL of the repository");
            self.d.push(diag);
        }
        ok.then_some(())
    }

    fn credential(
        &mut self,
        key: &str,
        value: &Node,
        key_path: &str,
        remote: &mut GitRemote,
    ) -> Option<()> {
        match key {
            "token_env" => {
                let name = self.d.string(value, key_path)?;
                self.rule(value, key_path, rules::env_name(&name))?;
                remote.token_env = Some(name);
            }
            "username" => remote.username = Some(self.d.string(value, key_path)?),
            _ => {
                let file = self.host_path(value, key_path)?;
                let slot = match key {
                    "token_file" => &mut remote.token_file,
                    "ssh_key_file" => &mut remote.ssh_key_file,
                    "ssh_key_passphrase_file" => &mut remote.ssh_key_passphrase_file,
                    _ => &mut remote.known_hosts_file,
                };
                *slot = Some(file);
            }
        }
        Some(())
    }

    /// `token_file` and `token_env` are alternatives; a passphrase needs a key.
    fn credential_pairs(&mut self, f: &Entries<'_>, path: &str) -> bool {
        let mut ok = true;
        if let (Some(_), Some((key, _))) = (f.entry("token_file"), f.entry("token_env")) {
            let message = format!("{path} has both `token_file` and `token_env`");
            let help = "give the token one way: a file, or an environment variable";
            self.error(
                key.span,
                "stackctl::watch::source",
                message,
                "second token",
                Some(help),
            );
            ok = false;
        }
        if let (Some((key, _)), None) =
            (f.entry("ssh_key_passphrase_file"), f.entry("ssh_key_file"))
        {
            let message = format!("{path}: `ssh_key_passphrase_file` without `ssh_key_file`");
            let help = "the passphrase unlocks the key named by `ssh_key_file` (keys in the ssh agent need none)";
            self.error(
                key.span,
                "stackctl::watch::source",
                message,
                "which key?",
                Some(help),
            );
            ok = false;
        }
        ok
    }
}
