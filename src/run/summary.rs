//! What a successful run records in the ledger (`runs.summary`), typed:
//! the dashboard and the metrics read it back as this, never as loose JSON.

use std::collections::BTreeMap;

use crate::stages::score::ScoreSummary;

/// The summary of a successful run.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunSummary {
    pub scores: ScoreSummary,
    pub lists: Vec<ListSummary>,
    pub publications: Vec<PublicationSummary>,
    /// Rejected input rows by fault code, over all datasets.
    pub rejected_by_code: BTreeMap<String, u64>,
}

impl RunSummary {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a summary serialises")
    }

    /// The summary stored with a run.
    pub fn from_json(text: &str) -> Result<RunSummary, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// What the run did with a list's publication.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PublicationSummary {
    pub list_id: String,
    pub outcome: String,
}

/// The size of one list after a run.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ListSummary {
    pub list_id: String,
    pub members: u64,
    pub direct: u64,
    pub joint: u64,
    pub published: u64,
    pub pending: u64,
    /// publication.md v2 states; absent from summaries of older runs.
    #[serde(default)]
    pub noticed: u64,
    #[serde(default)]
    pub objected: u64,
    #[serde(default)]
    pub awaiting_approval: u64,
    #[serde(default)]
    pub held: u64,
    pub rejected: u64,
    pub restricted_persons: u64,
    pub flagged_entities: u64,
    pub exempt: u64,
}
