//! Loader findings (errors and warnings) with their place in a stack file, rendered with miette
//! for people and as JSON for machines.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    SourceCode, SourceSpan, SpanContents,
};
use serde::Serialize;

use super::excerpt::Excerpt;
use super::node::{FileId, Span};
use super::source::Sources;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding. `code` is a stable identifier (`stackctl::load::unknown_key`) that tools and
/// tests can match on.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    pub span: Option<Span>,
    pub label: Option<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            span: None,
            label: None,
            help: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, message)
        }
    }

    #[must_use]
    pub fn at(mut self, span: Span, label: impl Into<String>) -> Self {
        self.span = Some(span);
        self.label = Some(label.into());
        self
    }

    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// ``unknown key `name` in path`` (or at the top level), pointing at the key.
    #[must_use]
    pub fn unknown_key(key: &super::node::At<String>, path: &str) -> Self {
        let name = key.value.as_str();
        let message = if path.is_empty() {
            format!("unknown top-level key `{name}`")
        } else {
            format!("unknown key `{name}` in {path}")
        };
        Self::error("stackctl::load::unknown_key", message).at(key.span, "not allowed here")
    }

    #[must_use]
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The findings of one load, in the order they were made.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    pub fn last_mut(&mut self) -> Option<&mut Diagnostic> {
        self.0.last_mut()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    /// Order by file and position, keeping findings without a place last. An error at a place
    /// that already has an earlier error is a consequence of it (a failed `${VAR}` leaves an
    /// invalid value behind) and is dropped.
    pub fn sort(&mut self) {
        let mut taken = Taken::default();
        self.0.retain(|d| match d.span.filter(|_| d.is_error()) {
            Some(span) => taken.take(span),
            None => true,
        });
        self.0.sort_by_key(|d| {
            d.span
                .map_or((u32::MAX, usize::MAX), |s| (s.file.0, s.offset))
        });
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The places errors were reported, as disjoint byte ranges per file (an empty span counts as
/// one byte): a span overlaps an earlier one exactly when it overlaps their union, so each
/// check is a lookup rather than a scan of every earlier error.
#[derive(Default)]
struct Taken(BTreeMap<(FileId, usize), usize>);

impl Taken {
    /// Record `span`; true when it overlaps no span recorded before.
    fn take(&mut self, span: Span) -> bool {
        let (mut start, mut end) = (span.offset, span.offset.saturating_add(span.len.max(1)));
        let file = span.file;
        let mut free = true;
        // Ranges starting before `end` that reach past `start`, latest first; being disjoint,
        // the ones that do are the last few.
        while let Some((&(f, s), &e)) = self.0.range((file, 0)..(file, end)).next_back() {
            if f != file || e < start {
                break;
            }
            free &= e <= start;
            self.0.remove(&(f, s));
            start = start.min(s);
            end = end.max(e);
        }
        self.0.insert((file, start), end);
        free
    }
}

/// A diagnostic joined with the excerpt of the file it points into, as miette wants it.
struct Report<'a> {
    diag: &'a Diagnostic,
    source: Option<Quoted>,
}

/// The excerpt miette lays out, named and numbered as the whole file: miette reads the
/// excerpt's text, and the file's line and column numbers are put back on what it reads.
struct Quoted {
    name: String,
    excerpt: Excerpt,
}

impl SourceCode for Quoted {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let text = self.excerpt.text.as_str();
        let inner = text.read_span(span, context_lines_before, context_lines_after)?;
        // miette asks for the span alone to print `file:line:col` (in characters, like JSON).
        let is_span_start = context_lines_before == 0 && span.offset() == self.excerpt.span.start;
        let column = if is_span_start {
            self.excerpt.column
        } else {
            inner.column()
        };
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            inner.line() + self.excerpt.first_line,
            column,
            inner.line_count(),
        )))
    }
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&shorten_words(&self.diag.message))
    }
}

/// Longest run of non-blank characters shown whole; a longer one (a 90 KB value quoted in a
/// message) keeps its start and end around a `…`.
const LONGEST_WORD: usize = 120;

fn shorten_words(text: &str) -> Cow<'_, str> {
    let is_long = |word: &&str| word.chars().count() > LONGEST_WORD;
    if !text.split_whitespace().any(|w| is_long(&w)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len().min(4 * LONGEST_WORD));
    let mut rest = text;
    while !rest.is_empty() {
        let word_len = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (word, after) = rest.split_at(word_len);
        if is_long(&word) {
            let head: String = word.chars().take(LONGEST_WORD * 2 / 3).collect();
            let tail: Vec<char> = word.chars().rev().take(LONGEST_WORD / 6).collect();
            let skipped = word.chars().count() - head.chars().count() - tail.len();
            out.push_str(&head);
            let _ = write!(out, "…({skipped} characters)…");
            out.extend(tail.into_iter().rev());
        } else {
            out.push_str(word);
        }
        let blanks = after.len() - after.trim_start().len();
        out.push_str(&after[..blanks]);
        rest = &after[blanks..];
    }
    Cow::Owned(out)
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.diag.code))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        let help = self.diag.help.as_deref()?;
        Some(Box::new(shorten_words(help)))
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = &self.source.as_ref()?.excerpt.span;
        let len = (span.end - span.start).max(1);
        let text = self
            .diag
            .label
            .as_deref()
            .map(|l| shorten_words(l).into_owned());
        let label = LabeledSpan::new(text, span.start, len);
        Some(Box::new(std::iter::once(label)))
    }
}

