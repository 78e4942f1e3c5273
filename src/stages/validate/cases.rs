//! `unknown_case`: a row that names a violation's case (a repair) must name
//! a known violation of its own entity, the newest accepted version of
//! the case deciding whose it is.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;

use arrow::array::{Array, AsArray, StringArray};
use rustc_hash::FxBuildHasher;

use super::FileRows;
use crate::base::contract::FaultCode;
use crate::base::hash_bits::HashBits;
use crate::base::row_checks::quote;
use crate::base::tables::{Validated, ENTITY_IDX};

/// The cases a dataset's rows name: its files' rows, where the case is
/// among their kept columns (`at`), and the column's name.
pub(super) struct NamedCases<'a> {
    pub files: &'a [FileRows],
    pub at: usize,
    pub name: &'a str,
}

impl NamedCases<'_> {
    /// Adds to `late` an `unknown_case` for each row with no code yet,
    /// early (`codes`) or late, whose case is no known violation of its
    /// entity, against the `violations` the run validated (their newest
    /// accepted versions, with their entities' indexes).
    pub(super) fn unknown(
        &self,
        violations: &Validated,
        codes: &[Option<FaultCode>],
        late: &mut HashMap<u64, (FaultCode, String), FxBuildHasher>,
    ) -> Result<(), arrow::error::ArrowError> {
        let known = KnownCases::build(violations, self)?;
        for f in self.files {
            let cases = f.kept.column(self.at).as_string::<i32>();
            let idx = f.entity_idx.as_ref().expect("repairs name an entity");
            for (r, entity) in idx.iter().enumerate().take(cases.len()) {
                let g = (f.first_row + r as u64) as usize;
                if codes[g].is_some() || late.contains_key(&(g as u64)) {
                    continue;
                }
                let case = cases.value(r);
                if known.owner(case) != Some(*entity) {
                    let why = match known.owner(case) {
                        None => "is no known violation".to_string(),
                        Some(_) => "is a violation of another entity, not".to_string(),
                    };
                    let message = format!("column {}: case {} {why} of this row's entity", self.name, quote(case));
                    late.insert(g as u64, (FaultCode::UnknownCase, message));
                }
            }
        }
        Ok(())
    }
}

/// For `unknown_case`: the entity of the newest accepted version of each
/// violation a repair names (a revoked violation is known too).
struct KnownCases {
    owner: HashMap<String, u32>,
}

impl KnownCases {
    fn build(violations: &Validated, named: &NamedCases) -> Result<KnownCases, arrow::error::ArrowError> {
        let wanted: HashSet<&str, FxBuildHasher> = named
            .files
            .iter()
            .flat_map(|f| {
                let c = f.kept.column(named.at).as_string::<i32>();
                (0..c.len()).filter(|r| c.is_valid(*r)).map(move |r| c.value(r))
            })
            .collect();
        let case_col = violations.schema.index_of("case_id").expect("violations keep case_id");
        let idx_col = violations.schema.index_of(ENTITY_IDX).expect("violations carry entity_idx");
        // Every violation is looked up, on every core; few are wanted, and
        // a bit per hashed wanted case (in cache, unlike the set) turns
        // most away before the set is probed. A later version of a case
        // comes later and wins.
        let hash = |case: &str| FxBuildHasher.hash_one(case);
        let maybe = HashBits::of(wanted.iter().map(|case| hash(case)));
        let found = violations.scan(&|b| {
            let cases: &StringArray = b.column(case_col).as_string::<i32>();
            let idx = b.column(idx_col).as_primitive::<arrow::datatypes::UInt32Type>();
            (0..cases.len())
                .filter_map(|r| {
                    let case = cases.value(r);
                    (maybe.may_hold(hash(case)) && wanted.contains(case)).then(|| (case.to_string(), idx.value(r)))
                })
                .collect::<Vec<_>>()
        })?;
        let owner: HashMap<String, u32> = found.into_iter().flatten().collect();
        Ok(KnownCases { owner })
    }

    fn owner(&self, case: &str) -> Option<u32> {
        self.owner.get(case).copied()
    }
}
