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

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::buffer::ScalarBuffer;
use arrow::datatypes::{DataType, Field, UInt64Type};
use datafusion::common::ScalarValue;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{create_udaf, Accumulator, AggregateUDF, Volatility};

use super::sorted_runs::{merge, merged, one_list, words};

/// `repeated_hashes(UInt64) -> List<UInt64>`: each value more than one
/// row holds, once, ascending; nulls are no value.
pub(super) fn repeated_hashes() -> AggregateUDF {
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
    /// Sorts the hashes given row by row into a run of their own; returns
    /// every run.
    fn runs(&mut self) -> Vec<ScalarBuffer<u64>> {
        let mut own = std::mem::take(&mut self.unsorted);
        own.sort_unstable();
        let mut runs = std::mem::take(&mut self.runs);
        if !own.is_empty() || runs.is_empty() {
            runs.push(ScalarBuffer::from(own));
        }
        runs
    }
}

/// The values of the sorted `runs` held more than once, once each,
/// ascending.
fn repeated(runs: &[ScalarBuffer<u64>]) -> Vec<u64> {
    let (mut out, mut last) = (Vec::new(), None);
    let runs: Vec<&[u64]> = runs.iter().map(|r| &r[..]).collect();
    merge(&runs, |v| {
        if last == Some(v) && out.last() != Some(&v) {
            out.push(v);
        }
        last = Some(v);
    });
    out
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
        Ok(vec![one_list(words(merged::<1>(self.runs())))])
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
        Ok(one_list(words(repeated(&self.runs()).into())))
    }

    /// The hashes held, not the buffer's capacity, which past the
    /// allocator's mapping threshold is pages never touched (see
    /// `sums_over`'s `size`).
    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.unsorted.len() * 8 + self.runs.iter().map(|r| r.len() * 8).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::UInt64Array;
    use datafusion::prelude::SessionContext;

    use super::*;

    #[test]
    fn a_value_is_repeated_when_two_or_more_rows_hold_it() {
        let run = |r: &[u64]| vec![ScalarBuffer::from(r.to_vec())];
        assert_eq!(repeated(&run(&[1, 2, 2, 3, 5, 5, 5, 8])), vec![2, 5]);
        assert_eq!(repeated(&[ScalarBuffer::from(vec![1, 4, 6]), ScalarBuffer::from(vec![4, 5, 6, 6])]), vec![4, 6]);
        assert!(repeated(&run(&[])).is_empty());
        assert!(repeated(&run(&[7])).is_empty());
    }

    /// The pool is told the hashes held, however much the buffer grew
    /// ahead of them.
    #[test]
    fn the_size_claimed_is_the_hashes_held_not_the_buffers_capacity() {
        let mut acc = Repeats::default();
        for b in 0..3u64 {
            let batch: ArrayRef = Arc::new(UInt64Array::from_iter_values(b * 1000..(b + 1) * 1000));
            acc.update_batch(&[batch]).unwrap();
        }
        assert!(acc.unsorted.capacity() > 3000, "the buffer grew ahead of its hashes");
        assert_eq!(acc.size(), std::mem::size_of::<Repeats>() + 3000 * 8);
    }

    /// The same values in two partitions of a table, and one value held
    /// twice within a partition: the plan's partial and final steps find
    /// both, and nulls are no value.
    #[tokio::test]
    async fn values_held_twice_are_found_within_and_across_partitions() {
        let ctx = SessionContext::new();
        ctx.register_udaf(repeated_hashes());
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

    /// The hashes are counted against the session's pool: a pool too
    /// small for them fails the query instead of being exceeded (one
    /// partition: the rows' hashes alone, no runs merged).
    #[tokio::test]
    async fn the_hashes_held_are_counted_against_the_memory_pool() {
        let pool = Arc::new(datafusion::execution::memory_pool::GreedyMemoryPool::new(1 << 20));
        let runtime =
            datafusion::execution::runtime_env::RuntimeEnvBuilder::new().with_memory_pool(pool).build_arc().unwrap();
        let config = datafusion::prelude::SessionConfig::new().with_target_partitions(1);
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        ctx.register_udaf(repeated_hashes());
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![Field::new("h", DataType::UInt64, false)]));
        let batches = (0..64u64)
            .map(|b| {
                let values = UInt64Array::from_iter_values(b * 8192..(b + 1) * 8192);
                arrow::array::RecordBatch::try_new(schema.clone(), vec![Arc::new(values)]).unwrap()
            })
            .collect();
        let table = datafusion::datasource::MemTable::try_new(schema, vec![batches]).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
        let failed = ctx.sql("SELECT repeated_hashes(h) FROM t").await.unwrap().collect().await.unwrap_err();
        assert!(failed.to_string().contains("Resources exhausted"), "{failed}");
    }
}
