//! Names Swarm refuses: services and overlay networks must be DNS labels of at most 63
//! characters, configs and secrets at most 64 characters of `[a-zA-Z0-9-_.]` (swarmkit's
//! `validateAnnotations` and `validateConfigOrSecretAnnotations`), stack prefix included.

use std::collections::BTreeSet;

use super::place::Places;
use crate::load::diagnostic::{Diagnostic, Diagnostics};
use crate::load::node::Span;
use crate::model::{External, Stack, StackName};

/// Services and (swarm-scoped) networks: a DNS label.
pub(super) const MAX_DNS_NAME: usize = 63;
/// Configs and secrets.
pub(super) const MAX_OBJECT_NAME: usize = 64;

const CODE: &str = "stackctl::load::swarm_name";

/// The two name rules, by the kind of object they apply to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// `^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$`, at most 63.
    Dns,
    /// `^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$`, at most 64.
    Object,
}

impl Rule {
    const fn max(self) -> usize {
        match self {
            Self::Dns => MAX_DNS_NAME,
            Self::Object => MAX_OBJECT_NAME,
        }
    }

    fn allows_char(self, c: char) -> bool {
        c.is_ascii_alphanumeric() || matches!(c, '-' | '_') || (self == Self::Object && c == '.')
    }

    /// Whether `tail` can end a name (after `<stack>_`, which starts with a letter or digit).
    fn allows_tail(self, tail: &str) -> bool {
        tail.chars().all(|c| self.allows_char(c))
            && tail.ends_with(|c: char| c.is_ascii_alphanumeric())
    }

    /// Whether `name`, used exactly as written, is valid (its length aside).
    fn allows_name(self, name: &str) -> bool {
        name.starts_with(|c: char| c.is_ascii_alphanumeric()) && self.allows_tail(name)
    }

    fn help(self) -> &'static str {
        match self {
            Self::Dns => {
                "Swarm needs service and network names to be DNS labels: letters, digits, `-` and `_`, starting and ending with a letter or digit (no `.`)"
            }
            Self::Object => {
                "Swarm allows letters, digits, `-`, `_` and `.` in config and secret names, starting and ending with a letter or digit"
            }
        }
    }
}

/// One object that becomes a named Swarm object: its kind, key, `name:` and where it is written.
struct Named<'a> {
    kind: &'static str,
    key: &'a str,
    rule: Rule,
    /// `name:` if given (used as is, without the stack prefix).
    explicit: Option<&'a str>,
    span: Option<Span>,
}

/// Every object of the stack that Swarm will be asked to create under a name.
fn named<'a>(stack: &'a Stack, places: &Places<'_>) -> Vec<Named<'a>> {
    let mut out: Vec<Named<'a>> = stack
        .services
        .iter()
        .map(|(key, service)| Named {
            kind: "service",
            key,
            rule: Rule::Dns,
            explicit: None,
            span: Some(service.name.span),
        })
        .collect();
    for key in used_networks(stack) {
        let network = stack.networks.get(key);
        let naming = network.map(|n| &n.naming);
        // Local-scope drivers (bridge, macvlan, ...) are not Swarm objects: the daemon accepts
        // names there that Swarm would refuse.
        let driver = network.map_or("", |n| n.driver.as_str());
        if naming.is_some_and(|n| n.external) || !matches!(driver, "" | "overlay") {
            continue;
        }
        out.push(object("network", key, Rule::Dns, naming, places));
    }
    for (kind, objects) in [("config", &stack.configs), ("secret", &stack.secrets)] {
        for (key, value) in objects.iter().filter(|(_, o)| !o.naming.external) {
            out.push(object(kind, key, Rule::Object, Some(&value.naming), places));
        }
    }
    out
}

