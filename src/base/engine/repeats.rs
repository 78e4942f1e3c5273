//! `repeated_hashes(hash)`: the hashes (`key_hash`) that more than one row
//! holds, as one list, found by sorting the hashes instead of grouping
//! the rows by them.
//!
//! Validation's plans look for the keys held twice among every landing
//! row. Grouped by their hash, 10M–15M rows a dataset made 10M–15M groups
//! of a hash table, which spilled at a 1 GiB pool (1.8–3.0 s of compute a
//! dataset at 10M entities). Here each partition keeps its hashes (8 bytes
//! a row, counted against the pool), sorts them, and the final step merges
//! the sorted runs and keeps the values met more than once. It holds every
//! hash of a dataset at once, as the native validation's key check does.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, ListArray, UInt64Array};
use arrow::buffer::{OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field, UInt64Type};
use datafusion::common::ScalarValue;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{create_udaf, Accumulator, AggregateUDF, Volatility};

/// The aggregate UDFs of credence's plans.
pub(super) fn udafs() -> Vec<AggregateUDF> {
    vec![repeated_hashes()]
}

/// `repeated_hashes(UInt64) -> List<UInt64>`: each value more than one
/// row holds, once, ascending; nulls are no value.
fn repeated_hashes() -> AggregateUDF {
    create_udaf(
        "repeated_hashes",
        vec![DataType::UInt64],
        Arc::new(list_type()),
        Volatility::Immutable,
        Arc::new(|_| Ok(Box::new(Repeats::default()))),
        Arc::new(vec![list_type()]),
    )
}

fn list_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::UInt64, true)))
}

/// The hashes seen: those given row by row (in any order), and the
/// sorted runs other partitions' accumulators passed on.
#[derive(Debug, Default)]
struct Repeats {
    unsorted: Vec<u64>,
    runs: Vec<ScalarBuffer<u64>>,
}

impl Repeats {
    /// Every hash seen, sorted, as one run.
    fn sorted(&mut self) -> Vec<u64> {
        let mut own = std::mem::take(&mut self.unsorted);
        own.sort_unstable();
        let runs = std::mem::take(&mut self.runs);
        if runs.is_empty() {
            return own;
        }
        let mut all: Vec<&[u64]> = runs.iter().map(|r| r.as_ref()).collect();
        all.push(&own);
        let mut out = Vec::with_capacity(all.iter().map(|r| r.len()).sum());
        merge_runs(&all, |v| out.push(v));
        out
    }
}

/// Calls `each` with every value of the sorted `runs`, in ascending order.
fn merge_runs(runs: &[&[u64]], mut each: impl FnMut(u64)) {
    let mut heads: BinaryHeap<Reverse<(u64, usize, usize)>> =
        runs.iter().enumerate().filter(|(_, r)| !r.is_empty()).map(|(n, r)| Reverse((r[0], n, 0))).collect();
    while let Some(Reverse((value, run, at))) = heads.pop() {
        each(value);
        if let Some(next) = runs[run].get(at + 1) {
            heads.push(Reverse((*next, run, at + 1)));
        }
    }
}

/// The values of a sorted run held more than once, once each.
fn repeated(sorted: &[u64]) -> Vec<u64> {
    let mut out = Vec::new();
    for pair in sorted.windows(2) {
        if pair[0] == pair[1] && out.last() != Some(&pair[0]) {
            out.push(pair[0]);
        }
    }
    out
}

fn one_list(values: Vec<u64>) -> ScalarValue {
    let offsets = OffsetBuffer::from_lengths([values.len()]);
    let values: ArrayRef = Arc::new(UInt64Array::new(ScalarBuffer::from(values), None));
    let field = Arc::new(Field::new_list_field(DataType::UInt64, true));
    ScalarValue::List(Arc::new(ListArray::new(field, offsets, values, None)))
}

impl Accumulator for Repeats {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        let hashes = values[0].as_primitive::<UInt64Type>();
        match hashes.nulls() {
            None => self.unsorted.extend_from_slice(hashes.values()),
            Some(_) => self.unsorted.extend(hashes.iter().flatten()),
        }
        Ok(())
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        Ok(vec![one_list(self.sorted())])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        let lists = states[0].as_list::<i32>();
        for n in 0..lists.len() {
            if lists.is_valid(n) {
                let run = lists.value(n);
                self.runs.push(run.as_primitive::<UInt64Type>().values().clone());
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        Ok(one_list(repeated(&self.sorted())))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.unsorted.capacity() * 8
            + self.runs.iter().map(|r| r.len() * 8).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;

    use super::*;

    #[test]
    fn merged_runs_come_out_in_order() {
        let mut seen = Vec::new();
        merge_runs(&[&[1, 4, 9], &[], &[2, 4, 10, 11], &[0]], |v| seen.push(v));
        assert_eq!(seen, vec![0, 1, 2, 4, 4, 9, 10, 11]);
    }

    #[test]
    fn a_value_is_repeated_when_two_or_more_rows_hold_it() {
        assert_eq!(repeated(&[1, 2, 2, 3, 5, 5, 5, 8]), vec![2, 5]);
        assert!(repeated(&[]).is_empty());
        assert!(repeated(&[7]).is_empty());
    }

    /// The same values in two partitions of a table, and one value held
    /// twice within a partition: the plan's partial and final steps find
    /// both, and nulls are no value.
    #[tokio::test]
    async fn values_held_twice_are_found_within_and_across_partitions() {
        let ctx = SessionContext::new();
        for f in udafs() {
            ctx.register_udaf(f);
        }
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![Field::new("h", DataType::UInt64, true)]));
        let batch = |v: Vec<Option<u64>>| {
            arrow::array::RecordBatch::try_new(schema.clone(), vec![Arc::new(UInt64Array::from(v))]).unwrap()
        };
        let parts = vec![
            vec![batch(vec![Some(5), Some(1), None, Some(9)]), batch(vec![Some(3), Some(1)])],
            vec![batch(vec![Some(9), None, Some(2)])],
            vec![batch(vec![Some(4), Some(7)])],
        ];
        let table = datafusion::datasource::MemTable::try_new(schema.clone(), parts).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
        let rows = ctx
            .sql("SELECT unnest(r) AS v FROM (SELECT repeated_hashes(h) AS r FROM t) ORDER BY v")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let found: Vec<u64> =
            rows.iter().flat_map(|b| b.column(0).as_primitive::<UInt64Type>().values().to_vec()).collect();
        assert_eq!(found, vec![1, 9]);
        let none = ctx.sql("SELECT repeated_hashes(h) FROM t WHERE h = 4").await.unwrap().collect().await.unwrap();
        let list = none[0].column(0).as_list::<i32>();
        assert_eq!((list.len(), list.value(0).len()), (1, 0), "a value held once is not repeated");
    }
}
