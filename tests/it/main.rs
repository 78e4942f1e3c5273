//! The integration tests: one binary (each test file would link DataFusion
//! again). They run the real `credence` binary on real files.
//!
//! - `api`: the partner API on a real server: auth matrix, ETag, ranges, gzip, audit.
//! - `browser`: the officer pages in headless Chromium with axe-core checks and screenshots.
//! - `crash`: SIGKILL during runs never leaves a LATEST that does not verify.
//! - `cluster`: the nightly run on a Ballista scheduler and two executors, byte for byte the local run's.
//! - `cli`: exit codes and messages of the commands, what a failed run
//!   leaves behind.
//! - `hardening`: attacks on the partner API: a held database lock, floods, narrowed
//!   entitlements, tampered and symlinked files, slow and surplus connections.
//! - `golden`: a fixed generated warehouse scored end to end, compared with
//!   the files under `tests/golden/` (regenerate with `UPDATE_GOLDEN=1`).
//! - `impact`: policy impact (hand-made transitions, list and joint changes)
//!   and the dry run (predicts the publication, writes nothing else).
//! - `lists`: joint members, restrictions and officer decisions across nightly runs.
//! - `publication`: signed publications over a sequence of nights, partner views, tampering.
//! - `reference`: a second implementation of the spec (Python, from its text alone) agrees with the quarantine, the marts and the publications.
//! - `republication`: the v2 publication rules, one hand-made regression each.
//! - `rerun`: an old date rerun after newer partitions landed.
//! - `schedule`: the scheduler daemon (on time, no overlap, catch-up, retry, stop) and backfill.

mod api;
mod browser;
mod case;
mod cli;
#[cfg(feature = "cluster")]
mod cluster;
mod crash;
mod golden;
mod hardening;
mod impact;
mod lists;
mod publication;
mod reference;
mod republication;
mod rerun;
mod schedule;
mod support;
