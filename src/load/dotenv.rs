//! Parser for the `.env` file stackctl reads interpolation variables from (compose-go's dialect).
//!
//! `docker stack deploy` ignores `.env`; stackctl follows `docker compose`, whose parser is
//! compose-go's `dotenv` package. What it accepts, and so what this module accepts:
//!
//! * blank lines and `#` comment lines; an optional `export ` prefix;
//! * `KEY=value` or the YAML-like `KEY: value`; names of letters, digits, `_`, `.`, `-`, `[`, `]`;
//! * unquoted values: up to the end of the line, cut at the first ` #`, trailing whitespace
//!   trimmed, then variables expanded;
//! * `'single'` quoted values: literal (only `\'` is unescaped), may span lines;
//! * `"double"` quoted values: may span lines; escapes `\a \b \f \n \r \t \v \\ \" \$` and octal
//!   `\0NNN` are decoded first, then variables expanded (`\$` stays a literal `$`);
//! * a bare `KEY` inherits its value, and is dropped when there is none;
//! * after a closing quote the next statement may start on the same line (`A='x' B='y'`).
//!
//! Expansion knows `$$`, `$NAME`, `${NAME}` and `${NAME` + one of `:-` `-` `:+` `+` `:?` `?` +
//! `word}`, where `word` is itself expanded (only when used). A `$` that starts none of these
//! is literal, but a `${` that is not a valid reference is an error. Variables resolve from
//! `lookup` (the process environment) first and from earlier keys of the file second: compose
//! does it in that order because the process environment also wins when the two are merged, so
//! a reference sees the value that will finally be in effect.
//!
//! Deliberate differences from compose-go, all on inputs compose-go mishandles:
//! * a bare `KEY` on the last line without a newline is inherited like any other (compose-go
//!   stores it under the empty name and never looks it up);
//! * an entry with an empty name (`=value`) is dropped (compose-go stores it under `""`);
//! * a lone `export ` at the very end of the file is ignored (compose-go fails with "zero length
//!   string");
//! * a bare `TWO WORDS` on an unterminated last line is an error, as it is on any other line
//!   (compose-go, per the first point, never looks at it);
//! * letters in keys are Unicode `Alphabetic` rather than Go's category `L`, which adds a few
//!   combining marks; names in `$` references are ASCII (compose-go's case-insensitive pattern
//!   also admits `ſ` and the Kelvin sign `K`).

use std::fmt;

/// A malformed `.env` file. `line` and `column` are 1-based and point at the offending
/// character (columns count characters, not bytes); `Display` shows the message only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DotenvError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for DotenvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DotenvError {}

