//! Explaining an entity as of a date: its registry facts, score and grade,
//! every reason with the records behind it (as the run saw them: the
//! newest accepted version, never a quarantined row), its list memberships
//! with their path, the restrictions of its legal representative, and the
//! decisions about it. Used by `credence explain` and the officer pages.

use std::collections::{BTreeSet, HashMap, HashSet};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Date32Type, Int64Type};
use arrow::util::display::array_value_to_string;

use crate::base::contract::{Contract, Dataset};
use crate::base::ids::{days_to_date, AsOf};
use crate::stages::landing;
use crate::base::marts::listings::{self, ListingRow, RelatedRow};
use crate::base::marts::{self, RegistryFacts, ScoreRow};
use crate::config::policy::{Decay, EventDataset, Policy};
use crate::base::store::{Decision, Store};
use crate::base::warehouse::Warehouse;

/// One record behind a reason.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RecordCard {
    pub record_id: String,
    pub dataset: String,
    pub date: String,
    pub age_days: i64,
    /// The record's weight and points under the rule (0 for a direct grade).
    pub weight: f64,
    pub points: f64,
    /// Every contract column of the record, as found.
    pub fields: Vec<(String, String)>,
    pub source_file: String,
}

/// A reason with its rule and records.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ReasonDetail {
    pub rule_id: String,
    pub title: Option<String>,
    /// `score` or `direct`.
    pub kind: String,
    pub points: f64,
    pub cap: Option<f64>,
    /// For a direct-grade rule: the grade it forces.
    pub forces_grade: Option<String>,
    pub records: Vec<RecordCard>,
}

/// Everything an officer needs to explain an entity's grade and listings.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Explanation {
    pub entity_id: String,
    pub as_of: AsOf,
    pub policy: String,
    pub registry: Option<RegistryFacts>,
    pub score: Option<ScoreRow>,
    pub reasons: Vec<ReasonDetail>,
    pub memberships: Vec<ListingRow>,
    /// Rows of `related` about the entity's legal representative.
    pub representative: Vec<RelatedRow>,
    /// Rows of `related` flagging the entity itself.
    pub flagged: Vec<RelatedRow>,
    pub decisions: Vec<Decision>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error("no run as of {0} has written scores (run `credence run --as-of {0}` first)")]
    NoRun(AsOf),
    #[error("reading {what}: {reason}")]
    Read { what: String, reason: String },
    #[error(transparent)]
    Store(#[from] crate::base::store::StoreError),
}

fn read_err(what: &str) -> impl Fn(&dyn std::fmt::Display) -> ExplainError + '_ {
    move |e| ExplainError::Read { what: what.to_string(), reason: e.to_string() }
}

/// Explains `entity` as of `as_of` under `policy`.
pub fn explain(
    wh: &Warehouse,
    policy: &Policy,
    store: Option<&Store>,
    entity: &str,
    as_of: AsOf,
) -> Result<Explanation, ExplainError> {
    let scores_dir = wh.mart("scores", as_of);
    if !scores_dir.join("part-0.parquet").exists() {
        return Err(ExplainError::NoRun(as_of));
    }
    let ids: BTreeSet<String> = [entity.to_string()].into();
    let registry =
        marts::registry_facts(wh, Some(as_of), &ids).map_err(|e| read_err("the registry")(&e))?.remove(entity);
    let score = marts::scores(wh, as_of, &ids).map_err(|e| read_err("the scores mart")(&e))?.remove(entity);

    let mut reasons = Vec::new();
    if let Some(s) = &score {
        let mut wanted: HashMap<EventDataset, BTreeSet<String>> = HashMap::new();
        for r in &s.reasons {
            if let Some(ds) = rule_dataset(policy, &r.rule_id) {
                wanted.entry(ds).or_default().extend(r.records.iter().cloned());
            }
        }
        let mut found: HashMap<(EventDataset, String), RecordCard> = HashMap::new();
        for (ds, ids) in &wanted {
            for card in find_records(wh, as_of, *ds, ids)? {
                found.insert((*ds, card.record_id.clone()), card);
            }
        }
        for r in &s.reasons {
            let ds = rule_dataset(policy, &r.rule_id);
            let rule = policy.rules.iter().find(|x| x.id == r.rule_id);
            let direct = policy.direct_grades.iter().find(|x| x.id == r.rule_id);
            let records = r
                .records
                .iter()
                .filter_map(|id| ds.and_then(|d| found.get(&(d, id.clone()))).cloned())
                .map(|mut card| {
                    if let Some(rule) = rule {
                        card.weight = weight(rule.decay, rule.window_days, card.age_days);
                        card.points = rule.points * card.weight;
                    }
                    card
                })
                .collect();
            reasons.push(ReasonDetail {
                rule_id: r.rule_id.clone(),
                title: rule.and_then(|x| x.title.clone()).or_else(|| direct.map(|d| d.title.clone())),
                kind: if direct.is_some() { "direct".into() } else { "score".into() },
                points: r.points,
                cap: rule.and_then(|x| x.cap),
                forces_grade: direct.map(|d| policy.grade_name(d.grade).to_string()),
                records,
            });
        }
    }

    let mut memberships = Vec::new();
    let mut representative = Vec::new();
    let mut flagged = Vec::new();
    let rep = registry.as_ref().and_then(|r| r.legal_rep_id.clone());
    for list in &policy.lists {
        let dir = wh.list_mart("listings", &list.id, as_of);
        if dir.exists() {
            let rows = listings::read_listings(&dir).map_err(|e| read_err("the listings mart")(&e))?;
            memberships.extend(rows.into_iter().filter(|r| r.entity_id == entity));
        }
        let dir = wh.list_mart("related", &list.id, as_of);
        if dir.exists() {
            for r in listings::read_related(&dir).map_err(|e| read_err("the related mart")(&e))? {
                if Some(&r.subject_id) == rep.as_ref() {
                    representative.push(r);
                } else if r.subject_id == entity {
                    flagged.push(r);
                }
            }
        }
    }
    let decisions = match store {
        Some(s) => s.decisions(s.last_decision_id()?, None, Some(entity))?,
        None => vec![],
    };
    Ok(Explanation {
        entity_id: entity.to_string(),
        as_of,
        policy: format!("{} {}", policy.id, policy.version),
        registry,
        score,
        reasons,
        memberships,
        representative,
        flagged,
        decisions,
    })
}

