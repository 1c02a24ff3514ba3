//! The exit codes of `sluice`, for scripts and CI systems.

/// Every step passed (or, for `validate` / `audit` / `plugins`, the command succeeded).
pub const PASSED: i32 = 0;
/// At least one step failed its gate, errored, or was skipped because of one that did.
pub const STEP_FAILED: i32 = 1;
/// The pipeline or the invocation is invalid: nothing ran. Also clap's code for bad arguments.
pub const INVALID: i32 = 2;
/// Sluice itself failed (it could not start its runtime, for instance).
pub const HOST_ERROR: i32 = 3;
/// The run was interrupted (Ctrl-C): running steps were stopped, the rest skipped.
pub const INTERRUPTED: i32 = 130;
