//! `watch.yml` node tree -> [`WatchConfig`], with the stack loader's decoder so messages match.

use std::path::{Path, PathBuf};

use super::keys::{self, Keys};
use super::rules::{self, Problem};
use super::types::{ControllerConfig, LogFormat, WatchConfig};
use crate::load::decode::Decoder;
use crate::load::node::{At, Node, Span, Value};
use crate::load::suggest::closest;
use crate::load::{Diagnostic, Diagnostics, Sources};

/// Decodes one file, collecting findings.
pub(crate) struct Parser<'a> {
    pub d: Decoder<'a>,
    /// Relative host paths (`dir`, `token_file`, `state_dir`, ...) resolve against this.
    pub base_dir: &'a Path,
    /// To name a place in text when quoting the line would leak a secret.
    pub sources: &'a Sources,
}

/// The known keys of one mapping (extensions dropped), with their spans.
pub(crate) struct Entries<'n>(Vec<(&'n At<String>, &'n Node)>);

impl<'n> Entries<'n> {
    pub(crate) fn get(&self, key: &str) -> Option<&'n Node> {
        self.entry(key).map(|(_, v)| v)
    }

    pub(crate) fn entry(&self, key: &str) -> Option<(&'n At<String>, &'n Node)> {
        self.0.iter().find(|(k, _)| k.value == key).copied()
    }
}

pub(crate) fn parse(
    root: &Node,
    base_dir: &Path,
    sources: &Sources,
    diags: &mut Diagnostics,
) -> Option<WatchConfig> {
    let mut parser = Parser {
        d: Decoder {
            diags,
            // Only compose keys depend on a version; none is decoded here.
            version: (3, 13),
        },
        base_dir,
        sources,
    };
    parser.config(root)
}

