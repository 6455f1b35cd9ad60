//! The engine against the real test-bed Swarm: probe, label-filtered lists, writes, version
//! conflicts, unreachable daemons, and contexts made by the real docker CLI.

use std::collections::HashMap;

use stackctl::engine::{
    Call, ConnectOptions, Counting, DockerEngine, EndpointSource, Engine, EngineError, connect,
    resolve_endpoint,
};
use stackctl::model::NAMESPACE_LABEL;

use bollard::models::{
    ConfigSpec, NetworkCreateRequest, SecretSpec, ServiceSpec, ServiceSpecMode,
    ServiceSpecModeReplicated, TaskSpec, TaskSpecContainerSpec,
};

use crate::swarm::{DockerStack, docker, unique_stack};

const IMAGE: &str = "stackctl-test/app:1";

async fn engine() -> DockerEngine {
    connect(&ConnectOptions::default())
        .await
        .expect("the test bed's daemon answers on the default socket")
}

/// Removes every object labelled with `stack` when dropped, even after a failed assertion:
/// `docker stack rm` finds objects by the same label, whoever created them.
fn guard(stack: &str) -> DockerStack {
    DockerStack {
        name: stack.to_owned(),
    }
}

fn labels(stack: &str) -> HashMap<String, String> {
    HashMap::from([(NAMESPACE_LABEL.to_owned(), stack.to_owned())])
}

fn service_spec(stack: &str, name: &str, replicas: i64) -> ServiceSpec {
    ServiceSpec {
        name: Some(name.to_owned()),
        labels: Some(labels(stack)),
        task_template: Some(TaskSpec {
            container_spec: Some(TaskSpecContainerSpec {
                image: Some(IMAGE.to_owned()),
                ..TaskSpecContainerSpec::default()
            }),
            ..TaskSpec::default()
        }),
        mode: Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated {
                replicas: Some(replicas),
            }),
            ..ServiceSpecMode::default()
        }),
        ..ServiceSpec::default()
    }
}

/// One network, config, secret and service labelled for `stack`, named `<stack>_<kind>`.
async fn create_stack_objects(engine: &impl Engine, stack: &str, replicas: i64) -> String {
    let network = NetworkCreateRequest {
        name: format!("{stack}_net"),
        driver: Some("overlay".into()),
        labels: Some(labels(stack)),
        ..NetworkCreateRequest::default()
    };
    engine.create_network(&network).await.unwrap();
    let config = ConfigSpec {
        name: Some(format!("{stack}_conf")),
        labels: Some(labels(stack)),
        data: Some("aGVsbG8=".into()),
        ..ConfigSpec::default()
    };
    engine.create_config(&config).await.unwrap();
    let secret = SecretSpec {
        name: Some(format!("{stack}_secret")),
        labels: Some(labels(stack)),
        data: Some("czNjcjN0".into()),
        ..SecretSpec::default()
    };
    engine.create_secret(&secret).await.unwrap();
    let service = service_spec(stack, &format!("{stack}_web"), replicas);
    engine.create_service(&service, None).await.unwrap().id
}

fn sorted(names: impl IntoIterator<Item = Option<String>>) -> Vec<String> {
    let mut names: Vec<String> = names.into_iter().map(Option::unwrap_or_default).collect();
    names.sort();
    names
}

#[tokio::test]
async fn probe_reports_this_manager_as_docker_info_does() {
    let probe = engine().await.probe().await.unwrap();
    assert!(probe.is_manager(), "{probe:?}");
    probe.require_manager().unwrap();
    let server = docker(&[
        "version",
        "--format",
        "{{.Server.Version}} {{.Server.APIVersion}}",
    ]);
    assert_eq!(
        format!("{} {}", probe.server_version, probe.api_version),
        server.trim()
    );
    assert_eq!(
        probe.node_id,
        docker(&["info", "--format", "{{.Swarm.NodeID}}"]).trim()
    );
}

