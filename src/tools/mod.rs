//! Tools beside the nightly run: synthetic landing zones, verifying a
//! downloaded publication, small fixtures for tests.

pub mod audit_archive;
pub mod fixture;
pub mod gen;
pub mod verify;
