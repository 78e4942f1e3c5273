//! The `scores` mart (policy.md, "Outputs of scoring"): one row per entity
//! in scope with its score, grades and reasons. Its schema, a batch writer
//! the scoring stage fills in entity-id order, and a reader of a few
//! entities by row-group statistics.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Float64Builder, ListArray, ListBuilder, RecordBatch, StringArray,
    StringBuilder, StructBuilder,
};
use arrow::datatypes::{DataType, Field, Fields, Float64Type, Schema, SchemaRef};
use parquet::errors::ParquetError;

use super::rows_with;
use crate::base::ids::AsOf;
use crate::base::warehouse::Mart;
use crate::base::warehouse::Warehouse;

/// The schema of the `scores` mart (policy.md, "Outputs of scoring").
/// The as-of date of the newest scores mart, if any run wrote one.
pub fn newest(wh: &Warehouse) -> Option<AsOf> {
    wh.mart_dates(Mart::Scores).pop()
}

pub fn scores_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("entity_id", DataType::Utf8, false),
        Field::new("score", DataType::Float64, false),
        Field::new("band_grade", DataType::Utf8, false),
        Field::new("grade", DataType::Utf8, false),
        Field::new(
            "reasons",
            DataType::List(Arc::new(Field::new("item", DataType::Struct(reason_fields()), false))),
            false,
        ),
        Field::new("policy_id", DataType::Utf8, false),
        Field::new("policy_version", DataType::Utf8, false),
        Field::new("as_of", DataType::Date32, false),
    ]))
}

fn reason_fields() -> Fields {
    Fields::from(vec![
        Field::new("rule_id", DataType::Utf8, false),
        Field::new("points", DataType::Float64, false),
        Field::new("records", DataType::List(Arc::new(Field::new("item", DataType::Utf8, false))), false),
    ])
}

/// A kept reason, borrowing its ids.
#[derive(Clone, Debug, PartialEq)]
pub struct ReasonRef<'a> {
    pub rule_id: &'a str,
    pub points: f64,
    pub records: Vec<&'a str>,
}

/// A reason as published: rule id, rounded points, sorted record ids.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Reason {
    pub rule_id: String,
    pub points: f64,
    pub records: Vec<String>,
}

/// Column builders of a batch of the `scores` mart, filled in entity-id order.
pub struct ScoresBatch {
    entity_id: StringBuilder,
    score: Float64Builder,
    band_grade: StringBuilder,
    grade: StringBuilder,
    reasons: ListBuilder<StructBuilder>,
    policy_id: String,
    policy_version: String,
    as_of: i32,
    len: usize,
}

impl ScoresBatch {
    /// Rows stamped with the policy id and version and the as-of date.
    pub fn new(policy_id: &str, policy_version: &str, as_of: AsOf) -> ScoresBatch {
        ScoresBatch {
            entity_id: StringBuilder::new(),
            score: Float64Builder::new(),
            band_grade: StringBuilder::new(),
            grade: StringBuilder::new(),
            reasons: reasons_builder(),
            policy_id: policy_id.to_string(),
            policy_version: policy_version.to_string(),
            as_of: as_of.days_since_epoch(),
            len: 0,
        }
    }

    /// Rows pushed since the last [`ScoresBatch::finish`].
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, entity_id: &str, score: f64, band: &str, grade: &str, reasons: &[ReasonRef]) {
        self.entity_id.append_value(entity_id);
        self.score.append_value(score);
        self.band_grade.append_value(band);
        self.grade.append_value(grade);
        append_reasons(&mut self.reasons, reasons);
        self.len += 1;
    }

    pub fn finish(&mut self, schema: &SchemaRef) -> RecordBatch {
        let n = self.len;
        self.len = 0;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.entity_id.finish()),
            Arc::new(self.score.finish()),
            Arc::new(self.band_grade.finish()),
            Arc::new(self.grade.finish()),
            Arc::new(self.reasons.finish()),
            Arc::new(StringArray::from(vec![self.policy_id.as_str(); n])),
            Arc::new(StringArray::from(vec![self.policy_version.as_str(); n])),
            Arc::new(Date32Array::from(vec![self.as_of; n])),
        ];
        RecordBatch::try_new(schema.clone(), columns).expect("scores schema")
    }
}