#[tokio::test]
async fn lists_return_only_the_stacks_own_objects() {
    let stack = unique_stack("t-engine");
    // A stack whose name extends ours: a prefix or substring match would leak it into ours.
    let other = format!("{stack}x");
    let (_ours, _theirs) = (guard(&stack), guard(&other));
    let engine = Counting::new(engine().await);
    let service_id = create_stack_objects(&engine, &stack, 1).await;
    create_stack_objects(&engine, &other, 0).await;
    assert_eq!((engine.calls().writes(), engine.calls().reads()), (8, 0));
    engine.reset();

    let services = engine.list_services(&stack).await.unwrap();
    let networks = engine.list_networks(&stack).await.unwrap();
    let configs = engine.list_configs(&stack).await.unwrap();
    let secrets = engine.list_secrets(&stack).await.unwrap();
    let raw = engine.list_services_raw(&stack).await.unwrap();
    assert_eq!(raw.len(), 1, "{raw:?}");
    assert_eq!(raw[0]["Spec"]["Name"], format!("{stack}_web").as_str());
    assert_eq!(
        sorted(services.iter().map(|s| s.spec.clone().unwrap().name)),
        [format!("{stack}_web")]
    );
    assert_eq!(
        sorted(networks.iter().map(|n| n.name.clone())),
        [format!("{stack}_net")]
    );
    assert_eq!(
        sorted(configs.iter().map(|c| c.spec.clone().unwrap().name)),
        [format!("{stack}_conf")]
    );
    assert_eq!(
        sorted(secrets.iter().map(|s| s.spec.clone().unwrap().name)),
        [format!("{stack}_secret")]
    );
    // The spec as stored: no status block was asked for, and no defaults were inserted.
    assert!(services[0].service_status.is_none());
    let stored = services[0].spec.as_ref().unwrap();
    assert!(
        stored.update_config.is_none() && stored.endpoint_spec.is_none(),
        "{stored:?}"
    );

    // Exact names only: the daemon's name filter alone would also return `<stack>x_…`.
    let wanted = |kind: &str| {
        vec![
            format!("{stack}_{kind}"),
            "t-engine-absent".to_owned(),
            stack.clone(),
        ]
    };
    let networks = engine.list_networks_named(&wanted("net")).await.unwrap();
    let configs = engine.list_configs_named(&wanted("conf")).await.unwrap();
    let secrets = engine.list_secrets_named(&wanted("secret")).await.unwrap();
    assert_eq!(
        sorted(networks.iter().map(|n| n.name.clone())),
        [format!("{stack}_net")]
    );
    assert_eq!(networks[0].scope.as_deref(), Some("swarm"));
    assert_eq!(
        sorted(configs.iter().map(|c| c.spec.clone().unwrap().name)),
        [format!("{stack}_conf")]
    );
    assert_eq!(
        sorted(secrets.iter().map(|s| s.spec.clone().unwrap().name)),
        [format!("{stack}_secret")]
    );
    assert!(engine.list_configs_named(&[]).await.unwrap().is_empty());

    let calls = engine.calls();
    assert_eq!((calls.reads(), calls.writes()), (8, 0), "{calls}");
    assert_eq!(
        calls.get(Call::ListConfigsNamed),
        1,
        "an empty name list sends nothing: {calls}"
    );

    let tasks = engine
        .list_tasks(std::slice::from_ref(&service_id))
        .await
        .unwrap();
    assert!(
        tasks
            .iter()
            .all(|t| t.service_id.as_deref() == Some(service_id.as_str()))
    );
    assert!(!engine.list_nodes().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_stale_version_is_a_retryable_version_conflict() {
    let stack = unique_stack("t-engine");
    let _cleanup = guard(&stack);
    let engine = engine().await;
    let name = format!("{stack}_web");
    let id = engine
        .create_service(&service_spec(&stack, &name, 0), None)
        .await
        .unwrap()
        .id;
    let read = engine.inspect_service(&id).await.unwrap();
    let version = read.version.unwrap().index.unwrap();

    let scaled = service_spec(&stack, &name, 1);
    engine
        .update_service(&id, version, &scaled, None)
        .await
        .unwrap();
    // Same version again: another writer got there first.
    let err = engine
        .update_service(&id, version, &scaled, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::VersionConflict { object, .. } if object.contains(&id)),
        "{err:?}"
    );
    assert!(err.is_retryable());

    // The documented recovery: re-read, then write with the fresh version.
    let fresh = engine
        .inspect_service(&id)
        .await
        .unwrap()
        .version
        .unwrap()
        .index
        .unwrap();
    assert!(fresh > version);
    engine
        .update_service(&id, fresh, &service_spec(&stack, &name, 0), None)
        .await
        .unwrap();
    // The raw list keeps what bollard's `Service` drops: the spec before the last update.
    let raw = engine.list_services_raw(&stack).await.unwrap();
    assert_eq!(raw.len(), 1, "{raw:?}");
    assert_eq!(raw[0]["ID"], id.as_str());
    assert_eq!(raw[0]["Spec"]["Mode"]["Replicated"]["Replicas"], 0);
    assert_eq!(raw[0]["PreviousSpec"]["Mode"]["Replicated"]["Replicas"], 1);
    assert!(
        raw[0].get("ServiceStatus").is_none(),
        "status=false was sent"
    );

    let config = ConfigSpec {
        name: Some(format!("{stack}_conf")),
        labels: Some(labels(&stack)),
        data: Some("aGVsbG8=".into()),
        ..ConfigSpec::default()
    };
    let config_id = engine.create_config(&config).await.unwrap().id;
    let stale = engine
        .update_config(&config_id, 1, &config)
        .await
        .unwrap_err();
    assert!(
        matches!(stale, EngineError::VersionConflict { .. }),
        "{stale:?}"
    );

    engine.remove_service(&id).await.unwrap();
    let gone = engine.inspect_service(&id).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone:?}");
    engine.remove_config(&config_id).await.unwrap();
}

