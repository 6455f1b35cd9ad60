//! Checked access to a mapping's keys: unknown keys are reported once, with a suggestion.

use super::Decoder;
use super::keys::Keys;
use crate::load::node::{At, Node, Value};
use crate::load::suggest::closest;

/// The entries of one mapping that passed the key check.
pub(crate) struct Fields<'n> {
    entries: &'n [(At<String>, Node)],
}

impl<'n> Fields<'n> {
    pub(crate) fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.value == key)
            .map(|(_, v)| v)
    }
}

/// Where a misplaced key belongs, for keys people often put one level off.
const BELONGS_UNDER: &[(&str, &str)] = &[
    ("replicas", "deploy"),
    ("update_config", "deploy"),
    ("rollback_config", "deploy"),
    ("restart_policy", "deploy"),
    ("placement", "deploy"),
    ("resources", "deploy"),
    ("endpoint_mode", "deploy"),
    ("mode", "deploy"),
    ("constraints", "deploy.placement"),
    ("preferences", "deploy.placement"),
    ("limits", "deploy.resources"),
    ("reservations", "deploy.resources"),
    ("aliases", "networks.<name>"),
];

impl Decoder<'_> {
    /// Check that `node` is a mapping whose keys are in `allowed` (or `x-*` when `extensions`),
    /// reporting each other key. Returns `None` when the node is not a mapping.
    pub(crate) fn fields<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        keys: &Keys,
        extensions: bool,
    ) -> Option<Fields<'n>> {
        // The decoder built `path` from one of these; which one gates the keys by version.
        let pattern = keys
            .at
            .iter()
            .find(|p| super::versions::matches(p, path))
            .copied();
        debug_assert!(pattern.is_some(), "{path} is not under {:?}", keys.at);
        let allowed = keys.names;
        let Value::Map(entries) = &node.value else {
            self.type_error(node, path, "a mapping");
            return None;
        };
        for (key, _) in entries {
            let name = key.value.as_str();
            let is_extension = extensions && name.starts_with("x-");
            if !(allowed.contains(&name) || is_extension) {
                self.unknown_key(key, path, allowed);
                continue;
            }
            let since = if is_extension {
                Some(super::versions::extensions_since(path)).filter(|v| *v > self.version)
            } else {
                pattern.and_then(|p| super::versions::too_new(p, name, self.version))
            };
            if let Some((major, minor)) = since {
                let (have_major, have_minor) = self.version;
                let message = format!(
                    "`{name}` needs compose file version {major}.{minor} or later; this file says {have_major}.{have_minor}"
                );
                let diag = crate::load::Diagnostic::error("stackctl::load::version", message)
                    .at(key.span, "not in this file's version")
                    .with_help(format!("raise `version:` to \"{major}.{minor}\" or later, or remove it (the newest is used)"));
                self.push(diag);
            }
        }
        Some(Fields { entries })
    }

    fn unknown_key(&mut self, key: &At<String>, path: &str, allowed: &[&str]) {
        let name = key.value.as_str();
        let mut diag = crate::load::Diagnostic::unknown_key(key, path);
        if let Some(best) = closest(name, allowed.iter().copied()) {
            diag = diag.with_help(format!("did you mean `{best}`?"));
        } else if let Some((_, parent)) = BELONGS_UNDER.iter().find(|(k, _)| *k == name) {
            diag = diag.with_help(format!("`{name}` belongs under `{parent}:`"));
        } else if name.starts_with('x') || name.starts_with('X') {
            diag = diag.with_help("extension fields must start with `x-`");
        } else {
            diag = diag.with_help(format!("allowed keys here: {}", allowed.join(", ")));
        }
        self.push(diag);
    }
}
