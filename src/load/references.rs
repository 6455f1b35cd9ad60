//! Cross-references between services and top-level objects, checked before anything touches
//! the cluster (docker finds some of these only after creating networks).

use super::diagnostic::{Diagnostic, Diagnostics};
use super::node::Span;
use crate::model::{Stack, VolumeType};

/// Networks every stack may name without declaring them.
const PREDEFINED_NETWORKS: &[&str] = &["default", "host", "bridge", "none", "ingress"];

pub(super) fn check(stack: &Stack, diags: &mut Diagnostics) {
    for (name, service) in &stack.services {
        match &service.image {
            None => {
                let message = format!("service {name:?} has no image");
                diags.push(
                    Diagnostic::error("stackctl::load::image", message)
                        .at(service.name.span, "no `image:`")
                        .with_help("add `image: <name>:<tag>`; stack files cannot build images"),
                );
            }
            Some(image) if !is_valid_image(&image.value) => {
                let message = format!(
                    "invalid image reference {:?} for service {name:?}",
                    image.value
                );
                diags.push(Diagnostic::error("stackctl::load::image", message).at(image.span, "invalid reference").with_help("image references are lower-case, like `registry.example.com/team/app:1.2`"));
            }
            Some(_) => {}
        }
        for (network, entry) in service.networks.iter().flatten() {
            if !stack.networks.contains_key(network)
                && !PREDEFINED_NETWORKS.contains(&network.as_str())
            {
                undefined(
                    diags,
                    "network",
                    network,
                    entry.span.unwrap_or(service.name.span),
                    stack.networks.keys(),
                );
            }
        }
        for secret in &service.secrets {
            if !stack.secrets.contains_key(&secret.source.value) {
                undefined(
                    diags,
                    "secret",
                    &secret.source.value,
                    secret.source.span,
                    stack.secrets.keys(),
                );
            }
        }
        for config in &service.configs {
            if !stack.configs.contains_key(&config.source.value) {
                undefined(
                    diags,
                    "config",
                    &config.source.value,
                    config.source.span,
                    stack.configs.keys(),
                );
            }
        }
        if let Some(spec) = &service.credential_spec {
            let span = spec.config_span.filter(|_| !spec.config.is_empty());
            if let Some(span) = span.filter(|_| !stack.configs.contains_key(&spec.config)) {
                undefined(diags, "config", &spec.config, span, stack.configs.keys());
            }
        }
        for volume in &service.volumes {
            let named = volume.kind == VolumeType::Volume && !volume.source.is_empty();
            if named && !stack.volumes.contains_key(&volume.source) {
                undefined(
                    diags,
                    "volume",
                    &volume.source,
                    volume.span,
                    stack.volumes.keys(),
                );
            }
        }
        for dependency in &service.depends_on {
            if !stack.services.contains_key(&dependency.value) {
                undefined(
                    diags,
                    "service",
                    &dependency.value,
                    dependency.span,
                    stack.services.keys(),
                );
            }
        }
        check_duplicate_targets(service, diags);
    }
}

fn undefined<'a>(
    diags: &mut Diagnostics,
    kind: &str,
    name: &str,
    span: Span,
    known: impl Iterator<Item = &'a String>,
) {
    let known: Vec<&String> = known.collect();
    let message = format!("undefined {kind} {name:?}");
    let mut diag = Diagnostic::error("stackctl::load::undefined", message)
        .at(span, format!("no top-level {kind} with this name"));
    if let Some(best) = super::suggest::closest(name, known.iter().map(|s| s.as_str())) {
        diag = diag.with_help(format!("did you mean `{best}`?"));
    } else if kind == "service" {
        diag = diag.with_help("depends_on names services of this stack");
    } else {
        diag = diag.with_help(format!("declare it under the top-level `{kind}s:` key"));
    }
    diags.push(diag);
}

fn check_duplicate_targets(service: &crate::model::Service, diags: &mut Diagnostics) {
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for secret in &service.secrets {
        let target = if secret.target.is_empty() {
            &secret.source.value
        } else {
            &secret.target
        };
        if !seen.insert(target.as_str()) {
            let message = format!(
                "duplicate secret target {target:?} in service {:?}",
                service.name.value
            );
            diags.push(
                Diagnostic::error("stackctl::load::duplicate", message)
                    .at(secret.source.span, "same target as another secret"),
            );
        }
    }
}

/// The shape docker's reference parser accepts: lower-case path components, optional
/// registry host (with port), tag and digest.
fn is_valid_image(image: &str) -> bool {
    let (name, digest) = image
        .split_once('@')
        .map_or((image, None), |(n, d)| (n, Some(d)));
    if digest.is_some_and(|d| !d.contains(':')) {
        return false;
    }
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    let tag_ok = tag.is_none_or(|t| {
        !t.is_empty()
            && t.len() <= 128
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            && !t.starts_with(['.', '-'])
    });
    let mut parts: Vec<&str> = repo.split('/').collect();
    if parts.len() > 1 && (parts[0].contains(['.', ':']) || parts[0] == "localhost") {
        parts.remove(0);
    }
    let path_ok = !parts.is_empty()
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
                })
                && p.starts_with(|c: char| c.is_ascii_alphanumeric())
                && p.ends_with(|c: char| c.is_ascii_alphanumeric())
        });
    tag_ok && path_ok
}

#[cfg(test)]
mod tests {
    use super::is_valid_image;

    #[test]
    fn image_references() {
        for ok in [
            "nginx",
            "nginx:1.25",
            "stackctl-test/app:1",
            "localhost:5000/app",
            "reg.example.com:443/a/b:v1",
            "app@sha256:abc",
        ] {
            assert!(is_valid_image(ok), "{ok}");
        }
        for bad in ["Nginx", "app:", "app:-x", "/app", "a//b", ""] {
            assert!(!is_valid_image(bad), "{bad}");
        }
    }
}
