//! The key rules over all the files a run reads: `duplicate_key`, and
//! which row is an event's newest version ([`KeyRules`]), from the rows
//! grouped by key.
//!
//! Rows are numbered globally in read order (partitions oldest first, files
//! by name, rows in file order), so within a group a larger row number is a
//! version from the same or a newer partition. Keys are hashed, the
//! (hash, row) pairs sorted, and rows with equal hashes compared by their
//! key text: the grouping is exact, a hash collision only costs a compare.
//! A key column of entity ids may hold a registered entity's dense index
//! instead of its text (one id has one text: equal texts, equal indexes).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use arrow::array::{Array, StringArray};
use fixedbitset::FixedBitSet;
use rayon::prelude::*;
use rustc_hash::FxHasher;

use crate::base::contract::FaultCode;
use crate::base::entities::EntityIndex;
use crate::base::ids::AsOf;
use crate::base::row_checks::quote;

/// The key columns of one file, with where its rows start in the global
/// numbering.
pub(super) struct FileKeys<'a> {
    pub first_row: u64,
    /// The file's partition, by position in the selection.
    pub partition: usize,
    pub columns: Vec<StringArray>,
    /// A column whose text is null where its entity is registered: its
    /// position among `columns`, each row's entity index (`u32::MAX`:
    /// not registered, the text is there) and the index's ids.
    pub entity: Option<(usize, &'a [u32], &'a EntityIndex)>,
}

/// One column of a key: the text, or a registered entity by index.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Part<'a> {
    Entity(u32),
    Text(&'a str),
}

impl FileKeys<'_> {
    fn len(&self) -> usize {
        self.columns.first().map_or(0, |c| c.len())
    }

    fn registered(&self, c: usize, row: usize) -> Option<u32> {
        self.entity.filter(|(at, _, _)| *at == c).map(|(_, idx, _)| idx[row]).filter(|i| *i != u32::MAX)
    }

    fn part(&self, c: usize, row: usize) -> Part<'_> {
        match self.registered(c, row) {
            Some(i) => Part::Entity(i),
            None => Part::Text(self.columns[c].value(row)),
        }
    }

    fn is_complete(&self, row: usize) -> bool {
        (0..self.columns.len()).all(|c| self.columns[c].is_valid(row) || self.registered(c, row).is_some())
    }

    fn hash(&self, row: usize) -> u64 {
        let mut h = FxHasher::default();
        for c in 0..self.columns.len() {
            self.part(c, row).hash(&mut h);
        }
        h.finish()
    }

    fn key(&self, row: usize) -> impl Iterator<Item = Part<'_>> + '_ {
        (0..self.columns.len()).map(move |c| self.part(c, row))
    }

    /// The key's columns as text, for a message.
    fn text(&self, row: usize) -> Vec<String> {
        (0..self.columns.len())
            .map(|c| match (self.part(c, row), self.entity) {
                (Part::Entity(i), Some((_, _, entities))) => entities.id(i).to_string(),
                (Part::Entity(_), None) => unreachable!("an entity part comes with the entities"),
                (Part::Text(t), _) => t.to_string(),
            })
            .collect()
    }
}

/// The keys held by more than one row: for each, the global row numbers
/// holding it, ascending. A row whose key is in no group holds its key
/// alone (or has a null key column). Almost every key is unique, so only
/// the shared ones are materialised.
pub(super) fn shared_keys(files: &[FileKeys]) -> Vec<Vec<u64>> {
    groups(files, &|g| g.len() > 1)
}

/// The key rules over a dataset's files: `duplicate_key` (a key held more
/// than once in a partition) and, for an event dataset, which row is each
/// key's newest accepted version.
pub(super) struct KeyRules<'a> {
    pub files: &'a [FileKeys<'a>],
    /// Each partition's ingest date, for the messages.
    pub dates: &'a [AsOf],
    pub key_names: &'a [&'a str],
}

