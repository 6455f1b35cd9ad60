//! Node tree -> typed compose model, reporting every problem found (not just the first) with
//! the place it was written and, where one exists, a hint.

mod deploy;
mod fields;
pub mod keys;
mod long_volume;
mod ports;
mod service;
mod short_volume;
mod top_level;
mod units;
mod versions;

pub use ports::parse_port_spec;
pub use short_volume::parse_short_volume;
pub(crate) use top_level::decode_file;
pub use top_level::{DEFAULT_VERSION, absolute as top_level_absolute};
pub use units::{parse_cpus, parse_memory};
pub use versions::pattern as key_pattern;

use super::diagnostic::{Diagnostic, Diagnostics};
use super::node::{Node, Scalar, Value};
use crate::model::Duration;

pub(crate) use fields::Fields;

/// Collects findings while decoding one file.
pub(crate) struct Decoder<'d> {
    pub diags: &'d mut Diagnostics,
    /// The file's compose version: keys newer than it are refused, as docker refuses them.
    pub version: (u32, u32),
}

impl Decoder<'_> {
    pub(crate) fn error(&mut self, node: &Node, code: &'static str, message: String, label: &str) {
        self.diags
            .push(Diagnostic::error(code, message).at(node.span, label));
    }

    pub(crate) fn push(&mut self, diag: Diagnostic) {
        self.diags.push(diag);
    }

    /// "`path` must be a string", pointing at the value.
    pub(crate) fn type_error(&mut self, node: &Node, path: &str, expected: &str) {
        let message = format!(
            "{path} must be {expected}, not {}",
            article(node.type_name())
        );
        self.error(
            node,
            "stackctl::load::type",
            message,
            &format!("expected {expected}"),
        );
    }

    pub(crate) fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        if let Some(s) = node.as_str() {
            return Some(s.to_owned());
        }
        self.type_error(node, path, "a string");
        None
    }

    pub(crate) fn int(&mut self, node: &Node, path: &str) -> Option<i64> {
        let too_large = match &node.value {
            Value::Scalar(Scalar::Int(i)) => return Some(*i),
            // yaml.v3 reads an integer past i64 as a float (or, in hex, a string).
            Value::Scalar(Scalar::Float(f)) if f.fract() == 0.0 && f.abs() >= I64_END => {
                Some(format!("{f}"))
            }
            Value::Scalar(Scalar::Str(s)) if is_integer_past_i64(s) => Some(s.clone()),
            _ => None,
        };
        match too_large {
            Some(text) => {
                let message = format!(
                    "{path}: {text} is out of range (integers go up to {})",
                    i64::MAX
                );
                self.error(node, "stackctl::load::range", message, "out of range");
            }
            None => self.type_error(node, path, "an integer"),
        }
        None
    }

    pub(crate) fn uint(&mut self, node: &Node, path: &str) -> Option<u64> {
        let i = self.int(node, path)?;
        if let Ok(u) = u64::try_from(i) {
            return Some(u);
        }
        let message = format!("{path} must be zero or more, not {i}");
        self.error(node, "stackctl::load::range", message, "negative");
        None
    }

    pub(crate) fn number(&mut self, node: &Node, path: &str) -> Option<f64> {
        match node.value {
            Value::Scalar(Scalar::Int(i)) => Some(i as f64),
            Value::Scalar(Scalar::Float(f)) => Some(f),
            _ => {
                self.type_error(node, path, "a number");
                None
            }
        }
    }

    pub(crate) fn bool(&mut self, node: &Node, path: &str) -> Option<bool> {
        if let Value::Scalar(Scalar::Bool(b)) = node.value {
            return Some(b);
        }
        self.type_error(node, path, "a boolean");
        let is_yaml11 = node.as_str().is_some_and(|s| {
            matches!(
                s.to_ascii_lowercase().as_str(),
                "yes" | "no" | "on" | "off" | "y" | "n"
            )
        });
        if is_yaml11 {
            self.hint_last(
                "YAML 1.2 booleans are `true` and `false`; `yes`/`no`/`on`/`off` are strings",
            );
        }
        None
    }

    pub(crate) fn duration(&mut self, node: &Node, path: &str) -> Option<Duration> {
        let text = self.string(node, path);
        let Some(text) = text else {
            self.hint_last("durations are strings like `10s`, `1m30s` or `250ms`");
            return None;
        };
        match Duration::parse(&text) {
            Ok(d) => Some(d),
            Err(why) => {
                let message = format!("{path}: {why}");
                self.error(node, "stackctl::load::duration", message, "not a duration");
                self.hint_last(
                    "durations look like `10s`, `1m30s` or `250ms` (units ns, us, ms, s, m, h)",
                );
                None
            }
        }
    }

    /// A list of strings (`uniqueItems` as docker's schema demands).
    pub(crate) fn string_list(&mut self, node: &Node, path: &str) -> Option<Vec<String>> {
        let Value::Seq(items) = &node.value else {
            self.type_error(node, path, "a list of strings");
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut seen = std::collections::HashSet::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let value = self.string(item, &format!("{path}[{i}]"))?;
            if !seen.insert(value.clone()) {
                let message = format!("{path} lists {value:?} twice");
                self.error(item, "stackctl::load::duplicate", message, "duplicate item");
                return None;
            }
            out.push(value);
        }
        Some(out)
    }

    /// A string (one item) or a list of strings.
    pub(crate) fn string_or_list(&mut self, node: &Node, path: &str) -> Option<Vec<String>> {
        match &node.value {
            Value::Scalar(Scalar::Str(s)) => Some(vec![s.clone()]),
            Value::Seq(_) => self.string_list(node, path),
            _ => {
                self.type_error(node, path, "a string or a list of strings");
                None
            }
        }
    }

    /// A command: a string split like a POSIX shell would (no expansion), or a list.
    pub(crate) fn command(&mut self, node: &Node, path: &str) -> Option<Vec<String>> {
        match &node.value {
            Value::Scalar(Scalar::Str(s)) => match shell_split(s) {
                Ok(words) => Some(words),
                Err(why) => {
                    self.error(
                        node,
                        "stackctl::load::command",
                        format!("{path}: {why}"),
                        "here",
                    );
                    None
                }
            },
            Value::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(self.string(item, &format!("{path}[{i}]"))?);
                }
                Some(out)
            }
            _ => {
                self.type_error(node, path, "a string or a list of strings");
                None
            }
        }
    }

    /// A mapping of string/number/null values or a list of `k<sep>v` strings (docker's
    /// `list_or_dict`). `None` values are nulls (map) or entries without a separator (list).
    pub(crate) fn list_or_dict(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Option<Vec<(String, Option<String>, &'static str)>> {
        match &node.value {
            Value::Map(entries) => {
                let mut out = Vec::new();
                for (key, value) in entries {
                    let item_path = format!("{path}.{}", key.value);
                    if value.is_null() {
                        out.push((key.value.clone(), None, ""));
                    } else if let Some(text) =
                        self.map_value(value, &item_path, "a string, number or null")
                    {
                        out.push((key.value.clone(), Some(text), ""));
                    }
                }
                Some(out)
            }
            Value::Seq(_) => {
                let items = self.string_list(node, path)?;
                Some(items.into_iter().map(|item| split_entry(&item)).collect())
            }
            Value::Scalar(_) => {
                self.type_error(node, path, "a mapping or a list of strings");
                None
            }
        }
    }

    /// A value of a string-valued mapping: a string or a number, as text. Booleans are refused
    /// as docker's schema refuses them (`true` would otherwise turn into "true" silently).
    fn map_value(&mut self, value: &Node, path: &str, expected: &str) -> Option<String> {
        if let Value::Scalar(Scalar::Bool(b)) = value.value {
            self.type_error(value, path, expected);
            self.hint_last(&format!("quote it if you mean the text: \"{b}\""));
            return None;
        }
        let text = value.scalar_text();
        if text.is_none() {
            self.type_error(value, path, expected);
        }
        text
    }

    /// `driver_opts` and `logging.options`: a mapping (no list form) of strings or numbers,
    /// and null where `null_ok` (read as empty).
    pub(crate) fn options_map(
        &mut self,
        node: &Node,
        path: &str,
        null_ok: bool,
    ) -> std::collections::BTreeMap<String, String> {
        let mut out = std::collections::BTreeMap::new();
        let Value::Map(entries) = &node.value else {
            self.type_error(node, path, "a mapping");
            return out;
        };
        let expected = if null_ok {
            "a string, number or null"
        } else {
            "a string or a number"
        };
        for (key, value) in entries {
            let item_path = format!("{path}.{}", key.value);
            if value.is_null() && null_ok {
                out.insert(key.value.clone(), String::new());
            } else if let Some(text) = self.map_value(value, &item_path, expected) {
                out.insert(key.value.clone(), text);
            }
        }
        out
    }

    /// Adds a help text to the finding just made.
    pub(crate) fn hint_last(&mut self, help: &str) {
        if let Some(last) = self.diags.last_mut() {
            last.help = Some(help.to_owned());
        }
    }
}

