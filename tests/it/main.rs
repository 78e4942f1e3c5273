//! The integration tests: one binary (each test file would link DataFusion
//! again). They run the real `credence` binary on real files.
//!
//! - `cli`: exit codes and messages of the commands, what a failed run
//!   leaves behind.
//! - `golden`: a fixed generated warehouse scored end to end, compared with
//!   the files under `tests/golden/` (regenerate with `UPDATE_GOLDEN=1`).
//! - `lists`: joint members, restrictions and officer decisions across nightly runs.
//! - `rerun`: an old date rerun after newer partitions landed.

mod cli;
mod golden;
mod lists;
mod rerun;
mod support;