impl KeyRules<'_> {
    /// Applies the key rules to the rows of the `shared` keys (the groups
    /// of [`shared_keys`]): a row whose partition holds its key more than
    /// once gets `duplicate_key` unless an earlier code (`codes`) took it,
    /// with the message the copies share. Gives the current rows: of an
    /// event dataset (`is_event`) each key's newest version with no code
    /// and no late code to come (`late_rows`), a key held by one row
    /// being that row's; of a snapshot none (its current rows are those
    /// accepted in the end).
    pub(super) fn judge(
        &self,
        shared: &[Vec<u64>],
        is_event: bool,
        late_rows: &FixedBitSet,
        codes: &mut [Option<FaultCode>],
        messages: &mut HashMap<u64, String>,
    ) -> FixedBitSet {
        let n = codes.len();
        // One bit a row each: at 50M entities these three flags at a byte a
        // row were 0.2 GiB for the violations and 0.6 GiB for the holdings.
        let mut duplicate = FixedBitSet::with_capacity(n);
        let mut current = FixedBitSet::with_capacity(n);
        let mut in_shared = FixedBitSet::with_capacity(n);
        let file_of = |g: u64| self.files.partition_point(|f| f.first_row <= g) - 1;
        for group in shared {
            for g in group {
                in_shared.insert(*g as usize);
            }
            let mut start = 0;
            while start < group.len() {
                let partition = self.files[file_of(group[start])].partition;
                let mut end = start + 1;
                while end < group.len() && self.files[file_of(group[end])].partition == partition {
                    end += 1;
                }
                if end - start > 1 {
                    let file = &self.files[file_of(group[start])];
                    let key: Vec<String> =
                        file.text((group[start] - file.first_row) as usize).iter().map(|t| quote(t)).collect();
                    let date = self.dates[partition];
                    for g in &group[start..end] {
                        duplicate.insert(*g as usize);
                        if codes[*g as usize].is_none() {
                            messages.insert(
                                *g,
                                format!(
                                    "key ({}) = ({}) appears {} times in partition ingest_date={date}",
                                    self.key_names.join(", "),
                                    key.join(", "),
                                    end - start
                                ),
                            );
                        }
                    }
                }
                start = end;
            }
            if is_event {
                if let Some(newest) = group.iter().rev().find(|g| {
                    codes[**g as usize].is_none()
                        && !duplicate.contains(**g as usize)
                        && !late_rows.contains(**g as usize)
                }) {
                    current.insert(*newest as usize);
                }
            }
        }
        if is_event {
            // A key held by one row: that row, if accepted, is its newest version.
            let bits = usize::BITS as usize;
            current.as_mut_slice().par_iter_mut().zip(codes.par_chunks(bits)).enumerate().for_each(
                |(b, (block, codes))| {
                    for (bit, code) in codes.iter().enumerate() {
                        let g = b * bits + bit;
                        if code.is_none() && !in_shared.contains(g) && !late_rows.contains(g) {
                            *block |= 1 << bit;
                        }
                    }
                },
            );
        }
        codes.par_iter_mut().enumerate().for_each(|(g, code)| {
            if code.is_none() && duplicate.contains(g) {
                *code = Some(FaultCode::DuplicateKey);
            }
        });
        current
    }
}

/// Rows grouped by key: each distinct non-null key's global row numbers,
/// ascending, where `wanted` takes the group. Rows with a null key column
/// belong to no group. The groups come in the order of their keys' hashes.
fn groups(files: &[FileKeys], wanted: &(dyn Fn(&[u64]) -> bool + Sync)) -> Vec<Vec<u64>> {
    let rows = files.last().map_or(0, |f| f.first_row + f.len() as u64);
    if rows <= u32::MAX as u64 {
        groups_packed::<u64>(files, wanted, PAIRS_PER_PASS)
    } else {
        groups_packed::<u128>(files, wanted, PAIRS_PER_PASS)
    }
}

/// How many (hash, row) pairs are held at once, at most (save where
/// hashes crowd into one pass): 256 MiB of narrow pairs. A dataset with
/// more keys is grouped in passes, each over a slice of the hash space,
/// hashing its keys once per pass (50M entities: the violations' 77M
/// pairs, 616 MB, were the run's peak).
const PAIRS_PER_PASS: usize = 1 << 25;

/// The rows of one task of a pass's hashing, at most.
const STRETCH_ROWS: usize = 1 << 16;

/// How many stretches are hashed before their pairs are gathered: what a
/// pass holds twice, at most (64 stretches of 64K rows: 32 MiB of narrow
/// pairs, all in one pass).
const STRETCHES_AT_ONCE: usize = 64;

/// Calls `visit` once per group of [`groups`] (every one).
#[cfg(test)]
fn visit_groups(files: &[FileKeys], mut visit: impl FnMut(&[u64])) {
    groups(files, &|_| true).iter().for_each(|g| visit(g));
}

/// A key's hash beside its row, packed so that sorting puts equal hashes
/// together with their rows ascending: 32 bits of each while a dataset's
/// rows fit in 32 bits (8 bytes a row: 110 MB less for 13.6M holdings),
/// 64 bits of each beyond. Equal hashes are told apart by their keys.
trait Packed: Copy + Ord + Send + Sync {
    fn pack(hash: u64, row: u64) -> Self;
    fn hash(self) -> u64;
    fn row(self) -> u64;
}

