//! Parser for a service's `env_file:` files, byte-for-byte as docker CLI v28.2.2 reads them.
//!
//! docker's format (`pkg/kvfile`, reached through `opts.ParseEnvFile`) is not dotenv: values are
//! taken verbatim, with no quotes removed, no escapes and no variable expansion. The rules, in
//! the order docker applies them to each line:
//!
//! 1. Lines are split like Go's `bufio.ScanLines`: at `\n`, with one trailing `\r` dropped. A line
//!    of 64 KiB or more (not counting its `\n`) aborts the scan with "token too long".
//! 2. A line that is not valid UTF-8 is an error.
//! 3. A UTF-8 BOM is removed from the first line only.
//! 4. Leading Unicode whitespace is trimmed; trailing whitespace is part of the value.
//! 5. Blank lines and lines starting with `#` are skipped (a `#` later in a line is kept).
//! 6. The key is everything before the first `=`; it must be non-empty and contain no space or
//!    tab.
//! 7. `KEY=VALUE` yields VALUE verbatim. A bare `KEY` takes its value from `lookup` (docker uses
//!    the CLI's own environment) and is dropped if `lookup` has none.

use std::fmt;

/// Go's `bufio.MaxScanTokenSize`: the scanner's buffer never grows past this, so a line must
/// fit in it together with its `\n` (or, for the last line, with one spare byte).
const MAX_LINE_LEN: usize = 64 * 1024 - 1;

/// A line docker rejects. `message` follows docker's wording (docker reports it as
/// `invalid env file (<path>): <message>`) but never quotes a value, which docker does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvFileError {
    /// 1-based line number.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for EnvFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EnvFileError {}

/// Parses the contents of one env file into `(key, value)` pairs in file order. Later duplicates
/// are kept, so inserting the pairs into a map in order makes the last one win, as in docker.
///
/// # Errors
///
/// The first malformed line, in file order: invalid UTF-8, an empty key (`=value`), a key with a
/// space or tab, or a line too long for docker's line scanner.
pub fn parse_env_file(
    content: &[u8],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, EnvFileError> {
    let mut pairs = Vec::new();
    for (index, raw) in scan_lines(content).enumerate() {
        let line_no = index + 1;
        let raw = raw.map_err(|()| EnvFileError {
            line: line_no,
            // Go's `bufio.ErrTooLong` text; docker surfaces it unchanged.
            message: "bufio.Scanner: token too long".to_owned(),
        })?;
        // docker prints the line's bytes here; stackctl prints where they go wrong instead, as
        // the line may hold a secret.
        let text = std::str::from_utf8(raw).map_err(|e| EnvFileError {
            line: line_no,
            message: format!(
                "invalid utf8 bytes at line {line_no}, byte {} of the line",
                e.valid_up_to() + 1
            ),
        })?;
        // The BOM is only looked for after the UTF-8 check, and only on line 1.
        let text = if line_no == 1 {
            text.strip_prefix('\u{FEFF}').unwrap_or(text)
        } else {
            text
        };
        // Rust's `char::is_whitespace` is the Unicode White_Space property, the same set as Go's
        // `unicode.IsSpace`.
        let line = text.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((key, value)) => (key, Some(value)),
            None => (line, None),
        };
        // Unlike docker, the messages never quote a value: `=value` is not shown, and of a
        // `NAME value` line without `=` only the first word is.
        if key.is_empty() {
            return Err(EnvFileError {
                line: line_no,
                message: "no variable name before the `=`".to_owned(),
            });
        }
        // Only space and tab count here, unlike the leading trim: a key ending in, say, a
        // no-break space is accepted as is.
        if key.contains([' ', '\t']) {
            let shown = match value {
                Some(_) => key.to_owned(),
                None => format!("{} …", key.split([' ', '\t']).next().unwrap_or_default()),
            };
            return Err(EnvFileError {
                line: line_no,
                message: format!("variable '{shown}' contains whitespaces"),
            });
        }
        match value {
            Some(value) => pairs.push((key.to_owned(), value.to_owned())),
            None => {
                if let Some(value) = lookup(key) {
                    pairs.push((key.to_owned(), value));
                }
            }
        }
    }
    Ok(pairs)
}

