//! A small YAML writer for stack files: block style, keys in the order given, and a string left
//! unquoted only where the loader would read it back as that same string.

use std::fmt::Write;

use crate::load::node::Scalar;
use crate::load::yaml::resolve_plain;

/// A YAML value to write.
#[derive(Clone, Debug, PartialEq)]
pub enum Yaml {
    Null,
    Bool(bool),
    Int(i64),
    /// A number written as given (`0.1`): floats keep their shortest spelling.
    Number(String),
    Str(String),
    Seq(Vec<Yaml>),
    Map(Vec<(String, Yaml)>),
}

impl Yaml {
    #[must_use]
    pub fn str(text: impl Into<String>) -> Self {
        Self::Str(text.into())
    }

    fn is_block(&self) -> bool {
        match self {
            Self::Seq(items) => !items.is_empty(),
            Self::Map(entries) => !entries.is_empty(),
            _ => false,
        }
    }
}

/// The document: a top-level mapping, one entry per line, two spaces per level.
#[must_use]
pub fn to_yaml(root: &Yaml) -> String {
    let mut out = String::new();
    match root {
        Yaml::Map(entries) if !entries.is_empty() => write_map(&mut out, entries, 0),
        other => {
            let _ = writeln!(out, "{}", inline(other));
        }
    }
    out
}

fn write_map(out: &mut String, entries: &[(String, Yaml)], indent: usize) {
    for (key, value) in entries {
        let pad = " ".repeat(indent);
        if value.is_block() {
            let _ = writeln!(out, "{pad}{}:", scalar_text(key));
            write_block(out, value, indent + 2);
        } else {
            let _ = writeln!(out, "{pad}{}: {}", scalar_text(key), inline(value));
        }
    }
}

fn write_block(out: &mut String, value: &Yaml, indent: usize) {
    match value {
        Yaml::Map(entries) => write_map(out, entries, indent),
        Yaml::Seq(items) => write_seq(out, items, indent),
        other => {
            let _ = writeln!(out, "{}{}", " ".repeat(indent), inline(other));
        }
    }
}

/// `- item` lines; a mapping item starts on the dash's line and goes on two columns further in.
fn write_seq(out: &mut String, items: &[Yaml], indent: usize) {
    let pad = " ".repeat(indent);
    for item in items {
        if item.is_block() {
            let mut block = String::new();
            write_block(&mut block, item, indent + 2);
            let _ = write!(out, "{pad}- {}", &block[indent + 2..]);
        } else {
            let _ = writeln!(out, "{pad}- {}", inline(item));
        }
    }
}

/// A scalar, or an empty collection, on the line of its key or dash.
fn inline(value: &Yaml) -> String {
    match value {
        Yaml::Null => "null".to_owned(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Int(n) => n.to_string(),
        Yaml::Number(n) => n.clone(),
        Yaml::Str(s) => scalar_text(s),
        Yaml::Seq(_) => "[]".to_owned(),
        Yaml::Map(_) => "{}".to_owned(),
    }
}

/// A string as written: plain when that reads back as the same string in the loader (and as a
/// string in YAML 1.1 readers too: `yes`, `on`), double-quoted otherwise.
fn scalar_text(text: &str) -> String {
    if is_plain_safe(text) {
        text.to_owned()
    } else {
        // A JSON string is a valid YAML double-quoted scalar with the same escapes.
        serde_json::to_string(text).expect("strings serialise")
    }
}

fn is_plain_safe(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_./:=@%+,~$()-".contains(c) || c == ' ';
    let yaml11_words = [
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~",
    ];
    (first.is_ascii_alphanumeric() || "_./$".contains(first))
        && text.chars().all(allowed)
        && !text.ends_with([' ', ':'])
        && !text.contains(": ")
        && !yaml11_words.contains(&text.to_ascii_lowercase().as_str())
        && resolve_plain(text) == Scalar::Str(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::node::{FileId, Value};

    /// What the loader's parser reads back from a written value.
    fn read_back(value: &Yaml) -> crate::load::node::Node {
        let text = to_yaml(&Yaml::Map(vec![("k".to_owned(), value.clone())]));
        let root = crate::load::yaml::parse(FileId(0), &text).expect("valid YAML");
        root.get("k").cloned().expect("the key")
    }

    #[test]
    fn strings_come_back_as_the_same_strings() {
        let cases = [
            "plain",
            "",
            "123",
            "0755",
            "1e3",
            "true",
            "yes",
            "Off",
            "null",
            "~",
            "a: b",
            "a #b",
            "-dash",
            "- item",
            "key:",
            " lead",
            "trail ",
            "\"quoted\"",
            "'single'",
            "multi\nline",
            "tab\there",
            "{braces}",
            "[brackets]",
            "*alias",
            "&anchor",
            "!tag",
            "|pipe",
            ">fold",
            "%percent",
            "@at",
            "`tick",
            "ünïcödé",
            "$$escaped",
            "/path/to/file:ro",
            "0.50",
        ];
        for case in cases {
            let node = read_back(&Yaml::str(case));
            assert_eq!(node.as_str(), Some(case), "{case:?}");
        }
    }

    #[test]
    fn nested_blocks_read_back_with_their_shape() {
        let value = Yaml::Seq(vec![
            Yaml::Map(vec![
                ("a".to_owned(), Yaml::Int(1)),
                ("b".to_owned(), Yaml::Seq(vec![Yaml::str("x"), Yaml::Null])),
            ]),
            Yaml::Map(vec![]),
            Yaml::Seq(vec![]),
            Yaml::Bool(true),
            Yaml::Number("0.1".to_owned()),
        ]);
        let node = read_back(&value);
        let Value::Seq(items) = &node.value else {
            panic!("{node:?}");
        };
        assert_eq!(items.len(), 5);
        assert_eq!(
            items[0].get("a").map(|n| &n.value),
            Some(&Value::Scalar(Scalar::Int(1)))
        );
        let Some(Value::Seq(b)) = items[0].get("b").map(|n| &n.value) else {
            panic!("{:?}", items[0]);
        };
        assert_eq!(b[0].as_str(), Some("x"));
        assert!(b[1].is_null());
        assert_eq!(items[1].value, Value::Map(Vec::new()));
        assert_eq!(items[2].value, Value::Seq(Vec::new()));
        assert_eq!(items[3].value, Value::Scalar(Scalar::Bool(true)));
        assert_eq!(items[4].value, Value::Scalar(Scalar::Float(0.1)));
    }
}
