//! The `listings` mart of joint-sanctions.md "Outputs": one row per member
//! of a list, with how it got there and its review status. Its schema,
//! writer and reader, shared by the stages that produce it and the faces
//! that show it.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Float64Builder, Int32Array, ListBuilder, RecordBatch, StringArray,
    StringBuilder, StructBuilder,
};
use arrow::datatypes::{DataType, Date32Type, Field, Fields, Float64Type, Int32Type, Schema, SchemaRef};
use parquet::errors::ParquetError;

use super::{append_strings, string_list_builder, strings_at};
use crate::base::ids::AsOf;
use crate::base::parquet_io::{read_parquet, ParquetSink, WRITE_BATCH_ROWS};

/// `direct` (round 0) or `joint`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Basis {
    Direct,
    Joint,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Direct => "direct",
            Basis::Joint => "joint",
        }
    }

    pub fn parse(s: &str) -> Option<Basis> {
        match s {
            "direct" => Some(Basis::Direct),
            "joint" => Some(Basis::Joint),
            _ => None,
        }
    }
}

/// publication.md v2 "Review status".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum ReviewStatus {
    Published,
    Pending,
    /// A notice in force, its deadline not passed, no objection after it.
    Noticed,
    /// An objection in force, not yet answered.
    Objected,
    /// A confirm that still needs a second officer's approval.
    AwaitingApproval,
    Rejected,
    /// Would be published, but a joint member none of whose roots is.
    Held,
}

impl ReviewStatus {
    pub const ALL: [ReviewStatus; 7] = [
        ReviewStatus::Published,
        ReviewStatus::Pending,
        ReviewStatus::Noticed,
        ReviewStatus::Objected,
        ReviewStatus::AwaitingApproval,
        ReviewStatus::Rejected,
        ReviewStatus::Held,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Published => "published",
            ReviewStatus::Pending => "pending",
            ReviewStatus::Noticed => "noticed",
            ReviewStatus::Objected => "objected",
            ReviewStatus::AwaitingApproval => "awaiting_approval",
            ReviewStatus::Rejected => "rejected",
            ReviewStatus::Held => "held",
        }
    }

    pub fn parse(s: &str) -> Option<ReviewStatus> {
        ReviewStatus::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether the member is published, or would be but for its roots.
    pub fn on_list(self) -> bool {
        matches!(self, ReviewStatus::Published | ReviewStatus::Held)
    }

    /// Whether an officer still has something to do: the queue's members.
    pub fn in_review(self) -> bool {
        matches!(
            self,
            ReviewStatus::Pending | ReviewStatus::Noticed | ReviewStatus::Objected | ReviewStatus::AwaitingApproval
        )
    }
}

/// One `via` entry: the member it comes through, the relation, the share.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ViaEntry {
    pub id: String,
    pub relation: String,
    pub share_pct: Option<f64>,
}

/// One row of the `listings` mart.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ListingRow {
    pub entity_id: String,
    pub list_id: String,
    pub basis: Basis,
    pub depth: i32,
    pub rules: Vec<String>,
    pub via: Vec<ViaEntry>,
    pub roots: Vec<String>,
    pub review_status: ReviewStatus,
    /// The notice's deadline while `noticed`.
    pub notice_deadline: Option<AsOf>,
}

/// Who produced the rows and as of when.
pub struct Stamp<'a> {
    pub policy_id: &'a str,
    pub policy_version: &'a str,
    pub as_of: AsOf,
}

fn utf8_list() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, false)))
}

fn via_fields() -> Fields {
    Fields::from(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("relation", DataType::Utf8, false),
        Field::new("share_pct", DataType::Float64, true),
    ])
}

