use serde_json::{Value, json};

use super::constraint::Constraint;
use super::{NodeFacts, assess};

const GIB: i64 = 1 << 30;

/// A ready, active `linux/x86_64` worker with 2 CPUs and 4 GiB, and these node labels.
fn node(name: &str, labels: &[(&str, &str)]) -> NodeFacts {
    NodeFacts {
        id: format!("id-{name}"),
        hostname: name.to_owned(),
        role: "worker".into(),
        availability: "active".into(),
        state: "ready".into(),
        addr: "10.99.0.11".into(),
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        os: "linux".into(),
        arch: "x86_64".into(),
        nano_cpus: 2_000_000_000,
        memory_bytes: 4 * GIB,
        ..NodeFacts::default()
    }
}

/// The multi-node test bed's shape: zone a, b, a; disk ssd, hdd, hdd; node 1 the manager.
fn three() -> Vec<NodeFacts> {
    let mut nodes = vec![
        node("n1", &[("zone", "a"), ("disk", "ssd")]),
        node("n2", &[("zone", "b"), ("disk", "hdd")]),
        node("n3", &[("zone", "a"), ("disk", "hdd")]),
    ];
    nodes[0].role = "manager".into();
    nodes
}

fn spec(mode: &Value, placement: &Value, reservations: &Value) -> Value {
    json!({
        "Mode": mode,
        "TaskTemplate": {
            "ContainerSpec": {"Image": "app:1"},
            "Placement": placement,
            "Resources": {"Reservations": reservations},
        },
    })
}

fn replicated(n: u64) -> Value {
    json!({"Replicated": {"Replicas": n}})
}

fn global() -> Value {
    json!({"Global": {}})
}

/// (eligible nodes, warnings) of one service on `nodes`.
fn check(nodes: &[NodeFacts], spec: &Value) -> (usize, Vec<String>) {
    let placement = assess(nodes, [("s_app", spec)]);
    let one = &placement.services[0];
    (one.eligible_nodes, one.warnings.clone())
}

#[test]
fn constraints_match_as_swarm_matches_them() {
    let n = &three()[0];
    let cases = [
        ("node.labels.zone == a", true),
        ("node.labels.zone==A", true),    // values compare without case
        ("node.labels.ZONE == a", false), // label names keep theirs
        ("NODE.LABELS.zone == a", true),  // the prefix does not
        ("node.labels.zone != a", false),
        ("node.labels.rack != x", true), // a missing label is empty
        ("node.labels.rack == x", false),
        ("node.role == manager", true),
        ("node.role == MANAGER", true),
        ("node.hostname != n1", false),
        ("node.id == id-n1", true),
        ("node.platform.os == linux", true),
        ("node.platform.arch == x86_64", true),
        ("node.ip == 10.99.0.11", true),
        ("node.ip != 10.99.0.0/24", false),
        ("node.ip == 10.98.0.0/16", false),
        ("node.ip == not-an-address", false),
        ("engine.labels.x != y", true),
        ("node.zone == a", false), // not a key Swarm knows
    ];
    for (text, expected) in cases {
        let c = Constraint::parse(text).unwrap_or_else(|| panic!("{text} parses"));
        assert_eq!(c.matches(n), expected, "{text}");
    }
    for bad in [
        "node.labels.zone",
        "node.labels.zone ==",
        "== a",
        "1node == a",
    ] {
        assert_eq!(Constraint::parse(bad), None, "{bad}");
    }
}

