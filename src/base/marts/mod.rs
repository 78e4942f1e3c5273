//! Reading a few entities out of the marts and the registry for the faces
//! (explain, review, decisions): partitions by date, and lookups that skip
//! the row groups of sorted files whose statistics cannot hold the ids.

pub mod listings;

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Date32Type, Decimal128Type, Float64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::errors::ParquetError;
use parquet::file::statistics::Statistics;

use crate::base::contract::{Contract, Dataset};
use crate::base::ids::{days_to_date, AsOf};
use crate::stages::landing;
use crate::stages::score::reasons::Reason;
use crate::base::warehouse::Warehouse;

/// The `as_of=D` partition dates under `dir`, ascending.
pub fn as_of_partitions(dir: &Path) -> Vec<AsOf> {
    let mut dates: Vec<AsOf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().is_dir())
                .filter_map(|e| e.file_name().to_string_lossy().strip_prefix("as_of=").and_then(|d| d.parse().ok()))
                .collect()
        })
        .unwrap_or_default();
    dates.sort();
    dates
}

/// Rows of `path` whose utf8 column `column` is one of `ids`. Row groups
/// whose min/max statistics exclude every id are not read.
pub fn rows_with(path: &Path, column: &str, ids: &BTreeSet<String>) -> Result<Vec<RecordBatch>, ParquetError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path)?)?;
    let ci = builder.schema().index_of(column).map_err(|e| ParquetError::General(e.to_string()))?;
    let groups: Vec<usize> = builder
        .metadata()
        .row_groups()
        .iter()
        .enumerate()
        .filter(|(_, rg)| match rg.column(ci).statistics() {
            Some(Statistics::ByteArray(s)) => match (s.min_opt(), s.max_opt()) {
                (Some(lo), Some(hi)) => ids.iter().any(|id| lo.data() <= id.as_bytes() && id.as_bytes() <= hi.data()),
                _ => true,
            },
            _ => true,
        })
        .map(|(i, _)| i)
        .collect();
    let reader = builder.with_row_groups(groups).build()?;
    let mut out = Vec::new();
    for b in reader {
        let b = b?;
        let keys = b.column(ci).as_string::<i32>();
        let mask: arrow::array::BooleanArray = (0..b.num_rows()).map(|r| Some(ids.contains(keys.value(r)))).collect();
        let kept = arrow::compute::filter_record_batch(&b, &mask)?;
        if kept.num_rows() > 0 {
            out.push(kept);
        }
    }
    Ok(out)
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
pub fn scores(wh: &Warehouse, as_of: AsOf, ids: &BTreeSet<String>) -> Result<HashMap<String, ScoreRow>, ParquetError> {
    let path = wh.mart("scores", as_of).join("part-0.parquet");
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
                    reasons: crate::stages::score::read_reasons(reasons, r),
                },
            );
        }
    }
    Ok(out)
}

/// Registry facts of an entity, from a registry snapshot.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct RegistryFacts {
    pub entity_id: String,
    pub name: String,
    pub entity_type: String,
    pub legal_rep_id: Option<String>,
    pub parent_id: Option<String>,
    pub region: String,
    pub industry: Option<String>,
    pub online_store: Option<String>,
    pub established_on: Option<String>,
    pub status: String,
    pub registered_capital: Option<String>,
    /// The snapshot's ingest date.
    pub snapshot: String,
}

