//! The few lines of a file a diagnostic quotes, each cut to a bounded width around the span, so
//! a finding in a one-line 90 KB JSON stack file prints a short excerpt, not the whole line.

use std::ops::Range;

/// Characters kept of each quoted line; a longer line is cut around the span and marked `…`.
pub const WIDTH: usize = 120;
/// Lines quoted above and below the span's line (miette's default context).
const CONTEXT: usize = 1;
/// How far left of the span a cut line starts, so the span keeps some of what leads to it.
const LEAD: usize = WIDTH / 3;
const ELLIPSIS: &str = "…";

/// A cut of a file around one span, with the span's place in the cut and in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excerpt {
    /// The quoted lines, each at most [`WIDTH`] characters plus the `…` marks.
    pub text: String,
    /// 0-based line number, in the file, of the excerpt's first line.
    pub first_line: usize,
    /// The span's bytes within `text` (cut to the span's first line and to the window).
    pub span: Range<usize>,
    /// 0-based line and column (in characters) of the span's start in the file.
    pub line: usize,
    pub column: usize,
}

/// Cut `text` around `span` (byte offsets; clamped to the text). `line_starts` holds the byte
/// offset of every line's start, the first being 0.
#[must_use]
pub fn cut(text: &str, line_starts: &[usize], span: Range<usize>) -> Excerpt {
    let start = floor_char_boundary(text, span.start);
    let line = line_starts
        .partition_point(|&s| s <= start)
        .saturating_sub(1);
    let line_text = line_at(text, line_starts, line);
    let line_start = line_starts.get(line).copied().unwrap_or(0);
    let column = text[line_start..start].chars().count();
    // The span is underlined on its first line only: later lines would unbound the excerpt.
    let end = floor_char_boundary(text, span.end.max(start)).min(line_start + line_text.len());
    let span_chars = text[start..end.max(start)].chars().count();
    let window = window(line_text.chars().count(), column, span_chars);
    let first_line = line.saturating_sub(CONTEXT);
    let last_line = (line + CONTEXT).min(line_starts.len().saturating_sub(1));
    let mut out = String::new();
    let mut span_in_out = 0..0;
    for n in first_line..=last_line {
        if n > first_line {
            out.push('\n');
        }
        let piece = cut_line(line_at(text, line_starts, n), &window);
        if n == line {
            let lead = usize::from(window.start > 0) * ELLIPSIS.len();
            let before = byte_len(line_text, window.start, column);
            let inside = byte_len(
                line_text,
                column,
                column + span_chars.min(window.end.saturating_sub(column)),
            );
            let at = out.len() + lead + before;
            span_in_out = at..at + inside;
        }
        out.push_str(&piece);
    }
    Excerpt {
        text: out,
        first_line,
        span: span_in_out,
        line,
        column,
    }
}

/// Byte offset of every line's start in `text`.
#[must_use]
pub fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// The character columns kept of every quoted line: all of a short line, else [`WIDTH`]
/// characters starting a little left of the span.
fn window(line_chars: usize, column: usize, span_chars: usize) -> Range<usize> {
    if line_chars <= WIDTH || column + span_chars.max(1) <= WIDTH {
        return 0..WIDTH;
    }
    let start = column.saturating_sub(LEAD);
    start..start + WIDTH
}

/// Line `n` of the file without its line break (nor a `\r` before it).
fn line_at<'t>(text: &'t str, line_starts: &[usize], n: usize) -> &'t str {
    let start = line_starts
        .get(n)
        .copied()
        .unwrap_or(text.len())
        .min(text.len());
    let end = line_starts
        .get(n + 1)
        .map_or(text.len(), |next| next.saturating_sub(1));
    let line = &text[start..end.max(start)];
    line.strip_suffix('\r').unwrap_or(line)
}

/// The characters of `line` inside `window`, with `…` where something was left out.
fn cut_line(line: &str, window: &Range<usize>) -> String {
    let mut chars = line.chars();
    let skipped = chars.by_ref().take(window.start).count();
    let kept: String = chars.by_ref().take(window.end - window.start).collect();
    let mut out = String::new();
    if window.start > 0 && skipped > 0 {
        out.push_str(ELLIPSIS);
    }
    out.push_str(&kept);
    if chars.next().is_some() {
        out.push_str(ELLIPSIS);
    }
    out
}

/// Bytes taken by the characters `from..to` of `line`.
fn byte_len(line: &str, from: usize, to: usize) -> usize {
    line.chars()
        .skip(from)
        .take(to.saturating_sub(from))
        .map(char::len_utf8)
        .sum()
}

fn floor_char_boundary(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excerpt(text: &str, span: Range<usize>) -> Excerpt {
        cut(text, &line_starts(text), span)
    }

    #[test]
    fn short_lines_are_quoted_whole_with_one_line_of_context() {
        let text = "a: 1\nb: x\nc: 3\nd: 4\n";
        let e = excerpt(text, 8..9);
        assert_eq!(e.text, "a: 1\nb: x\nc: 3");
        assert_eq!((e.first_line, e.line, e.column), (0, 1, 3));
        assert_eq!(&e.text[e.span.clone()], "x");
    }

    #[test]
    fn a_long_line_is_cut_around_the_span() {
        let text = format!("{}\"bad\"{}", "x".repeat(90_000), "y".repeat(5_000));
        let e = excerpt(&text, 90_000..90_005);
        assert!(e.text.chars().count() <= WIDTH + 2, "{}", e.text.len());
        assert!(e.text.starts_with('…') && e.text.ends_with('…'));
        assert_eq!(&e.text[e.span.clone()], "\"bad\"");
        assert_eq!((e.line, e.column), (0, 90_000));
    }

    #[test]
    fn the_span_is_underlined_on_its_first_line_and_within_the_window() {
        let text = format!("k: {}\nnext\n", "é".repeat(500));
        let e = excerpt(&text, 3..text.len());
        assert_eq!(e.text.lines().count(), 2);
        assert_eq!(&e.text[e.span.clone()], "é".repeat(WIDTH - 3));
    }

    #[test]
    fn spans_past_the_end_or_inside_a_character_stay_in_bounds() {
        let text = "a: é";
        for span in [4..5, 100..200, 0..1000, 4..4] {
            let e = excerpt(text, span.clone());
            assert!(e.span.end <= e.text.len(), "{span:?}");
            assert!(e.text.is_char_boundary(e.span.start), "{span:?}");
        }
        assert_eq!(excerpt("", 0..1).text, "");
    }

    #[test]
    fn crlf_line_ends_are_not_quoted() {
        let e = excerpt("a: 1\r\nb: 2\r\n", 6..7);
        assert_eq!(e.text, "a: 1\nb: 2\n");
        assert_eq!(e.line, 1);
    }
}