impl Parser<'_> {
    fn config(&mut self, root: &Node) -> Option<WatchConfig> {
        let top = self.fields(root, "", &keys::TOP)?;
        let start = Span::new(root.span.file, root.span.offset, 0);
        let sources = self.section(top.get("sources"), "sources", start);
        let stacks = self.section(top.get("stacks"), "stacks", start);
        let parsed_sources = self.sources(sources);
        let parsed_stacks = self.stacks(stacks);
        let controller = top
            .get("controller")
            .map(|n| self.controller(n))
            .unwrap_or_default();
        let (sources, stacks) = self.check(parsed_sources, parsed_stacks)?;
        Some(WatchConfig {
            sources,
            stacks,
            controller,
        })
    }

    /// `sources:` or `stacks:`: a non-empty mapping of names.
    fn section<'n>(
        &mut self,
        node: Option<&'n Node>,
        key: &str,
        start: Span,
    ) -> &'n [(At<String>, Node)] {
        let help =
            "a watch file needs at least one source and one stack; see examples/watch/watch.yml";
        let Some(node) = node else {
            let message = format!("no `{key}:`: nothing to watch");
            self.error(
                start,
                "stackctl::watch::empty",
                message,
                "in this file",
                Some(help),
            );
            return &[];
        };
        match &node.value {
            Value::Map(entries) if entries.is_empty() => {
                let message = format!("`{key}:` is empty: nothing to watch");
                self.error(
                    node.span,
                    "stackctl::watch::empty",
                    message,
                    "empty",
                    Some(help),
                );
                &[]
            }
            Value::Map(entries) => entries,
            _ => {
                self.d.type_error(node, key, "a mapping of names");
                &[]
            }
        }
    }

    fn controller(&mut self, node: &Node) -> ControllerConfig {
        let mut c = ControllerConfig::default();
        let Some(f) = self.fields(node, "controller", &keys::CONTROLLER) else {
            return c;
        };
        if let Some(n) = f.get("listen") {
            let text = self.d.string(n, "controller.listen");
            c.listen = text.and_then(|t| self.rule(n, "controller.listen", rules::listen(&t)));
        }
        c.state_dir = f
            .get("state_dir")
            .and_then(|n| self.host_path(n, "controller.state_dir"));
        if let Some(p) = f
            .get("resync")
            .and_then(|n| self.period(n, "controller.resync"))
        {
            c.resync = p;
        }
        if let Some(p) = f
            .get("heal_window")
            .and_then(|n| self.period(n, "controller.heal_window"))
        {
            c.heal_window = p;
        }
        if let Some(n) = f.get("max_concurrent") {
            c.max_concurrent = self
                .at_least_one(n, "controller.max_concurrent", None)
                .unwrap_or(c.max_concurrent);
        }
        if let Some(n) = f.get("heal_limit") {
            let help = "to never self-heal, set `self_heal: false` on the stacks";
            let limit = self.at_least_one(n, "controller.heal_limit", Some(help));
            c.heal_limit = limit.map_or(c.heal_limit, |l| u32::try_from(l).unwrap_or(u32::MAX));
        }
        if let Some(n) = f.get("log_format") {
            let format = self.word(n, "controller.log_format", &["human", "json"]);
            c.log_format = format.map_or(c.log_format, |i| [LogFormat::Human, LogFormat::Json][i]);
        }
        c
    }

    /// Check that `node` is a mapping (null reads as empty) whose keys are in `keys`, reporting
    /// each other key with a suggestion, as the stack loader does.
    pub(crate) fn fields<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        keys: &Keys,
    ) -> Option<Entries<'n>> {
        let entries: &[(At<String>, Node)] = match &node.value {
            Value::Map(entries) => entries,
            _ if node.is_null() => &[],
            _ => {
                self.d.type_error(node, path, "a mapping");
                return None;
            }
        };
        let mut known = Vec::new();
        for (key, value) in entries {
            let name = key.value.as_str();
            if keys.names.contains(&name) {
                known.push((key, value));
            } else if !name.starts_with("x-") {
                self.unknown_key(key, path, keys.names);
            }
        }
        Some(Entries(known))
    }

    fn unknown_key(&mut self, key: &At<String>, path: &str, allowed: &[&str]) {
        let name = key.value.as_str();
        let help = match closest(name, allowed.iter().copied()) {
            Some(best) => format!("did you mean `{best}`?"),
            None if name.starts_with(['x', 'X']) => "extension fields must start with `x-`".into(),
            None => format!("allowed keys here: {}", allowed.join(", ")),
        };
        self.d
            .push(Diagnostic::unknown_key(key, path).with_help(help));
    }

    pub(crate) fn error(
        &mut self,
        span: Span,
        code: &'static str,
        message: String,
        label: &str,
        help: Option<&str>,
    ) {
        let mut diag = Diagnostic::error(code, message).at(span, label);
        diag.help = help.map(str::to_owned);
        self.d.push(diag);
    }

    /// Report a broken rule at `node`, prefixed with the key it is about.
    pub(crate) fn rule<T>(
        &mut self,
        node: &Node,
        key: &str,
        result: Result<T, Problem>,
    ) -> Option<T> {
        self.rule_at(node.span, key, result)
    }

    pub(crate) fn rule_at<T>(
        &mut self,
        span: Span,
        key: &str,
        result: Result<T, Problem>,
    ) -> Option<T> {
        let problem = match result {
            Ok(value) => return Some(value),
            Err(problem) => problem,
        };
        let message = format!("{key}: {}", problem.message);
        let help = problem.help.as_deref();
        self.error(span, "stackctl::watch::invalid", message, "here", help);
        None
    }

    /// A duration of at least a second.
    pub(crate) fn period(&mut self, node: &Node, path: &str) -> Option<std::time::Duration> {
        let d = self.d.duration(node, path)?;
        self.rule(node, path, rules::period(d))
    }

    fn at_least_one(&mut self, node: &Node, path: &str, help: Option<&str>) -> Option<usize> {
        let n = self.d.uint(node, path)?;
        if n == 0 {
            let message = format!("{path} must be at least 1");
            self.error(node.span, "stackctl::load::range", message, "zero", help);
            return None;
        }
        Some(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// One of `accepted`, by index.
    pub(crate) fn word(&mut self, node: &Node, path: &str, accepted: &[&str]) -> Option<usize> {
        let text = self.d.string(node, path)?;
        self.rule(node, path, rules::one_of(&text, accepted))
    }

    /// A path on this host: absolute, relative ones against the config file's directory.
    pub(crate) fn host_path(&mut self, node: &Node, path: &str) -> Option<PathBuf> {
        let text = self.d.string(node, path)?;
        if text.is_empty() {
            self.rule(node, path, Err::<(), _>(Problem::new("the path is empty")));
            return None;
        }
        // `components` drops the `.` of `./local`.
        Some(self.base_dir.join(text).components().collect())
    }
}
