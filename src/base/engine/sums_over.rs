//! `sums_over(key, value, limit)`: the keys whose values add up to more
//! than `limit`, with their sums, found by sorting the (key, value) pairs
//! instead of grouping the rows by their key.
//!
//! The holdings' step 3 (shares over 100) sums the shares held in each
//! entity: at 10M entities 13.6M rows in 9.2M groups, of which a handful
//! pass the limit. Grouped by DataFusion's hash aggregate those groups
//! took 2 s of a 1 GiB pool; here each partition keeps its pairs (24
//! bytes a row, counted against the pool) and sorts them, and the final
//! step merges the sorted runs and sums each key's values in one sweep.
//! A key's values are added in ascending order, so its sum does not
//! depend on how the rows were partitioned.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, Float64Array, StructArray};
use arrow::buffer::ScalarBuffer;
use arrow::datatypes::{DataType, Decimal128Type, Field, Fields, Float64Type, UInt64Type};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{create_udaf, Accumulator, AggregateUDF, Volatility};

use super::sorted_runs::{merge, merged, one_list, words};

/// The keys summed over: an entity's packed bits (`entity_bits`).
const KEY: DataType = DataType::Decimal128(38, 0);

/// `sums_over(Decimal128(38, 0), Float64, Float64) -> List<Struct<key,
/// sum>>`: each key whose values add up to more than the third argument
/// (a constant), with that sum, ascending by key; rows with a null key or
/// value are no pair.
pub(super) fn sums_over() -> AggregateUDF {
    create_udaf(
        "sums_over",
        vec![KEY, DataType::Float64, DataType::Float64],
        Arc::new(list_of(DataType::Struct(sum_fields()))),
        Volatility::Immutable,
        Arc::new(|_| Ok(Box::new(SumsOver::default()))),
        Arc::new(vec![list_of(DataType::UInt64), DataType::Float64]),
    )
}

fn list_of(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(item, true)))
}

fn sum_fields() -> Fields {
    Fields::from(vec![Field::new("key", KEY, false), Field::new("sum", DataType::Float64, false)])
}

/// A (key, value) pair as three words: the key's high and low halves and
/// the value's bits. Pairs sort by key, then by value (ascending for the
/// positive values summed here, and a fixed order for any), and a sorted
/// run of them is the state's list as it is, without a copy.
type Pair = [u64; 3];

fn pair(key: i128, value: f64) -> Pair {
    let key = key as u128;
    [(key >> 64) as u64, key as u64, value.to_bits()]
}

fn key_of(p: &Pair) -> i128 {
    ((u128::from(p[0]) << 64) | u128::from(p[1])) as i128
}

/// The pairs seen: those given row by row (in any order), the sorted runs
/// other partitions' accumulators passed on (three words a pair), and the
/// limit.
#[derive(Debug, Default)]
struct SumsOver {
    unsorted: Vec<Pair>,
    runs: Vec<ScalarBuffer<u64>>,
    limit: Option<f64>,
}

impl SumsOver {
    /// Sorts the pairs given row by row into a run of their own; returns
    /// every run.
    fn runs(&mut self) -> Vec<ScalarBuffer<u64>> {
        let mut own = std::mem::take(&mut self.unsorted);
        own.sort_unstable();
        let mut runs = std::mem::take(&mut self.runs);
        if !own.is_empty() {
            runs.push(ScalarBuffer::from(own.into_flattened()));
        }
        runs
    }

    fn take_limit(&mut self, limits: &ArrayRef) -> DfResult<()> {
        let limits = limits.as_primitive::<Float64Type>();
        if let Some(limit) = limits.iter().flatten().next() {
            match self.limit {
                Some(known) if known.to_bits() != limit.to_bits() => {
                    return Err(DataFusionError::Execution(format!(
                        "sums_over: the limit must be one constant, found {known} and {limit}"
                    )));
                }
                _ => self.limit = Some(limit),
            }
        }
        Ok(())
    }
}

/// The pairs of a run (three words each).
fn pairs(run: &[u64]) -> &[Pair] {
    run.as_chunks::<3>().0
}

