//! Configs and secrets are immutable in Swarm. When a file's content changes (or a secret's
//! driver, its options, or the template driver), stackctl creates a new version named
//! `<name>-<digest>` and repoints the services using it; a version already in the cluster with
//! the right content is reused, and one deployed by `docker stack deploy` with the same content
//! is adopted as it is.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::convert::{Desired, DesiredObject};
use crate::model::digest::sha256_hex;
use crate::observe::LiveObject;

/// Label with the SHA-256 of the content, on every config and secret stackctl creates.
pub const CONTENT_LABEL: &str = "com.stackctl.content-sha256";
/// Label naming the object a version belongs to (its unversioned name).
pub const OBJECT_LABEL: &str = "com.stackctl.object";
/// Swarm's limit on config and secret names.
const MAX_NAME: usize = 64;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Config,
    Secret,
}

/// Pick the name each desired object will have, rename references in service specs, and
/// return the names of older versions that the new ones supersede.
pub(super) fn resolve(
    desired: &mut Desired,
    configs: &BTreeMap<String, LiveObject>,
    secrets: &BTreeMap<String, LiveObject>,
) -> BTreeSet<String> {
    let mut superseded = BTreeSet::new();
    for (kind, live) in [(Kind::Config, configs), (Kind::Secret, secrets)] {
        let objects = match kind {
            Kind::Config => &mut desired.configs,
            Kind::Secret => &mut desired.secrets,
        };
        let mut renames = BTreeMap::new();
        let mut resolved = BTreeMap::new();
        for (name, mut object) in std::mem::take(objects) {
            let chosen = choose_name(kind, &object, live);
            for old in live
                .values()
                .filter(|o| base_name(o) == name && o.name != chosen)
            {
                superseded.insert(old.name.clone());
            }
            label(&mut object, &name, &chosen);
            if chosen != name {
                renames.insert(name.clone(), chosen.clone());
                object.name.clone_from(&chosen);
                object.spec["Name"] = json!(chosen);
            }
            resolved.insert(chosen, object);
        }
        *objects = resolved;
        let field = if kind == Kind::Config {
            "ConfigName"
        } else {
            "SecretName"
        };
        for service in desired.services.values_mut() {
            rename_references(&mut service.spec, field, &renames);
        }
    }
    superseded
}

/// The parts of a config or secret spec besides its data that Swarm never updates: the secret
/// driver with its options and the template driver, in one canonical shape.
fn sealed(spec: &Value) -> Value {
    let mut out = Map::new();
    for key in ["Driver", "Templating"] {
        let Some(name) = spec[key]["Name"].as_str().filter(|n| !n.is_empty()) else {
            continue;
        };
        let mut driver = json!({"Name": name});
        if let Some(options) = spec[key]["Options"].as_object().filter(|o| !o.is_empty()) {
            driver["Options"] = Value::Object(options.clone());
        }
        out.insert(key.to_owned(), driver);
    }
    Value::Object(out)
}

/// What a version's name suffix is made from: the data, and the drivers when there are any
/// (a new driver option needs a new name even though the data did not change).
fn version_digest(data: &[u8], sealed: &Value) -> String {
    if sealed.as_object().is_none_or(Map::is_empty) {
        return sha256_hex(data);
    }
    let mut bytes = data.to_vec();
    bytes.push(0);
    bytes.extend(sealed.to_string().bytes());
    sha256_hex(&bytes)
}

/// The unversioned name an object belongs to.
fn base_name(object: &LiveObject) -> &str {
    object
        .labels
        .get(OBJECT_LABEL)
        .map_or(object.name.as_str(), String::as_str)
}

/// What a desired object is compared by: its data, their digest, and its sealed drivers.
struct Content<'a> {
    data: &'a [u8],
    digest: String,
    sealed: Value,
}

