//! `stacks:` entries: which files of which source make a stack, and how it is reconciled.

use std::path::PathBuf;

use super::keys;
use super::parse::{Entries, Parser};
use super::rules;
use super::types::{StackConfig, StackMode};
use crate::apply::OnFailure;
use crate::load::node::{At, Node, Value};
use crate::model::StackName;

/// A decoded stack whose references (`source`, `depends_on`) are still to be checked against
/// the rest of the file. The references are kept even when another setting is invalid, so that
/// one run reports both.
pub(crate) struct ParsedStack {
    pub name: At<String>,
    /// `None` when a setting is invalid (reported).
    pub config: Option<StackConfig>,
    pub source: Option<At<String>>,
    pub depends_on: Vec<At<String>>,
}

/// A stack's optional settings, defaults first.
#[derive(Default)]
struct Settings {
    env_file: Option<PathBuf>,
    profiles: Vec<String>,
    prune: bool,
    max_removals: Option<usize>,
    self_heal: bool,
    mode: StackMode,
    suspend: bool,
    on_failure: OnFailure,
}

impl Parser<'_> {
    pub(crate) fn stacks(&mut self, entries: &[(At<String>, Node)]) -> Vec<ParsedStack> {
        entries
            .iter()
            .map(|(name, node)| self.stack(name, node))
            .collect()
    }

    fn stack(&mut self, name: &At<String>, node: &Node) -> ParsedStack {
        let path = format!("stacks.{name}");
        let valid_name = StackName::new(&name.value).map_err(rules::Problem::new);
        let stack_name = self.rule_at(name.span, "stacks", valid_name);
        let mut parsed = ParsedStack {
            name: name.clone(),
            config: None,
            source: None,
            depends_on: Vec::new(),
        };
        let Some(f) = self.fields(node, &path, &keys::STACK) else {
            return parsed;
        };
        let source = self.required(&f, name, "source", "`source: <name of a source>`");
        parsed.source = source.and_then(|n| {
            Some(At::new(
                self.d.string(n, &format!("{path}.source"))?,
                n.span,
            ))
        });
        let files = self.required(
            &f,
            name,
            "files",
            "`files: [stack.yml]`, paths inside the source",
        );
        let files = files.and_then(|n| self.files(n, &format!("{path}.files")));
        let mut s = Settings::default();
        let settings = self.settings(&f, &path, &mut s);
        let depends_on = f
            .get("depends_on")
            .map(|n| self.names(n, &format!("{path}.depends_on")));
        parsed.depends_on = depends_on.clone().flatten().unwrap_or_default();
        parsed.config = (|| {
            settings?;
            depends_on.unwrap_or(Some(Vec::new()))?;
            Some(StackConfig {
                name: stack_name?,
                source: parsed.source.as_ref()?.value.clone(),
                files: files?,
                env_file: s.env_file,
                profiles: s.profiles,
                prune: s.prune,
                max_removals: s.max_removals,
                self_heal: s.self_heal,
                mode: s.mode,
                suspend: s.suspend,
                depends_on: Vec::new(),
                on_failure: s.on_failure,
            })
        })();
        parsed
    }

    fn required<'n>(
        &mut self,
        f: &Entries<'n>,
        name: &At<String>,
        key: &str,
        example: &str,
    ) -> Option<&'n Node> {
        let node = f.get(key);
        if node.is_none() {
            let message = format!("stack `{name}` has no `{key}`");
            let help = format!("add {example}");
            self.error(
                name.span,
                "stackctl::watch::required",
                message,
                "incomplete",
                Some(&help),
            );
        }
        node
    }

    /// The optional settings; `None` when one of them is invalid.
    fn settings(&mut self, f: &Entries<'_>, path: &str, c: &mut Settings) -> Option<()> {
        let mut ok = true;
        let flag = |p: &mut Self, key: &str, slot: &mut bool| {
            if let Some(n) = f.get(key) {
                *slot = p.d.bool(n, &format!("{path}.{key}")).unwrap_or(*slot);
            }
        };
        flag(self, "prune", &mut c.prune);
        flag(self, "self_heal", &mut c.self_heal);
        flag(self, "suspend", &mut c.suspend);
        if let Some(n) = f.get("env_file") {
            c.env_file = self.inside(n, &format!("{path}.env_file"));
            ok &= c.env_file.is_some();
        }
        if let Some(n) = f.get("profiles") {
            c.profiles = self
                .d
                .string_list(n, &format!("{path}.profiles"))
                .unwrap_or_default();
        }
        if let Some(n) = f.get("max_removals") {
            c.max_removals = self
                .d
                .uint(n, &format!("{path}.max_removals"))
                .map(|m| usize::try_from(m).unwrap_or(usize::MAX));
            ok &= c.max_removals.is_some();
        }
        if let Some(n) = f.get("mode") {
            let mode = self.word(n, &format!("{path}.mode"), &["apply", "plan"]);
            c.mode = mode.map_or(c.mode, |i| [StackMode::Apply, StackMode::Plan][i]);
        }
        if let Some(n) = f.get("on_failure") {
            let word = self.word(
                n,
                &format!("{path}.on_failure"),
                &["stop", "continue", "rollback"],
            );
            c.on_failure = word.map_or(c.on_failure, |i| {
                [OnFailure::Stop, OnFailure::Continue, OnFailure::Rollback][i]
            });
        }
        ok.then_some(())
    }

    /// A non-empty list of paths inside the source.
    fn files(&mut self, node: &Node, path: &str) -> Option<Vec<PathBuf>> {
        let names = self.names(node, path)?;
        if names.is_empty() {
            let help = "list the stack files, relative to the source's root: `files: [stack.yml]`";
            self.error(
                node.span,
                "stackctl::watch::required",
                format!("{path} is empty"),
                "no files",
                Some(help),
            );
            return None;
        }
        let files: Vec<_> = names
            .iter()
            .map(|name| self.rule_at(name.span, path, rules::inside_source(&name.value)))
            .collect();
        files.into_iter().collect()
    }

    fn inside(&mut self, node: &Node, path: &str) -> Option<PathBuf> {
        let text = self.d.string(node, path)?;
        self.rule(node, path, rules::inside_source(&text))
    }

    /// A list of distinct strings, each with its place.
    fn names(&mut self, node: &Node, path: &str) -> Option<Vec<At<String>>> {
        let names = self.d.string_list(node, path)?;
        let Value::Seq(items) = &node.value else {
            return None;
        };
        Some(
            names
                .into_iter()
                .zip(items)
                .map(|(name, item)| At::new(name, item.span))
                .collect(),
        )
    }
}
