//! How an apply shows its rollouts: on a terminal, a live line per service redrawn in place;
//! in a log, one timestamped line per event and no terminal control codes.

use std::process::Command;

use super::apply::{APPLY_TIMEOUT, Run, Stack, apply_command, web_stack};
use super::util::Test;

/// Run `stackctl apply` in a pseudo-terminal (util-linux `script`), all output as the terminal
/// got it.
fn apply_on_a_terminal(test: &Test, stack: &Stack) -> (Option<i32>, String) {
    let command = format!(
        "{} apply -y --timeout {APPLY_TIMEOUT} -s {} stack.yml",
        env!("CARGO_BIN_EXE_stackctl"),
        stack.name
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(test.path())
        .env_remove("NO_COLOR")
        .env("TERM", "xterm")
        .output()
        .expect("script(1) runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_terminal_gets_live_lines_and_a_log_gets_plain_ones() {
    let stack = Stack::new("aprog");
    let service = stack.service_name("web");
    let update = "{parallelism: 1, delay: 1s, monitor: 2s}";
    let test = Test::new().file("stack.yml", &web_stack("stackctl-test/app:1", 2, update));
    let (code, screen) = apply_on_a_terminal(&test, &stack);
    assert_eq!(code, Some(0), "{screen}");
    // Redrawn in place: cursor-up and erase-line sequences, and the spinner's line for the
    // service ending as its outcome.
    assert!(
        screen.contains("\u{1b}[1A") || screen.contains("\u{1b}[2K"),
        "{screen}"
    );
    assert!(
        screen.contains(&format!("{service} ")) && screen.contains("/2 tasks up to date"),
        "{screen}"
    );
    assert!(
        screen.contains(&format!("ok   {service} converged")),
        "{screen}"
    );
    assert!(screen.contains("Apply complete in "), "{screen}");

    // Not a terminal (the test harness's pipes): the log form, whatever TERM says.
    let test = Test::new().file("stack.yml", &web_stack("stackctl-test/app:2", 2, update));
    let run = Run::of(&apply_command(test, &stack, &["stack.yml"], &[]));
    assert_eq!(run.code, Some(0), "{}", run.text());
    assert!(!run.stderr.contains('\u{1b}'), "{}", run.text());
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with('[') && l.contains(&format!("] updated service {service}"))),
        "{}",
        run.text()
    );
}