#[tokio::test]
async fn an_unreachable_daemon_is_a_clear_error() {
    for host in ["unix:///nonexistent.sock", "tcp://127.0.0.1:1"] {
        let opts = ConnectOptions {
            host: Some(host.to_owned()),
        };
        let Err(err) = connect(&opts).await else {
            panic!("{host} connected")
        };
        let EngineError::Unreachable {
            address, found_via, ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!((address.as_str(), found_via.as_str()), (host, "--host"));
        assert!(err.is_retryable());
        let help = miette::Diagnostic::help(&err).unwrap().to_string();
        assert!(
            help.contains("is the Docker daemon running? is DOCKER_HOST right?"),
            "{help}"
        );
    }
}

/// The context store layout is docker's: contexts made and selected by the real CLI resolve, and
/// connecting through one works.
#[tokio::test]
async fn contexts_made_by_the_docker_cli_resolve_and_connect() {
    let config = tempfile::tempdir().unwrap();
    let dir = config.path().to_str().unwrap().to_owned();
    let cli = |args: &[&str]| {
        let mut all = vec!["--config", dir.as_str()];
        all.extend(args);
        docker(&all);
    };
    cli(&[
        "context",
        "create",
        "bed",
        "--docker",
        "host=unix:///var/run/docker.sock",
    ]);
    cli(&[
        "context",
        "create",
        "far",
        "--docker",
        "host=tcp://192.0.2.1:2376,skip-tls-verify=true",
    ]);
    cli(&["context", "use", "bed"]);
    let env = |extra: &'static [(&'static str, &'static str)]| {
        let dir = dir.clone();
        move |name: &str| match name {
            "DOCKER_CONFIG" => Some(dir.clone()),
            _ => extra
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned()),
        }
    };
    let current = resolve_endpoint(&env(&[]), &ConnectOptions::default()).unwrap();
    assert_eq!(current.host, "unix:///var/run/docker.sock");
    assert_eq!(
        current.source,
        EndpointSource::Context {
            name: "bed".into(),
            from_env: false
        }
    );
    let far = resolve_endpoint(
        &env(&[("DOCKER_CONTEXT", "far")]),
        &ConnectOptions::default(),
    )
    .unwrap();
    assert_eq!(
        (far.host.as_str(), far.tls.as_ref().map(|t| t.verify)),
        ("tcp://192.0.2.1:2376", Some(false))
    );
    // bollard always verifies certificates: refused before any connection is tried.
    let unsupported = DockerEngine::connect(&far).await.unwrap_err();
    assert!(
        matches!(&unsupported, EngineError::Config { message, .. } if message.contains("without certificate verification")),
        "{unsupported:?}"
    );

    let pinned = resolve_endpoint(
        &env(&[("DOCKER_API_VERSION", "1.40")]),
        &ConnectOptions::default(),
    );
    let engine = DockerEngine::connect(&pinned.unwrap()).await.unwrap();
    let probe = engine.probe().await.unwrap();
    assert_eq!(
        (engine.api_version(), probe.api_version.as_str()),
        ("1.40", "1.40")
    );
    assert!(probe.is_manager());

    // The version really is in every request path: one the daemon lacks is refused.
    let too_new = resolve_endpoint(
        &env(&[("DOCKER_API_VERSION", "1.99")]),
        &ConnectOptions::default(),
    );
    let engine = DockerEngine::connect(&too_new.unwrap()).await.unwrap();
    let err = engine.probe().await.unwrap_err();
    assert!(
        matches!(&err, EngineError::Api { status: 400, message } if message.contains("too new")),
        "{err:?}"
    );
}

/// A credential helper is a program: the registry on stdin, JSON on stdout, a non-zero exit
/// when it has nothing. A shell script stands in for docker-credential-desktop and friends.
#[test]
fn credential_helpers_are_run_as_the_docker_cli_runs_them() {
    use stackctl::engine::registry_auth::ask_helper;
    use std::os::unix::fs::PermissionsExt as _;

    let dir = tempfile::tempdir().unwrap();
    let helper = dir.path().join("docker-credential-test");
    std::fs::write(
        &helper,
        "#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread -r server\ncase \"$server\" in\n  reg.example.com) printf '{\"ServerURL\":\"%s\",\"Username\":\"ci\",\"Secret\":\"s3cret\"}' \"$server\" ;;\n  *) echo 'credentials not found in native keychain'; exit 1 ;;\nesac\n",
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let program = helper.display().to_string();

    // A script just written can be briefly busy ("text file busy") while another test thread
    // forks; a few tries ride that out.
    let answer = (0..5)
        .find_map(|_| {
            ask_helper(&program, "reg.example.com").or_else(|| {
                std::thread::sleep(std::time::Duration::from_millis(100));
                None
            })
        })
        .expect("the helper answers");
    assert_eq!(answer["Username"], "ci");
    assert_eq!(answer["Secret"], "s3cret");
    assert_eq!(answer["ServerURL"], "reg.example.com");
    assert!(ask_helper(&program, "other.example.com").is_none());
    assert!(ask_helper(&dir.path().join("absent").display().to_string(), "x").is_none());
}
