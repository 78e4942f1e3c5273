//! Step 8 and the scores mart: each scored entity's reasons, from its
//! deductions and the evidence records behind them, and its row of the
//! mart, built a chunk of entity indexes at a time on the rayon pool and
//! taken in index order.

use std::collections::BTreeMap;
use std::ops::Range;

use arrow::array::{AsArray, RecordBatch, StringArray};
use arrow::datatypes::{Float64Type, SchemaRef, UInt16Type, UInt32Type};

use super::grade::{Scores, NOT_SCORED};
use super::plan;
use super::reasons::{self, RuleHit};
use crate::base::entities::EntityIndex;
use crate::base::ids::AsOf;
use crate::base::marts::scores::{ReasonRef, ScoresBatch};
use crate::config::policy::Policy;

/// Rows of `batches` (first column `entity_idx`, every index in
/// `entities`) grouped by entity: the rows of entity `entities.start + e`
/// are `rows[starts[e]..starts[e + 1]]` as (batch, row).
fn group_by_entity(batches: &[RecordBatch], entities: Range<usize>) -> (Vec<u32>, Vec<(u32, u32)>) {
    let (first, n) = (entities.start, entities.len());
    let mut starts = vec![0u32; n + 1];
    for b in batches {
        for v in b.column(0).as_primitive::<UInt32Type>().values() {
            starts[*v as usize - first + 1] += 1;
        }
    }
    for i in 0..n {
        starts[i + 1] += starts[i];
    }
    let mut fill = starts.clone();
    let mut rows = vec![(0u32, 0u32); starts[n] as usize];
    for (bi, b) in batches.iter().enumerate() {
        for (r, v) in b.column(0).as_primitive::<UInt32Type>().values().iter().enumerate() {
            let e = *v as usize - first;
            rows[fill[e] as usize] = (bi as u32, r as u32);
            fill[e] += 1;
        }
    }
    (starts, rows)
}

/// Rows grouped by entity ([`group_by_entity`]) and two of their columns,
/// taken once per batch: no allocation per value.
struct ByEntity<'b, V: ?Sized> {
    first: usize,
    starts: Vec<u32>,
    rows: Vec<(u32, u32)>,
    /// Each batch's rule numbers and values.
    columns: Vec<(&'b [u16], &'b V)>,
}

impl<'b, V: ?Sized> ByEntity<'b, V> {
    fn new(batches: &'b [RecordBatch], entities: Range<usize>, value: impl Fn(&'b RecordBatch) -> &'b V) -> Self {
        let first = entities.start;
        let (starts, rows) = group_by_entity(batches, entities);
        let columns =
            batches.iter().map(|b| (b.column(1).as_primitive::<UInt16Type>().values().as_ref(), value(b))).collect();
        ByEntity { first, starts, rows, columns }
    }

    /// Entity `i`'s rows, as (its rule number, the batch's values, the row).
    fn of(&self, i: usize) -> impl Iterator<Item = (u16, &'b V, usize)> + '_ {
        let at = i - self.first;
        self.rows[self.starts[at] as usize..self.starts[at + 1] as usize].iter().map(|(b, r)| {
            let (rules, values) = self.columns[*b as usize];
            (rules[*r as usize], values, *r as usize)
        })
    }
}

/// One slice of the evidence (policy.md's records behind each rule), the
/// rows of the entities of `range`: (entity_idx, rule, record id).
pub(super) struct SliceEvidence<'b>(ByEntity<'b, StringArray>);

impl<'b> SliceEvidence<'b> {
    pub(super) fn new(batches: &'b [RecordBatch], range: Range<usize>) -> SliceEvidence<'b> {
        SliceEvidence(ByEntity::new(batches, range, |b| b.column(2).as_string::<i32>()))
    }
}

/// What every chunk of entities reads: the grades, the deductions grouped
/// by entity, the rules' ids, and what the mart's rows name.
pub(super) struct RowsOf<'a> {
    policy: &'a Policy,
    as_of: AsOf,
    entities: &'a EntityIndex,
    scores: &'a Scores,
    pub(super) schema: SchemaRef,
    /// Entity indexes per chunk.
    chunk: usize,
    /// Whether each entity's reasons are kept for a visitor.
    visiting: bool,
    deductions: ByEntity<'a, [f64]>,
    rule_ids: Vec<&'a str>,
    first_direct: usize,
    /// Whether a list may hold each grade: its entities' reason rule ids
    /// are kept (reject decisions).
    listed_grade: Vec<bool>,
}