fn rule_dataset(policy: &Policy, rule_id: &str) -> Option<EventDataset> {
    policy
        .rules
        .iter()
        .find(|r| r.id == rule_id)
        .map(|r| r.dataset)
        .or_else(|| policy.direct_grades.iter().find(|g| g.id == rule_id).map(|g| g.dataset))
}

/// policy.md step 3.
pub fn weight(decay: Decay, window_days: i64, age: i64) -> f64 {
    match decay {
        Decay::None => 1.0,
        Decay::Linear => (window_days - age) as f64 / window_days as f64,
        Decay::HalfLife(h) => 0.5f64.powf(age as f64 / h),
    }
}

/// The records with the given keys as a run as of `as_of` saw them: the
/// newest version among rows not in that run's quarantine.
pub fn find_records(
    wh: &Warehouse,
    as_of: AsOf,
    dataset: EventDataset,
    keys: &BTreeSet<String>,
) -> Result<Vec<RecordCard>, ExplainError> {
    let d: Dataset = dataset.dataset();
    let contract = Contract::load(d).map_err(|e| read_err("the contracts")(&e))?;
    let key_col = contract.key[0];
    let date_col = contract.column_index(dataset.date_column()).expect("date column");
    let quarantined = quarantined_rows(wh, d, as_of, &contract.columns[key_col].name, keys)?;
    let mut faults = Vec::new();
    let selection = landing::select(wh, &contract, as_of, &mut faults);
    let mut found: HashMap<String, RecordCard> = HashMap::new();
    for file in selection.files() {
        let mut row0 = 0i64;
        for b in file.read(&contract, None).map_err(|e| read_err(&file.relative)(&e))? {
            let b = b.map_err(|e| read_err(&file.relative)(&e))?;
            let k = b.column(key_col).as_string::<i32>();
            let dates = b.column(date_col).as_primitive::<Date32Type>();
            for r in 0..b.num_rows() {
                if k.is_null(r)
                    || !keys.contains(k.value(r))
                    || quarantined.contains(&(file.relative.clone(), row0 + r as i64))
                {
                    continue;
                }
                let fields = contract
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(ci, c)| (c.name.clone(), array_value_to_string(b.column(ci), r).unwrap_or_default()))
                    .collect();
                let date = days_to_date(dates.value(r));
                found.insert(
                    k.value(r).to_string(),
                    RecordCard {
                        record_id: k.value(r).to_string(),
                        dataset: d.name().to_string(),
                        date: date.to_string(),
                        age_days: (as_of.date() - date).num_days(),
                        weight: 0.0,
                        points: 0.0,
                        fields,
                        source_file: file.relative.clone(),
                    },
                );
            }
            row0 += b.num_rows() as i64;
        }
    }
    let mut cards: Vec<RecordCard> = found.into_values().collect();
    cards.sort_by(|a, b| a.record_id.cmp(&b.record_id));
    Ok(cards)
}

