//! Shell completions loaded by the real shells (bash, zsh, fish), stack names completed from
//! the real Swarm, and the man page rendered by `man`.

use std::process::Command;

use crate::swarm::{DockerStack, unique_stack};
use crate::util::{Test, stderr, stdout};

const BIN: &str = env!("CARGO_BIN_EXE_stackctl");

/// A one-service stack with no running task, so deploying it costs nothing.
const IDLE_STACK: &str =
    "services:\n  web:\n    image: stackctl-test/app:1\n    deploy:\n      replicas: 0\n";

fn script(shell: &str) -> String {
    let out = Test::new().args(&["completions", shell]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out)
}

/// Run `code` in `shell` (`-c`), failing with its stderr if it fails.
fn shell(shell: &str, code: &str) -> String {
    let out = Command::new(shell)
        .args(["-c", code])
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("{shell} runs (scripts/testbed installs it): {e}"));
    assert!(out.status.success(), "{shell} failed: {}", stderr(&out));
    stdout(&out)
}

/// What bash's completion function offers for a command line whose last word is being typed.
fn bash_complete(script_path: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let code = format!(
        "source '{}'\n\
         COMP_WORDS=({}); COMP_CWORD={}; COMP_TYPE=9\n\
         _clap_complete_stackctl stackctl \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script_path.display(),
        quoted.join(" "),
        words.len() - 1,
    );
    shell("bash", &code)
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn bash_loads_the_script_and_completes_commands_flags_values_and_stack_names() {
    let test = Test::new()
        .file("bash.sh", &script("bash"))
        .file("stack.yml", IDLE_STACK);
    let path = test.path().join("bash.sh");
    let registered = shell(
        "bash",
        &format!("source '{}'; complete -p stackctl", path.display()),
    );
    assert!(
        registered.contains("-F _clap_complete_stackctl stackctl"),
        "{registered}"
    );

    assert_eq!(bash_complete(&path, &["stackctl", "his"]), ["history"]);
    assert_eq!(
        bash_complete(&path, &["stackctl", "plan", "--detailed-e"]),
        ["--detailed-exitcode"]
    );
    assert_eq!(
        bash_complete(&path, &["stackctl", "plan", "--format", ""]),
        ["human", "json", "markdown"]
    );
    assert_eq!(
        bash_complete(&path, &["stackctl", "completions", "fi"]),
        ["fish"]
    );

    let name = unique_stack("cmpl-bash");
    let stack_file = test.path().join("stack.yml");
    let _stack = DockerStack::deploy(&name, &[stack_file.to_str().unwrap()]);
    // The unique part of the name, so other tests' stacks do not match.
    let typed = &name[..name.len() - 2];
    for command in ["status", "history", "rollback", "rm"] {
        let offered = bash_complete(&path, &["stackctl", command, typed]);
        assert!(offered.contains(&name), "{command}: {offered:?}");
        assert!(offered.iter().all(|s| s.starts_with(typed)), "{offered:?}");
    }
}

#[test]
fn stack_names_are_not_offered_where_the_argument_is_not_a_stack() {
    let name = unique_stack("cmpl-none");
    let test = Test::new().file("stack.yml", IDLE_STACK);
    let _stack = DockerStack::deploy(&name, &[test.path().join("stack.yml").to_str().unwrap()]);
    let out = Test::new()
        .env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", "2")
        .env("_CLAP_IFS", "\n")
        .args(&["--", "stackctl", "validate", &name])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stdout(&out).contains(&name), "{}", stdout(&out));
}

#[test]
fn an_unreachable_daemon_gives_no_stack_names_and_no_error() {
    let out = Test::new()
        .env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", "2")
        .env("_CLAP_IFS", "\n")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(&["--", "stackctl", "status", ""])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let offered = stdout(&out);
    assert!(offered.lines().all(|c| c.starts_with('-')), "{offered}");
}