pub fn listings_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("entity_id", DataType::Utf8, false),
        Field::new("list_id", DataType::Utf8, false),
        Field::new("basis", DataType::Utf8, false),
        Field::new("depth", DataType::Int32, false),
        Field::new("rules", utf8_list(), false),
        Field::new("via", DataType::List(Arc::new(Field::new("item", DataType::Struct(via_fields()), false))), false),
        Field::new("roots", utf8_list(), false),
        Field::new("review_status", DataType::Utf8, false),
        Field::new("notice_deadline", DataType::Date32, true),
        Field::new("policy_id", DataType::Utf8, false),
        Field::new("policy_version", DataType::Utf8, false),
        Field::new("as_of", DataType::Date32, false),
    ]))
}

/// The stamp as columns of `n` rows.
pub(crate) fn stamp_columns(stamp: &Stamp, n: usize) -> [ArrayRef; 3] {
    [
        Arc::new(StringArray::from(vec![stamp.policy_id; n])),
        Arc::new(StringArray::from(vec![stamp.policy_version; n])),
        Arc::new(Date32Array::from(vec![stamp.as_of.days_since_epoch(); n])),
    ]
}

/// The `listings` rows as a batch (rows in the order given).
pub fn listings_batch(rows: &[ListingRow], stamp: &Stamp) -> RecordBatch {
    let mut rules = string_list_builder();
    let mut roots = string_list_builder();
    let mut via = ListBuilder::new(StructBuilder::new(
        via_fields(),
        vec![Box::new(StringBuilder::new()), Box::new(StringBuilder::new()), Box::new(Float64Builder::new())],
    ))
    .with_field(Arc::new(Field::new("item", DataType::Struct(via_fields()), false)));
    for r in rows {
        append_strings(&mut rules, &r.rules);
        append_strings(&mut roots, &r.roots);
        let s = via.values();
        for v in &r.via {
            s.field_builder::<StringBuilder>(0).expect("id").append_value(&v.id);
            s.field_builder::<StringBuilder>(1).expect("relation").append_value(&v.relation);
            s.field_builder::<Float64Builder>(2).expect("share").append_option(v.share_pct);
            s.append(true);
        }
        via.append(true);
    }
    let n = rows.len();
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.entity_id.as_str()))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.list_id.as_str()))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.basis.as_str()))),
        Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.depth))),
        Arc::new(rules.finish()),
        Arc::new(via.finish()),
        Arc::new(roots.finish()),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.review_status.as_str()))),
        Arc::new(Date32Array::from(
            rows.iter().map(|r| r.notice_deadline.map(|d| d.days_since_epoch())).collect::<Vec<_>>(),
        )),
    ];
    columns.extend(stamp_columns(stamp, n));
    RecordBatch::try_new(listings_schema(), columns).expect("listings schema")
}

/// Writes `listings` rows as `part-0.parquet` into a (staged) folder, a
/// batch of [`WRITE_BATCH_ROWS`] at a time.
pub fn write_listings(dir: &Path, rows: &[ListingRow], stamp: &Stamp) -> Result<u64, ParquetError> {
    let mut sink = ParquetSink::create(&dir.join("part-0.parquet"), listings_schema())?;
    for chunk in rows.chunks(WRITE_BATCH_ROWS) {
        sink.write(&listings_batch(chunk, stamp))?;
    }
    sink.finish()
}

/// The entities of a `listings` partition that are in review
/// (`ReviewStatus::in_review`), reading only the id and status columns: what
/// the queue and the dashboard need of earlier partitions.
pub fn read_in_review(dir: &Path) -> Result<std::collections::HashSet<String>, ParquetError> {
    let file = std::fs::File::open(dir.join("part-0.parquet"))?;
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)?;
    if builder.schema().fields() != listings_schema().fields() {
        return Err(ParquetError::General(format!("{}: not a listings mart", dir.display())));
    }
    let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), [0, 7]);
    let mut out = std::collections::HashSet::new();
    for b in builder.with_projection(mask).build()? {
        let b = b?;
        let (ids, status) = (b.column(0).as_string::<i32>(), b.column(1).as_string::<i32>());
        for r in 0..b.num_rows() {
            let st = ReviewStatus::parse(status.value(r)).ok_or_else(|| {
                ParquetError::General(format!("{}: review status '{}'", dir.display(), status.value(r)))
            })?;
            if st.in_review() {
                out.insert(ids.value(r).to_string());
            }
        }
    }
    Ok(out)
}

