//! Configuration read from files: policies, job definitions, partner
//! entitlements, each checked with every problem reported at once.

pub mod job;
pub mod partners;
pub mod policy;
pub mod regulator;
