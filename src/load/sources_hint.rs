//! Where a scalar's decoded text starts inside its source text, so findings can underline
//! the exact characters.

/// Byte offset of `value` inside `source` when the value appears there verbatim (plain or
/// simply quoted scalars); `None` when escapes or folding changed it.
#[must_use]
pub(super) fn scalar_offset(source: &str, value: &str) -> Option<usize> {
    if source == value {
        return Some(0);
    }
    let inner = source.get(1..source.len().saturating_sub(1))?;
    (inner == value && matches!(source.chars().next(), Some('"' | '\''))).then_some(1)
}
