//! The lists step of a run, between the stages: a list's members (joint
//! sanctions), their review status (decisions, the publication in force,
//! the held rule), and why each member of the previous publication that is
//! not published now left it (publication.md v2, removal reasons).

use std::collections::{BTreeSet, HashMap, HashSet};

use arrow::array::AsArray;
use rayon::prelude::*;

use crate::base::ids::AsOf;
use crate::base::marts::listings::{self, Basis, ListingRow, ReviewStatus};
use crate::base::marts::{self, mart_error, MartError};
use crate::base::tables::{Inputs, ENTITY_IDX};
use crate::base::telemetry::Phases;
use crate::base::warehouse::{Mart, Warehouse};
use crate::config::policy::{ListSpec, Policy};
use crate::run::ListSummary;
use crate::stages::joint::graph::EntityGraph;
use crate::stages::joint::{self, Related};
use crate::stages::publish::entries::RemovalFacts;
use crate::stages::publish::Previous;
use crate::stages::review::{self, DecisionBook, Member, Outcome};
use crate::stages::score::Grades;

/// What the lists step reads of the run.
pub(super) struct Tables<'a> {
    pub policy: &'a Policy,
    pub as_of: AsOf,
    pub inputs: &'a Inputs,
    pub grades: &'a Grades,
    pub graph: &'a EntityGraph,
    pub book: &'a DecisionBook,
}

/// A list's members with their review status, its restricted persons and
/// flagged entities, and its summary. `in_force` is the publication in
/// force for the run; `stretch_ends` when each entity last left the list.
pub(super) fn members<'p>(
    t: &Tables<'p>,
    list: &ListSpec,
    in_force: Option<&Previous>,
    stretch_ends: &HashMap<String, i64>,
) -> (Vec<ListingRow>, Vec<Related<'p>>, ListSummary) {
    let mut phases = Phases::start("lists");
    let entities = &t.inputs.entities;
    let exempt: HashSet<u32> =
        t.book.exempt_entities(list, t.as_of).iter().filter_map(|e| entities.lookup(e)).collect();
    let outcome = joint::list_outcome(
        t.graph,
        t.policy,
        list,
        &t.grades.grade,
        &|e| t.grades.in_scope(e),
        &|e| exempt.contains(&e),
        &t.inputs.legal_reps,
        entities,
    );
    phases.done("members and related");
    let statuses = review_statuses(t, list, &outcome.members, in_force, stretch_ends);
    phases.done("review status");
    // Each member's rules and roots move into its row.
    let rows: Vec<ListingRow> = outcome
        .members
        .into_par_iter()
        .map(|m| {
            let o = statuses[&m.entity];
            ListingRow {
                list_id: list.id.clone(),
                basis: joint::basis(&m),
                depth: m.depth as i32,
                via: joint::via_entries(&m, entities),
                roots: m.roots.iter().map(|r| entities.id(*r).to_string()).collect(),
                review_status: o.status,
                notice_deadline: o.notice_deadline,
                entity_id: entities.id(m.entity).to_string(),
                rules: m.rules,
            }
        })
        .collect();
    phases.done("listing rows");
    let summary = summary(list, &rows, &outcome.related, exempt.len());
    (rows, outcome.related, summary)
}

/// Each member's review status by its dense index (publication.md
/// "Review status"), `held` included. A list at 50M entities has millions
/// of members, each decided on its own (on every core).
fn review_statuses(
    t: &Tables,
    list: &ListSpec,
    members: &[joint::rounds::Member],
    in_force: Option<&Previous>,
    stretch_ends: &HashMap<String, i64>,
) -> HashMap<u32, Outcome> {
    let entities = &t.inputs.entities;
    let published_before: HashSet<&str> =
        in_force.map(|p| p.entries.iter().map(|e| e.entity_id.as_str()).collect()).unwrap_or_default();
    let decided: Vec<Outcome> = members
        .par_iter()
        .map(|m| {
            let id = entities.id(m.entity).to_string();
            let basis = joint::basis(m);
            let rules_now = match basis {
                Basis::Direct => t.grades.reason_rules.get(&m.entity).cloned().unwrap_or_default(),
                Basis::Joint => m.rules.clone(),
            };
            let member = Member {
                basis,
                rules: &rules_now,
                published_before: published_before.contains(id.as_str()),
                stretch_after: stretch_ends.get(&id).copied().unwrap_or(0),
            };
            review::status(list, t.book.review_decisions(&list.id, &id), member, t.as_of)
        })
        .collect();
    let mut statuses: HashMap<u32, Outcome> = members.iter().zip(decided).map(|(m, o)| (m.entity, o)).collect();
    let joint_roots: Vec<(u32, Vec<u32>)> =
        members.iter().filter(|m| joint::basis(m) == Basis::Joint).map(|m| (m.entity, m.roots.clone())).collect();
    review::hold_rootless(&mut statuses, &joint_roots);
    statuses
}

/// A list's counts: members by basis and review status, restricted
/// persons, flagged entities and exempt entities.
fn summary(list: &ListSpec, rows: &[ListingRow], related: &[Related], exempt: usize) -> ListSummary {
    let count = |f: &dyn Fn(&ListingRow) -> bool| rows.iter().filter(|r| f(r)).count() as u64;
    let status = |s: ReviewStatus| count(&|r| r.review_status == s);
    ListSummary {
        list_id: list.id.clone(),
        members: rows.len() as u64,
        direct: count(&|r| r.basis == Basis::Direct),
        joint: count(&|r| r.basis == Basis::Joint),
        published: status(ReviewStatus::Published),
        pending: status(ReviewStatus::Pending),
        noticed: status(ReviewStatus::Noticed),
        objected: status(ReviewStatus::Objected),
        awaiting_approval: status(ReviewStatus::AwaitingApproval),
        held: status(ReviewStatus::Held),
        rejected: status(ReviewStatus::Rejected),
        restricted_persons: related.iter().filter(|r| r.is_person()).count() as u64,
        flagged_entities: related.iter().filter(|r| !r.is_person()).count() as u64,
        exempt: exempt as u64,
    }
}

