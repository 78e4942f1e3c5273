//! credence: nightly credit scoring, joint sanctions and signed publications
//! for a market regulator. See ARCHITECTURE.md for the map.
//!
//! The layers, each importing only the ones before it: [`base`] (identifiers,
//! the warehouse, marts, the operational database), [`config`] (policies,
//! jobs, partners), [`stages`] (each stage of a nightly run, never importing
//! another stage), [`run`] (the order of the stages, the scheduler),
//! [`officer`] (what credit officers do), [`serve`] (the HTTP faces) and
//! [`tools`] (synthetic data, verification, fixtures).

#![warn(unreachable_pub)]

pub mod base;
pub mod config;
pub mod officer;
pub mod run;
pub mod serve;
pub mod stages;
pub mod tools;

#[cfg(test)]
mod tidy;

/// The checkout whose files the unit tests read (policies, golden files,
/// sources): the folder `cargo test` names when it runs them, so that a
/// test binary another checkout built into a shared target folder (CI's
/// cache) still reads this one; the folder it was built in otherwise.
#[cfg(test)]
fn repo_root() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), Into::into)
}
