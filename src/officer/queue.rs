//! The review queue of a list: the members of the newest listing an
//! officer still has something to do about, each with its state now (every
//! decision so far, not only those the run used), name, grade, reasons and
//! joint path, oldest first.

use std::collections::BTreeSet;
use std::sync::Arc;

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
) -> Result<Option<(AsOf, Entries)>, MemberError> {
    let Some(base) = QueueBase::load(wh, store, list, as_of)? else { return Ok(None) };
    Ok(Some((base.at(), base.entries(store, list, today)?)))
}

/// What a queue reads from the marts of one run: the listing, and the
/// scores, registry facts and time in review of its members in review.
/// It changes only with a new run, so the page server keeps it between
/// requests; decisions are read anew by [`QueueBase::entries`].
pub struct QueueBase {
    listing: Arc<Listing>,
    ids: BTreeSet<String>,
    scores: std::collections::HashMap<String, ScoreRow>,
    facts: std::collections::HashMap<String, RegistryFacts>,
    since: std::collections::HashMap<String, AsOf>,
    kept: std::sync::Mutex<Option<Kept>>,
}

impl QueueBase {
    /// Reads the marts behind the queue of `list` (newest listing, or the
    /// one as of `as_of`); `None` before the first run.
    pub fn load(
        wh: &Warehouse,
        store: &Store,
        list: &ListSpec,
        as_of: Option<AsOf>,
    ) -> Result<Option<QueueBase>, MemberError> {
        let Some(mut listing) = Listing::newest(wh, store, &list.id)? else { return Ok(None) };
        if let Some(d) = as_of.filter(|d| *d != listing.at) {
            let rows = listings::read_listings(&wh.list_mart(Mart::Listings, &list.id, d))
                .map_err(mart_error("the listings mart"))?;
            listing = listing.with_rows_of(d, rows);
        }
        let at = listing.at;
        let ids: BTreeSet<String> = listing
            .rows()
            .iter()
            .filter(|r| r.review_status.in_review() || r.review_status == ReviewStatus::Rejected)
            .map(|r| r.entity_id.clone())
            .collect();
        let scores = scores::read(wh, at, &ids).map_err(mart_error("the scores mart"))?;
        let facts = registry::facts(wh, at, &ids).map_err(mart_error("the registry mart"))?;
        let since = in_review_since(wh, &list.id, at, &ids)?;
        let listing = Arc::new(listing);
        Ok(Some(QueueBase { listing, ids, scores, facts, since, kept: Default::default() }))
    }

    /// The date of the listing read.
    pub fn at(&self) -> AsOf {
        self.listing.at
    }

    /// The listing read.
    pub fn listing(&self) -> &Arc<Listing> {
        &self.listing
    }

    /// The members in review under every decision so far, oldest in review
    /// first. The entries of the last call are kept: when only decisions
    /// came since (same day), just the members they are about are read
    /// again, since an entry depends on its own (list, entity) decisions
    /// alone.
    pub fn entries(&self, store: &Store, list: &ListSpec, today: AsOf) -> Result<Entries, MemberError> {
        let last = store.last_decision_id()?;
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let entries = match kept {
            Some(k) if k.today == today && k.last == last => return Ok(k.entries),
            Some(k) if k.today == today && k.last < last => {
                let touched: BTreeSet<String> = store
                    .decisions_between(k.last, last, Some(&list.id), None)?
                    .into_iter()
                    .map(|d| d.entity_id)
                    .filter(|e| self.ids.contains(e))
                    .collect();
                if touched.len() > MAX_TOUCHED {
                    self.all_entries(store, list, today, last)?
                } else {
                    let mut decisions = Vec::new();
                    for e in &touched {
                        decisions.extend(store.decisions(last, Some(&list.id), Some(e))?);
                    }
                    decisions.sort_by_key(|d| d.id);
                    let book = DecisionBook::new(decisions);
                    let mut v: Vec<Arc<QueueEntry>> =
                        k.entries.iter().filter(|e| !touched.contains(&e.listing.entity_id)).cloned().collect();
                    v.extend(touched.iter().filter_map(|id| self.entry(&book, list, id, today)).map(Arc::new));
                    in_queue_order(&mut v);
                    v
                }
            }
            _ => self.all_entries(store, list, today, last)?,
        };
        let entries = Arc::new(entries);
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.as_ref().is_none_or(|k| (k.today, k.last) <= (today, last)) {
            *kept = Some(Kept { last, today, entries: entries.clone() });
        }
        Ok(entries)
    }

