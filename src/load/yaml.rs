//! YAML text -> [`Node`] tree: anchors, aliases and merge keys resolved by serde-saphyr, plain
//! scalars typed the way docker's YAML library (yaml.v3) types them.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{Location, Spanned};

use super::node::{At, FileId, Node, Scalar, Span, Value};
use super::source::offset_of_line_col;

/// A syntax error with the place the parser stopped.
#[derive(Debug)]
pub struct SyntaxError {
    pub message: String,
    pub span: Span,
}

/// Parse one YAML document into a node tree. An empty document is a null node.
pub fn parse(file: FileId, text: &str) -> Result<Node, SyntaxError> {
    let mut options = serde_saphyr::options::Options::default();
    // YAML 1.2 core typing, like yaml.v3: `yes` stays a string, `0755` keeps its spelling so we
    // can apply yaml.v3's own number rules below.
    options.strict_booleans = true;
    options.leading_zero_numbers_as_strings = true;
    options.underscored_numbers_as_strings = true;
    options.duplicate_keys = serde_saphyr::options::DuplicateKeyPolicy::Error;
    options.budget = Some(budget());
    match serde_saphyr::from_str_with_options::<Option<Spanned<Raw>>>(text, options) {
        Ok(Some(raw)) => Ok(to_node(file, text, raw)),
        Ok(None) => Ok(Node::new(
            Value::Scalar(Scalar::Null),
            Span::new(file, 0, 0),
        )),
        Err(err) => Err(syntax_error(file, text, &err)),
    }
}

/// Most YAML nodes a file may hold, aliases expanded: a stack of 100,000 services, or a
/// service with 100,000-entry lists, is a few hundred thousand.
pub const MAX_NODES: usize = 1_000_000;

/// serde-saphyr's limits: room for the nodes of big stacks, and less than its default for what
/// aliases replay (a legitimate file reuses a few small anchors), so an alias bomb stops
/// within a second.
fn budget() -> serde_saphyr::budget::Budget {
    let mut budget = serde_saphyr::budget::Budget::default();
    budget.max_nodes = MAX_NODES;
    budget.max_events = 2 * MAX_NODES;
    budget.max_recorded_anchor_events = 250_000;
    budget
}

/// A parser limit said in the user's terms (the library prints its own debug form).
fn budget_message(breach: &BudgetBreach) -> String {
    let budget = budget();
    match breach {
        BudgetBreach::Nodes { .. } | BudgetBreach::Events { .. } => {
            format!("the file expands to more than {MAX_NODES} nodes (YAML aliases?)")
        }
        BudgetBreach::ScalarBytes { .. } | BudgetBreach::RecordedAnchorBytes { .. } => format!(
            "the file's values expand to more than {} MiB of text (YAML aliases?)",
            budget.max_total_scalar_bytes >> 20
        ),
        BudgetBreach::Aliases { .. }
        | BudgetBreach::RecordedAnchorEvents { .. }
        | BudgetBreach::AliasAnchorRatio { .. } => {
            "the file uses its YAML aliases (`*name`) too many times".to_owned()
        }
        BudgetBreach::Anchors { .. } => format!(
            "the file defines more than {} YAML anchors (`&name`)",
            budget.max_anchors
        ),
        BudgetBreach::Depth { .. } => {
            format!("the file nests more than {} levels deep", budget.max_depth)
        }
        BudgetBreach::Documents { .. } => format!(
            "the file holds more than {} YAML documents",
            budget.max_documents
        ),
        BudgetBreach::MergeKeys { .. } => format!(
            "the file uses more than {} merge keys (`<<`)",
            budget.max_merge_keys
        ),
        _ => "the file is too large or too deeply aliased to read".to_owned(),
    }
}