/// Parses a `.env` file into `(key, value)` pairs in file order. Later duplicates are kept, so
/// inserting the pairs into a map in order makes the last one win, as in compose.
///
/// # Errors
///
/// The first problem found: a bad character in a name, a name with a space, an unterminated
/// quoted value, a malformed `${…}` reference, or a failed `${NAME:?message}` check.
pub fn parse_dotenv(
    content: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, DotenvError> {
    // Editors on Windows like to prepend a BOM; compose strips it from the file's start.
    let src = content.strip_prefix('\u{FEFF}').unwrap_or(content);
    let mut parser = Parser {
        src,
        pos: 0,
        lookup,
        pairs: Vec::new(),
        quote_closed_at: None,
    };
    parser.run()?;
    Ok(parser.pairs)
}

/// compose-go's `isSpace`: whitespace that does not end a line.
fn is_inline_space(c: char) -> bool {
    matches!(c, '\t' | '\x0B' | '\x0C' | '\r' | ' ' | '\u{85}' | '\u{A0}')
}

fn is_name_char(c: char) -> bool {
    matches!(c, '_' | '.' | '-' | '[' | ']') || c.is_alphabetic() || c.is_numeric()
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    pairs: Vec<(String, String)>,
    /// Byte offset of the last closing quote, to explain errors in text that follows it.
    quote_closed_at: Option<usize>,
}

/// How a key ended.
enum KeyEnd {
    /// `=` or `:`: a value follows.
    Value,
    /// End of line or file: inherit the value.
    Inherited,
}

impl Parser<'_> {
    fn run(&mut self) -> Result<(), DotenvError> {
        loop {
            self.skip_while(char::is_whitespace);
            let rest = self.rest();
            if rest.is_empty() {
                return Ok(());
            }
            if rest.starts_with('#') {
                self.pos += rest.find('\n').unwrap_or(rest.len());
                continue;
            }
            self.statement()?;
        }
    }

    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    fn skip_while(&mut self, pred: impl Fn(char) -> bool) {
        let rest = self.rest();
        self.pos += rest.find(|c: char| !pred(c)).unwrap_or(rest.len());
    }

    /// One `[export] KEY[=value]` statement, starting at a non-space character.
    fn statement(&mut self) -> Result<(), DotenvError> {
        let rest = self.rest();
        // compose-go tests `^export\s+`, where Go's `\s` is ASCII whitespace without `\v`.
        if rest
            .strip_prefix("export")
            .is_some_and(|r| r.starts_with(['\t', '\n', '\x0C', '\r', ' ']))
        {
            self.pos += "export".len();
            self.skip_while(is_inline_space);
            if self.rest().is_empty() || self.rest().starts_with('\n') {
                // A lone `export` names nothing; compose-go ignores it as well.
                return Ok(());
            }
        }
        let key_start = self.pos;
        let (key_end, end) = self.scan_key()?;
        let key = self.src[key_start..key_end].trim_end();
        if key.contains(' ') {
            // Without `=` or `:` the "name" is the whole line, perhaps `NAME value`: only its
            // first word is shown, the rest may be a secret.
            let shown = match end {
                KeyEnd::Value => key.to_owned(),
                KeyEnd::Inherited => format!("{} …", key.split(' ').next().unwrap_or_default()),
            };
            return Err(self.error_at(
                key_start,
                format!(
                    "variable name {shown:?} contains a space; remove it, or join the words with `_`"
                ),
            ));
        }
        let value = match end {
            KeyEnd::Inherited => self.resolve(key),
            KeyEnd::Value => {
                self.skip_while(is_inline_space);
                Some(self.value(key)?)
            }
        };
        // An empty name can never be referenced; compose-go keeps it under "" to no effect.
        if let Some(value) = value.filter(|_| !key.is_empty()) {
            self.pairs.push((key.to_owned(), value));
        }
        Ok(())
    }

    /// Scans a name up to `=`, `:`, a line break or the end, leaving `pos` after the terminator.
    /// Inline spaces are let through here and rejected later, as compose-go does, so that
    /// `KEY = value` works while `TWO WORDS=x` gets a precise message.
    fn scan_key(&mut self) -> Result<(usize, KeyEnd), DotenvError> {
        let start = self.pos;
        for (i, c) in self.rest().char_indices() {
            let at = start + i;
            match c {
                '=' | ':' => {
                    self.pos = at + 1;
                    return Ok((at, KeyEnd::Value));
                }
                '\n' => {
                    self.pos = at + 1;
                    return Ok((at, KeyEnd::Inherited));
                }
                c if is_inline_space(c) || is_name_char(c) => {}
                c => return Err(self.bad_name_char(start, at, c)),
            }
        }
        self.pos = self.src.len();
        Ok((self.src.len(), KeyEnd::Inherited))
    }

    fn bad_name_char(&self, start: usize, at: usize, c: char) -> DotenvError {
        // `A='it's'` ends the value at the second quote and reads `s'` as the next name.
        let after_quote = self
            .quote_closed_at
            .is_some_and(|q| !self.src[q..start].contains('\n'));
        // What was read as a name may be part of a value (`NAME value`, or text after a stray
        // quote), so only the name up to the first space is shown, and nothing after a quote.
        let name = &self.src[start..at];
        let first = name.split(is_inline_space).next().unwrap_or_default();
        let place = if after_quote {
            "in the text after a closing quote".to_owned()
        } else if first.is_empty() {
            "at the start of a variable name".to_owned()
        } else if first.len() < name.len() {
            format!("after variable name {first:?} and a space")
        } else {
            format!("in variable name {first:?}")
        };
        let mut message = format!(
            "unexpected character {c:?} {place}; a name may contain only letters, digits, `_`, \
             `.`, `-`, `[` and `]`, followed by `=` and the value"
        );
        if after_quote {
            message.push_str(
                " (this text follows a closing quote on the same line: if the quote was meant \
                 to be part of the value, escape it with `\\`)",
            );
        }
        self.error_at(at, message)
    }

    /// The value after `=`/`:` (inline spaces already skipped); leaves `pos` after it.
    fn value(&mut self, key: &str) -> Result<String, DotenvError> {
        let start = self.pos;
        let src = self.src;
        let rest = &src[start..];
        if let Some(quote @ ('"' | '\'')) = rest.chars().next() {
            return self.quoted_value(key, quote);
        }
        let line_len = rest.find('\n').unwrap_or(rest.len());
        self.pos += (line_len + 1).min(rest.len());
        let line = &rest[..line_len];
        // Only a `#` after a space starts a comment: `a#b` and `#tag` are values.
        let value = line.split_once(" #").map_or(line, |(v, _)| v).trim_end();
        let origin: Vec<usize> = (start..=start + value.len()).collect();
        self.expand(value, &origin)
    }

    /// A quoted value starting at the opening `quote`. A backslash escapes the quote character;
    /// every other backslash pair is kept for [`decode_escapes`] (double quotes) or left as is
    /// (single quotes).
    fn quoted_value(&mut self, key: &str, quote: char) -> Result<String, DotenvError> {
        let open = self.pos;
        let body_start = open + 1;
        let mut raw = String::new();
        // Source offset of every byte of `raw`, so that expansion errors point into the file.
        let mut origin = Vec::new();
        let mut escaped = false;
        for (i, c) in self.src[body_start..].char_indices() {
            let at = body_start + i;
            if c == quote && !escaped {
                self.pos = at + 1;
                self.quote_closed_at = Some(at);
                if quote == '\'' {
                    return Ok(raw);
                }
                origin.push(at);
                let (decoded, decoded_origin) = decode_escapes(&raw, &origin);
                return self.expand(&decoded, &decoded_origin);
            }
            if c == '\\' && !escaped {
                escaped = true;
                continue;
            }
            if escaped && c != quote {
                raw.push('\\');
                origin.push(at - 1);
            }
            escaped = false;
            raw.push(c);
            origin.extend(std::iter::repeat_n(at, c.len_utf8()));
        }
        let kind = if quote == '"' { "double" } else { "single" };
        Err(self.error_at(
            open,
            format!(
                "unterminated {kind}-quoted value for {key:?}: add the closing `{quote}` (a value \
                 may span several lines, but must be closed), or escape the quote with `\\{quote}` \
                 if it is part of the value"
            ),
        ))
    }

    /// Expands `$` references in `text`; `origin[i]` is the source offset of `text`'s byte `i`
    /// (with one extra entry for the end).
    fn expand(&self, text: &str, origin: &[usize]) -> Result<String, DotenvError> {
        self.expand_range(text, 0, text.len(), origin)
    }

    /// Expands `text[start..end]`; nested words are expanded in place so offsets stay valid.
    fn expand_range(
        &self,
        text: &str,
        start: usize,
        end: usize,
        origin: &[usize],
    ) -> Result<String, DotenvError> {
        let mut out = String::new();
        let mut i = start;
        while let Some(rel) = text[i..end].find('$') {
            let dollar = i + rel;
            out.push_str(&text[i..dollar]);
            let after = &text[dollar + 1..end];
            let name_len = name_len(after);
            if after.starts_with('$') {
                out.push('$');
                i = dollar + 2;
            } else if name_len > 0 {
                let name = &after[..name_len];
                out.push_str(&self.resolve(name).unwrap_or_default());
                i = dollar + 1 + name_len;
            } else if after.starts_with('{') {
                let (value, next) = self.braced(text, dollar, end, origin)?;
                out.push_str(&value);
                i = next;
            } else {
                // compose-go's pattern needs `$`, a name or `{` after a `$`; otherwise the `$`
                // is plain text (so `pa$1` or a trailing `$` need no escaping).
                out.push('$');
                i = dollar + 1;
            }
        }
        out.push_str(&text[i..end]);
        Ok(out)
    }

    /// Evaluates the `${…}` whose `$` is at `dollar`; returns its value and the offset after it.
    fn braced(
        &self,
        text: &str,
        dollar: usize,
        end: usize,
        origin: &[usize],
    ) -> Result<(String, usize), DotenvError> {
        let name_start = dollar + 2;
        let name = &text[name_start..name_start + name_len(&text[name_start..end])];
        let after_name = name_start + name.len();
        let tail = &text[after_name..end];
        if !name.is_empty() && tail.starts_with('}') {
            return Ok((self.resolve(name).unwrap_or_default(), after_name + 1));
        }
        let op = [":-", ":+", ":?", "-", "+", "?"]
            .into_iter()
            .find(|op| tail.starts_with(op));
        // The reference is not quoted in the message: it is part of a value, which may be a
        // secret (the excerpt shows it, masked when the name is sensitive).
        let (Some(op), false) = (op, name.is_empty()) else {
            return Err(self.error_at(
                origin[dollar],
                "invalid variable reference: expected `${NAME}` or `${NAME:-default}` (also `-`, \
                 `:+`, `+`, `:?`, `?`), where NAME is a letter or `_` followed by letters, digits \
                 or `_`; write `$$` for a literal `$`"
                    .to_owned(),
            ));
        };
        let word_start = after_name + op.len();
        let Some(close) = closing_brace(text, dollar, word_start, end) else {
            return Err(self.error_at(
                origin[dollar],
                format!("`${{{name}{op}` is never closed: add the matching `}}` on the same line"),
            ));
        };
        let value = self.resolve(name);
        let word = || self.expand_range(text, word_start, close, origin);
        // With a leading `:`, an empty value counts as absent.
        let (colon, kind) = match op.strip_prefix(':') {
            Some(kind) => (true, kind),
            None => (false, op),
        };
        let present = value.as_ref().is_some_and(|v| !(colon && v.is_empty()));
        let result = match (kind, present) {
            ("-" | "?", true) => value.unwrap_or_default(),
            ("-", false) | ("+", true) => word()?,
            // compose-go returns the (empty or missing) value itself here.
            ("+", false) => String::new(),
            _ => {
                // Errors in the message are reported, but it is shown as written: expanded,
                // it could print another variable's value.
                word()?;
                let reason = &text[word_start..close];
                let condition = if colon { "unset or empty" } else { "unset" };
                let mut message = format!("required variable {name} is missing a value");
                if !reason.is_empty() {
                    message = format!("{message}: {reason}");
                }
                return Err(self.error_at(
                    origin[dollar],
                    format!(
                        "{message} (`${{{name}{op}…}}` fails when {name} is {condition}; set it \
                         in the environment or earlier in this file)"
                    ),
                ));
            }
        };
        Ok((result, close + 1))
    }

    /// A variable's value: the process environment first, then the latest earlier entry.
    fn resolve(&self, name: &str) -> Option<String> {
        (self.lookup)(name).or_else(|| {
            self.pairs
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    fn error_at(&self, offset: usize, message: String) -> DotenvError {
        let before = &self.src[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        DotenvError {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
            message,
        }
    }
}

/// Length of the `[_A-Za-z][_A-Za-z0-9]*` name at the start of `text` (0 if none).
fn name_len(text: &str) -> usize {
    if !text.starts_with(|c: char| c == '_' || c.is_ascii_alphabetic()) {
        return 0;
    }
    text.find(|c: char| c != '_' && !c.is_ascii_alphanumeric())
        .unwrap_or(text.len())
}

/// Offset of the `}` closing the `${` at `dollar` (whose word starts at `word_start`), found
/// the way compose-go finds it: its regular expression first takes everything up to the *last*
/// `}` on the line (`.*` stops at a line break), then a brace counter that skips the character
/// after each `{` shortens that to the first balanced `}`; if the counter never balances, the
/// last `}` stays. So `${X:-{a}}` closes at the end, while `${X:-$${Y}` (unbalanced) also
/// closes at its only `}`, giving the default `$${Y`.
fn closing_brace(text: &str, dollar: usize, word_start: usize, end: usize) -> Option<usize> {
    let line = &text[dollar..end];
    let line = &line[..line.find('\n').unwrap_or(line.len())];
    let last = line.rfind('}').filter(|&i| dollar + i >= word_start)?;
    let bytes = &line.as_bytes()[..=last];
    let mut open = 0_usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            // `open` is at least 1 here: byte 1 is the `{` of `${`.
            b'}' => {
                open -= 1;
                if open == 0 {
                    return Some(dollar + i);
                }
            }
            b'{' => {
                open += 1;
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    Some(dollar + last)
}

/// Decodes the escapes of a double-quoted value the way compose-go does before expansion.
/// `\$` becomes `$$` so that expansion then yields a literal `$`; unknown escapes (and `\c`,
/// which compose-go matches but Go cannot decode) stay as written. `origin` maps `raw`'s bytes
/// (plus one end entry) to source offsets; the result carries the same kind of map.
fn decode_escapes(raw: &str, origin: &[usize]) -> (String, Vec<usize>) {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut out_origin = Vec::with_capacity(origin.len());
    let mut i = 0;
    while let Some(rel) = raw[i..].find('\\') {
        let slash = i + rel;
        out.push_str(&raw[i..slash]);
        out_origin.extend_from_slice(&origin[i..slash]);
        let simple = match bytes.get(slash + 1) {
            Some(b'a') => Some("\x07"),
            Some(b'b') => Some("\x08"),
            Some(b'f') => Some("\x0C"),
            Some(b'n') => Some("\n"),
            Some(b'r') => Some("\r"),
            Some(b't') => Some("\t"),
            Some(b'v') => Some("\x0B"),
            Some(b'\\') => Some("\\"),
            Some(b'"') => Some("\""),
            Some(b'$') => Some("$$"),
            _ => None,
        };
        let decoded = match simple {
            Some(text) => Some((text.to_owned(), 2)),
            None if bytes.get(slash + 1) == Some(&b'0') => Some(octal_escape(&bytes[slash + 2..])),
            None => None,
        };
        // An escape that does not decode keeps its backslash; what follows is read normally.
        let (text, len) = decoded.unwrap_or_else(|| ("\\".to_owned(), 1));
        out.push_str(&text);
        out_origin.extend(std::iter::repeat_n(origin[slash], text.len()));
        i = slash + len;
    }
    out.push_str(&raw[i..]);
    out_origin.extend_from_slice(&origin[i..]);
    (out, out_origin)
}

/// `\0` + up to three digits. compose-go rewrites the match to Go's `\NNN` and decodes that,
/// which works only for exactly three octal digits worth at most 255 (giving that code point:
/// `\0101` is `A`); otherwise it keeps the *rewritten* text, so the `0` is lost (`\01` gives
/// `\1`, a lone `\0` gives `\`). Returns the text and the escape's length.
fn octal_escape(after_zero: &[u8]) -> (String, usize) {
    let digits = after_zero
        .iter()
        .take(3)
        .take_while(|b| b.is_ascii_digit())
        .count();
    let taken = &after_zero[..digits];
    let len = 2 + digits;
    if digits == 3 && taken.iter().all(|b| *b <= b'7') {
        let value = taken.iter().fold(0_u32, |v, b| v * 8 + u32::from(b - b'0'));
        if let Some(c) = char::from_u32(value).filter(|_| value <= 255) {
            return (c.to_string(), len);
        }
    }
    // The digits are ASCII, so this slice is valid UTF-8.
    let kept = String::from_utf8_lossy(taken);
    (format!("\\{kept}"), len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/home/me".to_owned()),
            "EMPTY" => Some(String::new()),
            "SHELL_WINS" => Some("from-shell".to_owned()),
            _ => None,
        }
    }

    fn parse(content: &str) -> Result<Vec<(String, String)>, DotenvError> {
        parse_dotenv(content, &env)
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|&(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// Rows were checked against compose-go's `dotenv.GetEnvFromFile` behaviour (its parser and
    /// template package run in a Go harness, the environment of [`env`] as the process's).
    #[test]
    fn accepted_files() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("", &[]),
            ("A=1", &[("A", "1")]),
            ("A=1\nB=2\n", &[("A", "1"), ("B", "2")]),
            // Blank lines, comments, indentation, CRLF.
            (
                "# comment\n\n  # indented\n\tA=1\r\nB=2\r\n",
                &[("A", "1"), ("B", "2")],
            ),
            // `export` prefix and the YAML-like `KEY: value`.
            ("export A=1\nexport\tB=2", &[("A", "1"), ("B", "2")]),
            ("A: 1\nB:2", &[("A", "1"), ("B", "2")]),
            ("export=1", &[("export", "1")]),
            ("export\nA=1", &[("A", "1")]),
            // Spaces around `=` and trailing spaces are trimmed from unquoted values.
            ("A = spaced value  \t", &[("A", "spaced value")]),
            // Inline comments need a space before `#`.
            (
                "A=value # comment\nB=a#b\nC=#tag",
                &[("A", "value"), ("B", "a#b"), ("C", "#tag")],
            ),
            (
                "A= # looks like a comment",
                &[("A", "# looks like a comment")],
            ),
            ("A=", &[("A", "")]),
            // Names: dots, dashes, brackets, Unicode letters.
            ("a.b-c[0]=x\nárvíz=y", &[("a.b-c[0]", "x"), ("árvíz", "y")]),
            // Single quotes: literal, multi-line, `\'` only.
            ("A='${HOME} \\n $$'", &[("A", "${HOME} \\n $$")]),
            ("A='it\\'s'", &[("A", "it's")]),
            (
                "A='line 1\nline 2'\nB=3",
                &[("A", "line 1\nline 2"), ("B", "3")],
            ),
            ("A='a\\\\b'", &[("A", "a\\\\b")]),
            // Double quotes: escapes, multi-line, expansion, `\$` and `$$`.
            ("A=\"a\\nb\\tc\\\\d\\\"e\"", &[("A", "a\nb\tc\\d\"e")]),
            ("A=\"multi\nline\"", &[("A", "multi\nline")]),
            ("A=\"$HOME/x\"", &[("A", "/home/me/x")]),
            ("A=\"\\$HOME $$HOME\"", &[("A", "$HOME $HOME")]),
            ("A=\"\\x \\c \\q\"", &[("A", "\\x \\c \\q")]),
            (
                "A=\"\\0101\\0102 \\01 \\0400 \\0\"",
                &[("A", "AB \\1 \\400 \\")],
            ),
            ("A=\"\\0044{HOME}\"", &[("A", "/home/me")]),
            (
                "A=\"x\" # comment\nB=\"y\"# comment",
                &[("A", "x"), ("B", "y")],
            ),
            ("A=\"\"\nB=''", &[("A", ""), ("B", "")]),
            // After a closing quote a new statement may follow on the same line.
            ("A='x' B=\"y\"", &[("A", "x"), ("B", "y")]),
            // Expansion in unquoted values, from earlier keys and the environment.
            (
                "A=1\nB=${A}-$A\nC=$HOME",
                &[("A", "1"), ("B", "1-1"), ("C", "/home/me")],
            ),
            ("A=$UNSET.${UNSET}", &[("A", ".")]),
            // The process environment wins over earlier keys of the file.
            (
                "SHELL_WINS=file\nB=$SHELL_WINS",
                &[("SHELL_WINS", "file"), ("B", "from-shell")],
            ),
            // Operators, with nested and lazily expanded words.
            (
                "A=${UNSET:-def}\nB=${EMPTY:-def}\nC=${EMPTY-def}",
                &[("A", "def"), ("B", "def"), ("C", "")],
            ),
            ("A=${UNSET:-${HOME}/x}", &[("A", "/home/me/x")]),
            (
                "A=${HOME:+set}\nB=${EMPTY:+set}\nC=${EMPTY+set}\nD=${UNSET+set}",
                &[("A", "set"), ("B", ""), ("C", "set"), ("D", "")],
            ),
            ("A=${HOME:?unused ${UNSET?never}}", &[("A", "/home/me")]),
            ("A=${UNSET:-{a}}", &[("A", "{a}")]),
            // compose-go's brace matching: last `}` on the line, shortened by a counter that
            // skips the character after each `{`.
            ("A=${UNSET:-{}}", &[("A", "{}")]),
            ("A=${UNSET:-$${HOME}", &[("A", "${HOME")]),
            ("A=${UNSET:-x} ${HOME} y}", &[("A", "x /home/me y}")]),
            // `$` starting no reference stays literal.
            (
                "A=pa$word$1$ 5$\nB=\"$-\"",
                &[("A", "pa$1$ 5$"), ("B", "$-")],
            ),
            // Bare keys inherit from the environment, then from earlier keys, else are dropped.
            (
                "HOME\nEMPTY\nUNSET\nA=1\nA\n",
                &[("HOME", "/home/me"), ("EMPTY", ""), ("A", "1"), ("A", "1")],
            ),
            // Not compose-go: a bare key on an unterminated last line is inherited too (compose-go
            // files it under the empty name).
            ("A=1\nHOME", &[("A", "1"), ("HOME", "/home/me")]),
            ("export HOME", &[("HOME", "/home/me")]),
            ("HOME\r\n", &[("HOME", "/home/me")]),
            // Duplicates are kept in order.
            ("A=1\nA=2", &[("A", "1"), ("A", "2")]),
            // BOM.
            ("\u{FEFF}A=1", &[("A", "1")]),
            // Not compose-go: empty names are dropped (compose-go keeps them under "").
            ("=value\nA=1", &[("A", "1")]),
        ];
        for (content, want) in cases {
            assert_eq!(parse(content), Ok(pairs(want)), "content {content:?}");
        }
    }

    #[test]
    fn rejected_files() {
        // (content, line, column, start of the message)
        let cases: &[(&str, usize, usize, &str)] = &[
            ("A=1\nB C=2", 2, 1, "variable name \"B C\" contains a space"),
            (
                "TWO WORDS",
                1,
                1,
                "variable name \"TWO …\" contains a space",
            ),
            (
                "A=1\n  %FOO=1",
                2,
                3,
                "unexpected character '%' at the start of a variable name",
            ),
            ("A+B=1", 1, 2, "unexpected character '+' in variable name"),
            ("export # nothing", 1, 8, "unexpected character '#'"),
            (
                "A=\"open\nB=2",
                1,
                3,
                "unterminated double-quoted value for \"A\"",
            ),
            (
                "A='open",
                1,
                3,
                "unterminated single-quoted value for \"A\"",
            ),
            ("A=${}", 1, 3, "invalid variable reference: expected"),
            ("A=x ${ HOME}", 1, 5, "invalid variable reference"),
            ("A=${HOME!}", 1, 3, "invalid variable reference"),
            ("A=${1}", 1, 3, "invalid variable reference"),
            ("A=${HOME", 1, 3, "invalid variable reference"),
            ("A=${UNSET:-abc", 1, 3, "`${UNSET:-` is never closed"),
            // The closing `}` must be on the same line, even inside double quotes.
            ("A=\"${UNSET:-a\nb}\"", 1, 4, "`${UNSET:-` is never closed"),
            ("A=\"${UNSET:-a\\nb}\"", 1, 4, "`${UNSET:-` is never closed"),
            // Unquoted values end at ` #`, which can cut a reference short.
            ("A=${UNSET:-a #b}", 1, 3, "`${UNSET:-` is never closed"),
            (
                "A=${UNSET:?set it}",
                1,
                3,
                "required variable UNSET is missing a value: set it (",
            ),
            (
                "A=${EMPTY:?}",
                1,
                3,
                "required variable EMPTY is missing a value (",
            ),
            // The message is shown as written, not expanded: it could print a secret.
            (
                "A=${UNSET?$HOME}",
                1,
                3,
                "required variable UNSET is missing a value: $HOME (",
            ),
            // Positions inside double quotes account for escapes and line breaks.
            (
                "A=\"\\n\\t\nx ${UNSET:?m}\"",
                2,
                3,
                "required variable UNSET",
            ),
            ("A=\"ü ${}\"", 1, 6, "invalid variable reference"),
            // The error in a nested word is reported where that word's reference starts.
            ("A=${UNSET:-x${}}", 1, 13, "invalid variable reference"),
            // A quote inside a single-quoted value ends it early.
            (
                "A='it's'",
                1,
                8,
                "unexpected character '\\'' in the text after a closing quote",
            ),
        ];
        for &(content, line, column, message) in cases {
            let err = parse(content).expect_err(content);
            assert_eq!(
                (err.line, err.column),
                (line, column),
                "content {content:?}: {err:?}"
            );
            assert!(
                err.message.starts_with(message),
                "content {content:?}: {}",
                err.message
            );
        }
    }

    /// Values never reach a message: only names, positions and what the author wrote in `:?`.
    #[test]
    fn messages_do_not_show_values() {
        let cases: &[&str] = &[
            "DB_PASSWORD hunter2",
            "DB_PASSWORD hunter2!",
            "PASSWORD='x'hunter2!",
            "DB_PASSWORD=hunter2\nA=${X:?$DB_PASSWORD}",
            "TOKEN=${hunter2",
            "TOKEN=x${hunter2!}",
        ];
        for content in cases {
            let message = parse(content).expect_err(content).message;
            assert!(!message.contains("hunter2"), "{content:?}: {message}");
        }
    }

    #[test]
    fn messages_say_how_to_fix() {
        let message = |content: &str| parse(content).expect_err(content).message;
        assert!(message("A='it's'").contains("escape it with `\\`"));
        assert!(message("A=\"x").contains("add the closing `\"`"));
        assert!(message("A=${x!}").contains("write `$$` for a literal `$`"));
        assert!(message("A=${X:-y").contains("add the matching `}`"));
        assert!(message("A=${X:?}").contains("set it in the environment or earlier in this file"));
        assert!(message("A B=1").contains("join the words with `_`"));
        // The "follows a closing quote" hint only appears on that same line.
        assert!(!message("A='x'\n%=1").contains("closing quote"));
    }

    #[test]
    fn display_is_the_message() {
        let err = DotenvError {
            line: 2,
            column: 5,
            message: "bad".to_owned(),
        };
        assert_eq!(err.to_string(), "bad");
    }
}
