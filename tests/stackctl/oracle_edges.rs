//! Corners of the stack-file format that real-world files hit and the examples do not spell out
//! (value shapes, not keys): each small stack is deployed by `docker stack deploy` and must read
//! back exactly as `stackctl render` describes it, with `stackctl plan` finding nothing to do.

use super::oracle::same_as_docker;
use super::swarm::unique_stack;
use super::util::{Test, check_all};

/// `(what, stack file)`. Published ports are in 19100-19199, unique across cases.
pub(crate) const CASES: &[(&str, &str)] = &[
    (
        "string command and entrypoint are split like a shell",
        r#"services:
  a:
    image: stackctl-test/app:1
    entrypoint: /bin/sh -c
    command: 'echo "hello  world" && exec /usr/local/bin/stackctl-test-app'
"#,
    ),
    (
        "environment list: bare names, empty values, '=' inside values",
        r"services:
  a:
    image: stackctl-test/app:1
    environment:
      - DSN=postgres://u:p@db/x?sslmode=disable&a=b
      - EMPTY=
      - UNSET_IN_SHELL_XYZ
      - SPACES=a b  c
",
    ),
    (
        "environment map: numbers, quoted booleans, null",
        r#"services:
  a:
    image: stackctl-test/app:1
    environment:
      PORT: 8080
      RATIO: 0.5
      DEBUG: "true"
      OFF: 'no'
      NOTHING:
      OCTAL: 0755
"#,
    ),
    (
        "ports: ranges, protocols, host mode, long syntax",
        r#"services:
  a:
    image: stackctl-test/app:1
    ports:
      - "19100-19101:8080-8081"
      - "19102:53/udp"
      - 8088
      - target: 9000
        published: 19103
        protocol: tcp
        mode: host
      - target: 9001
        published: 19104
"#,
    ),
    (
        "durations and sizes in every spelling",
        r#"services:
  a:
    image: stackctl-test/app:1
    stop_grace_period: 1m30s
    healthcheck:
      test: wget -q -O- http://127.0.0.1:8080/health || exit 1
      interval: 1h2m3s
      timeout: 500ms
      retries: 5
      start_period: 90s
    deploy:
      resources:
        limits:
          cpus: "0.25"
          memory: 1gb
        reservations:
          cpus: '0.001'
          memory: "16777216"
      restart_policy:
        condition: on-failure
        delay: 0s
        max_attempts: 0
        window: 2m
"#,
    ),
    (
        "healthcheck disabled, and NONE",
        r#"services:
  a:
    image: stackctl-test/app:1
    healthcheck:
      disable: true
  b:
    image: stackctl-test/app:1
    healthcheck:
      test: ["NONE"]
"#,
    ),
    (
        "labels in list form, with and without values; deploy labels",
        r#"services:
  a:
    image: stackctl-test/app:1
    labels:
      - com.example.team=web
      - com.example.flag
    deploy:
      labels:
        - "traefik.http.routers.a.rule=Host(`a.example.com`)"
        - traefik.enable=true
"#,
    ),
    (
        "short volume syntax: modes, anonymous, named, relative bind",
        r"services:
  a:
    image: stackctl-test/app:1
    volumes:
      - /tmp:/host-tmp:ro
      - data:/data:rw,nocopy
      - /cache
      - ./:/src:ro
      - /var/run:/run/host:rslave
volumes:
  data:
    labels:
      com.example.backup: daily
",
    ),
    (
        "long volume syntax: bind propagation, tmpfs size and read-only",
        r"services:
  a:
    image: stackctl-test/app:1
    volumes:
      - type: bind
        source: /tmp
        target: /host-tmp
        read_only: true
        bind:
          propagation: rprivate
      - type: tmpfs
        target: /scratch
        tmpfs:
          size: 10485760
      - type: volume
        target: /anonymous
",
    ),
    (
        "extra_hosts, dns and sysctls as maps and lists",
        r#"services:
  a:
    image: stackctl-test/app:1
    extra_hosts:
      - "db.internal:10.1.2.3"
      - "ipv6.internal=::1"
    dns: 10.0.0.53
    dns_search: example.com
    sysctls:
      net.core.somaxconn: 1024
  b:
    image: stackctl-test/app:1
    extra_hosts:
      cache.internal: 10.1.2.4
    dns: [10.0.0.53, 10.0.0.54]
    sysctls:
      - net.ipv4.tcp_syncookies=0
"#,
    ),
    (
        "ulimits as numbers and soft/hard, capabilities, user, misc flags",
        r#"services:
  a:
    image: stackctl-test/app:1
    ulimits:
      nproc: 65535
      nofile:
        soft: 20000
        hard: 40000
    cap_add: [NET_ADMIN, SYS_TIME]
    cap_drop: [MKNOD]
    user: "65534:65534"
    working_dir: /www
    hostname: "{{.Service.Name}}-{{.Task.Slot}}"
    read_only: true
    init: true
    tty: true
    stdin_open: true
    stop_signal: SIGINT
"#,
    ),
    (
        "global mode, dnsrr endpoint, placement preferences and limits",
        r"services:
  a:
    image: stackctl-test/app:1
    deploy:
      mode: global
      endpoint_mode: dnsrr
      placement:
        constraints:
          - node.role == manager
          - node.platform.os==linux
        preferences:
          - spread: node.labels.zone
  b:
    image: stackctl-test/app:1
    deploy:
      replicas: 2
      placement:
        max_replicas_per_node: 2
",
    ),
    (
        "update and rollback config, partial",
        r"services:
  a:
    image: stackctl-test/app:1
    deploy:
      update_config:
        parallelism: 0
        order: start-first
      rollback_config:
        failure_action: continue
        max_failure_ratio: 0.3
        monitor: 0s
",
    ),
    (
        "logging options and driver-only logging",
        r#"services:
  a:
    image: stackctl-test/app:1
    logging:
      driver: json-file
      options:
        max-size: 10m
        max-file: "3"
  b:
    image: stackctl-test/app:1
    logging:
      options:
        tag: "{{.Name}}"
"#,
    ),
    (
        "networks: aliases, driver options, internal and attachable, external default-less",
        r#"services:
  a:
    image: stackctl-test/app:1
    networks:
      front:
        aliases: [www, web.local]
      back:
networks:
  front:
    driver: overlay
    attachable: true
    driver_opts:
      com.docker.network.driver.mtu: "1400"
    labels: [com.example.zone=dmz]
  back:
    internal: true
"#,
    ),
    (
        "odd but valid values: exponent and fraction CPUs, sub-second durations, sctp, NONE",
        r#"services:
  Web:
    image: stackctl-test/app:1
    user: "0"
    init: true
    stop_grace_period: 1500ms
    healthcheck:
      test: NONE
    ports:
      - "19106:8080/sctp"
      - target: 8081
        mode: host
      - published: 19107
    deploy:
      resources:
        limits:
          cpus: "5e-1"
          memory: "1.5g"
          pids: 100
        reservations:
          cpus: "1/4"
      restart_policy:
        window: 30s
  b:
    image: stackctl-test/app:1
    volumes: ["v:/v:nocopy", "../:/up:ro", "~/:/home-dir:ro"]
    healthcheck:
      test: ["CMD", "true"]
      timeout: 1500us
      interval: 1.5s
    deploy:
      mode: global
      placement:
        max_replicas_per_node: 1
  c:
    image: stackctl-test/app@sha256:0000000000000000000000000000000000000000000000000000000000000000
    deploy:
      replicas: 0
  d:
    image: stackctl-test/job:1
    deploy:
      mode: replicated-job
      restart_policy:
        condition: any
volumes:
  v: {}
"#,
    ),
    (
        "the host network, reached as an external network",
        r"services:
  a:
    image: stackctl-test/app:1
    networks: [hostnet]
networks:
  hostnet:
    external: true
    name: host
",
    ),
    (
        "interpolation: defaults, nested, escaped dollars",
        r#"services:
  a:
    image: "stackctl-test/app:${APP_TAG_UNSET_XYZ:-1}"
    environment:
      PRICE: "$$5"
      GREETING: "${GREETING_UNSET_XYZ-hello ${NAME_UNSET_XYZ:-world}}"
      REQUIRED_WITH_DEFAULT: "${REQ_UNSET_XYZ:-fallback}"
    deploy:
      replicas: ${REPLICAS_UNSET_XYZ:-2}
"#,
    ),
    (
        "anchors, merge keys and x- fields",
        r#"version: "3.8"
x-base: &base
  image: stackctl-test/app:1
  environment: &env
    LOG: info
  deploy:
    replicas: 1
services:
  a:
    <<: *base
  b:
    <<: *base
    environment:
      <<: *env
      LOG: debug
    deploy:
      replicas: 2
"#,
    ),
    (
        "configs and secrets: modes, uid/gid, short syntax, labels",
        r#"version: "3.8"
services:
  a:
    image: stackctl-test/app:1
    configs:
      - site
      - source: site
        target: /etc/site.conf
        mode: 0640
        uid: "1000"
        gid: "1000"
    secrets:
      - source: token
        target: api-token
        mode: 288
configs:
  site:
    file: ./stack.yml
    labels: {com.example.kind: config}
secrets:
  token:
    file: ./stack.yml
"#,
    ),
    (
        "replicated job with concurrency, global job",
        r"services:
  a:
    image: stackctl-test/job:1
    deploy:
      mode: replicated-job
      replicas: 2
  b:
    image: stackctl-test/job:1
    deploy:
      mode: global-job
",
    ),
    (
        "version 3.0 file with the oldest shapes",
        r#"version: "3"
services:
  a:
    image: stackctl-test/app:1
    ports: ["19105:8080"]
    deploy:
      replicas: 1
      resources:
        limits:
          memory: 50M
      restart_policy:
        condition: any
"#,
    ),
];