/// Reads a `listings` partition folder.
pub fn read_listings(dir: &Path) -> Result<Vec<ListingRow>, ParquetError> {
    listing_rows(dir, read_parquet(&dir.join("part-0.parquet"))?)
}

/// The rows of a `listings` partition folder about one of `ids`.
pub fn read_listings_of(dir: &Path, ids: &std::collections::BTreeSet<String>) -> Result<Vec<ListingRow>, ParquetError> {
    listing_rows(dir, super::rows_with(&dir.join("part-0.parquet"), "entity_id", ids)?)
}

fn listing_rows(dir: &Path, batches: Vec<arrow::array::RecordBatch>) -> Result<Vec<ListingRow>, ParquetError> {
    let mut out = Vec::new();
    for b in batches {
        if b.schema() != listings_schema() {
            return Err(ParquetError::General(format!("{}: not a listings mart", dir.display())));
        }
        let s = |i: usize| b.column(i).as_string::<i32>().clone();
        let (ids, lists, basis, status) = (s(0), s(1), s(2), s(7));
        let deadline = b.column(8).as_primitive::<Date32Type>().clone();
        let depth = b.column(3).as_primitive::<Int32Type>();
        let rules = b.column(4).as_list::<i32>();
        let via = b.column(5).as_list::<i32>();
        let roots = b.column(6).as_list::<i32>();
        for r in 0..b.num_rows() {
            let v = via.value(r);
            let v = v.as_struct();
            let vid = v.column(0).as_string::<i32>();
            let vrel = v.column(1).as_string::<i32>();
            let vshare = v.column(2).as_primitive::<Float64Type>();
            out.push(ListingRow {
                entity_id: ids.value(r).to_string(),
                list_id: lists.value(r).to_string(),
                basis: Basis::parse(basis.value(r))
                    .ok_or_else(|| ParquetError::General(format!("{}: basis '{}'", dir.display(), basis.value(r))))?,
                depth: depth.value(r),
                rules: strings_at(rules, r),
                via: (0..v.len())
                    .map(|k| ViaEntry {
                        id: vid.value(k).to_string(),
                        relation: vrel.value(k).to_string(),
                        share_pct: vshare.is_valid(k).then(|| vshare.value(k)),
                    })
                    .collect(),
                roots: strings_at(roots, r),
                review_status: ReviewStatus::parse(status.value(r)).ok_or_else(|| {
                    ParquetError::General(format!("{}: review status '{}'", dir.display(), status.value(r)))
                })?,
                notice_deadline: if deadline.is_valid(r) {
                    AsOf::from_days_since_epoch(deadline.value(r))
                } else {
                    None
                },
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_round_trip_through_parquet() {
        let dir = tempfile::tempdir().unwrap();
        let rows = vec![
            ListingRow {
                entity_id: "A".into(),
                list_id: "l".into(),
                basis: Basis::Direct,
                depth: 0,
                rules: vec![],
                via: vec![],
                roots: vec!["A".into()],
                review_status: ReviewStatus::Published,
                notice_deadline: None,
            },
            ListingRow {
                entity_id: "B".into(),
                list_id: "l".into(),
                basis: Basis::Joint,
                depth: 1,
                rules: vec!["JS_BRANCH".into(), "JS_CONTROL".into()],
                via: vec![
                    ViaEntry { id: "A".into(), relation: "branch".into(), share_pct: None },
                    ViaEntry { id: "A".into(), relation: "control".into(), share_pct: Some(60.0) },
                ],
                roots: vec!["A".into()],
                review_status: ReviewStatus::Noticed,
                notice_deadline: Some("2026-12-07".parse().unwrap()),
            },
        ];
        let stamp = Stamp { policy_id: "p", policy_version: "1", as_of: "2026-11-27".parse().unwrap() };
        write_listings(dir.path(), &rows, &stamp).unwrap();
        assert_eq!(read_listings(dir.path()).unwrap(), rows);
    }
}
