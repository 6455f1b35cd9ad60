//! Keys that only later compose file versions allow: a file that says `version: "3.0"` is held
//! to the 3.0 schema, as docker holds it (files without a version get the newest, 3.13).

/// `(path pattern, key, first version)`. Patterns name every service, network, ... with `*` and
/// every list item with `[]`.
const INTRODUCED: &[(&str, &str, (u32, u32))] = &[
    ("", "secrets", (3, 1)),
    ("services.*", "secrets", (3, 1)),
    ("networks.*", "attachable", (3, 2)),
    ("services.*.deploy", "endpoint_mode", (3, 2)),
    ("", "configs", (3, 3)),
    ("services.*", "configs", (3, 3)),
    ("services.*", "credential_spec", (3, 3)),
    ("services.*.deploy.placement", "preferences", (3, 3)),
    ("services.*.deploy.update_config", "order", (3, 4)),
    ("services.*.healthcheck", "start_period", (3, 4)),
    ("volumes.*", "name", (3, 4)),
    ("networks.*", "name", (3, 5)),
    ("secrets.*", "name", (3, 5)),
    ("configs.*", "name", (3, 5)),
    ("services.*", "isolation", (3, 5)),
    ("services.*.volumes.[].tmpfs", "size", (3, 6)),
    ("services.*", "init", (3, 7)),
    ("services.*.deploy", "rollback_config", (3, 7)),
    (
        "services.*.deploy.placement",
        "max_replicas_per_node",
        (3, 8),
    ),
    ("secrets.*", "driver", (3, 8)),
    ("secrets.*", "driver_opts", (3, 8)),
    ("secrets.*", "template_driver", (3, 8)),
    ("configs.*", "template_driver", (3, 8)),
    ("services.*.credential_spec", "config", (3, 8)),
    ("services.*.deploy.resources.limits", "pids", (3, 9)),
    ("services.*", "cgroupns_mode", (3, 9)),
    ("services.*.healthcheck", "start_interval", (3, 12)),
    ("services.*", "oom_score_adj", (3, 13)),
    ("services.*.networks.*", "driver_opts", (3, 13)),
];

/// Where `x-` extension keys became allowed.
pub(crate) fn extensions_since(path: &str) -> (u32, u32) {
    if path.is_empty() { (3, 4) } else { (3, 7) }
}

/// Turn `services.web.volumes[2].tmpfs` into `services.*.volumes.[].tmpfs` (the form of
/// [`super::keys`]).
pub fn pattern(path: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for (i, segment) in path.split('.').enumerate() {
        let (name, indexed) = match segment.find('[') {
            Some(at) => (&segment[..at], true),
            None => (segment, false),
        };
        let top = matches!(
            parts.first().map(String::as_str),
            Some("services" | "networks" | "volumes" | "secrets" | "configs")
        );
        let is_object_name = i == 1 && top;
        // A service's networks and ulimits are keyed by free names too.
        let is_named_entry = parts.len() == 3
            && parts[0] == "services"
            && matches!(parts[2].as_str(), "networks" | "ulimits");
        parts.push(if is_object_name || is_named_entry {
            "*".to_owned()
        } else {
            name.to_owned()
        });
        if indexed {
            parts.push("[]".to_owned());
        }
    }
    if path.is_empty() {
        String::new()
    } else {
        parts.join(".")
    }
}

/// Whether the decoder's `path` (`services.my.web.volumes[2].tmpfs`) is one `pattern`
/// (`services.*.volumes.[].tmpfs`) names. A name may hold dots and brackets, so `*` matches any
/// text; the fixed text before the first `*` and after the last one is matched exactly at the
/// ends of the path, where no name can be.
pub(crate) fn matches(pattern: &str, path: &str) -> bool {
    let path = index_free(path);
    let Some(first) = pattern.find('*') else {
        return path == pattern;
    };
    let last = pattern.rfind('*').unwrap_or(first);
    let (head, tail) = (&pattern[..first], &pattern[last + 1..]);
    let Some(names) = path
        .strip_prefix(head)
        .and_then(|rest| rest.strip_suffix(tail))
    else {
        return false;
    };
    // Between two `*`s (`services.*.networks.*`) the fixed text sits somewhere among the names.
    first == last || names.contains(&pattern[first + 1..last])
}

