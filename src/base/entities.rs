//! The entities of the run's registry snapshot, numbered densely in
//! entity-id order: index `i` is the i-th smallest accepted entity id. Every
//! later table refers to entities by this index (`entity_idx`).

use crate::base::ids::EntityId;

/// Accepted registry entities, sorted, with a hash lookup from id to index.
pub struct EntityIndex {
    ids: Vec<EntityId>,
    /// `None` once the run's bulk lookups are done ([`EntityIndex::drop_table`]):
    /// the few later ones search the sorted ids.
    table: Option<Table>,
}

/// A table slot: the entity's index beside 32 bits of its id's hash (the
/// tag). A probe compares tags and reads the sorted id only where the tag
/// matches: 8 bytes a slot, where holding the id itself took 16 (at 50M
/// entities 0.6 GiB less while validation looks ids up).
#[derive(Clone, Copy, Default)]
struct Slot {
    tag: u32,
    /// The entity's index plus one; 0 marks an empty slot.
    idx1: u32,
}

/// Where an id's probe starts and the tag its slot carries.
#[derive(Clone, Copy)]
struct Probe {
    home: usize,
    tag: u32,
}

/// Open addressing with linear probing, 5/8 full: validation
/// looks up tens of millions of ids in random order, a cache miss each, so
/// [`EntityIndex::lookup_all`] prefetches slots ahead of their probes, and
/// the sorted id a slot's tag points to a little later. The kernel is asked
/// for 2 MiB pages behind the slots ([`with_huge_pages`]; this VM grants
/// them when memory is not too fragmented).
/// The slot count is exactly 8/5 of the entities (not rounded up to a
/// power of two), and a hash is mapped onto it by a multiply and a shift.
struct Table {
    slots: Vec<Slot>,
}

impl Table {
    fn new(ids: &[EntityId]) -> Table {
        let capacity = (ids.len() * 8 / 5).max(16);
        let mut slots = with_huge_pages(capacity);
        slots.resize(capacity, Slot::default());
        let mut table = Table { slots };
        for (i, id) in ids.iter().enumerate() {
            let probe = table.probe(*id);
            let mut at = probe.home;
            while table.slots[at].idx1 != 0 {
                at = table.next(at);
            }
            table.slots[at] = Slot { tag: probe.tag, idx1: i as u32 + 1 };
        }
        table
    }

    /// The first slot an id may be in, and its tag.
    fn probe(&self, id: EntityId) -> Probe {
        let bits = id.bits();
        // A 64-bit finaliser (MurmurHash3's) over both halves: ids share long
        // prefixes, so their bits must be mixed before the low ones are used.
        let mut x = (bits as u64) ^ ((bits >> 64) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^= x >> 33;
        x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        x ^= x >> 33;
        x = x.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
        x ^= x >> 33;
        // The home from the hash's high bits, the tag from its low ones.
        Probe { home: ((x as u128 * self.slots.len() as u128) >> 64) as usize, tag: x as u32 }
    }

    fn next(&self, at: usize) -> usize {
        match at + 1 {
            end if end == self.slots.len() => 0,
            next => next,
        }
    }

    /// The indexes of the slots from the probe's home to the first empty
    /// one whose tag is the probe's: the entities the id may be.
    fn tag_matches(&self, probe: Probe) -> impl Iterator<Item = u32> + '_ {
        let mut at = probe.home;
        std::iter::from_fn(move || loop {
            let slot = self.slots[at];
            if slot.idx1 == 0 {
                return None;
            }
            at = self.next(at);
            if slot.tag == probe.tag {
                return Some(slot.idx1 - 1);
            }
        })
    }

    fn find(&self, probe: Probe, id: EntityId, ids: &[EntityId]) -> Option<u32> {
        self.tag_matches(probe).find(|i| ids[*i as usize] == id)
    }

    /// The sorted id the first slot with the probe's tag points to (where
    /// [`Table::find`] will compare first).
    fn candidate(&self, probe: Probe) -> Option<usize> {
        self.tag_matches(probe).next().map(|i| i as usize)
    }
}

/// Asks the CPU to bring `item`'s cache line in (only a hint).
pub(crate) fn prefetch<T>(item: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let p: *const T = item;
        // SAFETY: a prefetch reads nothing; the address is a live reference's.
        #[allow(unused_unsafe)]
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(p.cast());
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = item;
}

/// An empty vector with room for `capacity` items, the kernel asked for
/// transparent huge pages behind that room before it is first touched:
/// for the tables of millions of items looked up at random (the slots, the
/// sorted ids), where a 4 KiB page costs a TLB miss on nearly every probe.
/// Only advice: without it the vector works the same.
pub(crate) fn with_huge_pages<T>(capacity: usize) -> Vec<T> {
    let items: Vec<T> = Vec::with_capacity(capacity);
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = items.as_ptr() as usize;
        let end = start + capacity * std::mem::size_of::<T>();
        let (first, last) = (start.next_multiple_of(HUGE), end / HUGE * HUGE);
        if first < last {
            // SAFETY: the range lies inside the vector's own allocation;
            // MADV_HUGEPAGE changes how it is backed, never its contents.
            unsafe {
                libc::madvise(first as *mut libc::c_void, last - first, libc::MADV_HUGEPAGE);
            }
        }
    }
    items
}