impl Packed for u64 {
    fn pack(hash: u64, row: u64) -> u64 {
        (hash >> 32) << 32 | row
    }
    fn hash(self) -> u64 {
        self >> 32
    }
    fn row(self) -> u64 {
        self & u32::MAX as u64
    }
}

impl Packed for u128 {
    fn pack(hash: u64, row: u64) -> u128 {
        (hash as u128) << 64 | row as u128
    }
    fn hash(self) -> u64 {
        (self >> 64) as u64
    }
    fn row(self) -> u64 {
        self as u64
    }
}

fn groups_packed<P: Packed>(
    files: &[FileKeys],
    wanted: &(dyn Fn(&[u64]) -> bool + Sync),
    pairs_per_pass: usize,
) -> Vec<Vec<u64>> {
    let complete: usize = files.par_iter().map(|f| (0..f.len()).filter(|r| f.is_complete(*r)).count()).sum();
    let passes = complete.div_ceil(pairs_per_pass).max(1);
    // Pass `p` takes the hashes whose share of the hash space falls in its
    // slice: passes in order keep the groups in the order of their hashes.
    let pass_of = |hash: u64| ((hash as u128 * passes as u128) >> 64) as usize;
    // Every file's rows cut in stretches of at most STRETCH_ROWS: (file, from, to).
    let stretches: Vec<(usize, usize, usize)> = files
        .iter()
        .enumerate()
        .flat_map(|(i, f)| {
            (0..f.len()).step_by(STRETCH_ROWS).map(move |from| (i, from, (from + STRETCH_ROWS).min(f.len())))
        })
        .collect();
    let mut groups = Vec::new();
    for pass in 0..passes {
        let mut pairs: Vec<P> = Vec::with_capacity(match passes {
            1 => complete,
            _ => complete / passes + complete / passes / 32 + 1024,
        });
        // A stretch of rows at a time, hashed on the pool, their pairs
        // moved into `pairs` before the next stretch's are made: a parallel
        // extend would hold a second copy of the pass's pairs (at 50M
        // entities 212 MB more at the run's peak, the violations' keys).
        for stretch in stretches.chunks(STRETCHES_AT_ONCE) {
            let pieces: Vec<Vec<P>> = stretch
                .par_iter()
                .map(|&(f, from, to)| {
                    let f = &files[f];
                    (from..to)
                        .filter(|r| f.is_complete(*r))
                        .filter_map(|r| {
                            let hash = f.hash(r);
                            (pass_of(hash) == pass).then(|| P::pack(hash, f.first_row + r as u64))
                        })
                        .collect()
                })
                .collect();
            pieces.into_iter().for_each(|piece| pairs.extend_from_slice(&piece));
        }
        groups.extend(groups_of_pairs(files, pairs, wanted));
    }
    groups
}

/// The groups of `pairs` (every row of the hashes they hold), ascending
/// by hash.
fn groups_of_pairs<P: Packed>(
    files: &[FileKeys],
    mut pairs: Vec<P>,
    wanted: &(dyn Fn(&[u64]) -> bool + Sync),
) -> Vec<Vec<u64>> {
    pairs.par_sort_unstable();
    // Runs of pairs cut where the hash changes, walked on every core.
    let pieces = rayon::current_num_threads() * 8;
    let mut cuts: Vec<usize> = (0..pieces)
        .map(|n| {
            let mut at = pairs.len() * n / pieces;
            while at > 0 && at < pairs.len() && pairs[at].hash() == pairs[at - 1].hash() {
                at += 1;
            }
            at
        })
        .collect();
    cuts.push(pairs.len());
    cuts.dedup();
    let pieces: Vec<Vec<Vec<u64>>> = cuts.par_windows(2).map(|w| walk(files, &pairs[w[0]..w[1]], wanted)).collect();
    drop(pairs);
    // Each piece's list let go as it is moved: never two of the whole.
    let mut groups = Vec::with_capacity(pieces.iter().map(|p| p.len()).sum());
    pieces.into_iter().for_each(|piece| groups.extend(piece));
    groups
}