fn object<'a>(
    kind: &'static str,
    key: &'a str,
    rule: Rule,
    naming: Option<&'a External>,
    places: &Places<'_>,
) -> Named<'a> {
    let section = format!("{kind}s");
    let explicit = naming.map(|n| n.name.as_str()).filter(|n| !n.is_empty());
    let span = match explicit {
        Some(_) => places.node(&[&section, key, "name"]).map(|n| n.span),
        None => places.key(&[&section, key]),
    };
    Named {
        kind,
        key,
        rule,
        explicit,
        span,
    }
}

/// The networks services use (only those are created), as `docker stack deploy` finds them.
fn used_networks(stack: &Stack) -> BTreeSet<&str> {
    let mut used = BTreeSet::new();
    for service in stack.services.values() {
        match service.networks.as_ref().filter(|n| !n.is_empty()) {
            None => {
                used.insert("default");
            }
            Some(networks) => used.extend(networks.keys().map(String::as_str)),
        }
    }
    used
}

fn error(object: &Named<'_>, message: String, label: &str, help: &str) -> Diagnostic {
    let diag = Diagnostic::error(CODE, message).with_help(help);
    match object.span {
        Some(span) => diag.at(span, label),
        None => diag,
    }
}

/// Characters and explicit names: what does not depend on the stack name.
pub(super) fn check(stack: &Stack, places: &Places<'_>, diags: &mut Diagnostics) {
    for object in named(stack, places) {
        let rule = object.rule;
        match object.explicit {
            Some(name) if !rule.allows_name(name) => {
                let message = format!(
                    "{} {:?}: Swarm refuses the name {name:?}",
                    object.kind, object.key
                );
                diags.push(error(&object, message, "invalid name", rule.help()));
            }
            Some(name) if name.len() > rule.max() => {
                let message = format!(
                    "{} {:?}: the name {name:?} is {} characters; Swarm allows at most {}",
                    object.kind,
                    object.key,
                    name.len(),
                    rule.max()
                );
                diags.push(error(&object, message, "too long", "use a shorter `name:`"));
            }
            None if !rule.allows_tail(object.key) => {
                let message = format!(
                    "{} name {:?} is not valid in Swarm (it becomes `<stack>_{}`)",
                    object.kind, object.key, object.key
                );
                let help = format!("rename it; {}", rule.help());
                diags.push(error(&object, message, "invalid name", &help));
            }
            _ => {}
        }
    }
}

/// `<stack>_<key>` lengths, once the stack name is known.
pub(super) fn check_prefixed(
    stack: &Stack,
    name: &StackName,
    places: &Places<'_>,
    diags: &mut Diagnostics,
) {
    for object in named(stack, places) {
        let rule = object.rule;
        if object.explicit.is_some() || !rule.allows_tail(object.key) {
            continue;
        }
        let scoped = name.scope(object.key);
        if scoped.len() > rule.max() {
            let message = format!(
                "{} {:?} would be named {scoped:?}, {} characters; Swarm allows at most {}",
                object.kind,
                object.key,
                scoped.len(),
                rule.max()
            );
            let help = match object.kind {
                "service" => "shorten the service name or the stack name".to_owned(),
                kind => format!("shorten the {kind} name or the stack name, or give it a `name:`"),
            };
            diags.push(error(&object, message, "name too long", &help));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Rule;

    #[test]
    fn rules_match_swarmkit_regexes() {
        // (name, DNS rule, config/secret rule), as swarmkit's two regexes answer.
        for (name, dns, object) in [
            ("web", true, true),
            ("w", true, true),
            ("web-1_a", true, true),
            ("web.api", false, true),
            ("web-", false, false),
            ("web_", false, false),
            ("-web", false, false),
            ("_web", false, false),
            (".web", false, false),
            ("web.", false, false),
            ("a__b--c", true, true),
        ] {
            assert_eq!(Rule::Dns.allows_name(name), dns, "{name} (dns)");
            assert_eq!(Rule::Object.allows_name(name), object, "{name} (object)");
        }
        // After `<stack>_`, a leading `_` or `-` is fine.
        assert!(Rule::Dns.allows_tail("_web"));
        assert!(!Rule::Dns.allows_tail("web.x"));
    }
}
