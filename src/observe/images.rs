//! Digest pinning (`--resolve-image`), as `docker stack deploy` does it: the daemon asks the
//! registry for the image's digest and platforms, and the spec names `image:tag@digest`.

use bollard::auth::DockerCredentials;
use serde_json::{Value, json};

use super::LiveState;
use crate::convert::Desired;
use crate::engine::Engine;
use crate::model::IMAGE_LABEL;

/// When to ask the registry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ResolveImage {
    /// Every service, every time (docker's default; one registry query per service).
    Always,
    /// Services that are new or whose image in the files changed (stackctl's default: a plan
    /// of an unchanged stack asks no registry).
    #[default]
    Changed,
    /// Never: images are sent as tags; each node resolves them when it pulls.
    Never,
}

fn label(spec: &Value) -> Option<&str> {
    spec.pointer(&format!("/Labels/{}", IMAGE_LABEL.replace('/', "~1")))
        .and_then(Value::as_str)
}

/// Pin digests into the desired service specs; returns warnings for images no registry
/// answered for (those keep their tag, as with docker).
pub async fn resolve_images<E: Engine>(
    engine: &E,
    desired: &mut Desired,
    live: &LiveState,
    mode: ResolveImage,
    auth: &(dyn Fn(&str) -> Option<DockerCredentials> + Sync),
) -> Vec<String> {
    let mut warnings = Vec::new();
    for service in desired.services.values_mut() {
        let current = live.services.get(&service.name);
        let changed = current.is_none_or(|l| label(&l.spec) != label(&service.spec));
        if mode == ResolveImage::Never || (mode == ResolveImage::Changed && !changed) {
            continue;
        }
        let Some(image) = service
            .spec
            .pointer("/TaskTemplate/ContainerSpec/Image")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            continue;
        };
        if image.contains('@') {
            continue;
        }
        match engine.resolve_image(&image, auth(&image).as_ref()).await {
            Ok(resolved) if !resolved.digest.is_empty() => {
                service.spec["TaskTemplate"]["ContainerSpec"]["Image"] = json!(format!("{image}@{}", resolved.digest));
                let platforms: Vec<Value> = resolved
                    .platforms
                    .iter()
                    // swarmkit cannot match a plain "arm" (moby/swarmkit#2294): docker blanks it.
                    .map(|(arch, os)| json!({"Architecture": if arch == "arm" { "" } else { arch }, "OS": os}))
                    .collect();
                if !platforms.is_empty() {
                    service.spec["TaskTemplate"]["Placement"]["Platforms"] = Value::Array(platforms);
                }
            }
            _ => warnings.push(format!(
                "image {image} could not be accessed on a registry to record its digest; each node will resolve {image} on its own"
            )),
        }
    }
    warnings
}