/// The groups of `pairs` (sorted, starting and ending where the hash
/// changes, so no key's rows are elsewhere) that `wanted` takes.
fn walk<P: Packed>(files: &[FileKeys], pairs: &[P], wanted: &(dyn Fn(&[u64]) -> bool + Sync)) -> Vec<Vec<u64>> {
    let locate = |row: u64| -> (&FileKeys, usize) {
        let i = files.partition_point(|f| f.first_row <= row) - 1;
        (&files[i], (row - files[i].first_row) as usize)
    };
    let mut out = Vec::new();
    let mut group: Vec<u64> = Vec::new();
    let mut i = 0;
    while i < pairs.len() {
        let hash = pairs[i].hash();
        let mut j = i + 1;
        while j < pairs.len() && pairs[j].hash() == hash {
            j += 1;
        }
        if j == i + 1 {
            let single = [pairs[i].row()];
            if wanted(&single) {
                out.push(single.to_vec());
            }
        } else {
            // Equal hashes: split by the key text, keeping row order in each group.
            let mut sorted: Vec<u64> = pairs[i..j].iter().map(|p| p.row()).collect();
            sorted.sort_by(|a, b| {
                let (fa, ra) = locate(*a);
                let (fb, rb) = locate(*b);
                fa.key(ra).cmp(fb.key(rb)).then(a.cmp(b))
            });
            let mut k = 0;
            while k < sorted.len() {
                group.clear();
                group.push(sorted[k]);
                let (fk, rk) = locate(sorted[k]);
                let mut m = k + 1;
                while m < sorted.len() {
                    let (fm, rm) = locate(sorted[m]);
                    if fm.key(rm).ne(fk.key(rk)) {
                        break;
                    }
                    group.push(sorted[m]);
                    m += 1;
                }
                if wanted(&group) {
                    out.push(group.clone());
                }
                k = m;
            }
        }
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(first_row: u64, keys: &[Option<&str>]) -> FileKeys<'static> {
        FileKeys { first_row, partition: 0, columns: vec![StringArray::from(keys.to_vec())], entity: None }
    }

    #[test]
    fn groups_equal_keys_across_files_in_row_order() {
        let files = vec![file(0, &[Some("a"), Some("b"), None]), file(3, &[Some("b"), Some("a"), Some("c")])];
        let mut groups = Vec::new();
        visit_groups(&files, |g| groups.push(g.to_vec()));
        groups.sort();
        assert_eq!(groups, vec![vec![0, 4], vec![1, 3], vec![5]]);
    }

    #[test]
    fn both_packings_give_the_same_groups() {
        // Enough keys that 32-bit hashes of distinct keys may meet.
        let keys: Vec<String> = (0..20_000).map(|i| format!("k{}", i % 7_000)).collect();
        let files = vec![FileKeys {
            first_row: 0,
            partition: 0,
            columns: vec![StringArray::from_iter_values(&keys)],
            entity: None,
        }];
        let groups = |narrow: bool| {
            let mut out = match narrow {
                true => groups_packed::<u64>(&files, &|_| true, PAIRS_PER_PASS),
                false => groups_packed::<u128>(&files, &|_| true, PAIRS_PER_PASS),
            };
            out.sort();
            out
        };
        let narrow = groups(true);
        assert_eq!(narrow.len(), 7_000);
        assert_eq!(narrow, groups(false));
        assert_eq!(narrow[0], vec![0, 7_000, 14_000]);
    }

    #[test]
    fn passes_over_slices_of_the_hash_space_give_the_same_groups_in_the_same_order() {
        let keys: Vec<String> = (0..20_000).map(|i| format!("k{}", i % 7_000)).collect();
        let files = vec![
            FileKeys {
                first_row: 0,
                partition: 0,
                columns: vec![StringArray::from_iter_values(&keys[..9_000])],
                entity: None,
            },
            FileKeys {
                first_row: 9_000,
                partition: 0,
                columns: vec![StringArray::from_iter_values(&keys[9_000..])],
                entity: None,
            },
        ];
        let whole = groups_packed::<u64>(&files, &|g| g.len() > 1, PAIRS_PER_PASS);
        assert_eq!(whole.len(), 7_000);
        for per_pass in [499, 4_096, 19_999] {
            assert_eq!(groups_packed::<u64>(&files, &|g| g.len() > 1, per_pass), whole, "{per_pass} pairs a pass");
            assert_eq!(groups_packed::<u128>(&files, &|g| g.len() > 1, per_pass).len(), 7_000);
        }
    }

    #[test]
    fn keys_held_in_several_stretches_of_a_file_are_one_group() {
        let n = 2 * STRETCH_ROWS + 1_000;
        let distinct = STRETCH_ROWS as u64 - 7;
        let keys: Vec<String> = (0..n as u64).map(|i| format!("k{}", i % distinct)).collect();
        let files = vec![FileKeys {
            first_row: 0,
            partition: 0,
            columns: vec![StringArray::from_iter_values(&keys)],
            entity: None,
        }];
        for per_pass in [PAIRS_PER_PASS, 40_000] {
            let mut found: Vec<Vec<u64>> = groups_packed::<u64>(&files, &|g| g.len() > 1, per_pass);
            assert_eq!(found.len(), distinct as usize, "{per_pass} pairs a pass");
            found.sort();
            assert_eq!(found[0], vec![0, distinct, 2 * distinct]);
            assert!(found.iter().all(|g| g.windows(2).all(|w| w[1] - w[0] == distinct)));
            assert_eq!(found.iter().map(|g| g.len()).sum::<usize>(), n, "every row's key is held twice or more");
        }
    }

    #[test]
    fn compound_keys_compare_every_column() {
        let files = vec![FileKeys {
            first_row: 0,
            partition: 0,
            columns: vec![StringArray::from(vec!["h1", "h1", "h2"]), StringArray::from(vec!["e1", "e2", "e1"])],
            entity: None,
        }];
        let mut n = 0;
        visit_groups(&files, |g| {
            assert_eq!(g.len(), 1);
            n += 1;
        });
        assert_eq!(n, 3);
    }

    #[test]
    fn registered_entities_group_by_index_and_are_named_by_it() {
        let ids: Vec<crate::base::ids::EntityId> = ["91350100M000100Y4", "91350100M000200Y4"]
            .iter()
            .map(|p| crate::base::ids::EntityId::with_check_char(&p[..17]).unwrap())
            .collect();
        let entities = EntityIndex::from_sorted(ids.clone());
        let idx = [0, 0, u32::MAX, 1];
        let files = vec![FileKeys {
            first_row: 0,
            partition: 0,
            columns: vec![
                StringArray::from(vec!["h", "h", "h", "h"]),
                StringArray::from(vec![None, None, Some("unregistered"), None]),
            ],
            entity: Some((1, &idx, &entities)),
        }];
        let mut groups = Vec::new();
        visit_groups(&files, |g| groups.push(g.to_vec()));
        groups.sort();
        assert_eq!(groups, vec![vec![0, 1], vec![2], vec![3]]);
        assert_eq!(files[0].text(1), vec!["h".to_string(), ids[0].to_string()]);
        assert_eq!(files[0].text(2), vec!["h".to_string(), "unregistered".to_string()]);
    }

    /// datasets.md's key rules over two partitions: a key held twice in
    /// one partition is a `duplicate_key` (unless an earlier code took the
    /// row), a key in two partitions is two versions, and an event's
    /// current row is its key's newest version with no code, now or late.
    #[test]
    fn copies_in_a_partition_are_duplicates_and_the_newest_clean_version_is_current() {
        let day = |d: &str| d.parse::<AsOf>().unwrap();
        let mut older = file(0, &[Some("c1"), Some("c1"), Some("c2"), Some("c6"), Some("c6")]);
        let mut newer = file(5, &[Some("c2"), Some("c3"), Some("c4"), Some("c5"), None]);
        (older.partition, newer.partition) = (0, 1);
        let files = [older, newer];
        let rules = KeyRules { files: &files, dates: &[day("2026-11-25"), day("2026-11-26")], key_names: &["case_id"] };
        let mut codes = vec![None; 10];
        codes[3] = Some(FaultCode::BadRange);
        codes[6] = Some(FaultCode::FutureDate);
        let mut late_rows = FixedBitSet::with_capacity(10);
        late_rows.insert(7);
        let shared = shared_keys(&files);
        for is_event in [true, false] {
            let (mut codes, mut messages) = (codes.clone(), HashMap::new());
            let current = rules.judge(&shared, is_event, &late_rows, &mut codes, &mut messages);
            let dup = Some(FaultCode::DuplicateKey);
            assert_eq!(
                codes,
                [dup, dup, None, Some(FaultCode::BadRange), dup, None, Some(FaultCode::FutureDate), None, None, None]
            );
            let c1 = "key (case_id) = ('c1') appears 2 times in partition ingest_date=2026-11-25";
            let c6 = "key (case_id) = ('c6') appears 2 times in partition ingest_date=2026-11-25";
            let mut found: Vec<(u64, &str)> = messages.iter().map(|(g, m)| (*g, m.as_str())).collect();
            found.sort_unstable();
            assert_eq!(found, [(0, c1), (1, c1), (4, c6)], "row 3 keeps its own code's message");
            let current: Vec<usize> = current.ones().collect();
            match is_event {
                // c2's newest is row 5; c3 has a code, c4 a late one; c5 is
                // held once; a null key is no key's version but its own.
                true => assert_eq!(current, [5, 8, 9]),
                false => assert_eq!(current, Vec::<usize>::new(), "a snapshot's current rows are chosen later"),
            }
        }
    }
}
