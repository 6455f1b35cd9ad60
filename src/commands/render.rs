//! `stackctl render`: the Engine API objects the stack files describe, as JSON, with sensitive
//! values masked unless `--show-sensitive`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::output::emit;
use super::{exit, prepare};
use crate::cli::RenderArgs;
use crate::convert::DesiredObject;

#[must_use]
pub fn run(args: &RenderArgs) -> i32 {
    let Some(prepared) = prepare::prepare(&args.files, &args.stack) else {
        return exit::ERROR;
    };
    let desired = &prepared.desired;
    let specs = |map: &BTreeMap<String, Value>| -> Map<String, Value> {
        map.iter().map(|(n, s)| (n.clone(), s.clone())).collect()
    };
    let services: BTreeMap<String, Value> = desired
        .services
        .iter()
        .map(|(n, s)| (n.clone(), s.spec.clone()))
        .collect();
    let networks: BTreeMap<String, Value> = desired
        .networks
        .iter()
        .map(|(n, s)| (n.clone(), s.spec.clone()))
        .collect();
    let mut out = json!({
        "stack": prepared.name.as_str(),
        "services": specs(&services),
        "networks": specs(&networks),
        "external_networks": desired.external_networks,
        "configs": objects(&desired.configs),
        "secrets": objects(&desired.secrets),
    });
    if !args.show_sensitive {
        for group in ["services", "networks", "configs", "secrets"] {
            if let Some(specs) = out[group].as_object_mut() {
                specs.values_mut().for_each(crate::sensitive::mask_spec);
            }
        }
    }
    emit(&format!(
        "{}\n",
        serde_json::to_string_pretty(&out).expect("JSON values serialise")
    ));
    exit::OK
}

/// Specs with the content summarised by its size: secrets must never be printed.
fn objects(map: &BTreeMap<String, DesiredObject>) -> Map<String, Value> {
    map.iter()
        .map(|(name, object)| {
            let mut spec = object.spec.clone();
            spec["DataBytes"] = json!(object.data.len());
            (name.clone(), spec)
        })
        .collect()
}
