//! Officer decisions: appended, never changed (triggers refuse UPDATE and
//! DELETE), read by id range.

use rusqlite::params;

use super::{now, Result, Store};
use crate::base::ids::AsOf;

/// What an officer decided (publication.md, "Officer decisions").
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Action {
    Confirm,
    Reject,
    Exempt,
    RevokeExemption,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Confirm => "confirm",
            Action::Reject => "reject",
            Action::Exempt => "exempt",
            Action::RevokeExemption => "revoke_exemption",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "confirm" => Action::Confirm,
            "reject" => Action::Reject,
            "exempt" => Action::Exempt,
            "revoke_exemption" | "revoke-exemption" => Action::RevokeExemption,
            _ => return None,
        })
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
    /// For a reject: the member's basis and rules when it was rejected.
    pub basis: Option<String>,
    pub rules: Option<Vec<String>>,
    pub decided_at: String,
}

/// A decision to be stored.
pub struct NewDecision<'a> {
    pub list_id: &'a str,
    pub entity_id: &'a str,
    pub action: Action,
    pub officer: &'a str,
    pub reason: &'a str,
    pub until: Option<AsOf>,
    pub basis: Option<&'a str>,
    pub rules: Option<&'a [String]>,
}

impl Store {
    /// Appends a decision; returns its id. Decisions are never changed.
    pub fn add_decision(&self, d: &NewDecision) -> Result<i64> {
        let conn = self.connection();
        conn.execute(
            "INSERT INTO decisions (list_id, entity_id, action, officer, reason, until, basis, rules, decided_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                d.list_id,
                d.entity_id,
                d.action.as_str(),
                d.officer,
                d.reason,
                d.until.map(|u| u.to_string()),
                d.basis,
                d.rules.map(|r| serde_json::to_string(r).expect("strings serialise")),
                now()
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
                "SELECT decision_id, list_id, entity_id, action, officer, reason, until, basis, rules, decided_at
                 FROM decisions
                 WHERE decision_id > ?4 AND decision_id <= ?1 AND (?2 IS NULL OR list_id = ?2)
                   AND (?3 IS NULL OR entity_id = ?3)
                 ORDER BY decision_id",
            )
            .map_err(self.err("read decisions"))?;
        let rows = stmt
            .query_map(params![through, list, entity, after], |r| {
                let action: String = r.get(3)?;
                let until: Option<String> = r.get(6)?;
                let rules: Option<String> = r.get(8)?;
                Ok(Decision {
                    id: r.get(0)?,
                    list_id: r.get(1)?,
                    entity_id: r.get(2)?,
                    action: Action::parse(&action).expect("checked by the table"),
                    officer: r.get(4)?,
                    reason: r.get(5)?,
                    until: until.and_then(|u| u.parse().ok()),
                    basis: r.get(7)?,
                    rules: rules.and_then(|j| serde_json::from_str(&j).ok()),
                    decided_at: r.get(9)?,
                })
            })
            .map_err(self.err("read decisions"))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(self.err("read decisions"))?;
        Ok(rows)
    }
}