/// Each key of the sorted `runs` whose values add up to more than
/// `limit`, with its sum, ascending by key.
fn sums_over_limit(runs: &[ScalarBuffer<u64>], limit: f64) -> Vec<(i128, f64)> {
    let runs: Vec<&[Pair]> = runs.iter().map(|r| pairs(r)).collect();
    let mut over = Vec::new();
    let mut current: Option<(i128, f64)> = None;
    let mut close = |done: Option<(i128, f64)>| {
        if let Some((key, sum)) = done.filter(|(_, sum)| *sum > limit) {
            over.push((key, sum));
        }
    };
    merge(&runs, |p| {
        let (key, value) = (key_of(&p), f64::from_bits(p[2]));
        match &mut current {
            Some((k, sum)) if *k == key => *sum += value,
            _ => close(current.replace((key, value))),
        }
    });
    close(current);
    over
}

impl Accumulator for SumsOver {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        self.take_limit(&values[2])?;
        let (keys, sums) = (values[0].as_primitive::<Decimal128Type>(), values[1].as_primitive::<Float64Type>());
        match (keys.nulls(), sums.nulls()) {
            (None, None) => {
                self.unsorted.extend(keys.values().iter().zip(sums.values().iter()).map(|(k, v)| pair(*k, *v)))
            }
            _ => self.unsorted.extend(keys.iter().zip(sums.iter()).filter_map(|(k, v)| Some(pair(k?, v?)))),
        }
        Ok(())
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        Ok(vec![one_list(words(merged::<3>(self.runs()))), ScalarValue::Float64(self.limit)])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        self.take_limit(&states[1])?;
        let lists = states[0].as_list::<i32>();
        for n in (0..lists.len()).filter(|n| lists.is_valid(*n)) {
            let run = lists.value(n).as_primitive::<UInt64Type>().values().clone();
            if run.len() % 3 != 0 {
                return Err(DataFusionError::Internal(format!("sums_over: a run of {} words, not pairs", run.len())));
            }
            self.runs.push(run);
        }
        Ok(())
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        let over = match self.limit {
            Some(limit) => sums_over_limit(&self.runs(), limit),
            None => Vec::new(),
        };
        let keys = Decimal128Array::from_iter_values(over.iter().map(|(k, _)| *k)).with_data_type(KEY);
        let sums: Float64Array = over.iter().map(|(_, s)| *s).collect();
        Ok(one_list(Arc::new(StructArray::new(sum_fields(), vec![Arc::new(keys), Arc::new(sums)], None))))
    }

    /// The pairs held, not the buffer's capacity: past the allocator's
    /// mapping threshold (4 MiB, `engine::tune_heap`) a buffer grows
    /// by remapping, and the capacity beyond the pairs is pages never
    /// touched. So the pool is told what is resident, and a buffer that
    /// doubles does not double its claim (at 50M entities, 34M pairs a
    /// partition would have claimed 1.6 GB for 0.8 GB held).
    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.unsorted.len() * std::mem::size_of::<Pair>()
            + self.runs.iter().map(|r| r.len() * 8).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;

    use super::*;

    /// A sorted run of the pairs `(key, value)`.
    fn run(given: &[(i128, f64)]) -> ScalarBuffer<u64> {
        let mut pairs: Vec<Pair> = given.iter().map(|(k, v)| pair(*k, *v)).collect();
        pairs.sort_unstable();
        pairs.into_flattened().into()
    }

    #[test]
    fn a_key_is_over_when_its_values_add_up_to_more_than_the_limit() {
        let runs = [run(&[(1, 60.0), (2, 50.0), (2, 50.0), (4, 100.0)]), run(&[(1, 40.5), (3, 99.0), (4, 0.02)])];
        assert_eq!(sums_over_limit(&runs, 100.01), vec![(1, 100.5), (4, 100.02)]);
        let wide = (1i128 << 89) + 5;
        assert_eq!(
            sums_over_limit(&[run(&[(wide, 80.0)]), run(&[(wide, 30.0), (5, 200.0)])], 100.01),
            [(5, 200.0), (wide, 110.0)]
        );
        assert!(sums_over_limit(&[], 100.01).is_empty());
    }

    /// The values of a key are added in ascending order wherever they
    /// came from: the sum is the same however the rows were split.
    #[test]
    fn a_sum_does_not_depend_on_how_the_rows_were_split() {
        let values: Vec<(i128, f64)> = [0.1, 0.7, 33.3, 33.33, 33.34, 0.2, 1e-9].iter().map(|v| (7, *v)).collect();
        let expected = sums_over_limit(&[run(&values)], 0.0);
        for split in 1..values.len() {
            let (first, second) = values.split_at(split);
            assert_eq!(sums_over_limit(&[run(second), run(first)], 0.0), expected, "split at {split}");
        }
    }

    /// The pool is told the pairs held, however much the buffer grew
    /// ahead of them.
    #[test]
    fn the_size_claimed_is_the_pairs_held_not_the_buffers_capacity() {
        let mut acc = SumsOver::default();
        let batch = |from: i128| -> Vec<ArrayRef> {
            vec![
                Arc::new(Decimal128Array::from_iter_values(from..from + 1000).with_data_type(KEY)),
                Arc::new(Float64Array::from(vec![1.0; 1000])),
                Arc::new(Float64Array::from(vec![100.0; 1000])),
            ]
        };
        for b in 0..3 {
            acc.update_batch(&batch(b * 1000)).unwrap();
        }
        assert!(acc.unsorted.capacity() > 3000, "the buffer grew ahead of its pairs");
        assert_eq!(acc.size(), std::mem::size_of::<SumsOver>() + 3000 * 24);
    }

    /// Pairs in three partitions of a table, one key's values in two of
    /// them: the plan's partial and final steps add them up, and null
    /// keys and values are no pair.
    #[tokio::test]
    async fn keys_over_the_limit_are_found_within_and_across_partitions() {
        let ctx = SessionContext::new();
        ctx.register_udaf(sums_over());
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![
            Field::new("k", KEY, true),
            Field::new("v", DataType::Float64, true),
        ]));
        let batch = |k: Vec<Option<i128>>, v: Vec<Option<f64>>| {
            let k = Decimal128Array::from(k).with_data_type(KEY);
            let columns: Vec<ArrayRef> = vec![Arc::new(k), Arc::new(Float64Array::from(v))];
            arrow::array::RecordBatch::try_new(schema.clone(), columns).unwrap()
        };
        let parts = vec![
            vec![batch(vec![Some(5), Some(1), None], vec![Some(60.0), Some(100.0), Some(200.0)])],
            vec![batch(vec![Some(5), Some(2), Some(2)], vec![Some(50.0), None, Some(100.0)])],
            vec![batch(vec![Some(1)], vec![Some(0.5)])],
        ];
        let table = datafusion::datasource::MemTable::try_new(schema.clone(), parts).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
        let sql = "SELECT o['key'] AS k, o['sum'] AS s FROM \
                   (SELECT unnest(sums_over(k, v, 100.01)) AS o FROM t) ORDER BY k";
        let rows = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let found: Vec<(i128, f64)> = rows
            .iter()
            .flat_map(|b| {
                let (k, s) = (b.column(0).as_primitive::<Decimal128Type>(), b.column(1).as_primitive::<Float64Type>());
                (0..b.num_rows()).map(|i| (k.value(i), s.value(i))).collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(found, vec![(1, 100.5), (5, 110.0)]);
    }

    /// The pairs are counted against the session's pool: a pool too small
    /// for them fails the query instead of being exceeded.
    #[tokio::test]
    async fn the_pairs_held_are_counted_against_the_memory_pool() {
        let pool = Arc::new(datafusion::execution::memory_pool::GreedyMemoryPool::new(1 << 20));
        let runtime =
            datafusion::execution::runtime_env::RuntimeEnvBuilder::new().with_memory_pool(pool).build_arc().unwrap();
        let config = datafusion::prelude::SessionConfig::new().with_target_partitions(1);
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        ctx.register_udaf(sums_over());
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![Field::new("k", KEY, false)]));
        let batches = (0..16i128)
            .map(|b| {
                let values = Decimal128Array::from_iter_values(b * 8192..(b + 1) * 8192).with_data_type(KEY);
                arrow::array::RecordBatch::try_new(schema.clone(), vec![Arc::new(values)]).unwrap()
            })
            .collect();
        let table = datafusion::datasource::MemTable::try_new(schema, vec![batches]).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
        let failed = ctx.sql("SELECT sums_over(k, 1.0, 100.0) FROM t").await.unwrap().collect().await.unwrap_err();
        assert!(failed.to_string().contains("Resources exhausted"), "{failed}");
    }
}