/// Render one diagnostic the way a terminal user sees it: `file:line:col`, the source lines
/// around it (long lines cut to a window around the span), an underline, the help. `color`
/// picks ANSI styling.
#[must_use]
pub fn render(diag: &Diagnostic, sources: &Sources, color: bool) -> String {
    let source = diag.span.map(|span| {
        let file = sources.get(span.file);
        // The excerpt never shows a secret: the values of sensitive keys are masked first, then
        // the masked text is cut around the span (moved with the masks).
        let masked = crate::sensitive::excerpt::mask(&file.text);
        let (offset, len) = masked.span(span.offset, span.len);
        let starts = super::excerpt::line_starts(&masked.text);
        let mut excerpt = super::excerpt::cut(&masked.text, &starts, offset..offset + len);
        // The file's own column: a mask earlier on the line is not as long as what it hides.
        excerpt.column = sources.line_col(span).1.saturating_sub(1);
        Quoted {
            name: file.name.clone(),
            excerpt,
        }
    });
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
    let mut out = String::new();
    let report = Report { diag, source };
    if handler.render_report(&mut out, &report).is_err() {
        // miette refuses a span it cannot place; the finding itself must still be shown.
        out = render_plain(diag, sources);
    }
    out
}

/// `file:line:col: message` and the help, without an excerpt.
fn render_plain(diag: &Diagnostic, sources: &Sources) -> String {
    let place = diag.span.map_or_else(String::new, |span| {
        let (line, column) = sources.line_col(span);
        format!("{}:{line}:{column}: ", sources.get(span.file).name)
    });
    let help = diag
        .help
        .as_ref()
        .map_or_else(String::new, |h| format!("  help: {}\n", shorten_words(h)));
    format!(
        "{}: {place}{}\n{help}",
        diag.code,
        shorten_words(&diag.message)
    )
}

/// The JSON form of a diagnostic (`stackctl validate --format json`).
#[derive(Serialize)]
pub struct JsonDiagnostic<'a> {
    pub severity: Severity,
    pub code: &'a str,
    pub message: &'a str,
    pub file: Option<&'a str>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub label: Option<&'a str>,
    pub help: Option<&'a str>,
}

#[must_use]
pub fn to_json<'a>(diag: &'a Diagnostic, sources: &'a Sources) -> JsonDiagnostic<'a> {
    let place = diag
        .span
        .map(|s| (sources.get(s.file).name.as_str(), sources.line_col(s)));
    JsonDiagnostic {
        severity: diag.severity,
        code: diag.code,
        message: &diag.message,
        file: place.map(|p| p.0),
        line: place.map(|p| p.1.0),
        column: place.map(|p| p.1.1),
        label: diag.label.as_deref(),
        help: diag.help.as_deref(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_overlapping_an_earlier_one_is_dropped_as_its_consequence() {
        let at = |file, offset, len| {
            Diagnostic::error("t", format!("{file}:{offset}+{len}"))
                .at(Span::new(FileId(file), offset, len), "")
        };
        let mut diags = Diagnostics::default();
        for d in [
            at(0, 10, 5), // kept
            at(0, 12, 1), // inside the first: dropped
            at(0, 15, 3), // adjacent: kept
            at(0, 5, 20), // covers both: dropped
            at(1, 12, 1), // another file: kept
            at(0, 30, 0), // empty span, one byte: kept
            at(0, 30, 0), // same place: dropped
            at(0, 2, 4),  // left of everything, overlapping the dropped 5..25: dropped
            at(0, 0, 2),  // kept
        ] {
            diags.push(d);
        }
        diags.push(Diagnostic::warning("w", "0:12 warning").at(Span::new(FileId(0), 12, 1), ""));
        diags.sort();
        let kept: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            kept,
            [
                "0:0+2",
                "0:10+5",
                "0:12 warning",
                "0:15+3",
                "0:30+0",
                "1:12+1"
            ]
        );
    }

    #[test]
    fn long_words_in_texts_are_shortened_around_an_ellipsis() {
        assert_eq!(shorten_words("unknown mode \"x\""), "unknown mode \"x\"");
        let long = format!("mode \"{}\" at\tend", "m".repeat(90_000));
        let short = shorten_words(&long);
        let head = format!("mode \"{}…(89902 characters)…", "m".repeat(79));
        assert!(short.starts_with(&head), "{short}");
        assert!(
            short.ends_with(&format!("{}\" at\tend", "m".repeat(19))),
            "{short}"
        );
    }
}
