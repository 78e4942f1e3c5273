//! One module per page of the officer pages.

pub(crate) mod assign;
pub(crate) mod dashboard;
pub(crate) mod decide;
pub(crate) mod decision_forms;
pub(crate) mod entity;
pub(crate) mod exemptions;
pub(crate) mod history;
pub(crate) mod impact;
pub(crate) mod queue;
pub(crate) mod search;
