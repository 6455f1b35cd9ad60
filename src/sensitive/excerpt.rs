//! Source text with the values of sensitive keys masked, for the excerpts error messages show.
//!
//! Works line by line on stack files and variable files alike, without parsing them (the file
//! may be the broken one being reported). A line is a key line when, after its indentation, any
//! `- ` list markers, an `export ` or a `#` comment mark, it reads `NAME: value`, `NAME=value`
//! or `"NAME=value"`. When NAME is sensitive, the value to the end of the line is replaced by
//! [`MASK`], and so are the lines that continue it: the lines of a block scalar (`|`, `>`) or
//! of a plain value indented deeper than the key, and the lines up to the closing quote of a
//! quoted value. In other lines, `NAME=value` pairs with a sensitive NAME are masked where
//! they stand (`command: [serve, --api-key=k]`).

use super::{MASK, is_sensitive_name};

/// Masked text, and where its parts moved so that error positions can follow.
#[derive(Debug)]
pub struct MaskedSource {
    pub text: String,
    /// Replaced byte ranges: (start in the original, end in the original, end in `text`).
    cuts: Vec<(usize, usize, usize)>,
}

impl MaskedSource {
    /// The range in [`Self::text`] of `len` bytes at `offset` in the original: a range that
    /// starts or ends in a masked value covers its mask.
    #[must_use]
    pub fn span(&self, offset: usize, len: usize) -> (usize, usize) {
        let start = self.map(offset, false);
        let end = self.map(offset + len, true);
        (start, end.saturating_sub(start))
    }

    fn map(&self, offset: usize, is_end: bool) -> usize {
        let mut moved = offset;
        for &(start, end, new_end) in &self.cuts {
            let new_start = new_end - MASK.len();
            if offset >= end {
                moved = offset - end + new_end;
            } else if offset > start || (offset == start && is_end) {
                return if is_end { new_end } else { new_start };
            } else {
                break;
            }
        }
        moved
    }
}

/// `text` with the values of sensitive keys masked (see the module documentation).
#[must_use]
pub fn mask(text: &str) -> MaskedSource {
    let mut out = MaskedSource {
        text: String::with_capacity(text.len()),
        cuts: Vec::new(),
    };
    let mut continuation: Option<Continuation> = None;
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let hidden = match continuation.take() {
            Some(rule) if rule.continues(body) => {
                continuation = rule.after(body);
                Some(indent(body))
            }
            _ => key_value(body).map(|(value_start, rule)| {
                continuation = rule;
                value_start
            }),
        };
        let ranges = match hidden {
            Some(at) if at < body.len() => std::iter::once(at..body.len()).collect(),
            Some(_) => Vec::new(),
            // `NAME=value` inside a line of other text: `command: [serve, --api-key=k]`.
            None => super::sensitive_assignments(body),
        };
        let mut kept = 0;
        for range in ranges {
            out.text.push_str(&line[kept..range.start]);
            out.text.push_str(MASK);
            out.cuts.push((
                line_start + range.start,
                line_start + range.end,
                out.text.len(),
            ));
            kept = range.end;
        }
        out.text.push_str(&line[kept..]);
        line_start += line.len();
    }
    out
}

/// Which lines after a masked one still belong to its value.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Continuation {
    /// Blank lines and lines indented deeper than this many bytes.
    Deeper(usize),
    /// Lines indented deeper than this many bytes that are not keys or list items of their
    /// own: the value of a key that ends its line (`KEY:` then the value below it).
    Below(usize),
    /// Every line up to and including the one that closes this quote.
    Quoted(char),
}

impl Continuation {
    fn continues(self, line: &str) -> bool {
        match self {
            Self::Deeper(column) => line.trim().is_empty() || indent(line) > column,
            Self::Below(column) => {
                let at = indent(line);
                let rest = &line[at..];
                at > column && !rest.starts_with(['-', '#']) && name_at(line, at).is_none()
            }
            Self::Quoted(_) => true,
        }
    }

