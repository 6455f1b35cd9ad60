//! (filled in by the watch work)