/// The parser limit behind `err`, which may come wrapped (in a snippet, or an alias's place).
fn budget_breach(err: &serde_saphyr::Error) -> Option<&BudgetBreach> {
    let mut current: &(dyn std::error::Error + 'static) = err;
    loop {
        let inner = current
            .downcast_ref::<serde_saphyr::Error>()
            .map(serde_saphyr::Error::without_snippet);
        if let Some(serde_saphyr::Error::Budget { breach, .. }) = inner {
            return Some(breach);
        }
        current = current.source()?;
    }
}

fn syntax_error(file: FileId, text: &str, err: &serde_saphyr::Error) -> SyntaxError {
    let span = err
        .location()
        .map_or(Span::new(file, 0, 0), |loc| span_of(file, text, &loc));
    if let Some(breach) = budget_breach(err) {
        let message = budget_message(breach);
        return SyntaxError { message, span };
    }
    if let serde_saphyr::Error::NonFiniteFloat { value, .. } = err.without_snippet() {
        // `1e400` overflows to infinity; `.inf` and `.nan` are infinity and NaN as written.
        let message = if value.trim_start_matches(['+', '-']).starts_with('.') {
            format!("`{value}` is not a finite number; the Engine API takes finite numbers only")
        } else {
            format!("`{value}` is out of range for a number")
        };
        return SyntaxError { message, span };
    }
    let full = err.without_snippet().to_string();
    // The library appends "at line X column Y"; our renderer shows the place itself.
    let message = full
        .split(" at line ")
        .next()
        .unwrap_or(&full)
        .trim()
        .to_string();
    SyntaxError { message, span }
}

/// Untyped value as serde-saphyr hands it over, spans attached.
enum Raw {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<String>, Spanned<Raw>)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        Raw::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::Int(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Raw, E> {
        Ok(Raw::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Raw, E> {
        i128::try_from(v)
            .map(Raw::Int)
            .map_err(|_| E::custom("integer out of range"))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            entries.push((key, map.next_value()?));
        }
        Ok(Raw::Map(entries))
    }
}

fn span_of(file: FileId, text: &str, loc: &Location) -> Span {
    let span = loc.span();
    let offset = span
        .byte_offset()
        .map_or_else(
            || offset_of_line_col(text, loc.line() as usize, loc.column() as usize),
            |o| o as usize,
        )
        .min(text.len());
    let len = span
        .byte_len()
        .map_or(0, |l| l as usize)
        .min(text.len() - offset);
    Span::new(file, offset, len)
}

fn to_node(file: FileId, text: &str, raw: Spanned<Raw>) -> Node {
    // Point at the text that holds the value (the anchor's definition for an alias).
    let span = span_of(file, text, &raw.defined);
    let source = text.get(span.offset..span.offset + span.len).unwrap_or("");
    let value = match raw.value {
        Raw::Seq(items) => Value::Seq(items.into_iter().map(|i| to_node(file, text, i)).collect()),
        Raw::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| {
                    let key = At::new(k.value, span_of(file, text, &k.referenced));
                    (key, to_node(file, text, v))
                })
                .collect(),
        ),
        Raw::Str(s) if is_quoted_or_block(source) => Value::Scalar(Scalar::Str(s)),
        Raw::Str(s) => Value::Scalar(resolve_plain(&s)),
        Raw::Null | Raw::Bool(_) | Raw::Int(_) | Raw::Float(_) if !source.is_empty() => {
            Value::Scalar(resolve_plain(source.trim()))
        }
        other => Value::Scalar(fallback(other)),
    };
    Node::new(value, span)
}

fn fallback(raw: Raw) -> Scalar {
    match raw {
        Raw::Bool(b) => Scalar::Bool(b),
        Raw::Int(i) => i64::try_from(i).map_or_else(|_| Scalar::Str(i.to_string()), Scalar::Int),
        Raw::Float(f) => Scalar::Float(f),
        Raw::Str(s) => Scalar::Str(s),
        Raw::Null | Raw::Seq(_) | Raw::Map(_) => Scalar::Null,
    }
}

fn is_quoted_or_block(source: &str) -> bool {
    // A tagged scalar (`!!str 1`) keeps the type serde-saphyr gave it.
    matches!(source.chars().next(), Some('"' | '\'' | '|' | '>' | '!'))
}

