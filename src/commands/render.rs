//! `stackctl render`: the Engine API objects the stack files describe, as JSON.

use serde_json::{Map, Value, json};

use super::{exit, load_or_report, stack_name};
use crate::cli::RenderArgs;
use crate::convert::{convert, read_object_files};

#[must_use]
pub fn run(args: &RenderArgs) -> i32 {
    let Some(loaded) = load_or_report(&args.files) else {
        return exit::ERROR;
    };
    let first = args.files.load_options().files.first().cloned();
    let (name, source) =
        match stack_name::resolve(args.stack.stack.as_deref(), &loaded.stack, first.as_deref()) {
            Ok(found) => found,
            Err(message) => {
                eprintln!("error: {message}");
                return exit::ERROR;
            }
        };
    eprintln!("stack: {name} ({})", source.describe());
    let files = match read_object_files(&loaded.stack) {
        Ok(files) => files,
        Err((path, err)) => {
            eprintln!("error: cannot read {path}: {err}");
            return exit::ERROR;
        }
    };
    let desired = match convert(&loaded.stack, &name, &files) {
        Ok(desired) => desired,
        Err(err) => {
            eprintln!("{:?}", miette::Report::new(err));
            return exit::ERROR;
        }
    };
    let services: Map<String, Value> = desired
        .services
        .iter()
        .map(|(n, s)| (n.clone(), s.spec.clone()))
        .collect();
    let networks: Map<String, Value> = desired
        .networks
        .iter()
        .map(|(n, s)| (n.clone(), s.spec.clone()))
        .collect();
    // Content is summarised by size only: secrets must never be printed.
    let objects = |map: &std::collections::BTreeMap<String, crate::convert::DesiredObject>| -> Map<String, Value> {
        map.iter()
            .map(|(n, o)| {
                let mut spec = o.spec.clone();
                spec["DataBytes"] = json!(o.data.len());
                (n.clone(), spec)
            })
            .collect()
    };
    let out = json!({
        "stack": name.as_str(),
        "services": services,
        "networks": networks,
        "external_networks": desired.external_networks,
        "configs": objects(&desired.configs),
        "secrets": objects(&desired.secrets),
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&out).expect("JSON values serialise")
    );
    exit::OK
}
