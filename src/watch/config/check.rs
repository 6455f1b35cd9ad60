//! Checks across entries: defined sources and stacks, no `depends_on` cycle, no unused source.

use super::parse::Parser;
use super::stacks::ParsedStack;
use super::types::{SourceConfig, StackConfig};
use crate::load::Diagnostic;
use crate::load::node::{At, Span};
use crate::load::suggest::closest;
use crate::model::StackName;

impl Parser<'_> {
    /// Resolve the references; `None` when a source failed to decode (its errors are reported).
    pub(crate) fn check(
        &mut self,
        sources: Vec<(At<String>, Option<SourceConfig>)>,
        mut stacks: Vec<ParsedStack>,
    ) -> Option<(Vec<SourceConfig>, Vec<StackConfig>)> {
        // Names as written, so a source or stack with errors of its own is still defined.
        let source_names: Vec<&str> = sources.iter().map(|(n, _)| n.value.as_str()).collect();
        let stack_names: Vec<String> = stacks.iter().map(|s| s.name.value.clone()).collect();
        let stack_names: Vec<&str> = stack_names.iter().map(String::as_str).collect();
        for stack in &mut stacks {
            if let Some(source) = &stack.source {
                self.source_reference(&stack.name, source, &source_names);
            }
            self.stack_references(stack, &stack_names);
        }
        self.cycles(&stacks);
        for (name, _) in &sources {
            let is_used = stacks.iter().any(|s| {
                s.source
                    .as_ref()
                    .is_some_and(|source| source.value == name.value)
            });
            if !is_used {
                let message = format!("source `{name}` is not used by any stack");
                let diag = Diagnostic::warning("stackctl::watch::unused_source", message)
                    .at(name.span, "unused")
                    .with_help("remove it, or name it in a stack's `source:`");
                self.d.push(diag);
            }
        }
        let sources = sources
            .into_iter()
            .map(|(_, s)| s)
            .collect::<Option<Vec<_>>>()?;
        let stacks = stacks
            .into_iter()
            .map(|s| s.config)
            .collect::<Option<Vec<_>>>()?;
        Some((sources, stacks))
    }

    fn source_reference(&mut self, stack: &At<String>, source: &At<String>, defined: &[&str]) {
        if defined.contains(&source.value.as_str()) {
            return;
        }
        let message = format!("stack `{stack}` names source `{source}`, which is not defined");
        let help = suggestion(&source.value, defined.iter().copied(), "sources");
        self.error(
            source.span,
            "stackctl::watch::reference",
            message,
            "unknown source",
            Some(&help),
        );
    }

    fn stack_references(&mut self, stack: &mut ParsedStack, defined: &[&str]) {
        let own = stack.name.value.as_str();
        for name in &stack.depends_on {
            if name.value == own {
                let message = format!("stack `{own}` depends on itself");
                self.error(
                    name.span,
                    "stackctl::watch::cycle",
                    message,
                    "itself",
                    Some("remove it from `depends_on`"),
                );
            } else if defined.contains(&name.value.as_str()) {
                // An invalid name is reported where the stack is defined.
                if let (Ok(name), Some(config)) = (StackName::new(&name.value), &mut stack.config) {
                    config.depends_on.push(name);
                }
            } else {
                let message =
                    format!("stack `{own}` depends on `{name}`, which is not a stack of this file");
                let others = defined.iter().copied().filter(|d| *d != own);
                let help = suggestion(&name.value, others, "stacks");
                self.error(
                    name.span,
                    "stackctl::watch::reference",
                    message,
                    "unknown stack",
                    Some(&help),
                );
            }
        }
    }

    /// Report each `depends_on` cycle once, at the edge that closes it.
    fn cycles(&mut self, stacks: &[ParsedStack]) {
        let edges: Vec<Vec<(usize, Span)>> = stacks
            .iter()
            .enumerate()
            .map(|(from, s)| {
                s.depends_on
                    .iter()
                    .filter_map(|d| {
                        let to = stacks.iter().position(|t| t.name.value == d.value)?;
                        (to != from).then_some((to, d.span))
                    })
                    .collect()
            })
            .collect();
        let mut state = vec![Visit::New; stacks.len()];
        let mut path = Vec::new();
        for start in 0..stacks.len() {
            self.visit(start, &edges, &mut state, &mut path, stacks);
        }
    }

    fn visit(
        &mut self,
        at: usize,
        edges: &[Vec<(usize, Span)>],
        state: &mut [Visit],
        path: &mut Vec<usize>,
        stacks: &[ParsedStack],
    ) {
        if state[at] != Visit::New {
            return;
        }
        state[at] = Visit::OnPath;
        path.push(at);
        for &(to, span) in &edges[at] {
            if state[to] == Visit::OnPath {
                let from = path.iter().position(|&i| i == to).expect("on the path");
                let names: Vec<&str> = path[from..]
                    .iter()
                    .chain([&to])
                    .map(|&i| stacks[i].name.value.as_str())
                    .collect();
                let message = format!("depends_on cycle: {}", names.join(" → "));
                let help =
                    "a stack can only wait for stacks that do not wait for it: remove one of these";
                self.error(
                    span,
                    "stackctl::watch::cycle",
                    message,
                    "closes the cycle",
                    Some(help),
                );
            } else {
                self.visit(to, edges, state, path, stacks);
            }
        }
        path.pop();
        state[at] = Visit::Done;
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Visit {
    New,
    OnPath,
    Done,
}

fn suggestion<'a>(
    word: &str,
    defined: impl IntoIterator<Item = &'a str> + Clone,
    what: &str,
) -> String {
    if let Some(best) = closest(word, defined.clone()) {
        return format!("did you mean `{best}`?");
    }
    let all: Vec<&str> = defined.into_iter().collect();
    if all.is_empty() {
        format!("no {what} are defined")
    } else {
        format!("defined {what}: {}", all.join(", "))
    }
}
