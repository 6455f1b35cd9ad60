//! A whole stack file: version, services and the top-level networks, volumes, secrets, configs.

use std::path::{Path, PathBuf};

use super::service::{decode_service, string_map};
use super::{Decoder, keys};
use crate::load::diagnostic::Diagnostic;
use crate::load::node::{At, Node, Scalar, Value};
use crate::model::{External, FileObject, Network, Stack, Volume};

const VERSIONS: &[&str] = &[
    "3.0", "3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12",
    "3.13",
];
/// The schema docker CLI 28 uses when a file has no version, or says just "3".
pub const DEFAULT_VERSION: &str = "3.13";

/// Decode one file's tree. `working_dir` resolves relative `file:` paths.
pub(crate) fn decode_file(d: &mut Decoder<'_>, root: &Node, working_dir: &Path) -> Option<Stack> {
    let version = root
        .get("version")
        .and_then(|n| version(d, n))
        .unwrap_or_else(|| DEFAULT_VERSION.into());
    d.version = super::versions::parse(&version);
    let f = d.fields(root, "", &keys::TOP, true)?;
    let mut stack = Stack {
        version,
        working_dir: working_dir.to_path_buf(),
        ..Stack::default()
    };
    stack.name = f
        .get("name")
        .and_then(|n| Some(At::new(d.string(n, "name")?, n.span)));
    if let Some(n) = f.get("include") {
        // Resolved by the loader before decoding; only the shape is checked here.
        if let Value::Seq(items) = &n.value {
            for (i, item) in items.iter().enumerate() {
                if let Value::Map(_) = item.value {
                    d.fields(item, &format!("include[{i}]"), &keys::INCLUDE, false);
                }
            }
        } else {
            d.type_error(n, "include", "a list of files");
        }
    }
    if let Some(services) = section(d, &f, "services") {
        for (name, node) in services {
            if check_name(d, name, "services") {
                if let Some(service) = decode_service(d, name, node) {
                    stack.services.insert(name.value.clone(), service);
                }
            }
        }
    }
    for (name, node) in section(d, &f, "networks").unwrap_or_default() {
        if check_name(d, name, "networks") {
            let network = network(d, name, node);
            stack
                .networks
                .insert(name.value.clone(), network.unwrap_or_default());
        }
    }
    for (name, node) in section(d, &f, "volumes").unwrap_or_default() {
        if check_name(d, name, "volumes") {
            stack.volumes.insert(
                name.value.clone(),
                volume(d, name, node).unwrap_or_default(),
            );
        }
    }
    for kind in ["secrets", "configs"] {
        for (name, node) in section(d, &f, kind).unwrap_or_default() {
            if !check_name(d, name, kind) {
                continue;
            }
            let Some(object) = file_object(d, kind, name, node, working_dir) else {
                continue;
            };
            let map = if kind == "secrets" {
                &mut stack.secrets
            } else {
                &mut stack.configs
            };
            map.insert(name.value.clone(), object);
        }
    }
    Some(stack)
}

fn version(d: &mut Decoder<'_>, node: &Node) -> Option<String> {
    let text = if let Value::Scalar(Scalar::Str(s)) = &node.value {
        s.clone()
    } else {
        d.type_error(node, "version", "a string");
        d.hint_last("quote it: `version: \"3.8\"`");
        return None;
    };
    let normalised = if text == "3" {
        DEFAULT_VERSION.to_owned()
    } else {
        text
    };
    if VERSIONS.contains(&normalised.as_str()) {
        return Some(normalised);
    }
    let message = format!("unsupported compose file version {normalised:?}");
    d.error(node, "stackctl::load::version", message, "unsupported");
    d.hint_last("stack files use version 3.0 to 3.13, or no `version` at all");
    None
}

type Entries<'n> = &'n [(At<String>, Node)];

fn section<'n>(d: &mut Decoder<'_>, f: &super::Fields<'n>, key: &str) -> Option<Entries<'n>> {
    let node = f.get(key)?;
    if node.is_null() {
        return None;
    }
    let entries = node.as_map();
    if entries.is_none() {
        d.type_error(node, key, "a mapping");
    }
    entries
}

