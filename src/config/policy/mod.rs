//! Scoring and listing policies (policy.md, joint-sanctions.md "Policy
//! section"): loading a YAML file, checking everything the spec lists, and
//! the validated [`Policy`] the stages execute.
//!
//! The file is walked as a YAML tree rather than deserialised in one go, so
//! that every problem is found and reported at once, each with the file,
//! the rule id (or field path) and a message.

mod check;
#[cfg(test)]
mod fuzz;
pub mod predicate;

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::base::contract::{Contracts, Dataset};
pub use crate::base::decay::Decay;
pub use crate::base::diagnostics::Problem;

/// Every problem of a policy file.
pub type PolicyErrors = crate::base::diagnostics::Problems;

/// What the problems of a policy file are about, in messages.
const WHAT: &str = "the policy";
pub use predicate::Predicate;

/// The example policy of policy.md with the joint sanctions of
/// joint-sanctions.md, embedded as the default.
pub const DEFAULT_POLICY_FILE: &str = "policies/online-market.yaml";
pub const DEFAULT_POLICY: &str = include_str!("../../../policies/online-market.yaml");

/// A validated policy.
#[derive(Clone, Debug)]
pub struct Policy {
    pub id: String,
    pub version: String,
    pub title: String,
    pub scope: Option<Predicate>,
    pub base: f64,
    pub floor: f64,
    pub rules: Vec<ScoreRule>,
    /// Best first.
    pub grades: Vec<Band>,
    pub direct_grades: Vec<DirectGrade>,
    pub lists: Vec<ListSpec>,
    pub joint: JointSanctions,
    /// SHA-256 of the policy file's bytes, hex.
    pub sha256: String,
    pub file: String,
}

/// The event datasets a rule may read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventDataset {
    Violations,
    Complaints,
}

impl EventDataset {
    pub fn dataset(self) -> Dataset {
        match self {
            EventDataset::Violations => Dataset::Violations,
            EventDataset::Complaints => Dataset::Complaints,
        }
    }

    /// The column that dates a record (its age is `D - date`).
    pub fn date_column(self) -> &'static str {
        match self {
            EventDataset::Violations => "decided_on",
            EventDataset::Complaints => "received_on",
        }
    }

    /// The column whose values are a reason's record ids.
    pub fn record_column(self) -> &'static str {
        match self {
            EventDataset::Violations => "case_id",
            EventDataset::Complaints => "complaint_id",
        }
    }
}

#[derive(Clone, Debug)]
pub struct ScoreRule {
    pub id: String,
    pub title: Option<String>,
    pub dataset: EventDataset,
    pub predicate: Predicate,
    pub points: f64,
    pub window_days: i64,
    pub decay: Decay,
    pub cap: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Band {
    pub grade: String,
    pub min: f64,
}

#[derive(Clone, Debug)]
pub struct DirectGrade {
    pub id: String,
    pub title: String,
    pub dataset: EventDataset,
    pub predicate: Predicate,
    pub window_days: i64,
    /// Index of the forced grade in `grades` (larger is worse).
    pub grade: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Review {
    None,
    Additions,
}

#[derive(Clone, Debug)]
pub struct ListSpec {
    pub id: String,
    pub title: String,
    /// Indexes into `grades`.
    pub grades: Vec<usize>,
    pub review: Review,
    pub measures: Vec<String>,
    /// Days the party may object after a notice (0: no notice needed).
    pub notice_days: i64,
    pub approval: Approval,
    /// The longest an exemption may run, in days after the decision.
    pub max_exemption_days: i64,
    /// The legal basis shown in notices.
    pub legal_basis: Option<String>,
}

/// Who must agree before a confirm or an exemption takes effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Approval {
    /// The deciding officer alone.
    Single,
    /// A senior who is not the author approves.
    TwoOfficers,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Relation {
    Branch,
    Control { threshold_pct: f64 },
    LegalRep,
}

#[derive(Clone, Debug)]
pub struct JointRule {
    pub id: String,
    pub list: String,
    pub relation: Relation,
    /// The rule's own measures; branch and control rules without them take
    /// the list's.
    pub measures: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default)]
pub struct JointSanctions {
    /// `None`: no limit.
    pub max_rounds: Option<u32>,
    pub rules: Vec<JointRule>,
}

impl Policy {
    pub fn list(&self, id: &str) -> Option<&ListSpec> {
        self.lists.iter().find(|l| l.id == id)
    }

    /// The grade name of a band index.
    pub fn grade_name(&self, index: usize) -> &str {
        &self.grades[index].grade
    }

    /// The band index of the first band whose `min <= score`.
    pub fn band_of(&self, score: f64) -> usize {
        self.grades.iter().position(|b| b.min <= score).unwrap_or(self.grades.len() - 1)
    }

    /// Loads and checks a policy file.
    pub fn load(path: &Path, contracts: &Contracts) -> Result<Policy, PolicyErrors> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| PolicyErrors {
            what: WHAT.into(),
            problems: vec![Problem { file: file.clone(), at: String::new(), message: format!("cannot read: {e}") }],
        })?;
        let text = String::from_utf8_lossy(&bytes);
        Policy::parse(&file, &text, contracts)
    }

    /// The embedded default policy.
    pub fn default_policy(contracts: &Contracts) -> Policy {
        Policy::parse(DEFAULT_POLICY_FILE, DEFAULT_POLICY, contracts).expect("the embedded policy is valid")
    }

    /// Checks a policy text; `file` names it in problems.
    pub fn parse(file: &str, text: &str, contracts: &Contracts) -> Result<Policy, PolicyErrors> {
        let mut p = check::check(file, text, contracts)?;
        p.sha256 = hex::encode(Sha256::digest(text.as_bytes()));
        p.file = file.to_string();
        Ok(p)
    }
}

#[cfg(test)]
mod tests;
