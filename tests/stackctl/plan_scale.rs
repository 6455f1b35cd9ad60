//! The planner's call budget on a big stack: 100 services deployed by `docker stack deploy` are
//! observed with a fixed handful of list calls (no per-service inspect) and planned exactly.

use std::fmt::Write;
use std::path::Path;

use serde_json::json;
use stackctl::commands::prepare::{Prepared, plan_with, runtime};
use stackctl::convert::{convert, read_object_files};
use stackctl::engine::{Call, ConnectOptions, Counting, connect};
use stackctl::load::{LoadOptions, load};
use stackctl::model::StackName;
use stackctl::plan::{Action, Plan, PlanOptions};

use crate::swarm::{DockerStack, unique_stack};

const SERVICES: usize = 100;
/// Nodes (placement, and the manager check the probe used to make) + the services named
/// `<stack>_…` (the stack's own and any other holding its names, in one list) + networks +
/// configs + secrets is five; one spare (an image to resolve), none per service.
const CALL_BUDGET: u64 = 6;
/// The service whose image the second plan changes.
const CHANGED: usize = 42;

/// A stack file of `SERVICES` port-less, zero-replica services (cheap to deploy); service
/// `changed` runs `stackctl-test/app:2` instead of `:1`.
fn stack_file(changed: Option<usize>) -> String {
    let mut text = String::from("services:\n");
    for i in 0..SERVICES {
        let tag = if changed == Some(i) { 2 } else { 1 };
        let _ = write!(
            text,
            "  svc-{i:03}:
    image: stackctl-test/app:{tag}
    environment:
      SERVICE_INDEX: \"{i}\"
      LOG_LEVEL: info
    labels:
      com.example.index: \"{i}\"
    deploy:
      replicas: 0
      labels:
        com.example.tier: batch
"
        );
    }
    text
}

/// The library pipeline the `plan` command runs, on an engine that counts its calls.
fn plan_counted(stack: &str, file: &Path) -> (Plan, stackctl::engine::CallCounts) {
    let loaded = load(&LoadOptions::new(vec![file.to_owned()])).expect("the stack file loads");
    let name = StackName::new(stack).unwrap();
    let files = read_object_files(&loaded.stack).unwrap();
    let desired = convert(&loaded.stack, &name, &files).expect("the stack file converts");
    let prepared = Prepared { name, desired };
    runtime().block_on(async {
        let engine = connect(&ConnectOptions::default())
            .await
            .expect("the test bed's daemon answers on the default socket");
        let counting = Counting::new(engine);
        let plan = plan_with(&counting, &prepared, PlanOptions::default())
            .await
            .unwrap_or_else(|report| panic!("{report:?}"));
        (plan, counting.calls())
    })
}

fn count(plan: &Plan, action: Action) -> usize {
    plan.services.iter().filter(|s| s.action == action).count()
}

#[test]
fn a_hundred_services_are_planned_with_a_fixed_number_of_list_calls() {
    let dir = tempfile::tempdir().unwrap();
    let deployed = dir.path().join("big.yml");
    std::fs::write(&deployed, stack_file(None)).unwrap();
    let stack = DockerStack::deploy(&unique_stack("plan-scale"), &[deployed.to_str().unwrap()]);
    assert_eq!(stack.services().len(), SERVICES, "docker deployed them all");

    let (plan, calls) = plan_counted(&stack.name, &deployed);
    assert_eq!(plan.services.len(), SERVICES);
    assert_eq!(count(&plan, Action::Unchanged), SERVICES, "{plan:#?}");
    assert!(!plan.has_changes(), "{:?}", plan.summary);
    assert!(calls.total() <= CALL_BUDGET, "{calls}");
    assert_eq!(calls.get(Call::InspectService), 0, "{calls}");
    assert_eq!(calls.get(Call::ListNodes), 1, "{calls}");
    assert_eq!(calls.writes(), 0, "{calls}");
    assert_eq!(plan.placement.services.len(), SERVICES);

    let changed = dir.path().join("big-changed.yml");
    std::fs::write(&changed, stack_file(Some(CHANGED))).unwrap();
    let (plan, calls) = plan_counted(&stack.name, &changed);
    assert_eq!(count(&plan, Action::Update), 1, "{:?}", plan.summary);
    assert_eq!(count(&plan, Action::Unchanged), SERVICES - 1);
    let update = plan
        .services
        .iter()
        .find(|s| s.action == Action::Update)
        .unwrap();
    assert_eq!(update.name, format!("{}_svc-{CHANGED:03}", stack.name));
    let fields: Vec<_> = update
        .changes
        .iter()
        .map(|c| (c.path.as_str(), c.old.clone(), c.new.clone()))
        .collect();
    assert_eq!(
        fields,
        [(
            "image",
            Some(json!("stackctl-test/app:1")),
            Some(json!("stackctl-test/app:2"))
        )]
    );
    assert!(calls.total() <= CALL_BUDGET, "{calls}");
    assert_eq!(calls.get(Call::InspectService), 0, "{calls}");
    assert_eq!(calls.writes(), 0, "{calls}");
}