    /// The rule for the line after `line`, which this rule masked.
    fn after(self, line: &str) -> Option<Self> {
        match self {
            Self::Deeper(_) | Self::Below(_) => Some(self),
            Self::Quoted(quote) => (!closes(line, quote)).then_some(self),
        }
    }
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// For a line `NAME: value` or `NAME=value` whose NAME is sensitive: where the value starts,
/// and how it may continue on the next lines.
fn key_value(line: &str) -> Option<(usize, Option<Continuation>)> {
    let column = indent(line);
    let mut at = column;
    let mut commented = false;
    loop {
        let rest = &line[at..];
        if let Some(after) = rest.strip_prefix('#') {
            commented = true;
            at = line.len() - after.trim_start().len();
        } else if rest.starts_with("- ") || rest.starts_with("-\t") || rest == "-" {
            at = line.len() - rest[1..].trim_start().len();
        } else if let Some(after) = rest.strip_prefix("export ") {
            at = line.len() - after.trim_start().len();
        } else {
            break;
        }
    }
    let (name, separator_at) = name_at(line, at)?;
    if !is_sensitive_name(name) {
        return None;
    }
    let after = &line[separator_at + 1..];
    let value_start = line.len() - after.trim_start().len();
    let value = line[value_start..].trim_end();
    let rule = if commented {
        None
    } else if value.is_empty() {
        Some(Continuation::Below(column))
    } else if let Some(quote) = value.chars().next().filter(|c| matches!(c, '"' | '\'')) {
        (!closes(&value[1..], quote)).then_some(Continuation::Quoted(quote))
    } else {
        Some(Continuation::Deeper(column))
    };
    Some((value_start, rule))
}

/// The name starting at `at` and the offset of the `:` or `=` after it. A name may be quoted
/// (`"NAME": v`), or sit inside a quoted item (`- "NAME=v"`).
fn name_at(line: &str, at: usize) -> Option<(&str, usize)> {
    let rest = &line[at..];
    if let Some(quote) = rest.chars().next().filter(|c| matches!(c, '"' | '\'')) {
        let inner = &rest[1..];
        let close = inner.find(quote);
        let equals = inner.find('=');
        return match (close, equals) {
            // `"NAME=value"`: an assignment inside a quoted list item.
            (None, Some(e)) => Some((&inner[..e], at + 1 + e)),
            (Some(c), Some(e)) if e < c => Some((&inner[..e], at + 1 + e)),
            // `"NAME": value`: a quoted key.
            (Some(c), _) => {
                let after = &inner[c + 1..];
                let gap = after.len() - after.trim_start().len();
                let sep = after[gap..].chars().next()?;
                (sep == ':' || sep == '=').then_some((&inner[..c], at + 2 + c + gap))
            }
            (None, None) => None,
        };
    }
    let end =
        rest.find(|c: char| c.is_whitespace() || matches!(c, ':' | '=' | '#' | '"' | '\''))?;
    let name = &rest[..end];
    let after = &rest[end..];
    let gap = after.len() - after.trim_start().len();
    let after = &after[gap..];
    let is_separator = after.starts_with('=')
        || (after.starts_with(':') && after[1..].chars().next().is_none_or(char::is_whitespace));
    (!name.is_empty() && is_separator).then_some((name, at + end + gap))
}

/// Whether `text` (after an opening quote) holds its closing quote: `\"` escapes a double
/// quote; a single quote is escaped by doubling it (YAML) or by `\'` (dotenv).
fn closes(text: &str, quote: char) -> bool {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            chars.next();
        } else if c == quote {
            if quote == '\'' && chars.peek() == Some(&'\'') {
                chars.next();
            } else {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row: source text, and the same text as an excerpt shows it (`?` stands for the mask).
    #[test]
    fn masked_lines() {
        let cases: &[(&str, &str)] = &[
            ("DB_PASSWORD: hunter2\n", "DB_PASSWORD: ?\n"),
            (
                "  DB_PASSWORD:   hunter2  # c\r\n",
                "  DB_PASSWORD:   ?\r\n",
            ),
            ("LOG_LEVEL: debug\n", "LOG_LEVEL: debug\n"),
            (
                "- DB_PASSWORD=hunter2\n- MODE=x\n",
                "- DB_PASSWORD=?\n- MODE=x\n",
            ),
            ("  - \"API_KEY=hunter2\"\n", "  - \"API_KEY=?\n"),
            ("\"api_key\": 'hunter2'\n", "\"api_key\": ?\n"),
            ("com.example.token: hunter2\n", "com.example.token: ?\n"),
            ("export TOKEN=hunter2\n", "export TOKEN=?\n"),
            ("TOKEN = hunter2\n", "TOKEN = ?\n"),
            ("# DB_PASSWORD: old\nA: b\n", "# DB_PASSWORD: ?\nA: b\n"),
            // The key alone: the children are keys of their own (a `secrets:` section).
            (
                "secrets:\n  db_password:\n    file: ./pw\n",
                "secrets:\n  db_password:\n    file: ./pw\n",
            ),
            // Continuations: block scalars, deeper plain lines, quoted values.
            (
                "  PRIVATE_KEY: |\n    line1\n\n    line2\n  OTHER: x\n",
                "  PRIVATE_KEY: ?\n    ?\n\n    ?\n  OTHER: x\n",
            ),
            (
                "  PASS: a\n    b\n  OTHER: x\n",
                "  PASS: ?\n    ?\n  OTHER: x\n",
            ),
            (
                "PRIVATE_KEY=\"-----BEGIN\nabc\n-----END\"\nA=1\n",
                "PRIVATE_KEY=?\n?\n?\nA=1\n",
            ),
            ("TOKEN='it''s\nmore'\nA: 1\n", "TOKEN=?\n?\nA: 1\n"),
            // Not key lines.
            ("image: nginx:1.27\n", "image: nginx:1.27\n"),
            // `NAME=value` anywhere else in a line.
            ("command: --password=x\n", "command: --password=?\n"),
            (
                "    command: [\"serve\", \"--api-key=k1\", \"--port=80\"]\n",
                "    command: [\"serve\", \"--api-key=?\", \"--port=80\"]\n",
            ),
            ("- token\n", "- token\n"),
            ("TOKEN:\n  hunter2\nA: 1\n", "TOKEN:\n  ?\nA: 1\n"),
            ("http://token:x@host\n", "http://token:x@host\n"),
        ];
        for &(text, want) in cases {
            let got = mask(text).text.replace(MASK, "?");
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn positions_follow_the_mask() {
        let text = "A: 1\nDB_PASSWORD: hunter2\nB: ${X\n";
        let masked = mask(text);
        let shift = MASK.len() as isize - "hunter2".len() as isize;
        // Before the masked value: unchanged.
        assert_eq!(masked.span(0, 1), (0, 1));
        // After it: moved by the difference in length.
        let b = text.find("B:").unwrap();
        let (start, len) = masked.span(b, 2);
        assert_eq!((start as isize - b as isize, len), (shift, 2));
        assert_eq!(&masked.text[start..start + len], "B:");
        // Inside it: the whole mask.
        let inside = text.find("nter").unwrap();
        let (start, len) = masked.span(inside, 2);
        assert_eq!(&masked.text[start..start + len], MASK);
    }
}