/// Names of services and objects: `^[a-zA-Z0-9._-]+$`, as docker's schema requires.
fn check_name(d: &mut Decoder<'_>, name: &At<String>, section: &str) -> bool {
    let valid = !name.value.is_empty()
        && name
            .value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !valid {
        let message = format!("{section}: invalid name {:?}", name.value);
        d.push(
            Diagnostic::error("stackctl::load::name", message)
                .at(name.span, "invalid name")
                .with_help("names may contain letters, digits, `.`, `_` and `-`"),
        );
    }
    valid
}

/// `external: true` or the deprecated `external: {name: x}`, combined with `name:`.
fn naming(d: &mut Decoder<'_>, f: &super::Fields<'_>, kind: &str, key: &At<String>) -> External {
    let path = format!("{kind}.{}", key.value);
    let name = f
        .get("name")
        .and_then(|n| d.string(n, &format!("{path}.name")))
        .unwrap_or_default();
    let mut naming = External {
        external: false,
        name,
    };
    let Some(ext) = f.get("external") else {
        return naming;
    };
    let external_name = match &ext.value {
        Value::Scalar(Scalar::Bool(b)) => {
            naming.external = *b;
            None
        }
        Value::Map(_) => {
            naming.external = true;
            let e = d.fields(ext, &format!("{path}.external"), &keys::EXTERNAL, false);
            e.and_then(|e| e.get("name"))
                .and_then(|n| d.string(n, &format!("{path}.external.name")))
        }
        _ => {
            d.type_error(ext, &format!("{path}.external"), "a boolean");
            None
        }
    };
    if let Some(external_name) = external_name {
        if naming.name.is_empty() {
            naming.name = external_name;
            let message = format!("{path}: `external.name` is deprecated; use `name:`");
            d.push(
                Diagnostic::warning("stackctl::load::deprecated", message)
                    .at(ext.span, "deprecated"),
            );
        } else {
            let message = format!("{path}: `external.name` and `name` conflict; only use `name`");
            d.error(
                ext,
                "stackctl::load::external",
                message,
                "conflicts with `name`",
            );
        }
    }
    if naming.external && naming.name.is_empty() {
        naming.name.clone_from(&key.value);
    }
    naming
}

fn network(d: &mut Decoder<'_>, key: &At<String>, node: &Node) -> Option<Network> {
    if node.is_null() {
        return None;
    }
    let path = format!("networks.{}", key.value);
    let f = d.fields(node, &path, &keys::NETWORK, true)?;
    let p = |k: &str| format!("{path}.{k}");
    let mut network = Network {
        naming: naming(d, &f, "networks", key),
        driver: f
            .get("driver")
            .and_then(|n| d.string(n, &p("driver")))
            .unwrap_or_default(),
        driver_opts: f
            .get("driver_opts")
            .map(|n| d.options_map(n, &p("driver_opts"), false))
            .unwrap_or_default(),
        internal: f
            .get("internal")
            .and_then(|n| d.bool(n, &p("internal")))
            .unwrap_or(false),
        attachable: f
            .get("attachable")
            .and_then(|n| d.bool(n, &p("attachable")))
            .unwrap_or(false),
        labels: f
            .get("labels")
            .map(|n| string_map(d, n, &p("labels")))
            .unwrap_or_default(),
        ..Network::default()
    };
    if let Some(ipam) = f
        .get("ipam")
        .and_then(|n| d.fields(n, &p("ipam"), &keys::IPAM, false))
    {
        network.ipam_driver = ipam
            .get("driver")
            .and_then(|n| d.string(n, &p("ipam.driver")))
            .unwrap_or_default();
        if let Some(Value::Seq(items)) = ipam.get("config").map(|n| &n.value) {
            for (i, item) in items.iter().enumerate() {
                let ip = format!("{path}.ipam.config[{i}]");
                let subnet = d
                    .fields(item, &ip, &keys::IPAM_CONFIG, false)
                    .and_then(|c| c.get("subnet"));
                if let Some(s) = subnet.and_then(|n| d.string(n, &format!("{ip}.subnet"))) {
                    network.ipam_subnets.push(s);
                }
            }
        } else if let Some(n) = ipam.get("config") {
            d.type_error(n, &p("ipam.config"), "a list");
        }
    }
    Some(network)
}