    fn all_entries(
        &self,
        store: &Store,
        list: &ListSpec,
        today: AsOf,
        last: i64,
    ) -> Result<Vec<Arc<QueueEntry>>, MemberError> {
        let book = DecisionBook::new(store.decisions(last, Some(&list.id), None)?);
        let mut entries: Vec<Arc<QueueEntry>> =
            self.ids.iter().filter_map(|id| self.entry(&book, list, id, today)).map(Arc::new).collect();
        in_queue_order(&mut entries);
        Ok(entries)
    }

    /// The entry of one member under the decisions in `book`; `None` when it
    /// is not in the queue.
    fn entry(&self, book: &DecisionBook, list: &ListSpec, id: &str, today: AsOf) -> Option<QueueEntry> {
        let listing = &self.listing;
        let m = listing.member(list, book, id, today)?;
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
            _ => {
                let d = s.last?;
                QueueState::Decided { decision: d.id, action: d.action.as_str().into(), officer: d.officer.clone() }
            }
        };
        // A member rejected by the run and not decided again is not in the queue.
        if m.row.review_status == ReviewStatus::Rejected
            && matches!(state, QueueState::Decided { .. })
            && s.last.is_some_and(|d| d.id <= m.used)
        {
            return None;
        }
        Some(QueueEntry {
            seen: crate::officer::decide::fingerprint_with(book, Some(listing), list, id, today),
            state,
            registry: self.facts.get(id).cloned(),
            score: self.scores.get(id).cloned(),
            exempt: book.exempt(list, id, today),
            in_review_since: self.since.get(id).copied().unwrap_or(listing.at),
            listing: m.row.clone(),
        })
    }
}

/// The queue's entries, shared between the requests that read them.
pub type Entries = Arc<Vec<Arc<QueueEntry>>>;

/// Above this many members decided since the entries were kept, they are
/// all built again rather than one by one.
const MAX_TOUCHED: usize = 1000;

/// The entries of the last [`QueueBase::entries`] call.
#[derive(Clone)]
struct Kept {
    last: i64,
    today: AsOf,
    entries: Entries,
}

