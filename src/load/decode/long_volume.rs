//! Long volume syntax (`{type, source, target, ...}`) -> [`ServiceVolume`].

use super::{Decoder, keys};
use crate::load::node::Node;
use crate::model::{ServiceVolume, VolumeType};

pub(crate) fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<ServiceVolume> {
    let f = d.fields(node, path, &keys::VOLUME_MOUNT, false)?;
    let Some(type_node) = f.get("type") else {
        d.error(
            node,
            "stackctl::load::required",
            format!("{path} needs a `type`"),
            "no type",
        );
        d.hint_last("add `type: volume`, `bind` or `tmpfs`");
        return None;
    };
    let type_text = d.string(type_node, &format!("{path}.type"))?;
    let Some(kind) = VolumeType::parse(&type_text) else {
        let message = format!("{path}.type: unknown volume type {type_text:?}");
        d.error(type_node, "stackctl::load::volume", message, "unknown type");
        d.hint_last("volume type must be volume, bind, tmpfs or npipe");
        return None;
    };
    let text = |d: &mut Decoder<'_>, key: &str| {
        f.get(key)
            .and_then(|n| d.string(n, &format!("{path}.{key}")))
            .unwrap_or_default()
    };
    let mut volume = ServiceVolume {
        kind,
        source: text(d, "source"),
        target: text(d, "target"),
        read_only: f
            .get("read_only")
            .and_then(|n| d.bool(n, &format!("{path}.read_only")))
            .unwrap_or(false),
        consistency: text(d, "consistency"),
        bind_propagation: None,
        volume_nocopy: None,
        volume_subpath: String::new(),
        tmpfs_size: None,
        span: node.span,
    };
    for option in ["bind", "volume", "tmpfs"] {
        let Some(n) = f.get(option) else { continue };
        if option != volume.kind.as_str() {
            let message = format!(
                "{path}: {option} options are incompatible with type {}",
                volume.kind.as_str()
            );
            d.error(
                n,
                "stackctl::load::volume",
                message,
                "wrong options for this type",
            );
            continue;
        }
        let option_path = format!("{path}.{option}");
        match option {
            "bind" => {
                let Some(o) = d.fields(n, &option_path, &keys::BIND_OPTIONS, false) else {
                    continue;
                };
                let propagation = o
                    .get("propagation")
                    .and_then(|p| d.string(p, &format!("{option_path}.propagation")));
                volume.bind_propagation = Some(propagation.unwrap_or_default());
            }
            "volume" => {
                let Some(o) = d.fields(n, &option_path, &keys::VOLUME_OPTIONS, false) else {
                    continue;
                };
                volume.volume_nocopy = o
                    .get("nocopy")
                    .and_then(|p| d.bool(p, &format!("{option_path}.nocopy")))
                    .or(Some(false));
                if let Some(p) = o.get("subpath") {
                    volume.volume_subpath = d
                        .string(p, &format!("{option_path}.subpath"))
                        .unwrap_or_default();
                }
            }
            _ => {
                let Some(o) = d.fields(n, &option_path, &keys::TMPFS_OPTIONS, false) else {
                    continue;
                };
                volume.tmpfs_size = o
                    .get("size")
                    .and_then(|p| d.uint(p, &format!("{option_path}.size")))
                    .map(|s| s as i64);
            }
        }
    }
    check_source(d, node, path, &volume);
    Some(volume)
}

fn check_source(d: &mut Decoder<'_>, node: &Node, path: &str, volume: &ServiceVolume) {
    match volume.kind {
        VolumeType::Bind if volume.source.is_empty() => {
            d.error(
                node,
                "stackctl::load::volume",
                format!("{path}: a bind mount needs a `source`"),
                "no source",
            );
        }
        VolumeType::Tmpfs if !volume.source.is_empty() => {
            d.error(
                node,
                "stackctl::load::volume",
                format!("{path}: a tmpfs mount takes no `source`"),
                "source given",
            );
        }
        _ => {}
    }
    if volume.target.is_empty() {
        d.error(
            node,
            "stackctl::load::volume",
            format!("{path} needs a `target`"),
            "no target",
        );
        d.hint_last("`target` is the path inside the container");
    }
}