fn split_entry(item: &str) -> (String, Option<String>, &'static str) {
    match item.split_once('=') {
        Some((k, v)) => (k.to_owned(), Some(v.to_owned()), "="),
        None => (item.to_owned(), None, ""),
    }
}

fn article(type_name: &str) -> String {
    match type_name {
        "null" => "null (an empty value)".to_owned(),
        "integer" | "array" => format!("an {type_name}"),
        other => format!("a {other}"),
    }
}

/// POSIX-shell-like word splitting (quotes and backslashes, no expansion), like docker's shlex.
pub fn shell_split(input: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = input.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(next) => word.push(next),
                    None => return Err("command ends with an unfinished escape (`\\`)".into()),
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unclosed single quote in command".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("unclosed double quote in command".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unclosed double quote in command".into()),
                    }
                }
            }
            '#' if !in_word => break,
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// 2^63: integers from here on do not fit in an `i64`.
const I64_END: f64 = 9_223_372_036_854_775_808.0;

/// An integer literal (Go syntax: sign, `0x`/`0o`/`0b`, `_`) whose value does not fit an `i64`.
fn is_integer_past_i64(text: &str) -> bool {
    let digits = text
        .strip_prefix(['+', '-'])
        .unwrap_or(text)
        .to_ascii_lowercase();
    let (radix, body) = match digits.get(..2) {
        Some("0x") => (16, &digits[2..]),
        Some("0o") => (8, &digits[2..]),
        Some("0b") => (2, &digits[2..]),
        _ => (10, digits.as_str()),
    };
    let is_literal = body.chars().any(|c| c.is_digit(radix))
        && body.chars().all(|c| c.is_digit(radix) || c == '_');
    is_literal && !matches!(super::yaml::resolve_plain(text), Scalar::Int(_))
}

#[cfg(test)]
mod tests {
    use super::shell_split;

    #[test]
    fn splits_commands_like_a_shell() {
        let cases: &[(&str, &[&str])] = &[
            (
                "bundle exec thin -p 3000",
                &["bundle", "exec", "thin", "-p", "3000"],
            ),
            ("sh -c 'echo hi there'", &["sh", "-c", "echo hi there"]),
            (r#"echo "a \"b\" c""#, &["echo", r#"a "b" c"#]),
            (r"a\ b c", &["a b", "c"]),
            ("echo $HOME", &["echo", "$HOME"]),
            ("''", &[""]),
            ("  ", &[]),
        ];
        for (input, want) in cases {
            assert_eq!(shell_split(input).unwrap(), *want, "{input}");
        }
        assert!(shell_split("echo 'open").is_err());
    }
}
