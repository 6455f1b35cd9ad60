//! The YAML document as a tree of nodes, each carrying the byte span it came from.

use std::fmt;

/// Index of a source file in [`crate::load::Sources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: FileId,
    pub offset: usize,
    pub len: usize,
}

impl Span {
    #[must_use]
    pub const fn new(file: FileId, offset: usize, len: usize) -> Self {
        Self { file, offset, len }
    }

    /// A sub-range, relative to the start of this span (for errors inside a scalar).
    #[must_use]
    pub fn sub(self, offset: usize, len: usize) -> Self {
        let offset = offset.min(self.len);
        Self::new(self.file, self.offset + offset, len.min(self.len - offset))
    }
}

/// A value with the place it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct At<T> {
    pub value: T,
    pub span: Span,
}

impl<T> At<T> {
    pub const fn new(value: T, span: Span) -> Self {
        Self { value, span }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> At<U> {
        At::new(f(self.value), self.span)
    }
}

impl<T: fmt::Display> fmt::Display for At<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

/// How a scalar was written: a quoted or block scalar is always a string; a plain one is typed
/// by its text, the way docker's YAML library (yaml.v3) resolves it.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<(At<String>, Node)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
    /// Set when `${VAR}` interpolation changed this scalar; docker casts only such values.
    pub interpolated: bool,
}

impl Node {
    #[must_use]
    pub const fn new(value: Value, span: Span) -> Self {
        Self {
            value,
            span,
            interpolated: false,
        }
    }

    #[must_use]
    pub fn as_map(&self) -> Option<&[(At<String>, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(Scalar::Str(s)) => Some(s),
            _ => None,
        }
    }

    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Scalar(Scalar::Null))
    }

    /// The entry for `key` if this node is a mapping that has it.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.value == key)
            .map(|(_, v)| v)
    }

    /// The JSON-schema style name of this node's type, for "must be a string" messages.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match &self.value {
            Value::Scalar(Scalar::Null) => "null",
            Value::Scalar(Scalar::Bool(_)) => "boolean",
            Value::Scalar(Scalar::Int(_)) => "integer",
            Value::Scalar(Scalar::Float(_)) => "number",
            Value::Scalar(Scalar::Str(_)) => "string",
            Value::Seq(_) => "array",
            Value::Map(_) => "mapping",
        }
    }

    /// Scalars rendered as Go's `fmt.Sprint` renders the decoded value (docker stringifies
    /// numbers in environment, labels and options this way).
    #[must_use]
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Scalar(Scalar::Str(s)) => Some(s.clone()),
            Value::Scalar(Scalar::Int(i)) => Some(i.to_string()),
            Value::Scalar(Scalar::Float(f)) => Some(go_float(*f)),
            Value::Scalar(Scalar::Bool(b)) => Some(b.to_string()),
            Value::Scalar(Scalar::Null) | Value::Seq(_) | Value::Map(_) => None,
        }
    }
}

/// Go's `%v` for a float64: shortest digits, exponent form when the exponent is < -4 or >= 6
/// (strconv's `'g'` with shortest precision).
#[must_use]
pub fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        return format!("{f}");
    }
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.abs())
}

#[cfg(test)]
mod tests {
    use super::go_float;

    #[test]
    fn go_float_matches_fmt_sprint() {
        for (f, want) in [
            (1.1, "1.1"),
            (100.0, "100"),
            (1_000_000.0, "1e+06"),
            (123_456.0, "123456"),
            (0.5, "0.5"),
            (1e21, "1e+21"),
            (123_456_789.0, "1.23456789e+08"),
            (0.00001, "1e-05"),
        ] {
            assert_eq!(go_float(f), want, "{f}");
        }
    }
}
