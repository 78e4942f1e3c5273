//! Partner views (publication.md v2, "Partner views"): a partner sees the
//! entries of its regions, in its columns; its `changes` are computed
//! against its own view in the previous publication, on the columns it can
//! see, so that applying each view's changes to its previous entries gives
//! its new entries. An entity still on the list that left the partner's
//! regions is `removed` with `out_of_region`.

use std::collections::{HashMap, HashSet};

use super::entries::{changes, Change, Entry, RemovalReason};

/// What a view shows: region code prefixes (empty: every region) and columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cut {
    pub regions: Vec<String>,
    pub columns: Vec<String>,
}

impl Cut {
    pub fn sees(&self, region: &str) -> bool {
        self.regions.is_empty() || self.regions.iter().any(|p| region.starts_with(p.as_str()))
    }

    /// The entries of `all` this view shows (all columns kept; the files
    /// write only the view's).
    pub fn entries(&self, all: &[Entry]) -> Vec<Entry> {
        all.iter().filter(|e| self.sees(&e.region)).cloned().collect()
    }
}

/// The changes of a view: `now` is the full list's entries, `previous` the
/// view's previous entries (already cut, `None` when the partner had no
/// view), `reasons` the removal reasons of the full list by entity.
pub fn view_changes(
    cut: &Cut,
    now: &[Entry],
    previous: Option<(&Cut, Vec<Entry>)>,
    reasons: &HashMap<String, RemovalReason>,
) -> Vec<Change> {
    let still_listed: HashSet<&str> = now.iter().map(|e| e.entity_id.as_str()).collect();
    let mine = cut.entries(now);
    let (before, columns_changed) = match previous {
        Some((prev_cut, entries)) => (entries, prev_cut.columns != cut.columns),
        None => (vec![], false),
    };
    let reason = |e: &Entry| {
        if still_listed.contains(e.entity_id.as_str()) {
            RemovalReason::OutOfRegion
        } else {
            reasons.get(&e.entity_id).copied().unwrap_or(RemovalReason::GradeImproved)
        }
    };
    let mut out = changes(&mine, &before, &cut.columns, &reason);
    if columns_changed {
        // Other columns than last time: every entry kept is new in its columns.
        let touched: HashSet<String> = out.iter().map(|c| c.entry.entity_id.clone()).collect();
        let before_ids: HashSet<&str> = before.iter().map(|e| e.entity_id.as_str()).collect();
        for e in mine.iter().filter(|e| before_ids.contains(e.entity_id.as_str()) && !touched.contains(&e.entity_id)) {
            out.push(Change { action: super::entries::Action::Changed, entry: e.clone(), removal_reason: None });
        }
        out.sort_by(|a, b| a.entry.entity_id.cmp(&b.entry.entity_id));
    }
    out
}

/// Applies `changes` to `entries` (both by entity id): what a partner's
/// mirror does; used by tests to check that views add up.
pub fn apply(entries: &[Entry], changes: &[Change]) -> Vec<Entry> {
    let mut by_id: std::collections::BTreeMap<String, Entry> =
        entries.iter().map(|e| (e.entity_id.clone(), e.clone())).collect();
    for c in changes {
        match c.action {
            super::entries::Action::Removed => {
                by_id.remove(&c.entry.entity_id);
            }
            _ => {
                by_id.insert(c.entry.entity_id.clone(), c.entry.clone());
            }
        }
    }
    by_id.into_values().collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::super::entries::{Action, Entry};
    use super::{view_changes, Cut};

    fn entry(id: &str) -> Entry {
        super::super::entries::tests::entry(id, "direct", &["R"], "2026-11-20")
    }

    /// A view whose columns changed since its previous publication: every
    /// entry kept is `changed` in its new columns, beside what was added and
    /// removed, and the rows stay sorted by `entity_id` ("Publication").
    #[test]
    fn a_view_with_other_columns_changes_every_kept_entry_in_id_order() {
        let columns = |c: &[&str]| c.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        let before = Cut { regions: vec![], columns: columns(&["entity_id"]) };
        let now = Cut { regions: vec![], columns: columns(&["entity_id", "name"]) };
        let previous = vec![entry("B"), entry("D"), entry("E")];
        let all = vec![entry("A"), entry("B"), entry("C"), entry("D")];
        let changes = view_changes(&now, &all, Some((&before, previous)), &HashMap::new());
        let seen: Vec<(&str, Action)> = changes.iter().map(|c| (c.entry.entity_id.as_str(), c.action)).collect();
        assert_eq!(
            seen,
            [
                ("A", Action::Added),
                ("B", Action::Changed),
                ("C", Action::Added),
                ("D", Action::Changed),
                ("E", Action::Removed)
            ]
        );
    }

    /// publication.md "Partner views": region code prefixes, `65` for a
    /// whole province, `650100` for one city; no prefix, every region.
    #[test]
    fn a_view_sees_the_regions_its_prefixes_begin() {
        let cut = |regions: &[&str]| Cut { regions: regions.iter().map(|r| r.to_string()).collect(), columns: vec![] };
        let xinjiang = cut(&["65"]);
        assert!(xinjiang.sees("650100") && xinjiang.sees("654000"));
        assert!(!xinjiang.sees("116500") && !xinjiang.sees("350165"), "a prefix, not anywhere in the code");
        let cities = cut(&["650100", "110000"]);
        assert!(cities.sees("650100") && cities.sees("110000") && !cities.sees("650200"));
        assert!(cut(&[]).sees("350100"), "no prefix: every region");
    }
}
