//! What a publication holds (publication.md, "Publication"): the entries
//! of a list's published members and the changes against the previous
//! publication, with `listed_since` and removal reasons. Pure functions of
//! their inputs, so a publication can be rebuilt and compared byte for byte.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use crate::base::ids::AsOf;

/// A publication id: the as-of date, then `.2`, `.3`, ... for a second or
/// later publication of the same date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicationId {
    pub date: AsOf,
    pub seq: u32,
}

impl PublicationId {
    pub fn first(date: AsOf) -> PublicationId {
        PublicationId { date, seq: 1 }
    }

    pub fn next_same_day(self) -> PublicationId {
        PublicationId { date: self.date, seq: self.seq + 1 }
    }
}

impl fmt::Display for PublicationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.seq == 1 {
            write!(f, "{}", self.date)
        } else {
            write!(f, "{}.{}", self.date, self.seq)
        }
    }
}

/// Text that is not a publication id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a publication id")]
pub struct BadPublicationId(pub String);

impl FromStr for PublicationId {
    type Err = BadPublicationId;
    fn from_str(s: &str) -> Result<Self, BadPublicationId> {
        let (date, seq) = match s.split_once('.') {
            Some((d, n)) => {
                (d, n.parse::<u32>().ok().filter(|n| *n >= 2).ok_or_else(|| BadPublicationId(s.to_string()))?)
            }
            None => (s, 1),
        };
        let date = date.parse::<AsOf>().map_err(|_| BadPublicationId(s.to_string()))?;
        let id = PublicationId { date, seq };
        // Exactly one spelling per id: "D.1" or "D.02" are not ids.
        if id.to_string() != s {
            return Err(BadPublicationId(s.to_string()));
        }
        Ok(id)
    }
}

/// One published member of a list.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub entity_id: String,
    pub name: String,
    pub region: String,
    pub online_store: Option<String>,
    pub list_id: String,
    pub basis: String,
    pub depth: i32,
    pub rules: Vec<String>,
    pub roots: Vec<String>,
    pub listed_since: AsOf,
    pub measures: Vec<String>,
}

/// The kind of a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Added,
    Removed,
    Changed,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Added => "added",
            Action::Removed => "removed",
            Action::Changed => "changed",
        }
    }
}

/// Why a member left the list (publication.md v2): the first that holds,
/// in this order; `out_of_region` only in a partner's view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RemovalReason {
    Exempted,
    OutOfScope,
    Repaired,
    JointBasisEnded,
    PolicyChanged,
    GradeImproved,
    /// Still on the list, no longer in the partner's regions.
    OutOfRegion,
}

impl RemovalReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RemovalReason::Exempted => "exempted",
            RemovalReason::OutOfScope => "out_of_scope",
            RemovalReason::Repaired => "repaired",
            RemovalReason::JointBasisEnded => "joint_basis_ended",
            RemovalReason::PolicyChanged => "policy_changed",
            RemovalReason::GradeImproved => "grade_improved",
            RemovalReason::OutOfRegion => "out_of_region",
        }
    }

    pub fn parse(s: &str) -> Option<RemovalReason> {
        [
            RemovalReason::Exempted,
            RemovalReason::OutOfScope,
            RemovalReason::Repaired,
            RemovalReason::JointBasisEnded,
            RemovalReason::PolicyChanged,
            RemovalReason::GradeImproved,
            RemovalReason::OutOfRegion,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// One row of `changes`.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub action: Action,
    /// The entry as now; for `removed`, as last published.
    pub entry: Entry,
    pub removal_reason: Option<RemovalReason>,
}

/// What is known about a removed member when choosing its reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RemovalFacts {
    /// An exemption is in force.
    pub exempt: bool,
    /// In the registry snapshot and in the policy's scope.
    pub in_scope: bool,
    /// A repair approved on or before D covers a record behind the member's
    /// reasons in the scores of the previous publication's run.
    pub repaired: bool,
    /// A joint member none of whose via members is on the list now, or
    /// whose branch or holding link to them is gone.
    pub joint_basis_ended: bool,
    /// The policy's SHA-256 differs from the previous publication's.
    pub policy_changed: bool,
}

