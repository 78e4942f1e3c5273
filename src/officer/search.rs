//! Finding entities by id or name: an index of one run's registry mart
//! (ids, lower-cased names, regions) and scores mart (grades), built once
//! and searched in memory, so that a search over a million entities does
//! not decode Parquet on every request.

use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch, StringArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use parquet::errors::ParquetError;

use crate::base::ids::AsOf;
use crate::base::marts::{mart_error, MartError};
use crate::base::warehouse::{Mart, Warehouse};

/// Separates names in [`SearchIndex::names`]; validation refuses control
/// characters in names, so no name holds it.
const SEPARATOR: char = '\0';

/// The searchable columns of one run's registry and scores marts.
pub struct SearchIndex {
    /// The as-of date of the marts read.
    pub at: AsOf,
    ids: StringArray,
    regions: StringArray,
    /// Every name lower-cased, each followed by [`SEPARATOR`].
    names: String,
    /// Where each row's name starts in `names`.
    name_starts: Vec<usize>,
    /// Each row's grade as an index into `grade_names` (`u16::MAX`: not scored).
    grades: Vec<u16>,
    grade_names: Vec<String>,
}

/// A search: an id prefix or a part of a name (`query`, either), a region
/// code prefix, and a grade; empty parts match every entity.
#[derive(Clone, Debug, Default)]
pub struct Search<'a> {
    pub query: &'a str,
    pub region: &'a str,
    pub grade: Option<&'a str>,
}

impl SearchIndex {
    /// Reads the registry mart as of `at` and, when that run scored, its
    /// scores mart.
    pub fn build(wh: &Warehouse, at: AsOf) -> Result<SearchIndex, MartError> {
        let registry = wh.mart(Mart::Registry, at).join("part-0.parquet");
        let columns =
            read_columns(&registry, &["entity_id", "name", "region"]).map_err(mart_error("the registry mart"))?;
        let batch = concat(&columns).map_err(mart_error("the registry mart"))?;
        let ids = batch.column(0).as_string::<i32>().clone();
        let regions = batch.column(2).as_string::<i32>().clone();
        let raw_names = batch.column(1).as_string::<i32>();
        let mut names = String::with_capacity(raw_names.value_data().len() + ids.len());
        let mut name_starts = Vec::with_capacity(ids.len());
        for r in 0..raw_names.len() {
            name_starts.push(names.len());
            names.extend(raw_names.value(r).chars().flat_map(char::to_lowercase).filter(|c| *c != SEPARATOR));
            names.push(SEPARATOR);
        }

        let scores = wh.mart(Mart::Scores, at).join("part-0.parquet");
        let mut grade_names: Vec<String> = Vec::new();
        let mut grades = vec![u16::MAX; ids.len()];
        if scores.exists() {
            let columns = read_columns(&scores, &["entity_id", "grade"]).map_err(mart_error("the scores mart"))?;
            let mut scored: Vec<(&str, u16)> = Vec::new();
            for b in &columns {
                let (sid, sgrade) = (b.column(0).as_string::<i32>(), b.column(1).as_string::<i32>());
                for r in 0..b.num_rows() {
                    let g = match grade_names.iter().position(|x| x == sgrade.value(r)) {
                        Some(g) => g,
                        None => {
                            grade_names.push(sgrade.value(r).to_string());
                            grade_names.len() - 1
                        }
                    };
                    scored.push((sid.value(r), g as u16));
                }
            }
            if !scored.is_sorted_by(|a, b| a.0 <= b.0) {
                scored.sort_unstable_by(|a, b| a.0.cmp(b.0));
            }
            for (r, grade) in grades.iter_mut().enumerate() {
                if let Ok(i) = scored.binary_search_by(|(id, _)| (*id).cmp(ids.value(r))) {
                    *grade = scored[i].1;
                }
            }
        }
        Ok(SearchIndex { at, ids, regions, names, name_starts, grades, grade_names })
    }

    /// The number of entities in the index.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The ids of the first `limit` matches in the mart's (entity id)
    /// order, and how many match in all. The query matches an id by its
    /// start (any case) or a name anywhere in it (ignoring case).
    pub fn find(&self, s: &Search, limit: usize) -> (Vec<String>, usize) {
        let query = s.query.trim();
        let region = s.region.trim();
        let grade = match s.grade {
            Some(g) => match self.grade_names.iter().position(|x| x == g) {
                Some(i) => Some(i as u16),
                None => return (Vec::new(), 0),
            },
            None => None,
        };
        let id_q = query.to_uppercase();
        let name_q: String = query.chars().flat_map(char::to_lowercase).collect();
        let by_name = self.name_hits(&name_q);
        let mut shown = Vec::new();
        let mut total = 0;
        for (r, named) in by_name.into_iter().enumerate() {
            let by_query = query.is_empty() || self.ids.value(r).starts_with(&id_q) || named;
            if by_query && self.regions.value(r).starts_with(region) && grade.is_none_or(|g| self.grades[r] == g) {
                total += 1;
                if shown.len() < limit {
                    shown.push(self.ids.value(r).to_string());
                }
            }
        }
        (shown, total)
    }