/// The registry facts of `ids` in the newest registry partition on or
/// before `as_of` (`None`: the newest partition of all).
pub fn registry_facts(
    wh: &Warehouse,
    as_of: Option<AsOf>,
    ids: &BTreeSet<String>,
) -> Result<HashMap<String, RegistryFacts>, String> {
    let contract = Contract::load(Dataset::Registry).map_err(|e| e.to_string())?;
    let mut faults = Vec::new();
    let selection = landing::select(wh, &contract, as_of.unwrap_or(AsOf::new(chrono::NaiveDate::MAX)), &mut faults);
    let mut out = HashMap::new();
    for file in selection.files() {
        for b in file.read(&contract, None).map_err(|e| e.to_string())? {
            let b = b.map_err(|e| e.to_string())?;
            let s =
                |name: &str| b.column(contract.column_index(name).expect("contract column")).as_string::<i32>().clone();
            let opt = |a: &arrow::array::StringArray, r: usize| a.is_valid(r).then(|| a.value(r).to_string());
            let (id, name, kind, rep, parent, region, industry, store, status) = (
                s("entity_id"),
                s("name"),
                s("entity_type"),
                s("legal_rep_id"),
                s("parent_id"),
                s("region"),
                s("industry"),
                s("online_store"),
                s("status"),
            );
            let est =
                b.column(contract.column_index("established_on").expect("column")).as_primitive::<Date32Type>().clone();
            let cap = b
                .column(contract.column_index("registered_capital").expect("column"))
                .as_primitive::<Decimal128Type>()
                .clone();
            for r in 0..b.num_rows() {
                if id.is_null(r) || !ids.contains(id.value(r)) || out.contains_key(id.value(r)) {
                    continue;
                }
                out.insert(
                    id.value(r).to_string(),
                    RegistryFacts {
                        entity_id: id.value(r).to_string(),
                        name: opt(&name, r).unwrap_or_default(),
                        entity_type: opt(&kind, r).unwrap_or_default(),
                        legal_rep_id: opt(&rep, r),
                        parent_id: opt(&parent, r),
                        region: opt(&region, r).unwrap_or_default(),
                        industry: opt(&industry, r),
                        online_store: opt(&store, r),
                        established_on: est.is_valid(r).then(|| days_to_date(est.value(r)).to_string()),
                        status: opt(&status, r).unwrap_or_default(),
                        registered_capital: cap.is_valid(r).then(|| cap.value_as_string(r)),
                        snapshot: file.ingest_date.to_string(),
                    },
                );
            }
        }
    }
    Ok(out)
}

/// Entities of the newest registry snapshot whose id starts with `query`
/// (upper-cased) or whose name starts with it (ignoring case), and whose
/// region starts with `region`; at most `limit`, sorted by id. A full scan
/// of the snapshot: seconds at ten million entities.
pub fn search_registry(wh: &Warehouse, query: &str, region: &str, limit: usize) -> Result<Vec<RegistryFacts>, String> {
    let contract = Contract::load(Dataset::Registry).map_err(|e| e.to_string())?;
    let mut faults = Vec::new();
    let selection = landing::select(wh, &contract, AsOf::new(chrono::NaiveDate::MAX), &mut faults);
    let (id_q, name_q) = (query.to_uppercase(), query.to_lowercase());
    let mut found: BTreeSet<String> = BTreeSet::new();
    for file in selection.files() {
        for b in file.read(&contract, None).map_err(|e| e.to_string())? {
            let b = b.map_err(|e| e.to_string())?;
            let ids = b.column(contract.column_index("entity_id").expect("column")).as_string::<i32>().clone();
            let names = b.column(contract.column_index("name").expect("column")).as_string::<i32>().clone();
            let regions = b.column(contract.column_index("region").expect("column")).as_string::<i32>().clone();
            for r in 0..b.num_rows() {
                if ids.is_null(r) || regions.is_null(r) || !regions.value(r).starts_with(region) {
                    continue;
                }
                let by_id = !id_q.is_empty() && ids.value(r).starts_with(&id_q);
                let by_name =
                    !name_q.is_empty() && names.is_valid(r) && names.value(r).to_lowercase().starts_with(&name_q);
                if query.is_empty() || by_id || by_name {
                    found.insert(ids.value(r).to_string());
                }
            }
        }
    }
    let wanted: BTreeSet<String> = found.into_iter().take(limit).collect();
    let mut facts = registry_facts(wh, None, &wanted)?;
    Ok(wanted.iter().filter_map(|id| facts.remove(id)).collect())
}
