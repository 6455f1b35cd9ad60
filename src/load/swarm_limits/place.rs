//! Where a merged value was written: the last stack file (in merge order) that writes its path.

use crate::load::node::{Node, Span, Value};

/// The files of one load, parsed, in merge order.
pub(super) struct Places<'a> {
    pub(super) roots: &'a [Node],
}

impl Places<'_> {
    /// The node at `path` (mapping keys) in the last file that has it.
    pub(super) fn node(&self, path: &[&str]) -> Option<&Node> {
        self.roots.iter().rev().find_map(|root| walk(root, path))
    }

    /// The key of the last path segment in the last file that has it (the name of a service,
    /// network, ... as written).
    pub(super) fn key(&self, path: &[&str]) -> Option<Span> {
        let (last, parent) = path.split_last()?;
        self.roots.iter().rev().find_map(|root| {
            let entries = walk(root, parent)?.as_map()?;
            entries
                .iter()
                .find(|(k, _)| k.value == *last)
                .map(|(k, _)| k.span)
        })
    }

    /// The value at `path`, or else its key, or else `fallback`.
    pub(super) fn value_or(&self, path: &[&str], fallback: Span) -> Span {
        self.node(path)
            .map(|n| n.span)
            .or_else(|| self.key(path))
            .unwrap_or(fallback)
    }

    /// Where the environment variable `var` of `service` was set: its entry in `environment`
    /// (mapping or `KEY=value` list), else the service's `env_file`.
    pub(super) fn env(&self, service: &str, var: &str) -> Option<Span> {
        let in_environment = self.roots.iter().rev().find_map(|root| {
            let node = walk(root, &["services", service, "environment"])?;
            match &node.value {
                Value::Map(entries) => entries
                    .iter()
                    .find(|(k, _)| k.value == var)
                    .map(|(k, v)| if v.is_null() { k.span } else { v.span }),
                Value::Seq(items) => items
                    .iter()
                    .find(|item| {
                        item.as_str()
                            .is_some_and(|s| s.split_once('=').map_or(s, |(k, _)| k) == var)
                    })
                    .map(|item| item.span),
                Value::Scalar(_) => None,
            }
        });
        in_environment.or_else(|| {
            self.node(&["services", service, "env_file"])
                .map(|n| n.span)
        })
    }
}

fn walk<'n>(root: &'n Node, path: &[&str]) -> Option<&'n Node> {
    path.iter().try_fold(root, |node, key| node.get(key))
}

#[cfg(test)]
mod tests {
    use super::Places;
    use crate::load::node::FileId;
    use crate::load::yaml;

    #[test]
    fn the_last_file_that_writes_a_path_is_the_place() {
        let first = "services:\n  web:\n    environment:\n      A: x\n    stop_signal: INT\n";
        let second = "services:\n  web:\n    environment: [\"A=y\", B]\n";
        let roots = [
            yaml::parse(FileId(0), first).unwrap(),
            yaml::parse(FileId(1), second).unwrap(),
        ];
        let places = Places { roots: &roots };
        let a = places.env("web", "A").unwrap();
        assert_eq!(
            (a.file, &second[a.offset..a.offset + a.len]),
            (FileId(1), "\"A=y\"")
        );
        let b = places.env("web", "B").unwrap();
        assert_eq!(&second[b.offset..b.offset + b.len], "B");
        let signal = places
            .node(&["services", "web", "stop_signal"])
            .unwrap()
            .span;
        assert_eq!(
            (signal.file, &first[signal.offset..signal.offset + 3]),
            (FileId(0), "INT")
        );
        let key = places.key(&["services", "web"]).unwrap();
        assert_eq!(
            (key.file, &second[key.offset..key.offset + 3]),
            (FileId(1), "web")
        );
        assert!(places.env("web", "C").is_none());
    }
}