/// The removal reason of a member, the first of publication.md's order
/// that holds.
pub fn removal_reason(facts: &RemovalFacts) -> RemovalReason {
    if facts.exempt {
        RemovalReason::Exempted
    } else if !facts.in_scope {
        RemovalReason::OutOfScope
    } else if facts.repaired {
        RemovalReason::Repaired
    } else if facts.joint_basis_ended {
        RemovalReason::JointBasisEnded
    } else if facts.policy_changed {
        RemovalReason::PolicyChanged
    } else {
        RemovalReason::GradeImproved
    }
}

impl Entry {
    /// Whether `self` and `other` differ in a column `changed` looks at:
    /// every entry column but `listed_since` (publication.md v2), among
    /// `columns` (a partner's view sees only its own).
    pub fn differs(&self, other: &Entry, columns: &[String]) -> bool {
        columns.iter().any(|c| match c.as_str() {
            "entity_id" => self.entity_id != other.entity_id,
            "name" => self.name != other.name,
            "region" => self.region != other.region,
            "online_store" => self.online_store != other.online_store,
            "list_id" => self.list_id != other.list_id,
            "basis" => self.basis != other.basis,
            "depth" => self.depth != other.depth,
            "rules" => self.rules != other.rules,
            "roots" => self.roots != other.roots,
            "measures" => self.measures != other.measures,
            _ => false,
        })
    }
}

/// `listed_since` for a member published on `date`: kept from the previous
/// publication when it was there (an unbroken stretch), else `date`.
pub fn listed_since(entity: &str, previous: &HashMap<String, Entry>, date: AsOf) -> AsOf {
    previous.get(entity).map(|e| e.listed_since).unwrap_or(date)
}