/// A builder of `reasons` lists (list of struct rule_id, points, records).
pub fn reasons_builder() -> ListBuilder<StructBuilder> {
    let fields = reason_fields();
    let records =
        ListBuilder::new(StringBuilder::new()).with_field(Arc::new(Field::new("item", DataType::Utf8, false)));
    let inner = StructBuilder::new(
        fields.clone(),
        vec![Box::new(StringBuilder::new()), Box::new(Float64Builder::new()), Box::new(records)],
    );
    ListBuilder::new(inner).with_field(Arc::new(Field::new("item", DataType::Struct(fields), false)))
}

/// Appends one entity's reasons as one list element.
pub fn append_reasons(builder: &mut ListBuilder<StructBuilder>, reasons: &[ReasonRef]) {
    let s = builder.values();
    for r in reasons {
        s.field_builder::<StringBuilder>(0).expect("rule_id").append_value(r.rule_id);
        s.field_builder::<Float64Builder>(1).expect("points").append_value(r.points);
        let recs = s.field_builder::<ListBuilder<StringBuilder>>(2).expect("records");
        for id in &r.records {
            recs.values().append_value(id);
        }
        recs.append(true);
        s.append(true);
    }
    builder.append(true);
}

/// Reads the reasons of row `row` of a `reasons` column.
pub fn read_reasons(column: &ListArray, row: usize) -> Vec<Reason> {
    let items = column.value(row);
    let s = items.as_struct();
    let ids = s.column(0).as_string::<i32>();
    let points = s.column(1).as_primitive::<Float64Type>();
    let records = s.column(2).as_list::<i32>();
    (0..s.len())
        .map(|k| {
            let recs = records.value(k);
            let recs = recs.as_string::<i32>();
            Reason {
                rule_id: ids.value(k).to_string(),
                points: points.value(k),
                records: (0..recs.len()).map(|j| recs.value(j).to_string()).collect(),
            }
        })
        .collect()
}

/// An entity's row of the `scores` mart.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ScoreRow {
    pub score: f64,
    pub band_grade: String,
    pub grade: String,
    pub reasons: Vec<Reason>,
}

/// The scores of `ids` as of `as_of` (absent ids were out of scope).
pub fn read(wh: &Warehouse, as_of: AsOf, ids: &BTreeSet<String>) -> Result<HashMap<String, ScoreRow>, ParquetError> {
    let path = wh.mart(Mart::Scores, as_of).join("part-0.parquet");
    let mut out = HashMap::new();
    for b in rows_with(&path, "entity_id", ids)? {
        let id = b.column(0).as_string::<i32>();
        let score = b.column(1).as_primitive::<Float64Type>();
        let band = b.column(2).as_string::<i32>();
        let grade = b.column(3).as_string::<i32>();
        let reasons = b.column(4).as_list::<i32>();
        for r in 0..b.num_rows() {
            out.insert(
                id.value(r).to_string(),
                ScoreRow {
                    score: score.value(r),
                    band_grade: band.value(r).to_string(),
                    grade: grade.value(r).to_string(),
                    reasons: read_reasons(reasons, r),
                },
            );
        }
    }
    Ok(out)
}

/// The entities graded `grade` in the scores mart as of `as_of` (only the
/// id and grade columns are read).
pub fn with_grade(wh: &Warehouse, as_of: AsOf, grade: &str) -> Result<std::collections::HashSet<String>, ParquetError> {
    let file = std::fs::File::open(wh.mart(Mart::Scores, as_of).join("part-0.parquet"))?;
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)?;
    let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), [0, 3]);
    let mut out = std::collections::HashSet::new();
    for b in builder.with_projection(mask).build()? {
        let b = b?;
        let (ids, grades) = (b.column(0).as_string::<i32>(), b.column(1).as_string::<i32>());
        out.extend((0..b.num_rows()).filter(|r| grades.value(*r) == grade).map(|r| ids.value(r).to_string()));
    }
    Ok(out)
}