fn has_content(kind: Kind, live: &LiveObject, want: &Content<'_>) -> bool {
    if sealed(&live.drivers) != want.sealed {
        return false;
    }
    let (data, digest) = (want.data, want.digest.as_str());
    match (kind, &live.data, live.labels.get(CONTENT_LABEL)) {
        (Kind::Config, Some(existing), _) => existing == data,
        (_, _, Some(label)) => label == digest,
        // A secret docker created: Swarm never returns its data, so like docker we take it as is.
        (_, _, None) => true,
    }
}

fn choose_name(kind: Kind, object: &DesiredObject, live: &BTreeMap<String, LiveObject>) -> String {
    let want = Content {
        data: &object.data,
        digest: sha256_hex(&object.data),
        sealed: sealed(&object.spec),
    };
    let name = &object.name;
    // The object as it is, or a version of it, already holding this content is kept.
    let same = |o: &&LiveObject| base_name(o) == name && has_content(kind, o, &want);
    if let Some(existing) = live.get(name).filter(|o| same(o)) {
        return existing.name.clone();
    }
    if let Some(version) = live.values().find(same) {
        return version.name.clone();
    }
    if !live.contains_key(name) {
        return name.clone();
    }
    let suffix = &version_digest(want.data, &want.sealed)[..12];
    let keep = MAX_NAME - suffix.len() - 1;
    let stem: String = name.chars().take(keep).collect();
    format!("{stem}-{suffix}")
}

fn label(object: &mut DesiredObject, base: &str, chosen: &str) {
    let digest = sha256_hex(&object.data);
    if let Some(labels) = object.spec["Labels"].as_object_mut() {
        labels.insert(CONTENT_LABEL.into(), json!(digest));
        if chosen != base {
            labels.insert(OBJECT_LABEL.into(), json!(base));
        }
    }
}

fn rename_references(spec: &mut Value, field: &str, renames: &BTreeMap<String, String>) {
    let list = if field == "ConfigName" {
        "Configs"
    } else {
        "Secrets"
    };
    let Some(Value::Array(items)) =
        spec.pointer_mut(&format!("/TaskTemplate/ContainerSpec/{list}"))
    else {
        return;
    };
    for item in items {
        if let Some(new) = item[field].as_str().and_then(|n| renames.get(n)) {
            item[field] = json!(new);
        }
    }
    if field == "ConfigName" {
        if let Some(config) =
            spec.pointer_mut("/TaskTemplate/ContainerSpec/Privileges/CredentialSpec/Config")
        {
            if let Some(new) = config.as_str().and_then(|n| renames.get(n)) {
                *config = json!(new);
            }
        }
    }
}