/// The lines Go's `bufio.Scanner` with `ScanLines` yields, or `Err(())` where it stops with
/// `ErrTooLong`. A final line without `\n` counts; an empty remainder after the last `\n` does
/// not.
fn scan_lines(content: &[u8]) -> impl Iterator<Item = Result<&[u8], ()>> {
    let mut rest = Some(content);
    std::iter::from_fn(move || {
        let data = rest?;
        if data.is_empty() {
            rest = None;
            return None;
        }
        let (line, next) = match data.iter().position(|&b| b == b'\n') {
            Some(i) => (&data[..i], Some(&data[i + 1..])),
            None => (data, None),
        };
        if line.len() > MAX_LINE_LEN {
            // The scan ends at the first error.
            rest = None;
            return Some(Err(()));
        }
        rest = next;
        Some(Ok(line.strip_suffix(b"\r").unwrap_or(line)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "FROM_ENV" => Some("shell value".to_owned()),
            "EMPTY_ENV" => Some(String::new()),
            "QUOTED_ENV" => Some("\"q\"".to_owned()),
            _ => None,
        }
    }

    /// One accepted-file row: the file's bytes and the pairs it yields.
    type Accepted = (&'static [u8], &'static [(&'static str, &'static str)]);

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|&(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// Rows were checked against v28.2.2's `kvfile.ParseFromReader` (Go harness) with the
    /// environment of [`env`].
    #[test]
    fn accepted_files() {
        let cases: &[Accepted] = &[
            (b"", &[]),
            (b"A=1", &[("A", "1")]),
            (b"A=1\nB=2\n", &[("A", "1"), ("B", "2")]),
            // Quotes, escapes, `$` and inline `#` are all kept verbatim.
            (b"Q=\"quoted value\"", &[("Q", "\"quoted value\"")]),
            (b"S='single'", &[("S", "'single'")]),
            (b"X=${HOME}", &[("X", "${HOME}")]),
            (b"E=a\\nb", &[("E", "a\\nb")]),
            (
                b"C=value # not a comment",
                &[("C", "value # not a comment")],
            ),
            // Trailing whitespace is part of the value; leading whitespace before the key is not.
            (b"T=trail  \t", &[("T", "trail  \t")]),
            (b"  \tL=lead", &[("L", "lead")]),
            (b"V= spaced", &[("V", " spaced")]),
            // Only the first `=` splits.
            (b"U=a=b==c", &[("U", "a=b==c")]),
            (b"EMPTY=", &[("EMPTY", "")]),
            // Comments and blank lines, including indented ones.
            (b"# comment\n\n   \n  # indented\nA=1", &[("A", "1")]),
            (b"#A=1", &[]),
            // CRLF: one `\r` before `\n` is dropped, a second one is kept.
            (b"A=1\r\nB=2\r\n", &[("A", "1"), ("B", "2")]),
            (b"A=1\r\r\n", &[("A", "1\r")]),
            (b"A=1\r", &[("A", "1")]),
            // A lone `\r` is not a line break.
            (b"A=1\rB=2", &[("A", "1\rB=2")]),
            // BOM is stripped on the first line only.
            (b"\xEF\xBB\xBFA=1", &[("A", "1")]),
            (b"A=1\n\xEF\xBB\xBFB=2", &[("A", "1"), ("\u{FEFF}B", "2")]),
            // Leading trim is Unicode-wide (NBSP, ideographic space, vertical tab).
            ("\u{A0}\u{3000}\x0BA=1".as_bytes(), &[("A", "1")]),
            // Bare keys come from the lookup, including empty values, and are dropped if unset.
            (b"FROM_ENV", &[("FROM_ENV", "shell value")]),
            (b"EMPTY_ENV", &[("EMPTY_ENV", "")]),
            (b"QUOTED_ENV", &[("QUOTED_ENV", "\"q\"")]),
            (b"NOT_SET\nA=1", &[("A", "1")]),
            // Duplicates are kept in order; the caller's map makes the last win.
            (b"A=1\nA=2", &[("A", "1"), ("A", "2")]),
            // Keys are not validated beyond "non-empty, no space or tab".
            (b"a.b-c[0]=x", &[("a.b-c[0]", "x")]),
            (b"K\xC2\xA0=nbsp", &[("K\u{A0}", "nbsp")]),
            // NUL is valid UTF-8 and passes through.
            (b"N=a\0b", &[("N", "a\0b")]),
        ];
        for (content, want) in cases {
            let got = parse_env_file(content, &env);
            assert_eq!(
                got,
                Ok(pairs(want)),
                "content {:?}",
                String::from_utf8_lossy(content)
            );
        }
    }

    #[test]
    fn rejected_files() {
        let cases: &[(&[u8], usize, &str)] = &[
            (b"A B=1", 1, "variable 'A B' contains whitespaces"),
            (b"A=1\nKEY =1", 2, "variable 'KEY ' contains whitespaces"),
            // Messages never quote a value (docker's do).
            (b"A\tB", 1, "variable 'A …' contains whitespaces"),
            (b"BARE KEY", 1, "variable 'BARE …' contains whitespaces"),
            (b"=value", 1, "no variable name before the `=`"),
            (b"  =value", 1, "no variable name before the `=`"),
            (
                b"A=1\n\xFF",
                2,
                "invalid utf8 bytes at line 2, byte 1 of the line",
            ),
            (
                b"A=h\xC3",
                1,
                "invalid utf8 bytes at line 1, byte 4 of the line",
            ),
            // The UTF-8 check happens before the comment check.
            (
                b"# \xFE",
                1,
                "invalid utf8 bytes at line 1, byte 3 of the line",
            ),
            // The first bad line wins.
            (b"A B=1\n\xFF", 1, "variable 'A B' contains whitespaces"),
        ];
        for &(content, line, message) in cases {
            let got = parse_env_file(content, &env);
            let want = EnvFileError {
                line,
                message: message.to_owned(),
            };
            assert_eq!(
                got,
                Err(want),
                "content {:?}",
                String::from_utf8_lossy(content)
            );
        }
    }

    #[test]
    fn line_length_limit() {
        let long = |len: usize, tail: &str| {
            let mut content = b"A=".to_vec();
            content.resize(len, b'x');
            content.extend_from_slice(tail.as_bytes());
            content
        };
        let ok = |content: &[u8]| parse_env_file(content, &env).map(|p| p[0].1.len());
        // 65535 bytes is the longest line docker reads, with or without a newline after it.
        assert_eq!(ok(&long(MAX_LINE_LEN, "")), Ok(MAX_LINE_LEN - 2));
        assert_eq!(ok(&long(MAX_LINE_LEN, "\n")), Ok(MAX_LINE_LEN - 2));
        // The `\r` of a CRLF counts towards the limit even though it is dropped afterwards.
        assert_eq!(ok(&long(MAX_LINE_LEN - 1, "\r\n")), Ok(MAX_LINE_LEN - 3));
        let too_long = EnvFileError {
            line: 2,
            message: "bufio.Scanner: token too long".to_owned(),
        };
        let mut content = b"# first\n".to_vec();
        content.extend(long(MAX_LINE_LEN + 1, ""));
        assert_eq!(parse_env_file(&content, &env), Err(too_long.clone()));
        let mut content = b"# first\n".to_vec();
        content.extend(long(MAX_LINE_LEN, "\r\n"));
        assert_eq!(parse_env_file(&content, &env), Err(too_long));
    }

    #[test]
    fn display_is_the_message() {
        let err = EnvFileError {
            line: 3,
            message: "variable 'A B' contains whitespaces".into(),
        };
        assert_eq!(err.to_string(), "variable 'A B' contains whitespaces");
    }
}
