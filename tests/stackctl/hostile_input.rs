//! Inputs built to break the loader (very long lines, FIFOs, devices, include cycles, huge
//! lists): each ends in exit 0 or 1 with a message, in bounded time and output.

use std::fmt::Write;

use super::util::{Test, stderr};

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
