//! `shares_over_100` (datasets.md): the rows of an owned entity whose
//! shares, over the rows that passed every earlier rule, add up to more
//! than the contract's limit.

use std::collections::HashMap;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Float64Type;
use rayon::prelude::*;
use rustc_hash::FxBuildHasher;

use super::FileRows;
use crate::base::contract::{FaultCode, SharesRule};
use crate::base::entities::{prefetch, EntityIndex};
use crate::base::row_checks::quote;

/// How many rows ahead the shares' sums are fetched.
const SUM_AHEAD: usize = 16;

/// What the rule sums over: the owned entity's and the share's positions
/// among a file's kept columns, and the registered entities when the
/// owned entity is the one `unknown_entity` looks up (then each row's
/// dense index is known, and a registered owner's shares are summed by
/// it; an owner not registered, or any owner without `entities`, by its
/// text).
pub(super) struct Owned<'a> {
    pub(super) rule: &'a SharesRule,
    /// The owned entity's column name, as the message gives it.
    pub(super) name: &'a str,
    pub(super) owned_at: usize,
    pub(super) share_at: usize,
    pub(super) entities: Option<&'a EntityIndex>,
}

impl Owned<'_> {
    /// Each row without an earlier code (`codes`, by global row) whose
    /// owned entity's shares add up to more than the limit, with its
    /// message. A sum adds its rows in read order, so it is the same
    /// number on any number of cores.
    pub(super) fn over_100(&self, stage_one: &[FileRows], codes: &[Option<FaultCode>]) -> Vec<(u64, String)> {
        let accepted = |f: &FileRows, r: usize| codes[(f.first_row + r as u64) as usize].is_none();
        let by_idx = self.sums_by_index(stage_one, &accepted);
        let mut by_text: HashMap<&str, f64, FxBuildHasher> = HashMap::default();
        for f in stage_one {
            let owned = f.kept.column(self.owned_at).as_string::<i32>();
            let share = f.kept.column(self.share_at).as_primitive::<Float64Type>();
            for r in 0..owned.len() {
                if self.registered(f, r).is_none() && accepted(f, r) {
                    *by_text.entry(owned.value(r)).or_default() += share.value(r);
                }
            }
        }
        let over: Vec<Vec<(u64, String)>> = stage_one
            .par_iter()
            .map(|f| {
                let owned = f.kept.column(self.owned_at).as_string::<i32>();
                let mut over = Vec::new();
                for r in (0..owned.len()).filter(|r| accepted(f, *r)) {
                    let entity = self.registered(f, r);
                    let sum = match entity {
                        Some(i) => by_idx[i as usize],
                        None => by_text[owned.value(r)],
                    };
                    if sum > self.rule.max_sum {
                        let holder = match (entity, self.entities) {
                            (Some(i), Some(entities)) => entities.id(i).to_string(),
                            _ => owned.value(r).to_string(),
                        };
                        over.push((
                            f.first_row + r as u64,
                            format!(
                                "shares held in {} {} add up to {}, expected at most 100 (0.01 tolerance)",
                                self.name,
                                quote(&holder),
                                (sum * 1e6).round() / 1e6
                            ),
                        ));
                    }
                }
                over
            })
            .collect();
        over.into_iter().flatten().collect()
    }

    /// The dense index of row `r`'s owned entity, when it is registered
    /// and the sums are by index.
    fn registered(&self, f: &FileRows, r: usize) -> Option<u32> {
        self.entities?;
        f.entity_idx.as_ref().map(|v| v[r]).filter(|i| *i != u32::MAX)
    }

    /// The accepted shares summed by the owned entity's dense index (empty
    /// without `entities`). Each core sums a range of the entities over
    /// every row in read order.
    fn sums_by_index(&self, stage_one: &[FileRows], accepted: &(impl Fn(&FileRows, usize) -> bool + Sync)) -> Vec<f64> {
        let mut by_idx = vec![0.0f64; self.entities.map_or(0, |e| e.len())];
        let range = by_idx.len().div_ceil(rayon::current_num_threads()).max(1);
        by_idx.par_chunks_mut(range).enumerate().for_each(|(n, sums)| {
            let first = (n * range) as u32;
            let len = sums.len();
            // Where entity `i` sits in this core's sums, if it is one of them
            // (an unregistered owner, `u32::MAX`, is no core's).
            let mine = |i: u32| i.checked_sub(first).map(|at| at as usize).filter(|at| *at < len);
            for f in stage_one {
                let share = f.kept.column(self.share_at).as_primitive::<Float64Type>();
                let idx = f.entity_idx.as_deref().expect("the owned entities are looked up");
                for r in 0..idx.len() {
                    // The sums are a cache miss each: fetched a few rows ahead.
                    if let Some(ahead) = idx.get(r + SUM_AHEAD).and_then(|i| mine(*i)) {
                        prefetch(&sums[ahead]);
                    }
                    if let Some(at) = mine(idx[r]).filter(|_| accepted(f, r)) {
                        sums[at] += share.value(r);
                    }
                }
            }
        });
        by_idx
    }
}
