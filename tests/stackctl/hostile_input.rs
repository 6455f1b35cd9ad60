//! Inputs built to break the loader (very long lines, FIFOs, devices, include cycles, huge
//! lists): each ends in exit 0 or 1 with a message, in bounded time and output.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::util::{Test, check_all, stderr, stdout};

/// A stack file as one line of JSON, `services` entries long, whose last service has
/// `replicas: "abc"` (the error near the end).
pub(crate) fn one_line_json(services: usize) -> String {
    let mut json = String::from("{\"services\": {");
    for i in 0..services {
        write!(
            json,
            "\"svc{i}\": {{\"image\": \"nginx\", \"environment\": {{\"KEY_{i}\": \"value\"}}}}, "
        )
        .unwrap();
    }
    json.push_str("\"last\": {\"image\": \"nginx\", \"deploy\": {\"replicas\": \"abc\"}}}}");
    json
}

/// Regression: miette panicked (exit 101) laying out an underline more than 65,535 columns in.
#[test]
fn an_error_at_the_end_of_a_90_kb_line_is_quoted_in_a_short_excerpt() {
    let json = one_line_json(1500);
    assert!(json.len() > 90_000 && !json.contains('\n'));
    let column = json.find("\"abc\"").unwrap() + 1;
    let out = Test::new()
        .file("s.json", &json)
        .args(&["validate", "s.json"])
        .run();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("services.last.deploy.replicas must be an integer, not a string"),
        "{err}"
    );
    assert!(err.contains(&format!("[s.json:1:{column}]")), "{err}");
    assert!(
        err.contains("…image\": \"nginx\", \"deploy\": {\"replicas\": \"abc\"}}}}"),
        "{err}"
    );
    assert!(
        err.len() < 1500,
        "the excerpt is bounded: {} bytes",
        err.len()
    );
}

const STACK: &str = "services:\n  web:\n    image: nginx\n";

