//! Foundations every layer shares; nothing here imports a module above `base`.

pub mod contract;
pub mod decay;
pub mod diagnostics;
pub mod engine;
pub mod entities;
pub mod error;
pub mod flush;
pub mod hash_bits;
pub mod ids;
pub mod landing_file;
pub mod lock;
pub mod marts;
pub mod parquet_io;
pub mod printable;
pub mod rounding;
pub mod row_checks;
pub mod sign;
pub mod store;
pub mod tables;
pub mod telemetry;
pub mod warehouse;
