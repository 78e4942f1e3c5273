//! The review queue of a list: its pending members in the newest listing,
//! each with its name, grade, reasons and joint path, oldest pending first.

use std::collections::BTreeSet;

use crate::base::ids::AsOf;
use crate::base::marts::listings::{self, ListingRow, ReviewStatus};
use crate::base::marts::registry::{self, RegistryFacts};
use crate::base::marts::scores::{self, ScoreRow};
use crate::base::marts::{mart_error, MartError};
use crate::base::warehouse::{Mart, Warehouse};

/// One pending member with what an officer decides on.
#[derive(Clone, Debug, serde::Serialize)]
pub struct QueueEntry {
    pub listing: ListingRow,
    pub registry: Option<RegistryFacts>,
    pub score: Option<ScoreRow>,
    /// The first listing partition of the current unbroken pending stretch.
    pub pending_since: AsOf,
}

/// The pending members of `list` in its newest listing partition (or the
/// one as of `as_of`), with the partition's date.
pub fn pending(wh: &Warehouse, list: &str, as_of: Option<AsOf>) -> Result<Option<(AsOf, Vec<QueueEntry>)>, MartError> {
    let dates = wh.list_mart_dates(Mart::Listings, list);
    let Some(at) = as_of.or(dates.last().copied()) else { return Ok(None) };
    let rows =
        listings::read_listings(&wh.list_mart(Mart::Listings, list, at)).map_err(mart_error("the listings mart"))?;
    let rows: Vec<ListingRow> = rows.into_iter().filter(|r| r.review_status == ReviewStatus::Pending).collect();
    let ids: BTreeSet<String> = rows.iter().map(|r| r.entity_id.clone()).collect();
    let mut scores = scores::read(wh, at, &ids).map_err(mart_error("the scores mart"))?;
    let mut facts = registry::facts(wh, at, &ids).map_err(mart_error("the registry mart"))?;

    // How long each has been pending: walk back through earlier partitions.
    let mut since: std::collections::HashMap<String, AsOf> = ids.iter().map(|i| (i.clone(), at)).collect();
    let mut still: BTreeSet<String> = ids.clone();
    for d in dates.iter().rev().filter(|d| **d < at) {
        let earlier = listings::read_listings(&wh.list_mart(Mart::Listings, list, *d))
            .map_err(mart_error("the listings mart"))?;
        let pending_then: BTreeSet<String> =
            earlier.into_iter().filter(|r| r.review_status == ReviewStatus::Pending).map(|r| r.entity_id).collect();
        still.retain(|id| pending_then.contains(id));
        for id in &still {
            since.insert(id.clone(), *d);
        }
        if still.is_empty() {
            break;
        }
    }
    let mut entries: Vec<QueueEntry> = rows
        .into_iter()
        .map(|r| QueueEntry {
            registry: facts.remove(&r.entity_id),
            score: scores.remove(&r.entity_id),
            pending_since: since[&r.entity_id],
            listing: r,
        })
        .collect();
    entries.sort_by(|a, b| a.pending_since.cmp(&b.pending_since).then(a.listing.entity_id.cmp(&b.listing.entity_id)));
    Ok(Some((at, entries)))
}