#[test]
#[allow(clippy::too_many_lines)] // one table, a case per rule
fn eligible_nodes_and_warnings_by_case() {
    let none = json!({});
    let zone = |z: &str| json!({"Constraints": [format!("node.labels.zone == {z}")]});
    let cases: Vec<(&str, Value, usize, &[&str])> = vec![
        ("no placement", spec(&replicated(2), &none, &none), 3, &[]),
        ("zone a", spec(&replicated(2), &zone("a"), &none), 2, &[]),
        (
            "zone c: no such node, the zones there are",
            spec(&replicated(2), &zone("c"), &none),
            0,
            &[
                "no node satisfies the placement constraint \"node.labels.zone == c\" (node.labels.zone on the nodes: a, b); none of its 2 task(s) can be scheduled",
            ],
        ),
        (
            "a global service no node may run",
            spec(&global(), &zone("c"), &none),
            0,
            &["(node.labels.zone on the nodes: a, b); it runs on no node"],
        ),
        (
            "a label no node has",
            spec(
                &replicated(1),
                &json!({"Constraints": ["node.labels.rack == r1"]}),
                &none,
            ),
            0,
            &["no node has the label \"rack\"; node labels: disk, zone"],
        ),
        (
            "constraints each met, never together",
            spec(
                &replicated(1),
                &json!({"Constraints": ["node.labels.zone == b", "node.labels.disk == ssd"]}),
                &none,
            ),
            0,
            &[
                "no node satisfies all of its placement constraints together (node.labels.zone == b, node.labels.disk == ssd)",
            ],
        ),
        (
            "zero replicas want nothing",
            spec(&replicated(0), &zone("c"), &none),
            0,
            &[],
        ),
        (
            "max_replicas_per_node 1, 5 replicas, 3 nodes",
            spec(&replicated(5), &json!({"MaxReplicas": 1}), &none),
            3,
            &[
                "max_replicas_per_node 1 on 3 eligible node(s) leaves room for 3 of its 5 replicas; 2 will stay pending",
            ],
        ),
        (
            "max_replicas_per_node 2 is enough",
            spec(&replicated(5), &json!({"MaxReplicas": 2}), &none),
            3,
            &[],
        ),
        (
            "a reservation larger than every node",
            spec(
                &replicated(1),
                &none,
                &json!({"NanoCPUs": 4_000_000_000_i64}),
            ),
            0,
            &[
                "its reservations (4 CPU(s)) are more than any node it may run on has (largest: 2 CPU(s), 4 GiB memory)",
            ],
        ),
        (
            "reservations that fit once per node",
            spec(&replicated(4), &none, &json!({"MemoryBytes": 3 * GIB})),
            3,
            &[
                "its reservations (3 GiB memory) leave room for 3 of its 4 replicas on the 3 eligible node(s)",
            ],
        ),
        (
            "an image for another platform",
            spec(
                &replicated(1),
                &json!({"Platforms": [{"OS": "linux", "Architecture": "arm64"}]}),
                &none,
            ),
            0,
            &["has a platform its image is built for (linux/arm64; the nodes: linux/amd64)"],
        ),
        (
            "amd64 is x86_64",
            spec(
                &replicated(1),
                &json!({"Platforms": [{"OS": "linux", "Architecture": "amd64"}]}),
                &none,
            ),
            3,
            &[],
        ),
        (
            "a job's tasks take turns: no room warning",
            spec(
                &json!({"ReplicatedJob": {"MaxConcurrent": 5, "TotalCompletions": 9}}),
                &json!({"MaxReplicas": 1}),
                &none,
            ),
            3,
            &[],
        ),
        (
            "a job no node may run",
            spec(&json!({"ReplicatedJob": {}}), &zone("c"), &none),
            0,
            &["none of its tasks can be scheduled"],
        ),
        (
            "an unparsable constraint switches the filter off",
            spec(&replicated(1), &json!({"Constraints": ["zone"]}), &none),
            3,
            &[],
        ),
    ];
    for (what, spec, eligible, expected) in cases {
        let (got, warnings) = check(&three(), &spec);
        assert_eq!(got, eligible, "{what}: {warnings:?}");
        assert_eq!(warnings.len(), expected.len(), "{what}: {warnings:?}");
        for (warning, part) in warnings.iter().zip(expected) {
            assert!(
                warning.contains(part),
                "{what}: {part:?} not in {warning:?}"
            );
        }
    }
}

#[test]
fn drained_and_down_nodes_take_no_tasks_and_are_named() {
    let mut nodes = three();
    nodes[2].availability = "drain".into();
    let global = spec(&global(), &json!({}), &json!({}));
    assert_eq!(check(&nodes, &global), (2, vec![]));

    let zone_a = spec(
        &replicated(1),
        &json!({"Constraints": ["node.labels.zone == a"]}),
        &json!({}),
    );
    nodes[0].state = "down".into();
    let (eligible, warnings) = check(&nodes, &zone_a);
    assert_eq!(eligible, 0);
    assert_eq!(
        warnings,
        [
            "the nodes it may run on take no new tasks: n1 (down, active), n3 (ready, drain); none of its 1 task(s) can be scheduled"
        ]
    );
    let placement = assess(&nodes, [("a", &zone_a)]);
    assert_eq!((placement.nodes, placement.schedulable_nodes), (3, 1));
}

#[test]
fn generic_resources_count_discrete_values_and_named_units() {
    let mut nodes = three();
    nodes[1].generic.insert("gpu".into(), 2);
    let gpu = |n: i64| {
        spec(
            &replicated(3),
            &json!({}),
            &json!({"GenericResources": [{"DiscreteResourceSpec": {"Kind": "gpu", "Value": n}}]}),
        )
    };
    let (eligible, warnings) = check(&nodes, &gpu(1));
    assert_eq!(eligible, 1);
    assert!(
        warnings[0].contains("room for 2 of its 3 replicas"),
        "{warnings:?}"
    );
    let (eligible, warnings) = check(&nodes, &gpu(3));
    assert_eq!(eligible, 0);
    assert!(
        warnings[0].contains("(largest: 2 CPU(s), 4 GiB memory, 2 gpu)"),
        "{warnings:?}"
    );

    let node = NodeFacts::from_json(&json!({
        "ID": "x",
        "Spec": {"Role": "worker", "Availability": "active", "Labels": {"zone": "a"}},
        "Status": {"State": "ready", "Addr": "10.0.0.2"},
        "Description": {"Hostname": "h", "Platform": {"OS": "linux", "Architecture": "aarch64"},
            "Resources": {"NanoCPUs": 1, "MemoryBytes": 2, "GenericResources": [
                {"NamedResourceSpec": {"Kind": "gpu", "Value": "GPU-1"}},
                {"NamedResourceSpec": {"Kind": "gpu", "Value": "GPU-2"}},
                {"DiscreteResourceSpec": {"Kind": "ssd", "Value": 3}}]},
            "Engine": {"Labels": {"e": "1"}}},
    }));
    assert_eq!(node.generic.get("gpu"), Some(&2));
    assert_eq!(node.generic.get("ssd"), Some(&3));
    assert!(node.is_schedulable());
    assert_eq!(
        (node.hostname.as_str(), node.addr.as_str()),
        ("h", "10.0.0.2")
    );
    assert_eq!(node.engine_labels.get("e").map(String::as_str), Some("1"));
}

#[test]
fn without_nodes_nothing_is_claimed() {
    let (eligible, warnings) = check(&[], &spec(&replicated(2), &json!({}), &json!({})));
    assert_eq!((eligible, warnings.len()), (0, 0));
}
