//! `burn-edge rollout`: steer which units get which model version by rewriting the model's
//! channel file: canary, ramp, promote, rollback, kill switch, experiments, shadow runs,
//! interleaving, and `assign` to ask which version a unit gets (the shell's own rule).
//!
//! - `edits`: each command as a pure edit of a channel.
//! - `folder`: reading, validating, verifying, writing, signing and logging a change.
//! - `ops`: edits applied to a folder, as reusable functions (the guard calls `ops::rollback`).
//! - `log`: `rollout-log.json`.
//! - `parse`: the flags' value syntax.
//! - `guard`: `rollout guard`, the collector's numbers judged by `burn-edge-stats`, and
//!   `ops::rollback` when the rule is worse.
//! - `status`: `rollout status`, the collector's report as a table.
//! - `args`: the clap definitions and `run`.

mod args;
pub mod edits;
pub mod error;
pub mod folder;
mod guard;
pub mod log;
pub mod ops;
mod parse;
mod status;

pub use args::{run, RolloutArgs};
