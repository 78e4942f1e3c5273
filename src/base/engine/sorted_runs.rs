//! Sorted runs merged in order: the final step of the aggregates that
//! sort their rows' values in each partition instead of grouping the rows
//! ([`super::repeats`], [`super::sums_over`]).

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// Calls `each` with every value of the `runs`, each sorted by `order`,
/// in that order (of equal values, the earlier run's first).
pub(super) fn merge<T: Copy>(runs: &[&[T]], order: impl Fn(&T, &T) -> Ordering, mut each: impl FnMut(T)) {
    match runs {
        [] => {}
        [one] => one.iter().for_each(|v| each(*v)),
        [a, b] => {
            let (mut i, mut j) = (0, 0);
            while i < a.len() && j < b.len() {
                if order(&a[i], &b[j]) != Ordering::Greater {
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
            /// A run's next value, ordered by `order` then by its run.
            struct Head<'a, T, O> {
                value: T,
                run: usize,
                at: usize,
                order: &'a O,
            }
            impl<T, O: Fn(&T, &T) -> Ordering> Ord for Head<'_, T, O> {
                fn cmp(&self, other: &Self) -> Ordering {
                    (self.order)(&self.value, &other.value).then(self.run.cmp(&other.run))
                }
            }
            impl<T, O: Fn(&T, &T) -> Ordering> PartialOrd for Head<'_, T, O> {
                fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                    Some(self.cmp(other))
                }
            }
            impl<T, O: Fn(&T, &T) -> Ordering> PartialEq for Head<'_, T, O> {
                fn eq(&self, other: &Self) -> bool {
                    self.cmp(other) == Ordering::Equal
                }
            }
            impl<T, O: Fn(&T, &T) -> Ordering> Eq for Head<'_, T, O> {}
            let order = &order;
            let mut heads: BinaryHeap<Reverse<Head<T, _>>> = runs
                .iter()
                .enumerate()
                .filter(|(_, r)| !r.is_empty())
                .map(|(run, r)| Reverse(Head { value: r[0], run, at: 0, order }))
                .collect();
            while let Some(Reverse(Head { value, run, at, .. })) = heads.pop() {
                each(value);
                if let Some(next) = runs[run].get(at + 1) {
                    heads.push(Reverse(Head { value: *next, run, at: at + 1, order }));
                }
            }
        }
    }
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
            (vec![], vec![]),
        ] {
            let mut seen = Vec::new();
            merge(&given, u64::cmp, |v| seen.push(v));
            assert_eq!(seen, merged, "{given:?}");
        }
    }

    /// Values equal by the order come out in the order of their runs, so
    /// that what is done with them (a sum) does not depend on a heap's.
    #[test]
    fn equal_values_come_out_run_by_run() {
        let runs: [&[(u8, char)]; 3] = [&[(1, 'a'), (2, 'a')], &[(1, 'b'), (2, 'b')], &[(1, 'c'), (2, 'c')]];
        for runs in [&runs[..], &runs[..2]] {
            let mut seen = Vec::new();
            merge(runs, |x, y| x.0.cmp(&y.0), |v| seen.push(v.1));
            let expected = if runs.len() == 3 { "abcabc" } else { "abab" };
            assert_eq!(seen.into_iter().collect::<String>(), expected);
        }
    }
}
