//! The HTTP faces: the partner download API and the officer pages, each on
//! a listener of its own.

pub mod listener;
pub mod officer_ui;
pub mod partner_api;
pub mod shutdown;
pub mod tokens;
