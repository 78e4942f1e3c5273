//! Taking an officer's decision (publication.md, "Officer decisions"):
//! every check that can refuse it, then one appended row. A refused
//! decision writes nothing and says why.

use std::collections::BTreeSet;

use crate::base::ids::{AsOf, EntityId};
use crate::base::marts::listings::{self, Basis, ReviewStatus};
use crate::base::marts;
use crate::config::policy::Policy;
use crate::stages::review::DecisionBook;
use crate::base::store::{Action, NewDecision, Store, StoreError};
use crate::base::warehouse::Warehouse;

/// Fewest characters of a decision's reason (after trimming).
pub const MIN_REASON_CHARS: usize = 10;

/// A decision as asked for.
pub struct Request<'a> {
    pub action: Action,
    pub list: &'a str,
    pub entity: &'a str,
    pub officer: &'a str,
    pub reason: &'a str,
    pub until: Option<AsOf>,
}

/// Why a decision was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("the reason must have at least {MIN_REASON_CHARS} characters, found {found}")]
    ReasonTooShort { found: usize },
    #[error("the officer id must not be empty")]
    NoOfficer,
    #[error("list '{list}' is not a list of policy {policy} (lists: {known})")]
    UnknownList { list: String, policy: String, known: String },
    #[error("'{0}' is not a valid entity id")]
    BadEntityId(String),
    #[error("entity {entity} is not in the registry (snapshot {snapshot})")]
    NotInRegistry { entity: String, snapshot: String },
    #[error("--until applies to exempt only")]
    UntilWithoutExempt,
    #[error("cannot {action} {entity} on {list}: no run has produced the list yet")]
    NoListing { action: &'static str, entity: String, list: String },
    #[error("cannot {action} {entity} on {list}: it is not pending in the listing as of {as_of} ({found})")]
    NotPending { action: &'static str, entity: String, list: String, as_of: AsOf, found: String },
    #[error("cannot revoke: no exemption of {entity} from {list} is in force")]
    NoExemption { entity: String, list: String },
    #[error("reading the warehouse: {0}")]
    Read(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks a decision and appends it; returns its id.
pub fn decide(wh: &Warehouse, policy: &Policy, store: &Store, req: &Request) -> Result<i64, Refusal> {
    let reason_chars = req.reason.trim().chars().count();
    if reason_chars < MIN_REASON_CHARS {
        return Err(Refusal::ReasonTooShort { found: reason_chars });
    }
    if req.officer.trim().is_empty() {
        return Err(Refusal::NoOfficer);
    }
    if policy.list(req.list).is_none() {
        return Err(Refusal::UnknownList {
            list: req.list.into(),
            policy: policy.id.clone(),
            known: policy.lists.iter().map(|l| l.id.as_str()).collect::<Vec<_>>().join(", "),
        });
    }
    if EntityId::parse(req.entity).is_none() {
        return Err(Refusal::BadEntityId(req.entity.into()));
    }
    if req.until.is_some() && req.action != Action::Exempt {
        return Err(Refusal::UntilWithoutExempt);
    }
    let ids: BTreeSet<String> = [req.entity.to_string()].into();
    let facts = marts::registry_facts(wh, None, &ids).map_err(Refusal::Read)?;
    if !facts.contains_key(req.entity) {
        let snapshot = newest_registry(wh).unwrap_or_else(|| "none".into());
        return Err(Refusal::NotInRegistry { entity: req.entity.into(), snapshot });
    }

    let (mut basis, mut rules) = (None, None);
    match req.action {
        Action::Confirm | Action::Reject => {
            let verb = if req.action == Action::Confirm { "confirm" } else { "reject" };
            let Some(as_of) = listings::partitions(wh.root(), "listings", req.list).pop() else {
                return Err(Refusal::NoListing { action: verb, entity: req.entity.into(), list: req.list.into() });
            };
            let rows = listings::read_listings(&wh.list_mart("listings", req.list, as_of))
                .map_err(|e| Refusal::Read(e.to_string()))?;
            let row = rows.into_iter().find(|r| r.entity_id == req.entity);
            let found = match &row {
                None => "not a member".to_string(),
                Some(r) if r.review_status != ReviewStatus::Pending => r.review_status.as_str().to_string(),
                Some(_) => String::new(),
            };
            if !found.is_empty() {
                return Err(Refusal::NotPending {
                    action: verb,
                    entity: req.entity.into(),
                    list: req.list.into(),
                    as_of,
                    found,
                });
            }
            let row = row.expect("a pending member");
            if req.action == Action::Reject {
                // The reject holds only while basis and rules stay these.
                let recorded = match row.basis {
                    Basis::Joint => row.rules.clone(),
                    Basis::Direct => marts::scores(wh, as_of, &ids)
                        .map_err(|e| Refusal::Read(e.to_string()))?
                        .get(req.entity)
                        .map(|s| s.reasons.iter().map(|r| r.rule_id.clone()).collect())
                        .unwrap_or_default(),
                };
                basis = Some(row.basis.as_str());
                rules = Some(recorded);
            }
        }
        Action::RevokeExemption => {
            let book =
                DecisionBook::new(store.decisions(store.last_decision_id()?, Some(req.list), Some(req.entity))?);
            let today = AsOf::new(chrono::Utc::now().date_naive());
            if !book.exempt(req.list, req.entity, today) {
                return Err(Refusal::NoExemption { entity: req.entity.into(), list: req.list.into() });
            }
        }
        Action::Exempt => {}
    }
    Ok(store.add_decision(&NewDecision {
        list_id: req.list,
        entity_id: req.entity,
        action: req.action,
        officer: req.officer.trim(),
        reason: req.reason.trim(),
        until: req.until,
        basis,
        rules: rules.as_deref(),
    })?)
}

fn newest_registry(wh: &Warehouse) -> Option<String> {
    let dir = wh.landing(crate::base::contract::Dataset::Registry);
    let mut names: Vec<String> =
        std::fs::read_dir(dir).ok()?.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names.pop()
}
