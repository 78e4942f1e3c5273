//! The review queue of a list: the members of the newest listing an
//! officer still has something to do about, each with its state now (every
//! decision so far, not only those the run used), name, grade, reasons and
//! joint path, oldest first.

use std::collections::BTreeSet;

use crate::base::ids::AsOf;
use crate::base::marts::listings::{self, ListingRow, ReviewStatus};
use crate::base::marts::mart_error;
use crate::base::marts::registry::{self, RegistryFacts};
use crate::base::marts::scores::{self, ScoreRow};
use crate::base::store::{Decision, Store};
use crate::base::warehouse::{Mart, Warehouse};
use crate::config::policy::ListSpec;
use crate::officer::member::{Listing, MemberError};
use crate::stages::review::DecisionBook;

/// Where a member of the queue stands now (publication.md v2, "Review
/// status"), in the order an officer works through them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum QueueState {
    /// An objection came in: the confirm or reject answers it.
    Objected,
    /// The notice's window passed with no objection.
    ReadyToDecide,
    /// No decision yet.
    Pending,
    /// A notice is out; the party may object until the deadline.
    Noticed { deadline: AsOf, days_left: i64 },
    /// A confirm waits for a second officer.
    AwaitingApproval { decision: i64, proposer: String },
    /// Decided since the run (a confirm or reject): it takes effect in the next.
    Decided { decision: i64, action: String, officer: String },
}

impl QueueState {
    /// The key of the state, as the queue's filter names it.
    pub fn key(&self) -> &'static str {
        match self {
            QueueState::Objected => "objected",
            QueueState::ReadyToDecide => "ready",
            QueueState::Pending => "pending",
            QueueState::Noticed { .. } => "noticed",
            QueueState::AwaitingApproval { .. } => "awaiting_approval",
            QueueState::Decided { .. } => "decided",
        }
    }

    pub const KEYS: [&'static str; 6] = ["objected", "ready", "pending", "noticed", "awaiting_approval", "decided"];
}

/// One member of the queue with what an officer decides on.
#[derive(Clone, Debug, serde::Serialize)]
pub struct QueueEntry {
    pub listing: ListingRow,
    pub state: QueueState,
    /// A state "fingerprint" the decision forms carry (see `decide`).
    pub seen: String,
    pub registry: Option<RegistryFacts>,
    pub score: Option<ScoreRow>,
    /// An exemption is in force since the run (it leaves the list in the next).
    pub exempt: bool,
    /// The first listing partition of the current unbroken stretch in review.
    pub in_review_since: AsOf,
}

/// The queue of `list` in its newest listing (or the one as of `as_of`),
/// with the listing's date; `None` before the first run.
pub fn in_review(
    wh: &Warehouse,
    store: &Store,
    list: &ListSpec,
    as_of: Option<AsOf>,
    today: AsOf,
) -> Result<Option<(AsOf, Vec<QueueEntry>)>, MemberError> {
    let Some(mut listing) = Listing::newest(wh, store, &list.id)? else { return Ok(None) };
    if let Some(d) = as_of.filter(|d| *d != listing.at) {
        listing.rows = listings::read_listings(&wh.list_mart(Mart::Listings, &list.id, d))
            .map_err(mart_error("the listings mart"))?;
        listing.at = d;
    }
    let at = listing.at;
    let ids: BTreeSet<String> = listing
        .rows
        .iter()
        .filter(|r| r.review_status.in_review() || r.review_status == ReviewStatus::Rejected)
        .map(|r| r.entity_id.clone())
        .collect();
    let decisions = store.decisions(store.last_decision_id()?, Some(&list.id), None)?;
    let book = DecisionBook::new(decisions);
    let mut scores = scores::read(wh, at, &ids).map_err(mart_error("the scores mart"))?;
    let mut facts = registry::facts(wh, at, &ids).map_err(mart_error("the registry mart"))?;
    let since = in_review_since(wh, &list.id, at, &ids)?;
    let mut entries = Vec::new();
    for id in &ids {
        let Some(m) = listing.member(list, &book, id, today) else { continue };
        let s = m.standing();
        let state = match m.now.status {
            ReviewStatus::Objected => QueueState::Objected,
            ReviewStatus::Noticed => {
                let deadline = m.now.notice_deadline.unwrap_or(today);
                QueueState::Noticed { deadline, days_left: (deadline.date() - today.date()).num_days() }
            }
            ReviewStatus::AwaitingApproval => {
                let c: &Decision = s.confirm.map(|(c, _)| c).expect("awaiting approval has a confirm");
                QueueState::AwaitingApproval { decision: c.id, proposer: c.officer.clone() }
            }
            ReviewStatus::Pending if m.ready_to_decide() => QueueState::ReadyToDecide,
            ReviewStatus::Pending => QueueState::Pending,
            _ => match s.last {
                Some(d) => {
                    QueueState::Decided { decision: d.id, action: d.action.as_str().into(), officer: d.officer.clone() }
                }
                None => continue,
            },
        };
        // A member rejected by the run and not decided again is not in the queue.
        if m.row.review_status == ReviewStatus::Rejected
            && matches!(state, QueueState::Decided { .. })
            && s.last.is_some_and(|d| d.id <= m.used)
        {
            continue;
        }
        entries.push(QueueEntry {
            seen: crate::officer::decide::fingerprint_with(&book, Some(&listing), list, id, today),
            state,
            registry: facts.remove(id),
            score: scores.remove(id),
            exempt: book.exempt(list, id, today),
            in_review_since: since.get(id).copied().unwrap_or(at),
            listing: m.row.clone(),
        });
    }
    entries
        .sort_by(|a, b| a.in_review_since.cmp(&b.in_review_since).then(a.listing.entity_id.cmp(&b.listing.entity_id)));
    Ok(Some((at, entries)))
}

/// How long each of `ids` has been in review: walks back through earlier
/// listing partitions while it was.
fn in_review_since(
    wh: &Warehouse,
    list: &str,
    at: AsOf,
    ids: &BTreeSet<String>,
) -> Result<std::collections::HashMap<String, AsOf>, MemberError> {
    let mut since: std::collections::HashMap<String, AsOf> = ids.iter().map(|i| (i.clone(), at)).collect();
    let mut still: BTreeSet<String> = ids.clone();
    for d in wh.list_mart_dates(Mart::Listings, list).iter().rev().filter(|d| **d < at) {
        let earlier = listings::read_listings(&wh.list_mart(Mart::Listings, list, *d))
            .map_err(mart_error("the listings mart"))?;
        let then: BTreeSet<String> =
            earlier.into_iter().filter(|r| r.review_status.in_review()).map(|r| r.entity_id).collect();
        still.retain(|id| then.contains(id));
        for id in &still {
            since.insert(id.clone(), *d);
        }
        if still.is_empty() {
            break;
        }
    }
    Ok(since)
}
