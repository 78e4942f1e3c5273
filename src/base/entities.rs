//! The entities of the run's registry snapshot, numbered densely in
//! entity-id order: index `i` is the i-th smallest accepted entity id. Every
//! later table refers to entities by this index (`entity_idx`).

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use crate::base::ids::EntityId;

/// Accepted registry entities, sorted, with a hash lookup from id to index.
pub struct EntityIndex {
    ids: Vec<EntityId>,
    /// `None` once the run's bulk lookups are done ([`EntityIndex::drop_table`]):
    /// the few later ones search the sorted ids.
    table: Option<HashTable<Slot>>,
}

/// A table slot holds the whole packed id (90 bits) beside its index, so a
/// lookup reads one cache line and never the sorted id array.
#[derive(Clone, Copy)]
struct Slot {
    low: u64,
    high: u32,
    idx: u32,
}

impl Slot {
    fn of(id: EntityId, idx: u32) -> Slot {
        let bits = id.bits();
        Slot { low: bits as u64, high: (bits >> 64) as u32, idx }
    }

    fn holds(&self, id: EntityId) -> bool {
        let bits = id.bits();
        self.low == bits as u64 && self.high == (bits >> 64) as u32
    }
}

impl EntityIndex {
    /// Builds the index from unique ids in ascending order.
    pub fn from_sorted(ids: Vec<EntityId>) -> EntityIndex {
        debug_assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let hasher = FxBuildHasher;
        let mut table = HashTable::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            table.insert_unique(hasher.hash_one(id), Slot::of(*id, i as u32), |s| {
                hasher.hash_one(EntityId::from_bits(((s.high as u128) << 64) | s.low as u128))
            });
        }
        EntityIndex { ids, table: Some(table) }
    }

    /// Lets the hash table go (17 bytes a bucket: 272 MiB at 10M entities)
    /// once validation and the graph's parents have done their millions of
    /// lookups; later lookups (exemptions, removal reasons) binary-search
    /// the sorted ids instead.
    pub fn drop_table(&mut self) {
        self.table = None;
    }

    /// The index of an entity id given as text, if it is in the snapshot.
    pub fn lookup(&self, text: &str) -> Option<u32> {
        // The check character is not recomputed: an id whose check character
        // is wrong packs to a value no registered (valid) id has.
        let id = EntityId::pack_unchecked(text)?;
        self.lookup_id(id)
    }

    pub fn lookup_id(&self, id: EntityId) -> Option<u32> {
        match &self.table {
            Some(table) => table.find(FxBuildHasher.hash_one(id), |s| s.holds(id)).map(|s| s.idx),
            None => self.ids.binary_search(&id).ok().map(|i| i as u32),
        }
    }

    pub fn id(&self, idx: u32) -> EntityId {
        self.ids[idx as usize]
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_by_text() {
        let mut ids: Vec<EntityId> = ["91350100M000100Y4", "11000000000000000", "9Y350100M000100Y4"]
            .iter()
            .map(|p| EntityId::with_check_char(p).unwrap())
            .collect();
        ids.sort();
        let index = EntityIndex::from_sorted(ids.clone());
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(index.lookup(&id.to_string()), Some(i as u32));
        }
        assert_eq!(index.lookup("91350100M000100Y44"), None, "invalid id");
        let absent = EntityId::with_check_char("91350100M000100Y5").unwrap();
        assert_eq!(index.lookup(&absent.to_string()), None);
        let mut searched = index;
        searched.drop_table();
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(searched.lookup(&id.to_string()), Some(i as u32), "the same index without the table");
        }
        assert_eq!(searched.lookup(&absent.to_string()), None);
        assert_eq!(searched.lookup("91350100M000100Y44"), None);
    }
}
