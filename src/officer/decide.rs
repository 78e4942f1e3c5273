//! Taking an officer's decision (publication.md, "Officer decisions"):
//! every check that can refuse it, then one appended row. A refused
//! decision writes nothing and says why.

use std::collections::BTreeSet;

use crate::base::error::{Classify, ErrorKind};
use crate::base::ids::{AsOf, EntityId};
use crate::base::marts::listings::{self, Basis, ReviewStatus};
use crate::base::marts::registry;
use crate::base::marts::scores;
use crate::base::marts::{mart_error, MartError};
use crate::base::store::{Action, NewDecision, Store, StoreError};
use crate::base::warehouse::{Mart, Warehouse};
use crate::config::policy::Policy;
use crate::stages::review::DecisionBook;

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
    #[error(transparent)]
    Read(#[from] MartError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Classify for Refusal {
    fn kind(&self) -> ErrorKind {
        match self {
            Refusal::Read(e) => e.kind(),
            Refusal::Store(e) => e.kind(),
            _ => ErrorKind::Input,
        }
    }
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
    // The registry as the newest run accepted it.
    let newest = wh.mart_dates(Mart::Registry).pop();
    let known = match newest {
        Some(d) => registry::facts(wh, d, &ids).map_err(mart_error("the registry mart"))?.contains_key(req.entity),
        None => false,
    };
    if !known {
        let snapshot = match newest {
            Some(d) => match registry::snapshot(wh, d).map_err(mart_error("the registry mart"))? {
                Some(s) => format!("ingest_date={s}"),
                None => format!("of the run as of {d}, empty"),
            },
            None => "none: no run yet".into(),
        };
        return Err(Refusal::NotInRegistry { entity: req.entity.into(), snapshot });
    }

    let (mut basis, mut rules) = (None, None);
    match req.action {
        Action::Confirm | Action::Reject => {
            let verb = if req.action == Action::Confirm { "confirm" } else { "reject" };
            let Some(as_of) = wh.list_mart_dates(Mart::Listings, req.list).pop() else {
                return Err(Refusal::NoListing { action: verb, entity: req.entity.into(), list: req.list.into() });
            };
            let rows = listings::read_listings(&wh.list_mart(Mart::Listings, req.list, as_of))
                .map_err(mart_error("the listings mart"))?;
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
                    Basis::Direct => scores::read(wh, as_of, &ids)
                        .map_err(mart_error("the scores mart"))?
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