/// What scoring one chunk of entities gives, to be taken in index order.
pub(super) struct Chunk<'a> {
    pub batch: Option<RecordBatch>,
    /// Entities by final grade.
    pub grades: Vec<u64>,
    /// Entities carrying each reason.
    pub reasons: Vec<(&'a str, u64)>,
    /// Reason rule ids of the entities a list may hold.
    pub reason_rules: Vec<(u32, Vec<String>)>,
    /// Each scored entity's reasons, for the visitor.
    pub visits: Vec<(u32, Vec<ReasonRef<'a>>)>,
}

impl<'a> RowsOf<'a> {
    /// `deductions` are step 6's rows (entity_idx, rule, deduction) of
    /// every entity.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        policy: &'a Policy,
        as_of: AsOf,
        entities: &'a EntityIndex,
        scores: &'a Scores,
        deductions: &'a [RecordBatch],
        schema: SchemaRef,
        chunk: usize,
        visiting: bool,
    ) -> RowsOf<'a> {
        let deductions = ByEntity::new(deductions, 0..entities.len(), |b| {
            b.column(2).as_primitive::<Float64Type>().values().as_ref()
        });
        let listed_grade =
            (0..policy.grades.len()).map(|g| policy.lists.iter().any(|l| l.grades.contains(&g))).collect();
        RowsOf {
            policy,
            as_of,
            entities,
            scores,
            schema,
            chunk,
            visiting,
            deductions,
            rule_ids: plan::rule_ids(policy),
            first_direct: policy.rules.len(),
            listed_grade,
        }
    }

    /// Chunk `c`'s entities (indexes `c * chunk..`), their evidence in
    /// `slice`: each one's reasons, counted, and its row of the mart.
    pub(super) fn build<'s>(&'s self, c: usize, slice: &'s SliceEvidence<'s>) -> Chunk<'s> {
        let (policy, Scores { score, band, grade }) = (self.policy, self.scores);
        let mut part = Chunk {
            batch: None,
            grades: vec![0u64; policy.grades.len()],
            reasons: Vec::new(),
            reason_rules: Vec::new(),
            visits: Vec::new(),
        };
        let mut out = ScoresBatch::new(&policy.id, &policy.version, self.as_of);
        // An entity's evidence (rule, record id), read once from the
        // slice's batches and then filtered per rule where it is cached.
        let mut evidence: Vec<(u16, &str)> = Vec::new();
        for i in c * self.chunk..((c + 1) * self.chunk).min(self.entities.len()) {
            if grade[i] == NOT_SCORED {
                continue;
            }
            evidence.clear();
            evidence.extend(slice.0.of(i).map(|(rule, records, r)| (rule, records.value(r))));
            let hits: Vec<RuleHit> = self
                .deductions
                .of(i)
                .map(|(no, ded, r)| RuleHit {
                    rule_id: self.rule_ids[no as usize],
                    direct: no as usize >= self.first_direct,
                    ded: ded[r],
                    records: evidence.iter().filter(|(rule, _)| *rule == no).map(|(_, id)| *id).collect(),
                })
                .collect();
            let reasons = reasons::reasons(hits);
            part.grades[grade[i] as usize] += 1;
            for r in &reasons {
                match part.reasons.iter_mut().find(|(id, _)| *id == r.rule_id) {
                    Some((_, n)) => *n += 1,
                    None => part.reasons.push((r.rule_id, 1)),
                }
            }
            if !reasons.is_empty() && self.listed_grade[grade[i] as usize] {
                part.reason_rules.push((i as u32, reasons.iter().map(|r| r.rule_id.to_string()).collect()));
            }
            let id = self.entities.id(i as u32).to_bytes();
            out.push(
                std::str::from_utf8(&id).expect("ids are ASCII"),
                score[i],
                policy.grade_name(band[i] as usize),
                policy.grade_name(grade[i] as usize),
                &reasons,
            );
            if self.visiting {
                part.visits.push((i as u32, reasons));
            }
        }
        if !out.is_empty() {
            part.batch = Some(out.finish(&self.schema));
        }
        part
    }
}

/// The run summary's counts of the chunks taken so far, and the reason
/// rule ids of the entities a list may hold.
#[derive(Default)]
pub(super) struct Tally {
    pub grades: Vec<u64>,
    pub reasons: Vec<(String, u64)>,
    pub reason_rules: BTreeMap<u32, Vec<String>>,
}

impl Tally {
    pub(super) fn new(grades: usize) -> Tally {
        Tally { grades: vec![0; grades], ..Tally::default() }
    }

    /// Counts `chunk`'s entities, keeps its reason rule ids, and gives
    /// back its batch of the mart.
    pub(super) fn add(&mut self, chunk: Chunk<'_>) -> Option<RecordBatch> {
        for (g, k) in self.grades.iter_mut().zip(&chunk.grades) {
            *g += k;
        }
        for (id, k) in chunk.reasons {
            match self.reasons.iter_mut().find(|(x, _)| x == id) {
                Some((_, n)) => *n += k,
                None => self.reasons.push((id.to_string(), k)),
            }
        }
        self.reason_rules.extend(chunk.reason_rules);
        chunk.batch
    }

    /// Ranks the reasons by how many entities carry each, most first
    /// (then by rule id).
    pub(super) fn rank_reasons(&mut self) {
        self.reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    }
}
