//! The desired state as the stack files describe it, after loading (typed, merged, resolved).

pub mod compose;
pub mod compose_writer;
pub mod digest;
pub mod duration;
pub mod names;
pub mod yaml_writer;

pub use compose::*;
pub use duration::Duration;
pub use names::{IMAGE_LABEL, NAMESPACE_LABEL, StackName};