fn check(what: &str, yaml: &str) {
    let test = Test::new().file("stack.yml", yaml);
    let path = test.path().join("stack.yml").display().to_string();
    let name = unique_stack("edge");
    let paths = [path];
    same_as_docker(&name, &paths, &paths, &[], what);
}

#[test]
fn corner_cases_read_back_as_rendered() {
    check_all(
        CASES,
        |(what, _)| (*what).to_owned(),
        |(what, yaml)| {
            check(what, yaml);
        },
    );
}

/// Moving a service from the `host` network to `bridge` is a change, though neither network's
/// swarm-side ID shows in a network list.
#[test]
fn a_move_between_predefined_networks_is_planned() {
    let on = |network: &str| {
        format!(
            "services:\n  a:\n    image: stackctl-test/app:1\n    networks: [n]\nnetworks:\n  n:\n    external: true\n    name: {network}\n"
        )
    };
    let test = Test::new()
        .file("host.yml", &on("host"))
        .file("bridge.yml", &on("bridge"));
    let name = unique_stack("edge-net");
    let host = test.path().join("host.yml").display().to_string();
    let _deployed = super::swarm::DockerStack::deploy(&name, &[&host]);
    let out = test
        .args(&["plan", "--detailed-exitcode", "-s", &name, "bridge.yml"])
        .run();
    let plan = super::util::stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{plan}");
    assert!(
        plan.contains("networks.host") && plan.contains("networks.bridge"),
        "{plan}"
    );
}
