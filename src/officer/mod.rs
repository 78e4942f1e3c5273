//! What a credit officer does, shared by the command line and the pages:
//! explain an entity, read the review queue, record a decision.

pub mod accounts;
pub mod decide;
pub mod explain;
pub mod member;
pub mod notice;
pub mod queue;
pub mod search;
