//! Officer decisions: appended, never changed (triggers refuse UPDATE and
//! DELETE), read by id range.

use rusqlite::params;

use super::{now, Result, Store};
use crate::base::ids::AsOf;

/// What an officer decided (publication.md, "Officer decisions" v2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Action {
    /// The party was notified of the proposed listing.
    Notify,
    /// The party's statement or objection was received.
    Object,
    Confirm,
    /// A senior approves another officer's confirm or exempt.
    Approve,
    /// A senior sends another officer's confirm or exempt back: it no longer stands.
    SendBack,
    Reject,
    Exempt,
    RevokeExemption,
}

impl Action {
    pub const ALL: [Action; 8] = [
        Action::Notify,
        Action::Object,
        Action::Confirm,
        Action::Approve,
        Action::SendBack,
        Action::Reject,
        Action::Exempt,
        Action::RevokeExemption,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Notify => "notify",
            Action::Object => "object",
            Action::Confirm => "confirm",
            Action::Approve => "approve",
            Action::SendBack => "send_back",
            Action::Reject => "reject",
            Action::Exempt => "exempt",
            Action::RevokeExemption => "revoke_exemption",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        let s = s.replace('-', "_");
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// A stored decision.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Decision {
    pub id: i64,
    pub list_id: String,
    pub entity_id: String,
    pub action: Action,
    pub officer: String,
    pub reason: String,
    /// Last day an exemption is in force (inclusive).
    pub until: Option<AsOf>,
    /// For a notify, confirm or reject: the member's basis and rules as the
    /// officer saw them; the decision holds only while both stay the same.
    pub basis: Option<String>,
    pub rules: Option<Vec<String>>,
    pub decided_at: String,
    /// For an approve or send_back: the decision it is about.
    pub approves: Option<i64>,
    /// For a notify: the last day the party may object.
    pub deadline: Option<AsOf>,
    /// For a notify: the notice; for an object: the attachment (paths
    /// under the warehouse), with its SHA-256.
    pub document: Option<String>,
    pub document_sha256: Option<String>,
    /// For an object: the day the statement was received.
    pub received_on: Option<AsOf>,
}

impl Decision {
    /// The decision as one JSON object with every stored field (the
    /// table's column names, keys sorted): what a manifest's
    /// `decisions_sha256` is computed over.
    pub fn stored_json(&self) -> String {
        serde_json::json!({
            "decision_id": self.id,
            "list_id": self.list_id,
            "entity_id": self.entity_id,
            "action": self.action.as_str(),
            "officer": self.officer,
            "reason": self.reason,
            "until": self.until.map(|d| d.to_string()),
            "basis": self.basis,
            "rules": self.rules,
            "decided_at": self.decided_at,
            "approves": self.approves,
            "deadline": self.deadline.map(|d| d.to_string()),
            "document": self.document,
            "document_sha256": self.document_sha256,
            "received_on": self.received_on.map(|d| d.to_string()),
        })
        .to_string()
    }

    /// The day the decision was recorded (UTC).
    pub fn day(&self) -> Option<AsOf> {
        self.decided_at.get(..10).and_then(|d| d.parse().ok())
    }
}

/// A decision to be stored.
#[derive(Default)]
pub struct NewDecision<'a> {
    pub list_id: &'a str,
    pub entity_id: &'a str,
    pub action: Option<Action>,
    pub officer: &'a str,
    pub reason: &'a str,
    pub until: Option<AsOf>,
    pub basis: Option<&'a str>,
    pub rules: Option<&'a [String]>,
    pub approves: Option<i64>,
    pub deadline: Option<AsOf>,
    pub document: Option<&'a str>,
    pub document_sha256: Option<&'a str>,
    pub received_on: Option<AsOf>,
}

impl Store {
    /// Appends a decision; returns its id. Decisions are never changed.
    pub fn add_decision(&self, d: &NewDecision) -> Result<i64> {
        let conn = self.connection();
        let action = d.action.expect("a decision names its action");
        conn.execute(
            "INSERT INTO decisions (list_id, entity_id, action, officer, reason, until, basis, rules, decided_at,
                                    approves, deadline, document, document_sha256, received_on)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            params![
                d.list_id,
                d.entity_id,
                action.as_str(),
                d.officer,
                d.reason,
                d.until.map(|u| u.to_string()),
                d.basis,
                d.rules.map(|r| serde_json::to_string(r).expect("strings serialise")),
                now(),
                d.approves,
                d.deadline.map(|u| u.to_string()),
                d.document,
                d.document_sha256,
                d.received_on.map(|u| u.to_string()),
            ],
        )
        .map_err(self.err("record decision"))?;
        Ok(conn.last_insert_rowid())
    }

    /// The id of the newest decision (0 when there is none).
    pub fn last_decision_id(&self) -> Result<i64> {
        self.connection()
            .query_row("SELECT coalesce(max(decision_id), 0) FROM decisions", [], |r| r.get(0))
            .map_err(self.err("read decisions"))
    }

    /// Every decision with id <= `through`, oldest first; with `filter`,
    /// only those about one (list, entity) or one entity.
    pub fn decisions(&self, through: i64, list: Option<&str>, entity: Option<&str>) -> Result<Vec<Decision>> {
        self.decisions_between(0, through, list, entity)
    }

    /// The decisions with `after` < id <= `through`, oldest first, filtered
    /// like [`Store::decisions`].
    pub fn decisions_between(
        &self,
        after: i64,
        through: i64,
        list: Option<&str>,
        entity: Option<&str>,
    ) -> Result<Vec<Decision>> {
        let conn = self.connection();
        let mut stmt = conn
            .prepare(
                "SELECT decision_id, list_id, entity_id, action, officer, reason, until, basis, rules, decided_at,
                        approves, deadline, document, document_sha256, received_on
                 FROM decisions
                 WHERE decision_id > ?4 AND decision_id <= ?1 AND (?2 IS NULL OR list_id = ?2)
                   AND (?3 IS NULL OR entity_id = ?3)
                 ORDER BY decision_id",
            )
            .map_err(self.err("read decisions"))?;
        let rows = stmt
            .query_map(params![through, list, entity, after], |r| {
                let action: String = r.get(3)?;
                let date = |i: usize| -> rusqlite::Result<Option<AsOf>> {
                    let text: Option<String> = r.get(i)?;
                    Ok(text.and_then(|u| u.parse().ok()))
                };
                let rules: Option<String> = r.get(8)?;
                let action = Action::parse(&action).ok_or_else(|| {
                    rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, action.clone().into())
                })?;
                Ok(Decision {
                    id: r.get(0)?,
                    list_id: r.get(1)?,
                    entity_id: r.get(2)?,
                    action,
                    officer: r.get(4)?,
                    reason: r.get(5)?,
                    until: date(6)?,
                    basis: r.get(7)?,
                    rules: rules.and_then(|j| serde_json::from_str(&j).ok()),
                    decided_at: r.get(9)?,
                    approves: r.get(10)?,
                    deadline: date(11)?,
                    document: r.get(12)?,
                    document_sha256: r.get(13)?,
                    received_on: date(14)?,
                })
            })
            .map_err(self.err("read decisions"))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(self.err("read decisions"))?;
        Ok(rows)
    }
}
