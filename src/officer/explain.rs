//! Explaining an entity as of a date: its registry facts, score and grade,
//! every reason with the records behind it (as the run saw them: the
//! newest accepted version, never a quarantined row), its list memberships
//! with their path, the restrictions of its legal representative, and the
//! decisions about it. Used by `credence explain` and the officer pages.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;

use crate::base::contract::{Contract, Dataset};
use crate::base::error::{Classify, ErrorKind};
use crate::base::ids::AsOf;
use crate::base::marts::listings::{self, ListingRow};
use crate::base::marts::registry::{self, RegistryFacts};
use crate::base::marts::related::{self, RelatedRow};
use crate::base::marts::scores::{self, ScoreRow};
use crate::base::marts::{self, mart_error, records, MartError};
use crate::base::printable::escaped;
use crate::base::store::{Decision, Store};
use crate::base::warehouse::Mart;
use crate::base::warehouse::Warehouse;
use crate::config::policy::{EventDataset, Policy};

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
    #[error(transparent)]
    Read(#[from] MartError),
    #[error(transparent)]
    Contract(#[from] crate::base::contract::ContractError),
    #[error(transparent)]
    Store(#[from] crate::base::store::StoreError),
}

impl Classify for ExplainError {
    fn kind(&self) -> ErrorKind {
        match self {
            ExplainError::NoRun(_) => ErrorKind::Input,
            ExplainError::Read(e) => e.kind(),
            ExplainError::Contract(e) => e.kind(),
            ExplainError::Store(e) => e.kind(),
        }
    }
}

/// Explains `entity` as of `as_of` under `policy`.
pub fn explain(
    wh: &Warehouse,
    policy: &Policy,
    store: Option<&Store>,
    entity: &str,
    as_of: AsOf,
) -> Result<Explanation, ExplainError> {
    let scores_dir = wh.mart(Mart::Scores, as_of);
    if !scores_dir.join("part-0.parquet").exists() {
        return Err(ExplainError::NoRun(as_of));
    }
    let ids: BTreeSet<String> = [entity.to_string()].into();
    let registry = registry::facts(wh, as_of, &ids).map_err(mart_error("the registry mart"))?.remove(entity);
    let score = scores::read(wh, as_of, &ids).map_err(mart_error("the scores mart"))?.remove(entity);

    let reasons = match &score {
        Some(s) => reason_details(wh, policy, entity, as_of, s)?,
        None => Vec::new(),
    };
    let rep = registry.as_ref().and_then(|r| r.legal_rep_id.clone());
    let Lists { memberships, representative, flagged } = lists_of(wh, policy, entity, rep.as_deref(), as_of)?;
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

/// Each reason of `score` with its rule and the records behind it, each
/// record with its weight and points under the rule as of `as_of`.
fn reason_details(
    wh: &Warehouse,
    policy: &Policy,
    entity: &str,
    as_of: AsOf,
    score: &ScoreRow,
) -> Result<Vec<ReasonDetail>, ExplainError> {
    let mut wanted: HashMap<EventDataset, BTreeSet<String>> = HashMap::new();
    for r in &score.reasons {
        if let Some(ds) = rule_dataset(policy, &r.rule_id) {
            wanted.entry(ds).or_default().extend(r.records.iter().cloned());
        }
    }
    let mut found: HashMap<(EventDataset, String), RecordCard> = HashMap::new();
    for (ds, ids) in &wanted {
        for card in find_records(wh, as_of, *ds, entity, ids)? {
            found.insert((*ds, card.record_id.clone()), card);
        }
    }
    let mut reasons = Vec::new();
    for r in &score.reasons {
        let ds = rule_dataset(policy, &r.rule_id);
        let rule = policy.rules.iter().find(|x| x.id == r.rule_id);
        let direct = policy.direct_grades.iter().find(|x| x.id == r.rule_id);
        let records = r
            .records
            .iter()
            .filter_map(|id| ds.and_then(|d| found.get(&(d, id.clone()))).cloned())
            .map(|mut card| {
                if let Some(rule) = rule {
                    card.weight = rule.decay.weight(rule.window_days, card.age_days);
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
    Ok(reasons)
}

/// What the listings and related marts say of an entity as of a date.
struct Lists {
    memberships: Vec<ListingRow>,
    /// Rows about its legal representative (`rep`).
    representative: Vec<RelatedRow>,
    /// Rows that flag the entity itself.
    flagged: Vec<RelatedRow>,
}

fn lists_of(
    wh: &Warehouse,
    policy: &Policy,
    entity: &str,
    rep: Option<&str>,
    as_of: AsOf,
) -> Result<Lists, ExplainError> {
    let ids: BTreeSet<String> = [entity.to_string()].into();
    let subjects: BTreeSet<String> = rep.iter().map(|r| r.to_string()).chain([entity.to_string()]).collect();
    let mut out = Lists { memberships: Vec::new(), representative: Vec::new(), flagged: Vec::new() };
    for list in &policy.lists {
        let dir = wh.list_mart(Mart::Listings, &list.id, as_of);
        if dir.exists() {
            out.memberships.extend(listings::read_listings_of(&dir, &ids).map_err(mart_error("the listings mart"))?);
        }
        let dir = wh.list_mart(Mart::Related, &list.id, as_of);
        if dir.exists() {
            for r in related::read_related_of(&dir, &subjects).map_err(mart_error("the related mart"))? {
                if Some(r.subject_id.as_str()) == rep {
                    out.representative.push(r);
                } else if r.subject_id == entity {
                    out.flagged.push(r);
                }
            }
        }
    }
    Ok(out)
}

fn rule_dataset(policy: &Policy, rule_id: &str) -> Option<EventDataset> {
    policy
        .rules
        .iter()
        .find(|r| r.id == rule_id)
        .map(|r| r.dataset)
        .or_else(|| policy.direct_grades.iter().find(|g| g.id == rule_id).map(|g| g.dataset))
}

/// The records with the given keys behind an entity's reasons as a run as
/// of `as_of` saw them: the newest version among rows not in that run's
/// quarantine, read from the records mart.
pub fn find_records(
    wh: &Warehouse,
    as_of: AsOf,
    dataset: EventDataset,
    entity: &str,
    keys: &BTreeSet<String>,
) -> Result<Vec<RecordCard>, ExplainError> {
    let d: Dataset = dataset.dataset();
    let contract = Contract::load(d)?;
    let key_col = contract.key[0];
    let quarantined = quarantined_rows(wh, d, as_of, &contract.columns[key_col].name, keys)?;
    let found =
        records::read(wh, &contract, as_of, entity, keys, &quarantined).map_err(mart_error("the records mart"))?;
    let mut cards: Vec<RecordCard> = found
        .into_iter()
        .map(|(id, r)| {
            let date =
                r.fields.iter().find(|(k, _)| k == dataset.date_column()).map(|(_, v)| v.clone()).unwrap_or_default();
            let age_days = date.parse::<AsOf>().map(|d| (as_of.date() - d.date()).num_days()).unwrap_or(0);
            RecordCard {
                record_id: id,
                dataset: d.name().to_string(),
                date,
                age_days,
                weight: 0.0,
                points: 0.0,
                fields: r.fields,
                source_file: r.source_file,
            }
        })
        .collect();
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
    for b in marts::rows_with(&path, key, keys).map_err(mart_error("the quarantine"))? {
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
        let mut o = String::new();
        self.render_registry(&mut o);
        self.render_score(&mut o);
        self.render_lists(&mut o);
        self.render_decisions(&mut o);
        o
    }

    /// The entity's registry facts, or that the snapshot lacks it.
    fn render_registry(&self, o: &mut String) {
        match &self.registry {
            Some(f) => {
                let _ = writeln!(
                    o,
                    "{}  {}\n  {} in region {}, status {}, legal representative {}{} (registry snapshot {})",
                    f.entity_id,
                    escaped(&f.name),
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
    }

    /// The score, band and grade, then each reason with its records.
    fn render_score(&self, o: &mut String) {
        let Some(s) = &self.score else {
            let _ =
                writeln!(o, "not scored as of {} under policy {}: outside the policy's scope", self.as_of, self.policy);
            return;
        };
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
                    .map(|(k, v)| format!("{k} {}", escaped(v)))
                    .collect();
                let pts = if r.forces_grade.is_none() {
                    format!("  -{:.2} (weight {:.4})", c.points, c.weight)
                } else {
                    String::new()
                };
                let _ = writeln!(o, "    {} {} ({} days){pts}: {}", c.record_id, c.date, c.age_days, fields.join(", "));
            }
        }
    }

    /// Each list the entity is on (directly, or jointly and how), and the
    /// restrictions on its legal representative and on itself.
    fn render_lists(&self, o: &mut String) {
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
            let deadline = m.notice_deadline.map(|d| format!(" (objections until {d})")).unwrap_or_default();
            let _ = writeln!(o, "list {}: {path}; review status {}{deadline}", m.list_id, m.review_status.as_str());
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
    }

    /// The decisions taken on the entity, oldest first.
    fn render_decisions(&self, o: &mut String) {
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
                escaped(&d.officer),
                escaped(&d.reason)
            );
        }
    }
}
