//! Plans saved with `stackctl plan --out FILE` and applied with `stackctl apply --plan-file
//! FILE`: the saved plan is applied only if the cluster has not moved since it was computed.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Plan;

const FORMAT: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format: u32,
    pub stack: String,
    /// Object name -> version index at planning time.
    pub observed: BTreeMap<String, u64>,
    /// The plan as `plan --format json` prints it.
    pub plan: Value,
}

#[must_use]
pub fn save(plan: &Plan) -> String {
    let saved = SavedPlan {
        format: FORMAT,
        stack: plan.stack.clone(),
        observed: plan.observed.clone(),
        plan: serde_json::to_value(plan).expect("plans serialise"),
    };
    serde_json::to_string_pretty(&saved).expect("plans serialise")
}

/// Read and check a saved plan file (once, bounded like every input).
pub fn read(path: &Path) -> Result<SavedPlan, String> {
    let text = crate::load::read::read_text(path)
        .map_err(|e| format!("cannot read plan file {}: {e}", path.display()))?;
    load(&text)
}

pub fn load(text: &str) -> Result<SavedPlan, String> {
    let saved: SavedPlan =
        serde_json::from_str(text).map_err(|e| format!("not a saved stackctl plan: {e}"))?;
    if saved.format != FORMAT {
        return Err(format!(
            "saved plan format {} is not supported (expected {FORMAT})",
            saved.format
        ));
    }
    Ok(saved)
}

/// What differs between a saved plan and the plan computed now; empty when it still holds.
#[must_use]
pub fn moved(saved: &SavedPlan, current: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    if saved.stack != current.stack {
        out.push(format!(
            "the plan is for stack {}, not {}",
            saved.stack, current.stack
        ));
    }
    for (name, version) in &saved.observed {
        match current.observed.get(name) {
            None => out.push(format!("{name} is gone")),
            Some(now) if now != version => {
                out.push(format!("{name} changed (version {version} -> {now})"));
            }
            Some(_) => {}
        }
    }
    for name in current
        .observed
        .keys()
        .filter(|n| !saved.observed.contains_key(*n))
    {
        out.push(format!("{name} appeared"));
    }
    let mut shown = saved.plan.clone();
    if let Some(object) = shown.as_object_mut() {
        object.remove("placement");
    }
    if out.is_empty() && current.comparable().as_ref() != Some(&shown) {
        out.push("the files now give a different plan".to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::{Placement, ServicePlacement};
    use crate::plan::{Kept, ObjectIds, Plan, Summary};

    #[test]
    fn a_plan_file_is_read_bounded_and_checked() {
        let err = read(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(
            err,
            "cannot read plan file /dev/zero: larger than the 16 MiB stackctl reads"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plan.json");
        std::fs::write(&file, "{}").unwrap();
        assert!(
            read(&file)
                .unwrap_err()
                .starts_with("not a saved stackctl plan: missing field")
        );
    }

    fn plan(schedulable: usize) -> Plan {
        Plan {
            stack: "s".into(),
            services: Vec::new(),
            networks: Vec::new(),
            configs: Vec::new(),
            secrets: Vec::new(),
            kept: Vec::new(),
            placement: Placement {
                nodes: 3,
                schedulable_nodes: schedulable,
                services: vec![ServicePlacement {
                    name: "s_web".into(),
                    eligible_nodes: schedulable,
                    warnings: Vec::new(),
                }],
            },
            summary: Summary::default(),
            existing_ids: ObjectIds::default(),
            observed: [("s_web".to_owned(), 7)].into(),
        }
    }

    /// Placement is a fact about the nodes: a node drained after `plan --out` changes nothing
    /// the plan would do.
    #[test]
    fn a_saved_plan_holds_when_only_placement_differs() {
        let saved = load(&save(&plan(3))).unwrap();
        assert_eq!(moved(&saved, &plan(2)), Vec::<String>::new());
        let mut other = plan(2);
        other.kept.push(Kept {
            kind: "service".into(),
            name: "s_old".into(),
        });
        assert_eq!(
            moved(&saved, &other),
            ["the files now give a different plan"]
        );
    }
}