    /// Which rows' names contain `needle` (none for an empty needle or one
    /// holding the separator).
    fn name_hits(&self, needle: &str) -> Vec<bool> {
        let mut hits = vec![false; self.ids.len()];
        if needle.is_empty() || needle.contains(SEPARATOR) {
            return hits;
        }
        for (at, _) in self.names.match_indices(needle) {
            let row = self.name_starts.partition_point(|start| *start <= at) - 1;
            hits[row] = true;
        }
        hits
    }
}

/// The named columns of a Parquet file, in the order named.
fn read_columns(path: &Path, names: &[&str]) -> Result<Vec<RecordBatch>, ParquetError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path)?)?;
    let schema = builder.schema().clone();
    let mut roots = Vec::new();
    for n in names {
        roots
            .push(schema.index_of(n).map_err(|_| ParquetError::General(format!("{}: no column {n}", path.display())))?);
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots.iter().copied());
    let batches: Vec<RecordBatch> = builder.with_projection(mask).build()?.collect::<Result<_, _>>()?;
    // The projection keeps file order; put the columns in the order named.
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by_key(|i| roots[*i]);
    let position: Vec<usize> = (0..names.len()).map(|i| order.iter().position(|o| *o == i).unwrap_or(i)).collect();
    batches.into_iter().map(|b| b.project(&position).map_err(|e| ParquetError::ArrowError(e.to_string()))).collect()
}

fn concat(batches: &[RecordBatch]) -> Result<RecordBatch, ParquetError> {
    match batches.first() {
        None => Err(ParquetError::General("the mart has no batches".into())),
        Some(first) => arrow::compute::concat_batches(&first.schema(), batches)
            .map_err(|e| ParquetError::ArrowError(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(rows: &[(&str, &str, &str, Option<&str>)]) -> SearchIndex {
        let ids = StringArray::from_iter_values(rows.iter().map(|r| r.0));
        let regions = StringArray::from_iter_values(rows.iter().map(|r| r.2));
        let mut names = String::new();
        let mut name_starts = Vec::new();
        for r in rows {
            name_starts.push(names.len());
            names.push_str(&r.1.to_lowercase());
            names.push(SEPARATOR);
        }
        let grade_names = vec!["A".to_string(), "D".to_string()];
        let grades = rows.iter().map(|r| r.3.map(|g| if g == "A" { 0 } else { 1 }).unwrap_or(u16::MAX)).collect();
        SearchIndex { at: "2026-11-27".parse().unwrap(), ids, regions, names, name_starts, grades, grade_names }
    }

    #[test]
    fn names_match_anywhere_ignoring_case_and_ids_by_their_start() {
        let ix = index(&[
            ("911100000000000001", "Eastern Trading Co", "110101", Some("A")),
            ("911100000000000002", "北京星辰贸易有限公司", "110102", Some("D")),
            ("913100000000000003", "Shanghai TRADING house", "310101", None),
            ("91110000MA01ABCD3X", "Alpha", "110105", None),
        ]);
        let find = |q: &str, region: &str, grade: Option<&str>| ix.find(&Search { query: q, region, grade }, 50);
        assert_eq!(find("trading", "", None).1, 2);
        assert_eq!(find("星辰", "", None).0, vec!["911100000000000002"]);
        assert_eq!(find("9131", "", None).0, vec!["913100000000000003"]);
        assert_eq!(find("co北", "", None).1, 0, "within one name, never across two");
        assert_eq!(find("trading", "11", None).0, vec!["911100000000000001"]);
        assert_eq!(find("", "", Some("D")).0, vec!["911100000000000002"]);
        assert_eq!(find("", "", Some("B")).1, 0, "a grade nobody has");
        assert_eq!(find("0003", "", None).1, 0, "an id matches by its start only");
        assert_eq!(find("91110000ma01", "", None).0, vec!["91110000MA01ABCD3X"], "an id in any case");
        assert_eq!(find("shanghai", "", None).0, vec!["913100000000000003"], "a name matched at its start");
        assert_eq!(find("alpha", "", None).0, vec!["91110000MA01ABCD3X"], "the last name");
        assert_eq!(find("", "", None).1, 4);
        let (shown, total) = ix.find(&Search { query: "", region: "", grade: None }, 2);
        assert_eq!((shown.len(), total), (2, 4), "the first two shown, all four counted");
    }
}
