//! Override files (`-c base.yml -c override.yml`): how each kind of key merges is compared with
//! what `docker stack deploy` makes of the same pair of files, key kind by key kind.

use super::oracle::same_as_docker;
use super::swarm::unique_stack;
use super::util::{Test, check_all};

/// `(what, first file, second file)`. Published ports are in 19160-19169.
pub(crate) const CASES: &[(&str, &str, &str)] = &[
    (
        "env_merge",
        "services:\n  a:\n    image: stackctl-test/app:1\n    environment:\n      A: \"1\"\n      B: \"2\"\n",
        "services:\n  a:\n    environment:\n      - B=3\n      - C=4\n",
    ),
    (
        "labels_merge",
        "services:\n  a:\n    image: stackctl-test/app:1\n    labels: [x=1, y=2]\n    deploy:\n      labels: {p: \"1\"}\n",
        "services:\n  a:\n    labels:\n      y: \"3\"\n    deploy:\n      labels: [q=2]\n",
    ),
    (
        "ports_merge",
        "services:\n  a:\n    image: stackctl-test/app:1\n    ports: [\"19160:8080\", \"19161:8081\"]\n",
        "services:\n  a:\n    ports:\n      - target: 9090\n        published: 19161\n      - \"19162:8082\"\n",
    ),
    (
        "volumes_merge",
        "services:\n  a:\n    image: stackctl-test/app:1\n    volumes: [\"/tmp:/data\", \"/var:/v:ro\"]\n",
        "services:\n  a:\n    volumes:\n      - type: bind\n        source: /etc\n        target: /data\n",
    ),
    (
        "cmd_replace",
        "services:\n  a:\n    image: stackctl-test/app:1\n    command: [sleep, \"1\"]\n    entrypoint: [/bin/sh, -c]\n",
        "services:\n  a:\n    command: [\"exec /usr/local/bin/stackctl-test-app\"]\n",
    ),
    (
        "deploy_merge",
        "services:\n  a:\n    image: stackctl-test/app:1\n    deploy:\n      replicas: 2\n      update_config: {parallelism: 2, delay: 5s}\n      resources:\n        limits: {memory: 64M}\n",
        "services:\n  a:\n    deploy:\n      update_config: {order: start-first}\n      resources:\n        reservations: {memory: 32M}\n      placement:\n        constraints: [node.role == manager]\n",
    ),
    (
        "constraints_merge",
        "services:\n  a:\n    image: stackctl-test/app:1\n    deploy:\n      placement:\n        constraints: [node.role == manager]\n",
        "services:\n  a:\n    deploy:\n      placement:\n        constraints: [node.platform.os == linux]\n",
    ),
    (
        "secrets_merge",
        "services:\n  a:\n    image: stackctl-test/app:1\n    secrets: [s1]\nsecrets:\n  s1:\n    file: ./stack1.yml\n  s2:\n    file: ./stack1.yml\n",
        "services:\n  a:\n    secrets:\n      - source: s1\n        target: other\n      - s2\n",
    ),
    (
        "networks_merge",
        "services:\n  a:\n    image: stackctl-test/app:1\n    networks:\n      n1:\n        aliases: [x]\nnetworks:\n  n1: {}\n  n2: {}\n",
        "services:\n  a:\n    networks:\n      n2:\n      n1:\n        aliases: [y]\n",
    ),
    (
        "dns_merge",
        "services:\n  a:\n    image: stackctl-test/app:1\n    dns: [1.1.1.1]\n    cap_add: [NET_ADMIN]\n    extra_hosts: [\"a:10.0.0.1\"]\n",
        "services:\n  a:\n    dns: 8.8.8.8\n    cap_add: [SYS_TIME]\n    extra_hosts: [\"b:10.0.0.2\"]\n",
    ),
    (
        "healthcheck_merge",
        "services:\n  a:\n    image: stackctl-test/app:1\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      interval: 5s\n",
        "services:\n  a:\n    healthcheck:\n      retries: 7\n",
    ),
    (
        "logging_merge",
        "services:\n  a:\n    image: stackctl-test/app:1\n    logging:\n      driver: json-file\n      options: {max-size: 1m}\n",
        "services:\n  a:\n    logging:\n      options: {max-file: \"2\"}\n",
    ),
    (
        "logging_driver_change",
        "services:\n  a:\n    image: stackctl-test/app:1\n    logging:\n      driver: json-file\n      options: {max-size: 1m}\n",
        "services:\n  a:\n    logging:\n      driver: local\n      options: {max-file: \"2\"}\n",
    ),
    (
        "ulimits_merge",
        "services:\n  a:\n    image: stackctl-test/app:1\n    ulimits:\n      nofile: {soft: 100, hard: 200}\n      nproc: 50\n",
        "services:\n  a:\n    ulimits:\n      nofile: 300\n",
    ),
    (
        "sysctls_merge",
        "services:\n  a:\n    image: stackctl-test/app:1\n    sysctls: [net.core.somaxconn=100]\n",
        "services:\n  a:\n    sysctls:\n      net.ipv4.tcp_syncookies: 0\n",
    ),
    (
        "top_network_replace",
        "services:\n  a:\n    image: stackctl-test/app:1\n    networks: [n]\nnetworks:\n  n:\n    driver: overlay\n    labels: {a: \"1\"}\n    attachable: true\n",
        "networks:\n  n:\n    labels: {b: \"2\"}\n",
    ),
    (
        "new_service",
        "services:\n  a:\n    image: stackctl-test/app:1\n",
        "services:\n  b:\n    image: stackctl-test/app:2\n",
    ),
    (
        "null_override",
        "services:\n  a:\n    image: stackctl-test/app:1\n    environment:\n      A: \"1\"\n",
        "services:\n  a:\n    environment:\n      A:\n",
    ),
    (
        "configs_merge",
        "services:\n  a:\n    image: stackctl-test/app:1\n    configs:\n      - source: c\n        target: /c1\nconfigs:\n  c:\n    file: ./stack1.yml\n",
        "services:\n  a:\n    configs:\n      - source: c\n        target: /c2\n",
    ),
    (
        "expose_tmpfs",
        "services:\n  a:\n    image: stackctl-test/app:1\n    volumes:\n      - type: tmpfs\n        target: /t\n",
        "services:\n  a:\n    volumes:\n      - type: tmpfs\n        target: /t\n        tmpfs: {size: 1000}\n",
    ),
    (
        "empty override values: environment keeps, labels take them",
        "services:\n  a:\n    image: stackctl-test/app:1\n    environment:\n      A: \"1\"\n      B: \"2\"\n    labels:\n      l1: \"x\"\n      l2: \"y\"\n    deploy:\n      labels:\n        d1: \"x\"\n",
        "services:\n  a:\n    environment:\n      A: \"\"\n    labels:\n      l1: \"\"\n      l2:\n    deploy:\n      labels:\n        d1: \"\"\n",
    ),
];

fn check(what: &str, base: &str, over: &str) {
    let test = Test::new()
        .file("stack1.yml", base)
        .file("stack2.yml", over);
    let paths = ["stack1.yml", "stack2.yml"].map(|f| test.path().join(f).display().to_string());
    same_as_docker(&unique_stack("ovr"), &paths, &paths, &[], what);
}

#[test]
fn override_files_merge_as_docker_merges_them() {
    check_all(
        CASES,
        |(what, _, _)| (*what).to_owned(),
        |(what, base, over)| {
            check(what, base, over);
        },
    );
}
