//! credence: nightly credit scoring, joint sanctions and signed publications
//! for a market regulator. See ARCHITECTURE.md for the map.

pub mod backfill;
pub mod contract;
pub mod decide;
pub mod engine;
pub mod entities;
pub mod explain;
pub mod fixture;
pub mod gen;
pub mod ids;
pub mod job;
pub mod joint;
pub mod landing;
pub mod listing;
pub mod lock;
pub mod marts;
pub mod metrics;
pub mod officer_ui;
pub mod parquet_io;
pub mod partner_api;
pub mod partners;
pub mod policy;
pub mod publish;
pub mod quarantine;
pub mod queue;
pub mod review;
pub mod rounding;
pub mod run;
pub mod schedule;
pub mod score;
pub mod sign;
pub mod store;
pub mod telemetry;
pub mod validate;
pub mod verify;
pub mod warehouse;
