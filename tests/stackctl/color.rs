//! `--color auto|always|never` and `NO_COLOR`, on a pipe and on a terminal (`script` gives the
//! binary a pseudo-terminal).

use std::process::Command;

use crate::util::{Test, stderr};

const BAD: &str = "services:\n  web:\n    image: app\n    deploy:\n      replics: 2\n";
const ESC: char = '\u{1b}';

/// `stackctl validate` of a file with an error, through a pseudo-terminal; returns what the
/// terminal showed.
fn on_terminal(test: &Test, flags: &str, no_color: bool) -> String {
    let command = format!(
        "{} validate {flags} {}",
        env!("CARGO_BIN_EXE_stackctl"),
        test.path().join("bad.yml").display()
    );
    let mut script = Command::new("script");
    script
        .args(["-qec", &command, "/dev/null"])
        .env_remove("NO_COLOR");
    if no_color {
        script.env("NO_COLOR", "1");
    }
    let out = script.output().expect("script (util-linux) runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_pipe_gets_no_colour_unless_always() {
    let test = Test::new().file("bad.yml", BAD);
    let auto = test.args(&["validate", "bad.yml"]).run();
    assert!(stderr(&auto).contains("replics"), "{}", stderr(&auto));
    assert!(!stderr(&auto).contains(ESC));
    // Test::run sets NO_COLOR; a flag outranks it.
    let test = Test::new().file("bad.yml", BAD);
    let always = test
        .args(&["validate", "bad.yml", "--color", "always"])
        .run();
    assert!(stderr(&always).contains(ESC), "{}", stderr(&always));
}

#[test]
fn a_terminal_gets_colour_unless_never_or_no_color() {
    let test = Test::new().file("bad.yml", BAD);
    let auto = on_terminal(&test, "", false);
    assert!(auto.contains("replics"), "{auto}");
    assert!(auto.contains(ESC), "{auto}");
    assert!(!on_terminal(&test, "", true).contains(ESC));
    assert!(!on_terminal(&test, "--color never", false).contains(ESC));
    assert!(on_terminal(&test, "--color=always", true).contains(ESC));
}

#[test]
fn color_is_accepted_before_the_command_too() {
    let test = Test::new().file("bad.yml", BAD);
    let out = test
        .args(&["--color", "never", "validate", "bad.yml"])
        .run();
    assert_eq!(out.status.code(), Some(1));
    let bad = Test::new()
        .args(&["validate", "--color", "sometimes"])
        .run();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("auto, always, never"),
        "{}",
        stderr(&bad)
    );
}