/// Oldest in review first, then by entity id.
fn in_queue_order(entries: &mut [Arc<QueueEntry>]) {
    entries
        .sort_by(|a, b| a.in_review_since.cmp(&b.in_review_since).then(a.listing.entity_id.cmp(&b.listing.entity_id)));
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
        let then = listings::read_in_review(&wh.list_mart(Mart::Listings, list, *d))
            .map_err(mart_error("the listings mart"))?;
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

/// Members in review at each of the `runs` newest listing partitions of a
/// list (oldest first), counted by how long they had been in review then:
/// `[under 3 days, 3 to 9 days, 10 days or more]`. A stretch in review
/// starts at the first partition of an unbroken run of partitions that
/// show the member in review; stretches are followed over at most
/// [`AGE_LOOKBACK`] partitions, so older ones count from there.
pub fn review_age_over_runs(wh: &Warehouse, list: &str, runs: usize) -> Result<Vec<(AsOf, [u64; 3])>, MemberError> {
    let dates = wh.list_mart_dates(Mart::Listings, list);
    let first = dates.len().saturating_sub(runs.max(AGE_LOOKBACK));
    let mut since: std::collections::HashMap<String, AsOf> = std::collections::HashMap::new();
    let mut out = Vec::new();
    for d in &dates[first..] {
        let now = listings::read_in_review(&wh.list_mart(Mart::Listings, list, *d))
            .map_err(mart_error("the listings mart"))?;
        since.retain(|id, _| now.contains(id));
        let mut buckets = [0u64; 3];
        for id in now {
            let start = *since.entry(id).or_insert(*d);
            let days = (d.date() - start.date()).num_days();
            buckets[if days < 3 {
                0
            } else if days < 10 {
                1
            } else {
                2
            }] += 1;
        }
        out.push((*d, buckets));
    }
    let keep = out.len().saturating_sub(runs);
    Ok(out.split_off(keep))
}

/// Listing partitions read back to find when a stretch in review began.
pub const AGE_LOOKBACK: usize = 30;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::marts::listings::{write_listings, Basis, Stamp};

    fn row(id: &str, status: ReviewStatus) -> ListingRow {
        ListingRow {
            entity_id: id.into(),
            list_id: "l".into(),
            basis: Basis::Direct,
            depth: 0,
            rules: vec![],
            via: vec![],
            roots: vec![id.into()],
            review_status: status,
            notice_deadline: None,
        }
    }

    /// Four nights' listings of list `l`: A is in review throughout; B
    /// leaves review on the 5th and comes back on the 14th; C is in review
    /// on the 11th alone.
    fn four_nights() -> (tempfile::TempDir, Warehouse) {
        use ReviewStatus::*;
        nights_of(&[
            ("2026-11-01", vec![row("A", Pending), row("B", Noticed)]),
            ("2026-11-05", vec![row("A", Objected), row("B", Published)]),
            ("2026-11-11", vec![row("A", AwaitingApproval), row("B", Published), row("C", Pending)]),
            ("2026-11-14", vec![row("A", Pending), row("B", Pending), row("C", Held)]),
        ])
    }

    /// A warehouse whose list `l` has these nights' listings.
    fn nights_of(nights: &[(&str, Vec<ListingRow>)]) -> (tempfile::TempDir, Warehouse) {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::new(dir.path());
        for (d, rows) in nights {
            let as_of: AsOf = d.parse().unwrap();
            let stamp = Stamp { policy_id: "p", policy_version: "1", as_of };
            let target = wh.list_mart(Mart::Listings, "l", as_of);
            std::fs::create_dir_all(&target).unwrap();
            write_listings(&target, rows, &stamp).unwrap();
        }
        (dir, wh)
    }

    #[test]
    fn review_age_counts_each_unbroken_stretch_in_review_from_its_start() {
        let (_dir, wh) = four_nights();
        let ages = review_age_over_runs(&wh, "l", 3).unwrap();
        let shown: Vec<(String, [u64; 3])> = ages.iter().map(|(d, b)| (d.to_string(), *b)).collect();
        assert_eq!(
            shown,
            vec![
                ("2026-11-05".to_string(), [0, 1, 0]), // A 4 days
                ("2026-11-11".to_string(), [1, 0, 1]), // C new, A 10 days
                ("2026-11-14".to_string(), [1, 0, 1]), // B back (new stretch), A 13 days; C held, not in review
            ]
        );
    }

    /// The age buckets' edges: 3 days is "3 to 9 days", 10 days "10 days or more".
    #[test]
    fn review_age_buckets_start_at_3_and_10_days() {
        use ReviewStatus::*;
        let (_dir, wh) = nights_of(&[
            ("2026-11-01", vec![row("A", Pending), row("B", Pending)]),
            ("2026-11-02", vec![row("A", Pending), row("B", Pending)]),
            ("2026-11-04", vec![row("A", Pending), row("B", Pending)]),
            ("2026-11-11", vec![row("A", Pending)]),
        ]);
        let ages = review_age_over_runs(&wh, "l", 3).unwrap();
        let shown: Vec<[u64; 3]> = ages.iter().map(|(_, b)| *b).collect();
        assert_eq!(shown, [[2, 0, 0], [0, 2, 0], [0, 0, 1]], "1 day, 3 days, 10 days");
    }

    #[test]
    fn a_member_is_in_review_since_the_start_of_its_current_unbroken_stretch() {
        let (_dir, wh) = four_nights();
        let ids: BTreeSet<String> = ["A", "B"].map(String::from).into();
        let since = in_review_since(&wh, "l", "2026-11-14".parse().unwrap(), &ids).unwrap();
        assert_eq!(since["A"].to_string(), "2026-11-01");
        assert_eq!(since["B"].to_string(), "2026-11-14", "back in review after a gap: a new stretch");
    }
}