#[test]
fn zsh_registers_the_completer_and_it_offers_stack_names() {
    let name = unique_stack("cmpl-zsh");
    let test = Test::new()
        .file("zsh.sh", &script("zsh"))
        .file("stack.yml", IDLE_STACK);
    let _stack = DockerStack::deploy(&name, &[test.path().join("stack.yml").to_str().unwrap()]);
    // compinit loads the completion system; `_describe` (which only works inside a completion
    // widget) is replaced by one that prints what it was given.
    let code = format!(
        "autoload -Uz compinit && compinit -u -D\n\
         source '{}'\n\
         print -r -- \"registered: $_comps[stackctl]\"\n\
         _describe() {{ print -rl -- \"${{(@P)${{@[-1]}}}}\" }}\n\
         words=(stackctl status '{}'); CURRENT=3\n\
         _clap_dynamic_completer_stackctl",
        test.path().join("zsh.sh").display(),
        &name[..name.len() - 2],
    );
    let out = shell("zsh", &code);
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("registered: _clap_dynamic_completer_stackctl")
    );
    assert!(lines.any(|l| l == name), "{out}");
}

#[test]
fn fish_completes_commands_and_stack_names() {
    let name = unique_stack("cmpl-fish");
    let test = Test::new()
        .file("stackctl.fish", &script("fish"))
        .file("stack.yml", IDLE_STACK);
    let _stack = DockerStack::deploy(&name, &[test.path().join("stack.yml").to_str().unwrap()]);
    let source = format!("source '{}'", test.path().join("stackctl.fish").display());
    let commands = shell("fish", &format!("{source}; complete -C 'stackctl roll'"));
    assert_eq!(
        commands.lines().next().map(|l| l.split('\t').next()),
        Some(Some("rollback"))
    );
    let typed = &name[..name.len() - 2];
    let stacks = shell(
        "fish",
        &format!("{source}; complete -C 'stackctl rm {typed}'"),
    );
    assert!(
        stacks.lines().any(|l| l.split('\t').next() == Some(&name)),
        "{stacks}"
    );
}

#[test]
fn powershell_script_registers_a_native_completer() {
    // PowerShell is not in Debian; the script is checked for what registers it.
    let text = script("powershell");
    assert!(
        text.contains("Register-ArgumentCompleter -Native -CommandName stackctl"),
        "{text}"
    );
    assert!(
        text.contains(BIN),
        "the script calls this binary back: {text}"
    );
}

#[test]
fn man_page_renders_with_man_and_names_every_command() {
    let test = Test::new().args(&["man"]);
    let out = test.run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let page = test.path().join("stackctl.1");
    std::fs::write(&page, &out.stdout).unwrap();
    let rendered = man(&page);
    for expected in ["NAME", "SYNOPSIS", "OPTIONS", "SUBCOMMANDS", "--color"] {
        assert!(
            rendered.contains(expected),
            "{expected} missing:\n{rendered}"
        );
    }
    for command in [
        "validate",
        "plan",
        "apply",
        "config",
        "completions",
        "man",
        "watch",
    ] {
        assert!(
            rendered.contains(&format!("stackctl-{command}(1)")),
            "{command} missing:\n{rendered}"
        );
    }
}

#[test]
fn man_dir_writes_one_page_per_command() {
    let test = Test::new();
    let dir = test.path().join("man1");
    let out = Test::new()
        .args(&["man", "--dir", dir.to_str().unwrap()])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan = man(&dir.join("stackctl-plan.1"));
    assert!(
        plan.contains("stackctl-plan - Compare the stack files"),
        "{plan}"
    );
    assert!(plan.contains("--detailed-exitcode"), "{plan}");
    let mut pages: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    assert!(pages.contains(&"stackctl.1".to_owned()), "{pages:?}");
    assert!(pages.contains(&"stackctl-config.1".to_owned()), "{pages:?}");
    assert!(!pages.iter().any(|p| p.contains("help")), "{pages:?}");
}

/// `man -l` of a page as plain text; groff's warnings (bad roff) fail the test.
fn man(page: &std::path::Path) -> String {
    let out = Command::new("man")
        .args(["--warnings", "-l"])
        .arg(page)
        .env("MANWIDTH", "100")
        .env("MAN_KEEP_FORMATTING", "0")
        .output()
        .expect("man runs (scripts/testbed installs man-db)");
    assert!(out.status.success(), "man failed: {}", stderr(&out));
    assert_eq!(stderr(&out), "", "groff warnings");
    // Overstrike bold (`N\bN`) as plain text.
    let mut text = String::new();
    for c in stdout(&out).chars() {
        if c == '\u{8}' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    text
}
