//! Which files `docker stack deploy` accepts and which it refuses, on value types that YAML
//! makes easy to get wrong: stackctl must draw the same line (a file docker refuses is refused
//! before anything reaches the cluster; one docker accepts is accepted).

use std::process::Command;

use super::swarm::{DockerStack, unique_stack};
use super::util::{Test, stderr};

/// `(name, stack file)`. None publishes a port docker would have to allocate twice.
pub(crate) const CASES: &[(&str, &str)] = &[
    (
        "replicas_str",
        "services:\n  a:\n    image: stackctl-test/app:1\n    deploy:\n      replicas: \"3\"\n",
    ),
    (
        "env_bool",
        "services:\n  a:\n    image: stackctl-test/app:1\n    environment:\n      DEBUG: true\n",
    ),
    (
        "label_bool",
        "services:\n  a:\n    image: stackctl-test/app:1\n    labels:\n      x: true\n",
    ),
    (
        "env_interp_bool",
        "services:\n  a:\n    image: stackctl-test/app:1\n    environment:\n      DEBUG: ${NOPE_X:-true}\n",
    ),
    (
        "mem_int",
        "services:\n  a:\n    image: stackctl-test/app:1\n    deploy:\n      resources:\n        limits:\n          memory: 16777216\n",
    ),
    (
        "cpus_num",
        "services:\n  a:\n    image: stackctl-test/app:1\n    deploy:\n      resources:\n        limits:\n          cpus: 0.5\n",
    ),
    (
        "published_str",
        "services:\n  a:\n    image: stackctl-test/app:1\n    ports:\n      - target: 80\n        published: \"19190\"\n",
    ),
    (
        "drvopt_null",
        "services:\n  a:\n    image: stackctl-test/app:1\nnetworks:\n  n:\n    driver_opts:\n      a:\n",
    ),
    (
        "drvopt_list",
        "services:\n  a:\n    image: stackctl-test/app:1\nnetworks:\n  n:\n    driver_opts: [\"a=b\"]\n",
    ),
    (
        "drvopt_bool",
        "services:\n  a:\n    image: stackctl-test/app:1\nnetworks:\n  n:\n    driver_opts:\n      a: true\n",
    ),
    (
        "logopt_null",
        "services:\n  a:\n    image: stackctl-test/app:1\n    logging:\n      options:\n        a:\n",
    ),
    (
        "logopt_bool",
        "services:\n  a:\n    image: stackctl-test/app:1\n    logging:\n      options:\n        a: true\n",
    ),
    (
        "logopt_list",
        "services:\n  a:\n    image: stackctl-test/app:1\n    logging:\n      options: [\"a=b\"]\n",
    ),
    (
        "retries_float",
        "services:\n  a:\n    image: stackctl-test/app:1\n    healthcheck:\n      retries: 2.5\n",
    ),
    (
        "init_str",
        "services:\n  a:\n    image: stackctl-test/app:1\n    init: \"true\"\n",
    ),
    (
        "tty_str",
        "services:\n  a:\n    image: stackctl-test/app:1\n    tty: \"true\"\n",
    ),
    (
        "parallel_str",
        "services:\n  a:\n    image: stackctl-test/app:1\n    deploy:\n      update_config:\n        parallelism: \"2\"\n",
    ),
    (
        "ulimit_str",
        "services:\n  a:\n    image: stackctl-test/app:1\n    ulimits:\n      nofile: \"1024\"\n",
    ),
    (
        "mode_str",
        "services:\n  a:\n    image: stackctl-test/app:1\n    configs:\n      - source: c\n        mode: \"0400\"\nconfigs:\n  c:\n    file: ./stack.yml\n",
    ),
    (
        "expose_num",
        "services:\n  a:\n    image: stackctl-test/app:1\n    expose: [80]\n",
    ),
    (
        "user_int",
        "services:\n  a:\n    image: stackctl-test/app:1\n    user: 1000\n",
    ),
    (
        "ext_hosts_bool",
        "services:\n  a:\n    image: stackctl-test/app:1\n    extra_hosts:\n      h: true\n",
    ),
    (
        "sysctl_bool",
        "services:\n  a:\n    image: stackctl-test/app:1\n    sysctls:\n      net.a: true\n",
    ),
    (
        "pid_null",
        "services:\n  a:\n    image: stackctl-test/app:1\n    pid:\n",
    ),
    (
        "deploy_null",
        "services:\n  a:\n    image: stackctl-test/app:1\n    deploy:\n",
    ),
    (
        "uid_int",
        "services:\n  a:\n    image: stackctl-test/app:1\n    configs:\n      - source: c\n        uid: 1000\nconfigs:\n  c:\n    file: ./stack.yml\n",
    ),
    (
        "gr_value_str",
        "services:\n  a:\n    image: stackctl-test/app:1\n    deploy:\n      replicas: 0\n      resources:\n        reservations:\n          generic_resources:\n            - discrete_resource_spec: {kind: gpu, value: \"2\"}\n",
    ),
    (
        "cmd_num",
        "services:\n  a:\n    image: stackctl-test/app:1\n    command: [sleep, 10]\n",
    ),
    (
        "dns_num",
        "services:\n  a:\n    image: stackctl-test/app:1\n    dns: 8\n",
    ),
    (
        "port_num_range",
        "services:\n  a:\n    image: stackctl-test/app:1\n    ports: [19191]\n",
    ),
    (
        "maxrep_str",
        "services:\n  a:\n    image: stackctl-test/app:1\n    deploy:\n      placement:\n        max_replicas_per_node: \"2\"\n",
    ),
    (
        "cpus_exponent",
        "services:\n  a:\n    image: stackctl-test/app:1\n    deploy:\n      resources:\n        limits:\n          cpus: \"5e-1\"\n",
    ),
    (
        "cpus_decimal_fraction",
        "services:\n  a:\n    image: stackctl-test/app:1\n    deploy:\n      resources:\n        limits:\n          cpus: \"1.5/2\"\n",
    ),
    (
        "dotted_service_name",
        "services:\n  web.v2:\n    image: stackctl-test/app:1\n",
    ),
];

/// Whether `docker stack deploy` takes the file (the stack it made is removed on return), with
/// docker's message when it does not.
fn docker_accepts(dir: &std::path::Path) -> (bool, String) {
    let name = unique_stack("acc");
    let out = Command::new("docker")
        .args([
            "stack",
            "deploy",
            "--resolve-image",
            "never",
            "--detach=true",
        ])
        .args(["-c", "stack.yml", &name])
        .current_dir(dir)
        .output()
        .expect("docker CLI runs");
    // Removed on drop, whatever was created.
    let _stack = DockerStack { name };
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    )
}

fn check(name: &str, yaml: &str) -> Option<String> {
    let test = Test::new().file("stack.yml", yaml);
    let (docker, why) = docker_accepts(test.path());
    let out = test.args(&["validate", "stack.yml"]).run();
    let ours = out.status.success();
    (docker != ours).then(|| {
        format!(
            "{name}: docker {}, stackctl {}\n  docker: {why}\n  stackctl: {}",
            if docker { "accepts" } else { "refuses" },
            if ours { "accepts" } else { "refuses" },
            stderr(&out).lines().take(3).collect::<Vec<_>>().join(" / ")
        )
    })
}

#[test]
fn stackctl_accepts_and_refuses_what_docker_does() {
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = CASES
            .iter()
            .map(|(name, yaml)| scope.spawn(move || check(name, yaml)))
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().expect("check runs"))
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
