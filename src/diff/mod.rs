//! Pure comparison of desired and live state: canonical forms, then field-level changes.

pub mod fields;
pub mod normalize;

pub use fields::{FieldChange, field_changes};
pub use normalize::{DaemonApi, ignored_by_daemon, normalize_service};
