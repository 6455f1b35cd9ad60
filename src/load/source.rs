//! The stack files read in one load, so diagnostics can quote them by file, line and column.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::excerpt;
use super::node::{FileId, Span};

#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    /// The name shown to the user: the path as given on the command line.
    pub name: String,
    pub text: Arc<str>,
    /// Byte offset of each line's start, so placing a span costs a binary search, not a scan.
    line_starts: Vec<usize>,
}

#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    pub fn add(&mut self, path: &Path, name: String, text: String) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).expect("fewer than 4 billion files"));
        self.files.push(SourceFile {
            path: path.to_path_buf(),
            name,
            line_starts: excerpt::line_starts(&text),
            text: text.into(),
        });
        id
    }

    #[must_use]
    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }

    /// 1-based line and column (in characters) of the start of `span`.
    #[must_use]
    pub fn line_col(&self, span: Span) -> (usize, usize) {
        let file = self.get(span.file);
        let start = floor_char_boundary(&file.text, span.offset);
        let line = file.line_starts.partition_point(|&s| s <= start).max(1);
        let line_start = file.line_starts[line - 1];
        (line, file.text[line_start..start].chars().count() + 1)
    }

    /// Byte offset of a 1-based line and column (in characters) of a file.
    #[must_use]
    pub fn offset(&self, id: FileId, line: usize, column: usize) -> usize {
        offset_of_line_col(&self.get(id).text, line, column)
    }

    /// The source text a span covers.
    #[must_use]
    pub fn slice(&self, span: Span) -> &str {
        let text = &self.get(span.file).text;
        let start = floor_char_boundary(text, span.offset);
        let end = floor_char_boundary(text, span.offset + span.len).max(start);
        &text[start..end]
    }
}

/// Byte offset of a 1-based line and column (in characters) in `text`.
#[must_use]
pub fn offset_of_line_col(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let rest = &text[line_start.min(text.len())..];
    line_start
        + rest
            .chars()
            .take(column.saturating_sub(1))
            .map(char::len_utf8)
            .sum::<usize>()
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let mut sources = Sources::default();
        let id = sources.add(Path::new("s.yml"), "s.yml".into(), "a: 1\nbé: x\n".into());
        assert_eq!(sources.line_col(Span::new(id, 0, 1)), (1, 1));
        // "x" sits after "bé: " — 4 characters, 5 bytes.
        assert_eq!(sources.line_col(Span::new(id, 10, 1)), (2, 5));
    }
}