/// yaml.v3's resolution of an untagged plain scalar.
#[must_use]
pub fn resolve_plain(s: &str) -> Scalar {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        _ => {}
    }
    let first = s.chars().next().unwrap_or(' ');
    if !(first.is_ascii_digit() || matches!(first, '+' | '-' | '.')) {
        return Scalar::Str(s.to_owned());
    }
    let plain: String = s.chars().filter(|c| *c != '_').collect();
    if let Some(i) = parse_go_int(&plain) {
        return Scalar::Int(i);
    }
    if is_yaml_float(&plain) {
        if let Ok(f) = plain.parse::<f64>() {
            return Scalar::Float(f);
        }
    }
    Scalar::Str(s.to_owned())
}

/// Go's `strconv.ParseInt(s, 0, 64)`: sign, then `0x`/`0o`/`0b`/leading-`0` octal or decimal.
fn parse_go_int(s: &str) -> Option<i64> {
    let (negative, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = digits.to_ascii_lowercase();
    let (radix, body) = if let Some(rest) = lower.strip_prefix("0x") {
        (16, rest)
    } else if let Some(rest) = lower.strip_prefix("0o") {
        (8, rest)
    } else if let Some(rest) = lower.strip_prefix("0b") {
        (2, rest)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(body, radix).ok()?;
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// yaml.v3's float pattern: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => digits(frac),
        Some((int, frac)) => digits(int) && (frac.is_empty() || digits(frac)),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Node {
        parse(FileId(0), text).expect("parses")
    }

    #[test]
    fn plain_scalars_are_typed_like_yaml_v3() {
        let cases: &[(&str, Scalar)] = &[
            ("~", Scalar::Null),
            ("", Scalar::Null),
            ("true", Scalar::Bool(true)),
            ("yes", Scalar::Str("yes".into())),
            ("on", Scalar::Str("on".into())),
            ("8080", Scalar::Int(8080)),
            ("0440", Scalar::Int(0o440)),
            ("0o17", Scalar::Int(15)),
            ("0x1F", Scalar::Int(31)),
            ("1_000", Scalar::Int(1000)),
            ("-3", Scalar::Int(-3)),
            ("1.10", Scalar::Float(1.1)),
            ("1e3", Scalar::Float(1000.0)),
            (".5", Scalar::Float(0.5)),
            ("3.8", Scalar::Float(3.8)),
            // Not octal, but yaml.v3 then reads it as a float.
            ("08", Scalar::Float(8.0)),
            ("1m30s", Scalar::Str("1m30s".into())),
            ("80:80", Scalar::Str("80:80".into())),
            ("-", Scalar::Str("-".into())),
        ];
        for (text, want) in cases {
            assert_eq!(&resolve_plain(text), want, "{text:?}");
        }
    }

    #[test]
    fn quoted_scalars_stay_strings_and_plain_ones_are_typed() {
        let node = parse_str("a: \"8080\"\nb: 8080\nc: 'true'\nd: 0440\ne:\n");
        let get = |k| node.get(k).unwrap().value.clone();
        assert_eq!(get("a"), Value::Scalar(Scalar::Str("8080".into())));
        assert_eq!(get("b"), Value::Scalar(Scalar::Int(8080)));
        assert_eq!(get("c"), Value::Scalar(Scalar::Str("true".into())));
        assert_eq!(get("d"), Value::Scalar(Scalar::Int(288)));
        assert_eq!(get("e"), Value::Scalar(Scalar::Null));
    }

    #[test]
    fn merge_keys_and_aliases_point_at_the_anchor_definition() {
        let text = "x: &d\n  image: app\nweb:\n  <<: *d\n  replicas: 2\n";
        let node = parse_str(text);
        let image = node.get("web").unwrap().get("image").unwrap();
        assert_eq!(image.as_str(), Some("app"));
        assert_eq!(
            &text[image.span.offset..image.span.offset + image.span.len],
            "app"
        );
    }

    #[test]
    fn duplicate_keys_are_syntax_errors() {
        let err = parse(FileId(0), "a: 1\na: 2\n").unwrap_err();
        assert!(
            err.message.to_lowercase().contains("duplicate"),
            "{}",
            err.message
        );
        assert_eq!(err.span.offset, 5);
    }
}
