//! The single-stack flags of `stackctl watch` (filled in by the watch work).
