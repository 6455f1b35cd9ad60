//! One module per command: orchestration over the library stages, nothing else.

pub mod validate;

/// Process exit codes (terraform's convention for plan's `--detailed-exitcode`).
pub mod exit {
    pub const OK: i32 = 0;
    pub const ERROR: i32 = 1;
}