/// Run the binary under `timeout` (a hang is exit 124, not a stuck test) with `stdin` piped in.
fn run_with_stdin(test: &Test, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new("timeout")
        .arg("20")
        .arg(env!("CARGO_BIN_EXE_stackctl"))
        .args(args)
        .current_dir(test.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

#[test]
fn dash_reads_the_stack_file_from_standard_input() {
    let test = Test::new();
    let out = run_with_stdin(&test, &["validate", "-"], STACK.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "<stdin>: valid, 1 service(s): web\n");
    let out = run_with_stdin(&test, &["validate", "-c", "-"], b"services:\n  web: {}\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("[<stdin>:2:3]"),
        "diagnostics name standard input: {}",
        stderr(&out)
    );
}

/// Regression: the file was read twice (once for `include:`), so a pipe looked empty.
#[test]
fn a_pipe_named_as_a_file_is_read_once() {
    let test = Test::new();
    let out = run_with_stdin(&test, &["validate", "/dev/stdin"], STACK.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "/dev/stdin: valid, 1 service(s): web\n");
}

#[test]
fn standard_input_gives_no_stack_name_and_is_read_once() {
    let test = Test::new();
    let out = run_with_stdin(&test, &["render", "-"], STACK.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("error: the stack file is read from standard input, so it gives no stack name: pass --stack NAME"),
        "{}",
        stderr(&out)
    );
    let out = run_with_stdin(
        &test,
        &["render", "--stack", "piped", "-"],
        STACK.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("\"piped_web\""));
    let out = run_with_stdin(&test, &["validate", "-", "-"], STACK.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("standard input (`-`) is named more than once"));
}

#[test]
fn a_fifo_without_a_writer_is_refused_not_waited_on() {
    let test = Test::new();
    mkfifo(&test.path().join("s.yml"));
    let out = run_with_stdin(&test, &["validate", "s.yml"], b"");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("cannot read stack file s.yml: a FIFO with no writer and nothing in it"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_fifo_with_a_writer_is_read() {
    let test = Test::new();
    let fifo = test.path().join("s.yml");
    mkfifo(&fifo);
    // The writer blocks in open() until stackctl opens the other end.
    let writer = std::thread::spawn(move || std::fs::write(fifo, STACK).unwrap());
    let out = run_with_stdin(&test, &["validate", "s.yml"], b"");
    writer.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_device_is_read_only_up_to_the_size_bound() {
    let test = Test::new().file(
        "s.yml",
        "services:\n  web:\n    image: nginx\n    env_file: /dev/zero\n",
    );
    let out = run_with_stdin(&test, &["validate", "/dev/zero"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("cannot read stack file /dev/zero: larger than the 16 MiB stackctl reads"),
        "{}",
        stderr(&out)
    );
    let out = run_with_stdin(&test, &["validate", "s.yml"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot read env_file /dev/zero: larger than the 16 MiB"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_secret_file_that_is_a_device_is_refused() {
    let test = Test::new().file(
        "s.yml",
        "services:\n  web:\n    image: nginx\n    secrets: [s]\nsecrets:\n  s:\n    file: /dev/zero\n",
    );
    let out = run_with_stdin(&test, &["render", "s.yml"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("error: cannot read /dev/zero: larger than the 16 MiB"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_unreadable_dot_env_is_an_error_that_names_it() {
    let test = Test::new().file("s.yml", STACK);
    mkfifo(&test.path().join(".env"));
    let out = run_with_stdin(&test, &["validate", "s.yml"], b"");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let env = test.path().join(".env");
    let want = format!(
        "cannot read variables file {}: a FIFO with no writer",
        env.display()
    );
    assert!(stderr(&out).contains(&want), "{}", stderr(&out));

    let test = Test::new().file("s.yml", STACK);
    std::fs::write(test.path().join(".env"), b"A=\xff\n").unwrap();
    let out = run_with_stdin(&test, &["validate", "s.yml"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("/.env: not UTF-8 text"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_file_that_includes_itself_is_an_error_naming_the_cycle() {
    let test = Test::new().file("s.yml", &format!("include:\n  - s.yml\n{STACK}"));
    let out = run_with_stdin(&test, &["validate", "s.yml"], b"");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("include cycle: s.yml → s.yml"), "{err}");
    assert!(err.contains("[s.yml:2:5]"), "{err}");
}

/// Regression: a cycle was merged up to 11 times, repeating every list in the spec.
#[test]
fn an_include_cycle_through_other_files_is_an_error_naming_it() {
    let test = Test::new()
        .file("a.yml", &format!("include:\n  - sub/b.yml\n{STACK}"))
        .file(
            "sub/b.yml",
            "include:\n  - ../a.yml\nservices:\n  db:\n    image: redis\n",
        );
    let out = run_with_stdin(&test, &["validate", "a.yml"], b"");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("include cycle: a.yml → sub/b.yml → sub/../a.yml"),
        "{err}"
    );
    assert!(err.contains("[sub/b.yml:2:5]"), "{err}");
}

#[test]
fn a_file_included_twice_without_a_cycle_is_loaded_once() {
    let test = Test::new()
        .file(
            "s.yml",
            "include:\n  - a.yml\n  - b.yml\nservices:\n  web:\n    image: nginx\n",
        )
        .file("a.yml", "include:\n  - common.yml\n")
        .file("b.yml", "include:\n  - ./common.yml\n")
        .file(
            "common.yml",
            "services:\n  db:\n    image: redis\n    dns: [1.1.1.1]\n",
        );
    let out = run_with_stdin(&test, &["render", "--stack", "diamond", "s.yml"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rendered: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dns = &rendered["services"]["diamond_db"]["TaskTemplate"]["ContainerSpec"]["DNSConfig"];
    assert_eq!(dns["Nameservers"], serde_json::json!(["1.1.1.1"]));
}

/// Regression: names with dots (`front.net`) hid keys from the version gates, and
/// tripped a debug assertion. Each row: a file, and the gate it must hit.
const GATED_UNDER_ODD_NAMES: &[(&str, &str)] = &[
    (
        "version: \"3.4\"\nservices:\n  web:\n    image: a\n    configs: [c.d]\nconfigs:\n  c.d:\n    name: c\n    file: ./s\n",
        "`name` needs compose file version 3.5 or later; this file says 3.4",
    ),
    (
        "version: \"3.7\"\nservices:\n  web:\n    image: a\n    secrets: [s.t]\nsecrets:\n  s.t:\n    driver: x\n",
        "`driver` needs compose file version 3.8 or later; this file says 3.7",
    ),
    (
        "version: \"3.1\"\nservices:\n  web:\n    image: a\n    networks: [front.net]\nnetworks:\n  front.net:\n    attachable: true\n",
        "`attachable` needs compose file version 3.2 or later; this file says 3.1",
    ),
    (
        "version: \"3.12\"\nservices:\n  web:\n    image: a\n    networks:\n      front.net:\n        driver_opts: {x: y}\nnetworks:\n  front.net: {}\n",
        "`driver_opts` needs compose file version 3.13 or later; this file says 3.12",
    ),
    (
        "version: \"3.3\"\nservices:\n  web:\n    image: a\n    volumes: [\"data.v1:/d\"]\nvolumes:\n  data.v1:\n    name: data\n",
        "`name` needs compose file version 3.4 or later; this file says 3.3",
    ),
    (
        "version: \"3.4\"\nservices:\n  web:\n    image: a\n    secrets: [s.t]\nsecrets:\n  s.t:\n    name: s\n    file: ./s\n",
        "`name` needs compose file version 3.5 or later; this file says 3.4",
    ),
    (
        "version: \"3.5\"\nservices:\n  web:\n    image: a\n    volumes:\n      - type: tmpfs\n        target: /t\n        tmpfs:\n          size: 10\n",
        "`size` needs compose file version 3.6 or later; this file says 3.5",
    ),
];

/// Swarm refuses `<stack>_web.v2` as a service name; stackctl says so before deploying.
#[test]
fn a_dotted_service_name_is_refused() {
    let test = Test::new().file(
        "s.yml",
        "services:\n  web.v2:\n    image: a\n    init: true\n",
    );
    let out = run_with_stdin(&test, &["validate", "s.yml"], b"");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("web.v2") && err.contains("DNS labels"),
        "{err}"
    );
}

#[test]
fn keys_newer_than_the_file_version_are_refused_whatever_the_names() {
    for (yaml, want) in GATED_UNDER_ODD_NAMES {
        let test = Test::new().file("s.yml", yaml).file("s", "x");
        let out = run_with_stdin(&test, &["validate", "s.yml"], b"");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{yaml}\n{err}");
        assert!(err.contains(want), "{yaml}\nwant {want:?}\n{err}");
    }
}

/// One stack file per list a service can hold, `n` entries long (`{i}` is the entry's index),
/// with the top-level entries the list refers to.
const LISTS: &[(&str, &str, &str)] = &[
    ("environment list", "    environment:\n", "      - K{i}=v\n"),
    ("environment map", "    environment:\n", "      K{i}: v\n"),
    ("labels", "    labels:\n", "      - l{i}=v\n"),
    (
        "deploy labels",
        "    deploy:\n      labels:\n",
        "        l{i}: v\n",
    ),
    ("ports", "    ports:\n", "      - \"{i}:80\"\n"),
    (
        "extra_hosts",
        "    extra_hosts:\n",
        "      - \"h{i}:10.0.0.1\"\n",
    ),
    ("volumes", "    volumes:\n", "      - v{i}:/d{i}\n"),
    ("dns", "    dns:\n", "      - 10.0.0.{i}\n"),
    ("dns_search", "    dns_search:\n", "      - d{i}.example\n"),
    ("cap_add", "    cap_add:\n", "      - CAP_{i}\n"),
    ("sysctls", "    sysctls:\n", "      - net.s{i}=1\n"),
    (
        "constraints",
        "    deploy:\n      placement:\n        constraints:\n",
        "          - node.labels.l{i}==1\n",
    ),
    ("secrets", "    secrets:\n", "      - s{i}\n"),
    ("networks", "    networks:\n", "      - n{i}\n"),
    ("tmpfs", "    tmpfs:\n", "      - /t{i}\n"),
    ("ulimits", "    ulimits:\n", "      u{i}: 1\n"),
    (
        "security_opt",
        "    security_opt:\n",
        "      - label:l{i}\n",
    ),
];

fn list_file(header: &str, entry: &str, n: usize) -> String {
    let mut text = format!("services:\n  web:\n    image: nginx\n{header}");
    for i in 0..n {
        text.push_str(&entry.replace("{i}", &i.to_string()));
    }
    for (top, item) in [
        ("volumes", "  v{i}: {}\n"),
        ("secrets", "  s{i}:\n    external: true\n"),
        ("networks", "  n{i}:\n    external: true\n"),
    ] {
        if header.trim_start().starts_with(top) {
            writeln!(text, "{top}:").unwrap();
            for i in 0..n {
                text.push_str(&item.replace("{i}", &i.to_string()));
            }
        }
    }
    text
}

/// CPU time this thread spent loading and converting `text` (CPU time, so other work on the
/// machine does not count). The load may fail (65,536 ports do not fit): only time matters.
fn load_and_convert_time(dir: &Path, text: &str) -> std::time::Duration {
    let file = dir.join("s.yml");
    std::fs::write(&file, text).unwrap();
    let options = stackctl::load::LoadOptions {
        files: vec![file],
        ..Default::default()
    };
    let start = thread_cpu_time();
    if let Ok(loaded) = stackctl::load::load(&options) {
        let name = stackctl::model::StackName::new("scale").unwrap();
        let files = stackctl::convert::read_object_files(&loaded.stack).unwrap();
        let _ = stackctl::convert::convert(&loaded.stack, &name, &files);
    }
    thread_cpu_time().saturating_sub(start)
}

fn thread_cpu_time() -> std::time::Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the one timespec it is given.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut now) };
    assert_eq!(status, 0);
    std::time::Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Regression: duplicate checks compared every entry with every earlier one (a 100,000-entry
/// list took 13.6 s). Four times the entries must take about four times as long (n log n is
/// 4.6 times), not sixteen.
#[test]
fn every_list_loads_in_time_linear_in_its_length() {
    let (small, large) = (4_000, 16_000);
    check_all(
        LISTS,
        |(name, _, _)| (*name).to_owned(),
        |(_, header, entry)| {
            let dir = tempfile::tempdir().unwrap();
            let short = load_and_convert_time(dir.path(), &list_file(header, entry, small));
            let long = load_and_convert_time(dir.path(), &list_file(header, entry, large));
            let ratio = long.as_secs_f64() / short.as_secs_f64().max(1e-3);
            assert!(
                ratio < 8.0,
                "{short:?} for {small} entries, {long:?} for {large}"
            );
        },
    );
}

/// Each row: a file and the message it must get; none may read as a Rust debug dump.
const LIMIT_MESSAGES: &[(&str, &str)] = &[
    (
        "services:\n  web:\n    image: a\n    deploy:\n      replicas: 99999999999999999999\n",
        "services.web.deploy.replicas: 100000000000000000000 is out of range (integers go up to 9223372036854775807)",
    ),
    (
        "services:\n  web:\n    image: a\n    ulimits:\n      nofile: 0x1FFFFFFFFFFFFFFFF\n",
        "services.web.ulimits.nofile: 0x1FFFFFFFFFFFFFFFF is out of range",
    ),
    (
        "services:\n  web:\n    image: a\n    secrets:\n      - source: s\n        mode: 1e12\nsecrets:\n  s:\n    external: true\n",
        "services.web.secrets[0].mode: 1000000000000 is out of range",
    ),
    (
        "services:\n  web:\n    image: a\n    deploy:\n      update_config:\n        max_failure_ratio: 1e400\n",
        "`1e400` is out of range for a number",
    ),
    (
        "services:\n  web:\n    image: a\n    labels: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
        "the file nests more than 64 levels deep",
    ),
];

#[test]
fn limits_are_reported_in_words() {
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        writeln!(bomb, "a{i}: &a{i} [{refs}]").unwrap();
    }
    bomb.push_str("services:\n  web:\n    image: a\n");
    let bomb_row = (
        bomb.as_str(),
        "the file uses its YAML aliases (`*name`) too many times",
    );
    for (yaml, want) in LIMIT_MESSAGES.iter().chain([&bomb_row]) {
        let test = Test::new().file("s.yml", yaml);
        let out = run_with_stdin(&test, &["validate", "s.yml"], b"");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{yaml}\n{err}");
        assert!(
            err.replace("\n  │ ", " ").contains(want),
            "want {want:?}\n{err}"
        );
        assert!(!err.contains(" { "), "a debug dump: {err}");
    }
}

#[test]
fn a_90_kb_value_quoted_in_a_message_is_shortened() {
    let yaml = format!(
        "services:\n  web:\n    image: a\n    deploy:\n      mode: {}\n",
        "m".repeat(90_000)
    );
    let test = Test::new().file("s.yml", &yaml);
    let out = run_with_stdin(&test, &["validate", "s.yml"], b"");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("services.web.deploy.mode: unknown mode"),
        "{err}"
    );
    assert!(
        err.replace("\n  │ ", " ").contains("…(89902 characters)…"),
        "{err}"
    );
    assert!(err.len() < 1500, "{} bytes", err.len());
}
