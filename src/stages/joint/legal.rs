//! Legal representatives (joint-sanctions.md, step 5): the representative
//! of every member of the final S is restricted; every other entity in
//! scope represented by a restricted person is flagged. Neither is listed
//! and neither extends anything further.

use std::collections::HashMap;
use std::sync::Arc;

use rayon::prelude::*;
use rustc_hash::FxBuildHasher;

use super::rounds::Member;
use crate::base::hash_bits::HashBits;
use crate::base::ids::PersonId;

/// A restricted person and the members they represent.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Restricted {
    pub person: PersonId,
    /// Entity indexes of the members they represent, sorted.
    pub roots: Arc<[u32]>,
}

/// A flagged entity and the roots of its representative.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Flagged {
    pub entity: u32,
    pub roots: Arc<[u32]>,
}

/// Restricted persons (sorted by person id) and flagged entities (sorted
/// by entity) for the final members of a list. `rep_of(e)` is entity e's
/// legal representative; `in_scope(e)` whether e is in the policy's scope
/// (an exempt entity can be flagged).
pub(super) fn restrictions(
    members: &[Member],
    entities: usize,
    rep_of: &(dyn Fn(u32) -> Option<PersonId> + Sync),
    in_scope: &(dyn Fn(u32) -> bool + Sync),
) -> (Vec<Restricted>, Vec<Flagged>) {
    let mut represented: HashMap<PersonId, Vec<u32>, FxBuildHasher> = HashMap::default();
    let mut member = vec![false; entities];
    for m in members {
        member[m.entity as usize] = true;
        if let Some(p) = rep_of(m.entity) {
            represented.entry(p).or_default().push(m.entity);
        }
    }
    // One shared list of roots per person: the person's restricted row and
    // every entity it flags point to it.
    let represented: HashMap<PersonId, Arc<[u32]>, FxBuildHasher> = represented
        .into_iter()
        .map(|(p, mut roots)| {
            roots.sort_unstable();
            (p, roots.into())
        })
        .collect();
    // Every entity is looked at, on every core (in order). Most are
    // represented by nobody restricted: a bit per hashed person, small
    // enough to stay in cache, says so before the map is probed.
    let flagged = if represented.is_empty() {
        vec![]
    } else {
        let maybe = HashBits::of(represented.keys().map(|p| p.bits()));
        (0..entities as u32)
            .into_par_iter()
            .filter(|e| !member[*e as usize] && in_scope(*e))
            .filter_map(|e| {
                let p = rep_of(e).filter(|p| maybe.may_hold(p.bits()))?;
                represented.get(&p).map(|roots| Flagged { entity: e, roots: roots.clone() })
            })
            .collect()
    };
    let mut restricted: Vec<Restricted> =
        represented.into_iter().map(|(p, roots)| Restricted { person: p, roots }).collect();
    restricted.sort_by_key(|a| a.person);
    (restricted, flagged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(n: u64) -> Option<PersonId> {
        Some(PersonId::from_bits(n))
    }

    fn member(e: u32) -> Member {
        Member { entity: e, depth: 0, rules: vec![], via: vec![], roots: vec![e] }
    }

    #[test]
    fn representatives_of_members_are_restricted_and_their_other_entities_flagged() {
        // Entities 0..5; members 0 and 3; P1 represents 0, 1 and 3; P2 represents 2; 4 is out of scope under P1.
        let reps = [p(1), p(1), p(2), p(1), p(1)];
        let (r, f) = restrictions(&[member(3), member(0)], 5, &|e| reps[e as usize], &|e| e != 4);
        assert_eq!(
            r,
            [Restricted { person: PersonId::from_bits(1), roots: vec![0, 3].into() }],
            "roots ascend, in whatever order the members come"
        );
        assert_eq!(
            f,
            [Flagged { entity: 1, roots: vec![0, 3].into() }],
            "members are not flagged, nor entities out of scope"
        );
    }

    #[test]
    fn an_exempt_entity_can_be_flagged() {
        // Entity 1 is exempt: not a member, but in scope.
        let reps = [p(1), p(1)];
        let (_, f) = restrictions(&[member(0)], 2, &|e| reps[e as usize], &|_| true);
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn persons_sharing_a_bit_are_told_apart() {
        // Two persons on the same bit: the map decides.
        let one = 1u64;
        let bits = HashBits::of(std::iter::once(one));
        let twin = (2..).find(|t| bits.may_hold(*t)).unwrap();
        let reps = [p(one), p(twin), p(one)];
        let (r, f) = restrictions(&[member(0)], 3, &|e| reps[e as usize], &|_| true);
        assert_eq!(r.len(), 1);
        assert_eq!(f, [Flagged { entity: 2, roots: vec![0].into() }], "the twin's entity is not flagged");
    }

    #[test]
    fn members_without_representative_restrict_nobody() {
        let (r, f) = restrictions(&[member(0)], 2, &|e| if e == 0 { None } else { p(9) }, &|_| true);
        assert!(r.is_empty() && f.is_empty());
    }
}
