//! Where one member of a list stands now, for an officer about to decide:
//! its row in the newest listing, and its review as every decision
//! recorded so far reads (the run only saw the decisions made before it
//! started). The gate, the queue and the pages all read a member through
//! this, so they agree on what "now" is.

use std::collections::HashMap;
use std::sync::Arc;

use crate::base::ids::AsOf;
use crate::base::marts::listings::{self, Basis, ListingRow, ReviewStatus};
use crate::base::marts::scores;
use crate::base::marts::{mart_error, MartError};
use crate::base::store::{Decision, RunId, Store, StoreError};
use crate::base::warehouse::{Mart, Warehouse};
use crate::config::policy::ListSpec;
use crate::stages::publish;
use crate::stages::review::{self, DecisionBook, Member, Outcome, Standing};

/// A member could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    #[error(transparent)]
    Mart(#[from] MartError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Publications(#[from] publish::PublishError),
}

impl crate::base::error::Classify for MemberError {
    fn kind(&self) -> crate::base::error::ErrorKind {
        match self {
            MemberError::Mart(e) => e.kind(),
            MemberError::Store(e) => e.kind(),
            MemberError::Publications(e) => e.kind(),
        }
    }
}

/// Where the decision gate gets the newest listing of a list: read from
/// the marts on each call ([`FromMarts`]), or kept between requests by the
/// page server for as long as no run replaced it.
pub trait Listings: Sync {
    fn newest(&self, wh: &Warehouse, store: &Store, list: &ListSpec) -> Result<Option<Arc<Listing>>, MemberError>;
}

/// Reads the newest listing from the marts on every call.
pub struct FromMarts;

impl Listings for FromMarts {
    fn newest(&self, wh: &Warehouse, store: &Store, list: &ListSpec) -> Result<Option<Arc<Listing>>, MemberError> {
        Ok(Listing::newest(wh, store, &list.id)?.map(Arc::new))
    }
}

/// The newest listing of a list, with what reading its members needs.
pub struct Listing {
    /// The date of the newest listing partition.
    pub at: AsOf,
    rows: Vec<ListingRow>,
    /// Where each entity's row is in `rows`.
    index: HashMap<String, usize>,
    /// Decisions with ids up to this one were used by the run that made it.
    pub used: i64,
    /// When each entity last left the list (see [`publish::stretch_ends`]).
    stretch_ends: HashMap<String, i64>,
    /// The rule ids of the reasons of each direct member in review.
    direct_rules: HashMap<String, Vec<String>>,
}

impl Listing {
    /// The newest listing of `list`; `None` before the first run.
    pub fn newest(wh: &Warehouse, store: &Store, list: &str) -> Result<Option<Listing>, MemberError> {
        let Some(at) = wh.list_mart_dates(Mart::Listings, list).pop() else { return Ok(None) };
        let rows = listings::read_listings(&wh.list_mart(Mart::Listings, list, at))
            .map_err(mart_error("the listings mart"))?;
        let used = store.decisions_used(at)?.unwrap_or(0);
        let stretch_ends = match publish::latest(wh, list)? {
            Some(id) => publish::stretch_ends(wh, list, id, &|run| store.run_decisions(RunId(run)).ok().flatten())?,
            None => HashMap::new(),
        };
        let in_review: std::collections::BTreeSet<String> = rows
            .iter()
            .filter(|r| r.basis == Basis::Direct && !r.review_status.on_list())
            .map(|r| r.entity_id.clone())
            .collect();
        let direct_rules = match in_review.is_empty() {
            true => HashMap::new(),
            false => scores::read(wh, at, &in_review)
                .map_err(mart_error("the scores mart"))?
                .into_iter()
                .map(|(e, s)| (e, s.reasons.into_iter().map(|r| r.rule_id).collect()))
                .collect(),
        };
        let index = index_of(&rows);
        Ok(Some(Listing { at, rows, index, used, stretch_ends, direct_rules }))
    }

    /// The members of the listing, one row each.
    pub fn rows(&self) -> &[ListingRow] {
        &self.rows
    }

    /// Reads its members from another partition (an older as-of) instead,
    /// keeping what the newest run used and the stretches of the
    /// publication in force.
    pub fn with_rows_of(mut self, at: AsOf, rows: Vec<ListingRow>) -> Listing {
        self.index = index_of(&rows);
        self.rows = rows;
        self.at = at;
        self
    }

    pub fn row(&self, entity: &str) -> Option<&ListingRow> {
        self.index.get(entity).map(|i| &self.rows[*i])
    }

    /// A member of this listing as the decisions in `book` read now.
    pub fn member<'a>(
        &'a self,
        list: &ListSpec,
        book: &'a DecisionBook,
        entity: &str,
        today: AsOf,
    ) -> Option<MemberNow<'a>> {
        let row = self.row(entity)?;
        Some(MemberNow::new(self, list, row, book.review_decisions(&list.id, entity), today))
    }
}

fn index_of(rows: &[ListingRow]) -> HashMap<String, usize> {
    rows.iter().enumerate().map(|(i, r)| (r.entity_id.clone(), i)).collect()
}

/// One member of the newest listing and its review now.
pub struct MemberNow<'a> {
    pub at: AsOf,
    pub row: &'a ListingRow,
    /// What a review decision records of it: a joint member's rules, a
    /// direct member's reason rules.
    pub rules: Vec<String>,
    /// Its review family, every decision so far, oldest first.
    pub decisions: &'a [Decision],
    /// Its review status now: the listing's for a member the publication
    /// holds (`published`, `held`), else read from every decision so far.
    pub now: Outcome,
    /// Decisions with ids up to this one were used by the listing's run.
    pub used: i64,
    stretch_after: i64,
}

impl<'a> MemberNow<'a> {
    fn new(
        listing: &Listing,
        list: &ListSpec,
        row: &'a ListingRow,
        decisions: &'a [Decision],
        today: AsOf,
    ) -> MemberNow<'a> {
        let rules = match row.basis {
            Basis::Joint => row.rules.clone(),
            Basis::Direct => listing.direct_rules.get(&row.entity_id).cloned().unwrap_or_default(),
        };
        let stretch_after = listing.stretch_ends.get(&row.entity_id).copied().unwrap_or(0);
        let mut m = MemberNow {
            at: listing.at,
            row,
            rules,
            decisions,
            now: Outcome { status: row.review_status, notice_deadline: None },
            used: listing.used,
            stretch_after,
        };
        if !row.review_status.on_list() {
            m.now = review::status(list, decisions, m.member(), today);
        }
        m
    }

    /// The member as [`review`] reads it.
    pub fn member(&self) -> Member<'_> {
        Member { basis: self.row.basis, rules: &self.rules, published_before: false, stretch_after: self.stretch_after }
    }

    /// The decisions that hold for it now.
    pub fn standing(&self) -> Standing<'_> {
        review::standing(self.decisions, self.member())
    }

    /// A pending member whose notice's deadline passed with no objection.
    pub fn ready_to_decide(&self) -> bool {
        let s = self.standing();
        self.now.status == ReviewStatus::Pending && s.notice.is_some() && s.objection.is_none()
    }

    /// The state a decision form saw: a decision is refused when it
    /// differs now (the listing, the status or any decision changed).
    pub fn fingerprint(&self) -> String {
        let newest = self.decisions.last().map(|d| d.id).unwrap_or(0);
        format!(
            "{}|{}|{}|{}|#{newest}",
            self.at,
            self.now.status.as_str(),
            self.row.basis.as_str(),
            self.rules.join(",")
        )
    }
}