/// Labels compared between the files and the cluster: stackctl's own bookkeeping labels are
/// left out, so objects docker created compare equal.
#[must_use]
pub fn comparable_labels(labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    labels
        .iter()
        .filter(|(k, _)| !k.starts_with("com.stackctl."))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::DesiredService;

    fn live(name: &str, data: Option<&[u8]>, labels: &[(&str, &str)]) -> LiveObject {
        LiveObject {
            id: format!("id-{name}"),
            version: 1,
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            data: data.map(<[u8]>::to_vec),
            drivers: json!({}),
        }
    }

    fn desired(data: &[u8]) -> Desired {
        let mut d = Desired::default();
        let spec = json!({"Name": "s_site", "Labels": {"com.docker.stack.namespace": "s"}});
        d.configs.insert(
            "s_site".into(),
            DesiredObject {
                key: "site".into(),
                name: "s_site".into(),
                spec,
                data: data.to_vec(),
            },
        );
        let service = json!({"TaskTemplate": {"ContainerSpec": {"Configs": [{"ConfigName": "s_site", "File": {"Name": "/x"}}]}}});
        d.services.insert(
            "s_web".into(),
            DesiredService {
                key: "web".into(),
                name: "s_web".into(),
                spec: service,
                depends_on: vec![],
            },
        );
        d
    }

    fn config_ref(d: &Desired) -> &str {
        d.services["s_web"]
            .spec
            .pointer("/TaskTemplate/ContainerSpec/Configs/0/ConfigName")
            .unwrap()
            .as_str()
            .unwrap()
    }

    #[test]
    fn same_content_is_adopted_new_content_gets_a_version() {
        let mut same = desired(b"v1");
        let live_configs = BTreeMap::from([("s_site".into(), live("s_site", Some(b"v1"), &[]))]);
        assert!(resolve(&mut same, &live_configs, &BTreeMap::new()).is_empty());
        assert_eq!(config_ref(&same), "s_site");

        let mut changed = desired(b"v2");
        let superseded = resolve(&mut changed, &live_configs, &BTreeMap::new());
        let versioned = format!("s_site-{}", &sha256_hex(b"v2")[..12]);
        assert_eq!(config_ref(&changed), versioned);
        assert!(changed.configs.contains_key(&versioned));
        assert_eq!(superseded, BTreeSet::from(["s_site".to_owned()]));
    }

    #[test]
    fn an_existing_version_with_the_content_is_reused() {
        let digest = sha256_hex(b"v2");
        let versioned = format!("s_site-{}", &digest[..12]);
        let live_configs = BTreeMap::from([
            ("s_site".into(), live("s_site", Some(b"v1"), &[])),
            (
                versioned.clone(),
                live(
                    &versioned,
                    Some(b"v2"),
                    &[(OBJECT_LABEL, "s_site"), (CONTENT_LABEL, &digest)],
                ),
            ),
        ]);
        let mut d = desired(b"v2");
        let superseded = resolve(&mut d, &live_configs, &BTreeMap::new());
        assert_eq!(config_ref(&d), versioned);
        assert_eq!(superseded, BTreeSet::from(["s_site".to_owned()]));
        // Once the original is gone, the version stays what the plan wants.
        let only_version = BTreeMap::from([(versioned.clone(), live_configs[&versioned].clone())]);
        let mut again = desired(b"v2");
        assert!(resolve(&mut again, &only_version, &BTreeMap::new()).is_empty());
        assert_eq!(config_ref(&again), versioned);
        // Going back to v1 reuses the original and supersedes the version.
        let mut back = desired(b"v1");
        let superseded = resolve(&mut back, &live_configs, &BTreeMap::new());
        assert_eq!(config_ref(&back), "s_site");
        assert_eq!(superseded, BTreeSet::from([versioned]));
    }

    #[test]
    fn a_changed_secret_driver_option_is_a_new_version() {
        let with_options = |version: &str| {
            let mut d = Desired::default();
            let spec = json!({
                "Name": "s_token",
                "Labels": {},
                "Driver": {"Name": "vault", "Options": {"path": "a", "version": version}},
            });
            d.secrets.insert(
                "s_token".into(),
                DesiredObject {
                    key: "token".into(),
                    name: "s_token".into(),
                    spec,
                    data: Vec::new(),
                },
            );
            d
        };
        // As docker created it: no content label; the driver is all there is to compare.
        let mut docker_made = live("s_token", None, &[]);
        docker_made.drivers = json!({
            "Driver": {"Name": "vault", "Options": {"version": "3", "path": "a"}},
            "Templating": null,
        });
        let live_secrets = BTreeMap::from([("s_token".to_owned(), docker_made)]);
        let mut same = with_options("3");
        assert!(resolve(&mut same, &BTreeMap::new(), &live_secrets).is_empty());
        assert!(same.secrets.contains_key("s_token"));

        let mut changed = with_options("4");
        let superseded = resolve(&mut changed, &BTreeMap::new(), &live_secrets);
        assert_eq!(superseded, BTreeSet::from(["s_token".to_owned()]));
        let name = changed.secrets.keys().next().unwrap();
        assert!(name.starts_with("s_token-"), "{name}");
    }
}
