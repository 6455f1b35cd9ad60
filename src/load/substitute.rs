//! `${VAR}` interpolation over a whole file tree, with docker's type casts for values that
//! interpolation changed (a `replicas: ${N}` becomes the integer N).

use super::diagnostic::{Diagnostic, Diagnostics};
use super::interpolate::{InterpolateError, interpolate};
use super::node::{Node, Scalar, Span, Value};
use super::source::Sources;
use super::sources_hint::scalar_offset;
use crate::sensitive::{is_sensitive_name, mask_assignment};

#[derive(Clone, Copy, PartialEq)]
enum Cast {
    Int,
    Float,
    Bool,
}

/// Paths whose interpolated values docker casts; `*` is any key, `[]` any list item.
const CASTS: &[(&[&str], Cast)] = &[
    (&["services", "*", "configs", "[]", "mode"], Cast::Int),
    (&["services", "*", "secrets", "[]", "mode"], Cast::Int),
    (&["services", "*", "healthcheck", "retries"], Cast::Int),
    (&["services", "*", "healthcheck", "disable"], Cast::Bool),
    (&["services", "*", "deploy", "replicas"], Cast::Int),
    (
        &["services", "*", "deploy", "update_config", "parallelism"],
        Cast::Int,
    ),
    (
        &[
            "services",
            "*",
            "deploy",
            "update_config",
            "max_failure_ratio",
        ],
        Cast::Float,
    ),
    (
        &["services", "*", "deploy", "rollback_config", "parallelism"],
        Cast::Int,
    ),
    (
        &[
            "services",
            "*",
            "deploy",
            "rollback_config",
            "max_failure_ratio",
        ],
        Cast::Float,
    ),
    (
        &["services", "*", "deploy", "restart_policy", "max_attempts"],
        Cast::Int,
    ),
    (
        &[
            "services",
            "*",
            "deploy",
            "placement",
            "max_replicas_per_node",
        ],
        Cast::Int,
    ),
    (&["services", "*", "ports", "[]", "target"], Cast::Int),
    (&["services", "*", "ports", "[]", "published"], Cast::Int),
    (&["services", "*", "ulimits", "*"], Cast::Int),
    (&["services", "*", "ulimits", "*", "hard"], Cast::Int),
    (&["services", "*", "ulimits", "*", "soft"], Cast::Int),
    (&["services", "*", "privileged"], Cast::Bool),
    (&["services", "*", "oom_score_adj"], Cast::Int),
    (&["services", "*", "read_only"], Cast::Bool),
    (&["services", "*", "stdin_open"], Cast::Bool),
    (&["services", "*", "tty"], Cast::Bool),
    (&["services", "*", "volumes", "[]", "read_only"], Cast::Bool),
    (
        &["services", "*", "volumes", "[]", "volume", "nocopy"],
        Cast::Bool,
    ),
    (&["networks", "*", "external"], Cast::Bool),
    (&["networks", "*", "internal"], Cast::Bool),
    (&["networks", "*", "attachable"], Cast::Bool),
    (&["volumes", "*", "external"], Cast::Bool),
    (&["secrets", "*", "external"], Cast::Bool),
    (&["configs", "*", "external"], Cast::Bool),
];

/// Interpolate every string scalar of `root` (keys are left alone, as docker does).
pub fn substitute(
    root: &mut Node,
    lookup: &dyn Fn(&str) -> Option<String>,
    sources: &Sources,
    diags: &mut Diagnostics,
) {
    let mut path = Vec::new();
    walk(root, &mut path, &mut |node, path| {
        let Value::Scalar(Scalar::Str(text)) = &node.value else {
            return;
        };
        if !text.contains('$') {
            return;
        }
        match interpolate(text, lookup) {
            Ok(new) if new != *text => {
                node.interpolated = true;
                node.value = Value::Scalar(cast(path, new));
            }
            Ok(_) => {}
            Err(err) => diags.push(error(&err, text, node.span, path, sources)),
        }
    });
}

fn walk(node: &mut Node, path: &mut Vec<String>, visit: &mut dyn FnMut(&mut Node, &[String])) {
    match &mut node.value {
        Value::Map(entries) => {
            for (key, value) in entries {
                path.push(key.value.clone());
                walk(value, path, visit);
                path.pop();
            }
        }
        Value::Seq(items) => {
            for item in items {
                path.push("[]".to_owned());
                walk(item, path, visit);
                path.pop();
            }
        }
        Value::Scalar(_) => visit(node, path),
    }
}

fn cast(path: &[String], text: String) -> Scalar {
    let rule = CASTS.iter().find(|(pattern, _)| {
        pattern.len() == path.len()
            && pattern.iter().zip(path).all(|(p, seg)| match *p {
                "*" => seg != "[]",
                other => other == seg,
            })
    });
    let Some((_, kind)) = rule else {
        return Scalar::Str(text);
    };
    match kind {
        // Go's Atoi: decimal only ("0440" is 440).
        Cast::Int => text.parse::<i64>().map_or(Scalar::Str(text), Scalar::Int),
        Cast::Float => text.parse::<f64>().map_or(Scalar::Str(text), Scalar::Float),
        Cast::Bool => match text.to_ascii_lowercase().as_str() {
            "y" | "yes" | "true" | "on" => Scalar::Bool(true),
            "n" | "no" | "false" | "off" => Scalar::Bool(false),
            _ => Scalar::Str(text),
        },
    }
}

fn error(
    err: &InterpolateError,
    text: &str,
    span: Span,
    path: &[String],
    sources: &Sources,
) -> Diagnostic {
    let where_ = path.join(".").replace(".[]", "[]");
    let base = scalar_offset(sources.slice(span), text);
    let at = |offset: usize, len: usize| base.map_or(span, |b| span.sub(b + offset, len));
    match err {
        InterpolateError::Invalid { offset } => Diagnostic::error(
            "stackctl::load::interpolation",
            format!(
                "invalid interpolation format for {where_}: {}",
                shown(text, path)
            ),
        )
        .at(at(*offset, 1), "this `$` starts no variable")
        .with_help(
            "write `$$` for a literal `$`; variables look like `$NAME` or `${NAME:-default}`",
        ),
        InterpolateError::Required {
            var,
            message,
            offset,
            len,
        } => Diagnostic::error(
            "stackctl::load::required_variable",
            format!("required variable {var} is missing a value: {message}"),
        )
        .at(
            at(*offset, *len),
            format!("{var} is required here ({where_})"),
        )
        .with_help(format!("set {var} in the environment or in the .env file")),
    }
}

/// The text in an error message, unless it is the value of a sensitive key (`DB_PASSWORD:
/// "x$1"`, `- TOKEN=x$1`, `--api-key=x$1`): the excerpt then shows where, masked.
fn shown(text: &str, path: &[String]) -> String {
    let key = path.last().map_or("", String::as_str);
    if is_sensitive_name(key) || mask_assignment(text).is_some() {
        "(the value is not shown: its name looks sensitive)".to_owned()
    } else {
        format!("{text:?}")
    }
}
