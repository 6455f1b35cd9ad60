//! The keys `watch.yml` accepts, mapping by mapping: one table for the parser and the schema test.

/// The keys allowed in the mappings at `at` (a path pattern: `*` for any source or stack name),
/// besides `x-*` extension keys, accepted (and ignored) everywhere.
#[derive(Debug)]
pub struct Keys {
    pub at: &'static str,
    pub names: &'static [&'static str],
}

pub const TOP: Keys = Keys {
    at: "",
    names: &["sources", "stacks", "controller"],
};

pub const SOURCE: Keys = Keys {
    at: "sources.*",
    names: &[
        "git",
        "dir",
        "branch",
        "tag",
        "commit",
        "interval",
        "token_file",
        "token_env",
        "username",
        "ssh_key_file",
        "ssh_key_passphrase_file",
        "known_hosts_file",
    ],
};

pub const STACK: Keys = Keys {
    at: "stacks.*",
    names: &[
        "source",
        "files",
        "env_file",
        "profiles",
        "prune",
        "max_removals",
        "self_heal",
        "mode",
        "suspend",
        "depends_on",
        "on_failure",
    ],
};

pub const CONTROLLER: Keys = Keys {
    at: "controller",
    names: &[
        "listen",
        "state_dir",
        "resync",
        "max_concurrent",
        "heal_limit",
        "heal_window",
        "log_format",
    ],
};

/// A git source's credential settings: the keys of [`SOURCE`] after `interval`.
pub(crate) const CREDENTIALS: &[&str] = SOURCE.names.split_at(6).1;

const ALL: &[&Keys] = &[&TOP, &SOURCE, &STACK, &CONTROLLER];

/// Every accepted key as a dotted path pattern, e.g. `stacks.*.depends_on`.
#[must_use]
pub fn accepted() -> Vec<String> {
    ALL.iter()
        .flat_map(|keys| {
            keys.names.iter().map(|name| {
                if keys.at.is_empty() {
                    (*name).to_owned()
                } else {
                    format!("{}.{name}", keys.at)
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn credentials_are_the_tail_of_the_source_keys() {
        assert_eq!(super::CREDENTIALS.first(), Some(&"token_file"));
        assert_eq!(super::CREDENTIALS.len(), 6);
    }
}
