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