/// The changes from `previous` to `now` (both sorted by entity id), sorted
/// by entity id, looking at `columns`. `reason` chooses the removal reason
/// of a removed entry.
pub fn changes(
    now: &[Entry],
    previous: &[Entry],
    columns: &[String],
    reason: &dyn Fn(&Entry) -> RemovalReason,
) -> Vec<Change> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < now.len() || j < previous.len() {
        let order = match (now.get(i), previous.get(j)) {
            (Some(a), Some(b)) => a.entity_id.cmp(&b.entity_id),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, _) => std::cmp::Ordering::Greater,
        };
        match order {
            std::cmp::Ordering::Less => {
                out.push(Change { action: Action::Added, entry: now[i].clone(), removal_reason: None });
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                let last = &previous[j];
                out.push(Change { action: Action::Removed, entry: last.clone(), removal_reason: Some(reason(last)) });
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                let (a, b) = (&now[i], &previous[j]);
                if a.differs(b, columns) {
                    out.push(Change { action: Action::Changed, entry: a.clone(), removal_reason: None });
                }
                i += 1;
                j += 1;
            }
        }
    }
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// An entry of list `l` in region 650100, rooted at `A`.
    pub(in crate::stages::publish) fn entry(id: &str, basis: &str, rules: &[&str], since: &str) -> Entry {
        Entry {
            entity_id: id.into(),
            name: format!("Name {id}"),
            region: "650100".into(),
            online_store: None,
            list_id: "l".into(),
            basis: basis.into(),
            depth: if basis == "joint" { 1 } else { 0 },
            rules: rules.iter().map(|s| s.to_string()).collect(),
            roots: vec!["A".into()],
            listed_since: since.parse().unwrap(),
            measures: vec!["m".into()],
        }
    }

    #[test]
    fn publication_ids_have_one_spelling_and_order_by_sequence() {
        let d: PublicationId = "2026-11-27".parse().unwrap();
        let d2: PublicationId = "2026-11-27.2".parse().unwrap();
        let d10: PublicationId = "2026-11-27.10".parse().unwrap();
        assert!(d < d2 && d2 < d10 && d10 < "2026-11-28".parse().unwrap());
        assert_eq!(d.next_same_day(), d2);
        for bad in ["2026-11-27.1", "2026-11-27.02", "2026-11-27.x", "latest", "../etc"] {
            assert!(bad.parse::<PublicationId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn changes_are_added_removed_and_changed_in_entity_order() {
        let prev = vec![
            entry("A", "direct", &[], "2026-11-01"),
            entry("B", "joint", &["JS_BRANCH"], "2026-11-01"),
            entry("C", "direct", &[], "2026-11-01"),
        ];
        let now = vec![
            entry("A", "direct", &[], "2026-11-01"),
            entry("B", "joint", &["JS_BRANCH", "JS_CONTROL"], "2026-11-01"),
            entry("D", "direct", &[], "2026-11-27"),
        ];
        let all: Vec<String> = crate::config::partners::ENTRY_COLUMNS.iter().map(|c| c.to_string()).collect();
        let c = changes(&now, &prev, &all, &|_| RemovalReason::GradeImproved);
        let got: Vec<(&str, &str)> = c.iter().map(|c| (c.action.as_str(), c.entry.entity_id.as_str())).collect();
        assert_eq!(got, [("changed", "B"), ("removed", "C"), ("added", "D")]);
        assert_eq!(c[1].removal_reason, Some(RemovalReason::GradeImproved));
        assert_eq!(c[1].entry, prev[2], "a removed row shows the entry as last published");
    }

    #[test]
    fn removal_reasons_take_the_first_that_holds_in_the_v2_order() {
        let f = |exempt, in_scope, repaired, joint_basis_ended, policy_changed| RemovalFacts {
            exempt,
            in_scope,
            repaired,
            joint_basis_ended,
            policy_changed,
        };
        assert_eq!(removal_reason(&f(true, false, true, true, true)), RemovalReason::Exempted);
        assert_eq!(removal_reason(&f(false, false, true, true, true)), RemovalReason::OutOfScope);
        assert_eq!(removal_reason(&f(false, true, true, true, true)), RemovalReason::Repaired);
        assert_eq!(removal_reason(&f(false, true, false, true, true)), RemovalReason::JointBasisEnded);
        assert_eq!(removal_reason(&f(false, true, false, false, true)), RemovalReason::PolicyChanged);
        assert_eq!(removal_reason(&f(false, true, false, false, false)), RemovalReason::GradeImproved);
    }

    #[test]
    fn changed_covers_every_column_but_listed_since() {
        let all: Vec<String> = crate::config::partners::ENTRY_COLUMNS.iter().map(|c| c.to_string()).collect();
        let a = entry("A", "direct", &[], "2026-11-01");
        let mut b = a.clone();
        b.listed_since = "2026-11-20".parse().unwrap();
        assert!(!a.differs(&b, &all), "listed_since alone is no change");
        b.measures = vec!["m".into(), "n".into()];
        assert!(a.differs(&b, &all), "a measures-only change shows");
        assert!(!a.differs(&b, &["entity_id".to_string(), "name".to_string()]), "a view that cannot see measures");
        let mut c = a.clone();
        c.name = "Renamed".into();
        assert!(a.differs(&c, &all));
    }

    /// Each entry column but `listed_since`, changed alone, is a change
    /// for a view that sees it and none for a view that does not.
    #[test]
    fn each_visible_column_changed_alone_is_a_change() {
        let a = entry("A", "direct", &["V_GRAVE"], "2026-11-01");
        let alone: Vec<(&str, Entry)> = vec![
            ("entity_id", Entry { entity_id: "B".into(), ..a.clone() }),
            ("name", Entry { name: "Renamed".into(), ..a.clone() }),
            ("region", Entry { region: "650200".into(), ..a.clone() }),
            ("online_store", Entry { online_store: Some("shop-1".into()), ..a.clone() }),
            ("list_id", Entry { list_id: "other".into(), ..a.clone() }),
            ("basis", Entry { basis: "joint".into(), ..a.clone() }),
            ("depth", Entry { depth: 2, ..a.clone() }),
            ("rules", Entry { rules: vec!["V_GRAVE".into(), "V_REPEAT".into()], ..a.clone() }),
            ("roots", Entry { roots: vec!["A".into(), "C".into()], ..a.clone() }),
            ("measures", Entry { measures: vec!["m".into(), "n".into()], ..a.clone() }),
        ];
        let columns = crate::config::partners::ENTRY_COLUMNS;
        assert_eq!(alone.len() + 1, columns.len(), "every column but listed_since is changed once here");
        for (column, b) in &alone {
            let others: Vec<String> = columns.iter().filter(|c| *c != column).map(|c| c.to_string()).collect();
            assert!(a.differs(b, &[column.to_string()]), "{column} changed is a change");
            assert!(!a.differs(b, &others), "{column} changed is no change for a view without it");
        }
    }

    #[test]
    fn listed_since_carries_over_an_unbroken_stretch() {
        let prev: HashMap<String, Entry> = [("A".to_string(), entry("A", "direct", &[], "2026-11-01"))].into();
        let d: AsOf = "2026-11-27".parse().unwrap();
        assert_eq!(listed_since("A", &prev, d).to_string(), "2026-11-01");
        assert_eq!(listed_since("B", &prev, d), d);
    }
}
