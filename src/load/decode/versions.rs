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

/// The version that introduced `key` under `path`, if it is newer than `version`.
pub(crate) fn too_new(path: &str, key: &str, version: (u32, u32)) -> Option<(u32, u32)> {
    INTRODUCED
        .iter()
        .find(|(p, k, _)| *k == key && is_under(path, p))
        .map(|(_, _, since)| *since)
        .filter(|since| *since > version)
}

/// Whether `path` has the shape `pattern` names, where `*` stands for one or more segments:
/// names may contain dots (`configs.app.conf`), so [`pattern`] alone cannot tell them apart.
pub(crate) fn is_under(path: &str, pattern: &str) -> bool {
    fn segments(path: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for segment in path.split('.').filter(|_| !path.is_empty()) {
            match segment.find('[') {
                Some(0) => out.push("[]"),
                Some(at) => out.extend([&segment[..at], "[]"]),
                None => out.push(segment),
            }
        }
        out
    }
    fn matches(path: &[&str], pattern: &[&str]) -> bool {
        match pattern.split_first() {
            None => path.is_empty(),
            Some((&"*", rest)) => (1..=path.len()).any(|n| matches(&path[n..], rest)),
            Some((first, rest)) => path.first() == Some(first) && matches(&path[1..], rest),
        }
    }
    matches(&segments(path), &segments(pattern))
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
        assert_eq!(too_new("services.web", "init", (3, 0)), Some((3, 7)));
        assert_eq!(too_new("services.web", "init", (3, 7)), None);
        assert_eq!(
            too_new("services.web.deploy.update_config", "order", (3, 3)),
            Some((3, 4))
        );
        assert_eq!(
            too_new("services.web.volumes[0].tmpfs", "size", (3, 5)),
            Some((3, 6))
        );
        assert_eq!(
            too_new("services.web.networks.front", "driver_opts", (3, 12)),
            Some((3, 13))
        );
        assert_eq!(too_new("", "configs", (3, 2)), Some((3, 3)));
        assert_eq!(too_new("services.web", "image", (3, 0)), None);
        assert_eq!(too_new("services.web.api", "init", (3, 0)), Some((3, 7)));
    }

    #[test]
    fn names_with_dots_are_one_segment_of_the_pattern() {
        assert!(is_under("configs.app.conf", "configs.*"));
        assert!(is_under("services.web.api.deploy", "services.*.deploy"));
        assert!(is_under(
            "services.w.volumes[0].tmpfs",
            "services.*.volumes.[].tmpfs"
        ));
        assert!(!is_under("services.web", "services.*.deploy"));
        assert!(!is_under("configs", "configs.*"));
        assert!(is_under("", ""));
    }
}