/// `volumes[2]` as a pattern writes it: `volumes.[]`.
fn index_free(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(open) = rest.find('[') {
        let digits = rest[open + 1..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        let is_index = digits > 0 && rest[open + 1 + digits..].starts_with(']');
        if is_index {
            out.push_str(&rest[..open]);
            out.push_str(".[]");
            rest = &rest[open + digits + 2..];
        } else {
            out.push_str(&rest[..=open]);
            rest = &rest[open + 1..];
        }
    }
    out.push_str(rest);
    out
}

/// The version that introduced `key` in the mappings `pattern` names, if it is newer than
/// `version`.
pub(crate) fn too_new(pattern: &str, key: &str, version: (u32, u32)) -> Option<(u32, u32)> {
    INTRODUCED
        .iter()
        .find(|(p, k, _)| *p == pattern && *k == key)
        .map(|(_, _, since)| *since)
        .filter(|since| *since > version)
}

/// `"3.8"` -> (3, 8).
pub(crate) fn parse(version: &str) -> (u32, u32) {
    let mut parts = version.split('.').map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(3), parts.next().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_gated_key_is_an_accepted_key() {
        let accepted = super::super::keys::accepted();
        for (path, key, _) in INTRODUCED {
            let full = if path.is_empty() {
                (*key).to_owned()
            } else {
                format!("{path}.{key}")
            };
            assert!(accepted.contains(&full), "{full} is gated but not accepted");
        }
    }

    #[test]
    fn keys_are_held_to_the_files_version() {
        assert_eq!(too_new("services.*", "init", (3, 0)), Some((3, 7)));
        assert_eq!(too_new("services.*", "init", (3, 7)), None);
        assert_eq!(
            too_new("services.*.deploy.update_config", "order", (3, 3)),
            Some((3, 4))
        );
        assert_eq!(
            too_new("services.*.volumes.[].tmpfs", "size", (3, 5)),
            Some((3, 6))
        );
        assert_eq!(
            too_new("services.*.networks.*", "driver_opts", (3, 12)),
            Some((3, 13))
        );
        assert_eq!(too_new("", "configs", (3, 2)), Some((3, 3)));
        assert_eq!(too_new("services.*", "image", (3, 0)), None);
    }

    #[test]
    fn paths_match_their_pattern_whatever_the_names_hold() {
        let cases: &[(&str, &str, bool)] = &[
            ("services.*", "services.web", true),
            ("services.*", "services.my.web", true),
            ("services.*", "services.", true),
            ("services.*", "networks.web", false),
            ("services.*.deploy", "services.a.b.deploy", true),
            ("services.*.deploy", "services.deploy", false),
            (
                "services.*.volumes.[].tmpfs",
                "services.w[1].volumes[12].tmpfs",
                true,
            ),
            (
                "services.*.volumes.[].tmpfs",
                "services.w.volumes[x].tmpfs",
                false,
            ),
            (
                "services.*.secrets.[]",
                "services.x.configs[0].secrets[1]",
                true,
            ),
            (
                "services.*.configs.[]",
                "services.x.configs[0].secrets[1]",
                false,
            ),
            ("services.*.networks.*", "services.a.b.networks.c.d", true),
            ("services.*.networks.*", "services.a.ulimits.c", false),
            ("networks.*.external", "volumes.a.external", false),
            ("include.[]", "include[3]", true),
            ("", "", true),
        ];
        for (pattern, path, want) in cases {
            assert_eq!(matches(pattern, path), *want, "{pattern} ~ {path}");
        }
    }
}