/// (source_file, source_row) of the quarantined rows with one of `keys`.
fn quarantined_rows(
    wh: &Warehouse,
    dataset: Dataset,
    as_of: AsOf,
    key: &str,
    keys: &BTreeSet<String>,
) -> Result<HashSet<(String, i64)>, ExplainError> {
    let path = wh.quarantine(dataset, as_of).join("part-0.parquet");
    let mut out = HashSet::new();
    if !path.exists() {
        return Ok(out);
    }
    for b in marts::rows_with(&path, key, keys).map_err(|e| read_err("the quarantine")(&e))? {
        let file = b.column(b.schema().index_of("source_file").expect("quarantine column")).as_string::<i32>().clone();
        let row =
            b.column(b.schema().index_of("source_row").expect("quarantine column")).as_primitive::<Int64Type>().clone();
        for r in 0..b.num_rows() {
            out.insert((file.value(r).to_string(), row.value(r)));
        }
    }
    Ok(out)
}

impl Explanation {
    /// The explanation as text for the terminal.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut o = String::new();
        match &self.registry {
            Some(f) => {
                let _ = writeln!(
                    o,
                    "{}  {}\n  {} in region {}, status {}, legal representative {}{} (registry snapshot {})",
                    f.entity_id,
                    f.name,
                    f.entity_type,
                    f.region,
                    f.status,
                    f.legal_rep_id.as_deref().unwrap_or("none"),
                    f.parent_id.as_ref().map(|p| format!(", branch of {p}")).unwrap_or_default(),
                    f.snapshot
                );
            }
            None => {
                let _ = writeln!(o, "{}  (not in the registry snapshot as of {})", self.entity_id, self.as_of);
            }
        }
        match &self.score {
            None => {
                let _ = writeln!(
                    o,
                    "not scored as of {} under policy {}: outside the policy's scope",
                    self.as_of, self.policy
                );
            }
            Some(s) => {
                let _ = writeln!(
                    o,
                    "score {:.2} as of {} under policy {}: band {}, grade {}",
                    s.score, self.as_of, self.policy, s.band_grade, s.grade
                );
                if self.reasons.is_empty() {
                    let _ = writeln!(o, "no reasons: no record in any rule's window");
                }
                for r in &self.reasons {
                    let title = r.title.as_deref().map(|t| format!("  {t}")).unwrap_or_default();
                    match &r.forces_grade {
                        Some(g) => {
                            let _ = writeln!(o, "  {}{title}: forces grade {g} at least", r.rule_id);
                        }
                        None => {
                            let cap = r.cap.map(|c| format!(" (cap {c})")).unwrap_or_default();
                            let _ = writeln!(o, "  {}{title}: -{:.2} points{cap}", r.rule_id, r.points);
                        }
                    }
                    for c in &r.records {
                        let fields: Vec<String> = c
                            .fields
                            .iter()
                            .filter(|(k, v)| !v.is_empty() && !k.ends_with("_id"))
                            .map(|(k, v)| format!("{k} {v}"))
                            .collect();
                        let pts = if r.forces_grade.is_none() {
                            format!("  -{:.2} (weight {:.4})", c.points, c.weight)
                        } else {
                            String::new()
                        };
                        let _ = writeln!(
                            o,
                            "    {} {} ({} days){pts}: {}",
                            c.record_id,
                            c.date,
                            c.age_days,
                            fields.join(", ")
                        );
                    }
                }
            }
        }
        if self.memberships.is_empty() {
            let _ = writeln!(o, "lists: none");
        }
        for m in &self.memberships {
            let via: Vec<String> = m
                .via
                .iter()
                .map(|v| match v.share_pct {
                    Some(s) => format!("{} ({} {s}%)", v.id, v.relation),
                    None => format!("{} ({})", v.id, v.relation),
                })
                .collect();
            let path = if m.depth == 0 {
                "direct".to_string()
            } else {
                format!(
                    "joint, round {}, by {}, via {}, roots {}",
                    m.depth,
                    m.rules.join(", "),
                    via.join(", "),
                    m.roots.join(", ")
                )
            };
            let _ = writeln!(o, "list {}: {path}; review status {}", m.list_id, m.review_status.as_str());
        }
        for r in &self.representative {
            let _ = writeln!(
                o,
                "legal representative {} is restricted on {} by {} ({}), representing members {}",
                r.subject_id,
                r.list_id,
                r.rule_id,
                r.measures.join(", "),
                r.roots.join(", ")
            );
        }
        for r in &self.flagged {
            let _ = writeln!(
                o,
                "flagged on {} by {} ({}): its legal representative represents members {}",
                r.list_id,
                r.rule_id,
                r.measures.join(", "),
                r.roots.join(", ")
            );
        }
        if self.decisions.is_empty() {
            let _ = writeln!(o, "decisions: none");
        }
        for d in &self.decisions {
            let until = d.until.map(|u| format!(" until {u}")).unwrap_or_default();
            let _ = writeln!(
                o,
                "decision #{} {} {} on {} by {}{until}: \"{}\"",
                d.id,
                d.decided_at,
                d.action.as_str(),
                d.list_id,
                d.officer,
                d.reason
            );
        }
        o
    }
}