fn volume(d: &mut Decoder<'_>, key: &At<String>, node: &Node) -> Option<Volume> {
    if node.is_null() {
        return None;
    }
    let path = format!("volumes.{}", key.value);
    let f = d.fields(node, &path, &keys::VOLUME, true)?;
    let p = |k: &str| format!("{path}.{k}");
    let volume = Volume {
        naming: naming(d, &f, "volumes", key),
        driver: f
            .get("driver")
            .and_then(|n| d.string(n, &p("driver")))
            .unwrap_or_default(),
        driver_opts: f
            .get("driver_opts")
            .map(|n| d.options_map(n, &p("driver_opts"), false))
            .unwrap_or_default(),
        labels: f
            .get("labels")
            .map(|n| string_map(d, n, &p("labels")))
            .unwrap_or_default(),
    };
    if volume.naming.external {
        for conflicting in ["driver", "driver_opts", "labels"] {
            if let Some(n) = f.get(conflicting) {
                let message = format!("{path}: `external` and `{conflicting}` conflict");
                d.error(
                    n,
                    "stackctl::load::external",
                    message,
                    "not allowed on an external volume",
                );
                d.hint_last("an external volume is created outside the stack; remove this key");
            }
        }
    }
    Some(volume)
}

fn file_object(
    d: &mut Decoder<'_>,
    kind: &str,
    key: &At<String>,
    node: &Node,
    dir: &Path,
) -> Option<FileObject> {
    let keys = if kind == "secrets" {
        &keys::SECRET
    } else {
        &keys::CONFIG
    };
    let path = format!("{kind}.{}", key.value);
    let f = d.fields(node, &path, keys, true)?;
    let p = |k: &str| format!("{path}.{k}");
    let string = |d: &mut Decoder<'_>, k: &str| {
        f.get(k)
            .and_then(|n| d.string(n, &p(k)))
            .unwrap_or_default()
    };
    let mut object = FileObject {
        naming: naming(d, &f, kind, key),
        file: None,
        labels: f
            .get("labels")
            .map(|n| string_map(d, n, &p("labels")))
            .unwrap_or_default(),
        driver: string(d, "driver"),
        driver_opts: f
            .get("driver_opts")
            .map(|n| d.options_map(n, &p("driver_opts"), false))
            .unwrap_or_default(),
        template_driver: string(d, "template_driver"),
    };
    let file = f
        .get("file")
        .and_then(|n| Some((d.string(n, &p("file"))?, n)));
    let singular = kind.trim_end_matches('s');
    match (&file, object.naming.external, object.driver.is_empty()) {
        // External objects and driver-backed secrets carry no file.
        (_, true, _) | (None, false, false) => {}
        (Some((_, n)), false, false) => {
            let message = format!("{path}: `driver` and `file` conflict; only use `driver`");
            d.error(
                n,
                "stackctl::load::file_object",
                message,
                "conflicts with `driver`",
            );
        }
        (Some((file, _)), false, true) => object.file = Some(absolute(dir, file)),
        (None, false, true) => {
            let message = format!(
                "{singular} {:?} has no content: it needs `file:`, or `external: true`",
                key.value
            );
            let diag =
                Diagnostic::error("stackctl::load::file_object", message).at(key.span, "no `file`");
            d.push(diag.with_help(format!(
                "add `file: ./{}.txt` (read relative to the stack file)",
                key.value
            )));
        }
    }
    Some(object)
}

/// Relative paths are joined to the first stack file's directory (docker's working dir).
#[must_use]
pub fn absolute(dir: &Path, file: &str) -> PathBuf {
    let path = Path::new(file);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        clean(&dir.join(path))
    }
}

/// Lexical clean (Go's `filepath.Clean`): drop `.`, fold `..`.
pub(super) fn clean(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}