/// How far ahead of its probe a batched lookup prefetches a slot.
const PREFETCH_AHEAD: usize = 16;

/// How far ahead of its probe a batched lookup prefetches the sorted id its
/// slot points to (the slot itself prefetched earlier).
const PREFETCH_ID_AHEAD: usize = 8;

/// Ids a batched lookup packs at a time.
const LOOKUP_CHUNK: usize = 4096;

impl EntityIndex {
    /// Builds the index from unique ids in ascending order.
    pub fn from_sorted(ids: Vec<EntityId>) -> EntityIndex {
        debug_assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let table = Table::new(&ids);
        EntityIndex { ids, table: Some(table) }
    }

    /// Lets the hash table go (8 bytes a slot: 122 MiB at 10M entities)
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
            Some(table) => table.find(table.probe(id), id, &self.ids),
            None => self.ids.binary_search(&id).ok().map(|i| i as u32),
        }
    }

    /// [`EntityIndex::lookup`] of many ids, in order, `u32::MAX` for an id
    /// that is absent or not in the snapshot, appended to `out`. Each slot
    /// is prefetched a few ids ahead of its probe, so the memory latencies
    /// of a column's random lookups overlap instead of adding up.
    pub fn lookup_all<'a>(&self, texts: impl IntoIterator<Item = Option<&'a str>>, out: &mut Vec<u32>) {
        let mut texts = texts.into_iter().peekable();
        // A few thousand ids at a time: their packed ids and slots stay
        // small (a whole column of 50M took 2 GiB).
        let mut ids: Vec<Option<EntityId>> = Vec::with_capacity(LOOKUP_CHUNK);
        let mut probes: Vec<Option<Probe>> = Vec::with_capacity(LOOKUP_CHUNK);
        while texts.peek().is_some() {
            ids.clear();
            ids.extend(texts.by_ref().take(LOOKUP_CHUNK).map(|t| t.and_then(EntityId::pack_unchecked)));
            let Some(table) = &self.table else {
                out.extend(ids.iter().map(|id| id.and_then(|id| self.lookup_id(id)).unwrap_or(u32::MAX)));
                continue;
            };
            probes.clear();
            probes.extend(ids.iter().map(|id| id.map(|id| table.probe(id))));
            for p in probes.iter().take(PREFETCH_AHEAD).flatten() {
                prefetch(&table.slots[p.home]);
            }
            out.reserve(ids.len());
            for (i, id) in ids.iter().enumerate() {
                if let Some(Some(ahead)) = probes.get(i + PREFETCH_AHEAD) {
                    prefetch(&table.slots[ahead.home]);
                }
                if let Some(at) = probes.get(i + PREFETCH_ID_AHEAD).copied().flatten().and_then(|p| table.candidate(p))
                {
                    prefetch(&self.ids[at]);
                }
                out.push(id.zip(probes[i]).and_then(|(id, p)| table.find(p, id, &self.ids)).unwrap_or(u32::MAX));
            }
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

    #[test]
    fn a_slot_whose_tag_matches_is_an_entity_only_if_its_id_does() {
        let mut ids: Vec<EntityId> =
            ["91350100M000100Y4", "9Y350100M000100Y4"].iter().map(|p| EntityId::with_check_char(p).unwrap()).collect();
        ids.sort();
        let (a, b) = (ids[0], ids[1]);
        let absent = EntityId::with_check_char("91350100M000100Y5").unwrap();
        // a's slot sits where b's probe starts and carries b's tag: a tag collision.
        let mut table = Table { slots: vec![Slot::default(); 16] };
        let p = table.probe(b);
        table.slots[p.home] = Slot { tag: p.tag, idx1: 1 };
        let after = table.next(p.home);
        table.slots[after] = Slot { tag: p.tag, idx1: 2 };
        assert_eq!(table.find(p, b, &ids), Some(1), "past the colliding slot");
        assert_eq!(table.find(p, a, &ids), Some(0));
        assert_eq!(table.find(p, absent, &ids), None, "same tag, other id");
        assert_eq!(table.candidate(p), Some(0), "the prefetch goes to the first tag match");
    }

    #[test]
    fn batched_lookups_agree_with_single_ones() {
        // Enough ids that probes collide and run past the table's end.
        let mut ids: Vec<EntityId> =
            (0..5000u32).map(|n| EntityId::with_check_char(&format!("9135{n:06}MA00000")).unwrap()).collect();
        ids.sort();
        let index = EntityIndex::from_sorted(ids.iter().step_by(2).copied().collect());
        let texts: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
        let mut asked: Vec<Option<&str>> = texts.iter().map(|t| Some(t.as_str())).collect();
        asked.extend([None, Some("not an id"), Some("")]);
        let mut got = Vec::new();
        index.lookup_all(asked.iter().copied(), &mut got);
        let expected: Vec<u32> = asked.iter().map(|t| t.and_then(|t| index.lookup(t)).unwrap_or(u32::MAX)).collect();
        assert_eq!(got, expected);
        assert_eq!(got[..4], [0, u32::MAX, 1, u32::MAX], "every other id is registered");
        assert_eq!(got.iter().filter(|i| **i != u32::MAX).count(), 2500);
        let mut searched = index;
        searched.drop_table();
        let mut again = Vec::new();
        searched.lookup_all(asked.iter().copied(), &mut again);
        assert_eq!(again, got, "the same without the table");
    }
}
