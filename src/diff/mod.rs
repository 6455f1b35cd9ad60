//! Pure comparison of desired and live state: canonical forms, then field-level changes.

pub mod normalize;

pub use normalize::{DaemonApi, normalize_service};
