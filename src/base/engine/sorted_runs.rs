//! Sorted runs merged in order, and the one-list values that carry them:
//! the shared part of the aggregates that sort their rows' values in each
//! partition instead of grouping the rows ([`super::repeats`],
//! [`super::sums_over`]).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use arrow::array::{ArrayRef, ListArray, UInt64Array};
use arrow::buffer::{OffsetBuffer, ScalarBuffer};
use arrow::datatypes::Field;
use datafusion::common::ScalarValue;

/// Calls `each` with every value of the sorted `runs`, in ascending order
/// (of equal values, the earlier run's first).
pub(super) fn merge<T: Ord + Copy>(runs: &[&[T]], mut each: impl FnMut(T)) {
    // Empty runs (a partition whose rows were all filtered out) are left
    // out, so that two runs with values take the two-way merge.
    let runs: Vec<&[T]> = runs.iter().copied().filter(|r| !r.is_empty()).collect();
    match runs.as_slice() {
        [] => {}
        [one] => one.iter().for_each(|v| each(*v)),
        [a, b] => {
            let (mut i, mut j) = (0, 0);
            while i < a.len() && j < b.len() {
                if a[i] <= b[j] {
                    each(a[i]);
                    i += 1;
                } else {
                    each(b[j]);
                    j += 1;
                }
            }
            a[i..].iter().chain(&b[j..]).for_each(|v| each(*v));
        }
        _ => {
            let mut heads: BinaryHeap<Reverse<(T, usize, usize)>> =
                runs.iter().enumerate().map(|(n, r)| Reverse((r[0], n, 0))).collect();
            while let Some(Reverse((value, run, at))) = heads.pop() {
                each(value);
                if let Some(next) = runs[run].get(at + 1) {
                    heads.push(Reverse((*next, run, at + 1)));
                }
            }
        }
    }
}

/// The sorted `runs` of values of `W` words each (compared word by word)
/// merged into one run: the one run itself when there is one (empty
/// runs aside).
pub(super) fn merged<const W: usize>(mut runs: Vec<ScalarBuffer<u64>>) -> ScalarBuffer<u64> {
    runs.retain(|r| !r.is_empty());
    if runs.len() == 1 {
        return runs.into_iter().next().expect("one run");
    }
    let mut all = Vec::with_capacity(runs.iter().map(|r| r.len()).sum());
    let values: Vec<&[[u64; W]]> = runs.iter().map(|r| r.as_chunks::<W>().0).collect();
    merge(&values, |v| all.extend_from_slice(&v));
    all.into()
}

/// A list value holding `values`: an aggregate's state or result.
pub(super) fn one_list(values: ArrayRef) -> ScalarValue {
    let field = Arc::new(Field::new_list_field(values.data_type().clone(), true));
    let offsets = OffsetBuffer::from_lengths([values.len()]);
    ScalarValue::List(Arc::new(ListArray::new(field, offsets, values, None)))
}

/// A run of words as an array, for [`one_list`].
pub(super) fn words(run: ScalarBuffer<u64>) -> ArrayRef {
    Arc::new(UInt64Array::new(run, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_runs_come_out_in_order() {
        for (given, merged) in [
            (vec![&[1u64, 4, 9][..], &[], &[2, 4, 10, 11], &[0]], vec![0, 1, 2, 4, 4, 9, 10, 11]),
            (vec![&[3, 5, 5][..], &[1, 5, 8, 9]], vec![1, 3, 5, 5, 5, 8, 9]),
            (vec![&[2, 7][..]], vec![2, 7]),
            (vec![&[][..], &[3, 6], &[], &[2, 6]], vec![2, 3, 6, 6]),
            (vec![&[][..], &[]], vec![]),
            (vec![], vec![]),
        ] {
            let mut seen = Vec::new();
            merge(&given, |v| seen.push(v));
            assert_eq!(seen, merged, "{given:?}");
        }
    }

    /// Values equal by their order come out in the order of their runs,
    /// so that what is done with them (a sum) does not depend on a heap's.
    #[test]
    fn equal_values_come_out_run_by_run() {
        /// A value ordered by its key alone.
        #[derive(Clone, Copy, Debug)]
        struct Keyed(u8, char);
        impl PartialEq for Keyed {
            fn eq(&self, other: &Self) -> bool {
                self.0 == other.0
            }
        }
        impl Eq for Keyed {}
        impl PartialOrd for Keyed {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
        impl Ord for Keyed {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.0.cmp(&other.0)
            }
        }
        let runs: [&[Keyed]; 3] =
            [&[Keyed(1, 'a'), Keyed(2, 'a')], &[Keyed(1, 'b'), Keyed(2, 'b')], &[Keyed(1, 'c'), Keyed(2, 'c')]];
        for runs in [&runs[..], &runs[..2]] {
            let mut seen = Vec::new();
            merge(runs, |v| seen.push(v.1));
            let expected = if runs.len() == 3 { "abcabc" } else { "abab" };
            assert_eq!(seen.into_iter().collect::<String>(), expected);
        }
    }

    /// Runs of three-word values merge as whole values, compared word by
    /// word; one run is given back as it is.
    #[test]
    fn runs_of_several_words_merge_value_by_value() {
        let a = ScalarBuffer::from(vec![1u64, 9, 9, 2, 0, 0]);
        let b = ScalarBuffer::from(vec![1u64, 5, 7, 3, 1, 1]);
        assert_eq!(&merged::<3>(vec![a.clone(), b])[..], &[1, 5, 7, 1, 9, 9, 2, 0, 0, 3, 1, 1]);
        assert_eq!(merged::<3>(vec![a.clone()]).as_ptr(), a.as_ptr(), "one run, not copied");
        assert!(merged::<1>(Vec::new()).is_empty());
    }
}