/// Why each member of `previous` that `rows` do not publish left the list,
/// by the facts of publication.md v2's removal reasons.
pub(super) fn removal_facts(
    wh: &Warehouse,
    t: &Tables,
    list: &ListSpec,
    rows: &[ListingRow],
    previous: &Previous,
) -> Result<HashMap<String, RemovalFacts>, MartError> {
    let published: HashSet<&str> =
        rows.iter().filter(|r| r.review_status == ReviewStatus::Published).map(|r| r.entity_id.as_str()).collect();
    let gone: BTreeSet<String> =
        previous.entries.iter().map(|e| e.entity_id.clone()).filter(|e| !published.contains(e.as_str())).collect();
    let mut out = HashMap::new();
    if gone.is_empty() {
        return Ok(out);
    }
    let entities = &t.inputs.entities;
    let then: Option<AsOf> = previous.manifest.as_of.parse().ok();
    // The reasons of the previous publication's run, and its listing (for via).
    let (last_reasons, last_listing) = match then {
        Some(d) => {
            let scores = match wh.mart(Mart::Scores, d).join("part-0.parquet").exists() {
                true => {
                    marts::scores::read(wh, d, &gone).map_err(mart_error("the scores of the previous publication"))?
                }
                false => HashMap::new(),
            };
            let dir = wh.list_mart(Mart::Listings, &list.id, d);
            let listing: HashMap<String, ListingRow> = match dir.join("part-0.parquet").exists() {
                true => listings::read_listings(&dir)
                    .map_err(mart_error("the listings of the previous publication"))?
                    .into_iter()
                    .filter(|r| gone.contains(&r.entity_id))
                    .map(|r| (r.entity_id.clone(), r))
                    .collect(),
                false => HashMap::new(),
            };
            (scores, listing)
        }
        None => (HashMap::new(), HashMap::new()),
    };
    let repairs = repaired_cases(t.inputs, &gone)
        .map_err(|e| mart_error("the repairs the run validated")(parquet::errors::ParquetError::from(e)))?;
    let members_now: HashSet<&str> = rows.iter().map(|r| r.entity_id.as_str()).collect();
    let policy_changed = previous.manifest.policy.sha256 != t.policy.sha256;
    for e in &gone {
        let idx = entities.lookup(e);
        let records: HashSet<&str> = last_reasons
            .get(e)
            .map(|s| s.reasons.iter().flat_map(|r| r.records.iter().map(|x| x.as_str())).collect())
            .unwrap_or_default();
        let repaired =
            idx.and_then(|i| repairs.get(&i)).is_some_and(|cases| cases.iter().any(|c| records.contains(c.as_str())));
        let last_entry = previous.entries.iter().find(|x| &x.entity_id == e);
        let was_joint = last_entry.is_some_and(|x| x.basis == Basis::Joint.as_str());
        let joint_basis_ended = was_joint
            && match (last_listing.get(e), idx) {
                // No via of the last listing is still on the list and linked to it.
                (Some(last), Some(x)) => !last.via.iter().any(|v| {
                    let on_list = members_now.contains(v.id.as_str());
                    let linked = entities.lookup(&v.id).is_some_and(|via| match v.relation.as_str() {
                        "branch" => t.graph.parent.get(x as usize) == Some(&via),
                        _ => t.graph.holders.out(x).any(|(h, _)| h == via),
                    });
                    on_list && linked
                }),
                // Its last listing is gone, or it left the registry: nothing links it now.
                _ => true,
            };
        out.insert(
            e.clone(),
            RemovalFacts {
                exempt: t.book.exempt(list, e, t.as_of),
                in_scope: idx.is_some_and(|i| t.grades.in_scope(i)),
                repaired,
                joint_basis_ended,
                policy_changed,
            },
        );
    }
    Ok(out)
}

/// The case ids of the repairs the run read (every one approved on or
/// before its as-of date), by entity, for `entities`.
fn repaired_cases(
    inputs: &Inputs,
    entities: &BTreeSet<String>,
) -> Result<HashMap<u32, Vec<String>>, arrow::error::ArrowError> {
    let wanted: HashSet<u32> = entities.iter().filter_map(|e| inputs.entities.lookup(e)).collect();
    let mut out: HashMap<u32, Vec<String>> = HashMap::new();
    // Held, or in the files the plans wrote (`--plans-make-tables`), whose
    // text may be of another Arrow string type.
    let found = inputs.repairs.scan(&|b| {
        let col = |name: &str| b.column(b.schema().index_of(name).expect("repairs keep the column")).clone();
        let case = arrow::compute::cast(&col("case_id"), &arrow::datatypes::DataType::Utf8)?;
        let idx = arrow::compute::cast(&col(ENTITY_IDX), &arrow::datatypes::DataType::UInt32)?;
        let (case, idx) = (case.as_string::<i32>(), idx.as_primitive::<arrow::datatypes::UInt32Type>());
        Ok::<_, arrow::error::ArrowError>(
            (0..b.num_rows())
                .filter(|r| wanted.contains(&idx.value(*r)))
                .map(|r| (idx.value(r), case.value(r).to_string()))
                .collect::<Vec<_>>(),
        )
    })?;
    for part in found {
        for (idx, case) in part? {
            out.entry(idx).or_default().push(case);
        }
    }
    Ok(out)
}
