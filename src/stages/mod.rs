//! The stages of a nightly run. Each reads and writes warehouse tables and
//! never imports another stage; `run` alone knows their order.

pub mod joint;
pub mod landing;
pub mod publish;
pub mod quarantine;
pub mod review;
pub mod score;
pub mod validate;
