//! The rounds of joint-sanctions.md ("Semantics, per list L"): from the
//! candidates `S_0`, each round adds the entities a branch rule or a
//! control rule of the list reaches from the members of the round before,
//! until a round adds nobody or `max_rounds` rounds have run.
//!
//! A round looks only at the neighbours of the members that joined in the
//! previous round (nobody else's condition can have changed), and decides
//! every entity against `S_(k-1)` before any of them joins, so the result
//! does not depend on visiting order. Shares are added in holder-id order.

use super::graph::EntityGraph;

/// Shares are compared with this tolerance (joint-sanctions.md, step 2).
pub const SHARE_TOLERANCE: f64 = 1e-9;

/// The joint-sanction rules of one list, as the rounds need them.
#[derive(Clone, Debug, Default)]
pub struct ListRules {
    /// Ids of the list's `branch` rules.
    pub branch: Vec<String>,
    /// (id, threshold_pct) of the list's `control` rules.
    pub control: Vec<(String, f64)>,
    /// `None`: no limit.
    pub max_rounds: Option<u32>,
}

/// How a joint member is reached from one member of the round before.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ViaKind {
    Branch,
    Control { share_pct: f64 },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Via {
    pub entity: u32,
    pub kind: ViaKind,
}

/// A member of the final S.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    pub entity: u32,
    /// The round it joined in (0: a direct member).
    pub depth: u32,
    /// The rules that fired for it in its round, sorted by id (empty for a direct member).
    pub rules: Vec<String>,
    /// Sorted by entity id, then relation (`branch` before `control`).
    pub via: Vec<Via>,
    /// The round-0 members it is reached from, sorted (itself for a direct member).
    pub roots: Vec<u32>,
}

/// Extends `candidates` (sorted entity indexes) over `graph`. Only entities
/// for which `may_join` holds (in scope, not exempt) can join. Returns the
/// members sorted by entity index.
pub fn extend(
    graph: &EntityGraph,
    candidates: &[u32],
    rules: &ListRules,
    may_join: &dyn Fn(u32) -> bool,
) -> Vec<Member> {
    let n = graph.entities;
    // Position of each member in `members`, u32::MAX for non-members.
    let mut slot = vec![u32::MAX; n];
    let mut members: Vec<Member> = Vec::with_capacity(candidates.len());
    for &c in candidates {
        slot[c as usize] = members.len() as u32;
        members.push(Member { entity: c, depth: 0, rules: vec![], via: vec![], roots: vec![c] });
    }
    let mut frontier: Vec<u32> = candidates.to_vec();
    let mut round = 0u32;
    let mut branch_rules = rules.branch.clone();
    branch_rules.sort();
    while !frontier.is_empty() && rules.max_rounds.is_none_or(|m| round < m) {
        round += 1;
        let mut touched: Vec<u32> = Vec::new();
        for &m in &frontier {
            if !rules.branch.is_empty() {
                touched.extend(graph.branches.out(m).map(|(x, _)| x));
            }
            if !rules.control.is_empty() {
                touched.extend(graph.owns.out(m).map(|(x, _)| x));
            }
        }
        touched.sort_unstable();
        touched.dedup();
        let mut joined: Vec<Member> = Vec::new();
        for x in touched {
            if slot[x as usize] != u32::MAX || !may_join(x) {
                continue;
            }
            let mut fired: Vec<String> = Vec::new();
            let mut via: Vec<Via> = Vec::new();
            let parent = graph.parent[x as usize];
            if !rules.branch.is_empty() && parent != u32::MAX && slot[parent as usize] != u32::MAX {
                fired.extend(branch_rules.iter().cloned());
                via.push(Via { entity: parent, kind: ViaKind::Branch });
            }
            if !rules.control.is_empty() {
                let listed: Vec<(u32, f64)> =
                    graph.holders.out(x).filter(|(h, _)| slot[*h as usize] != u32::MAX).map(|(h, s)| (h, *s)).collect();
                let held: f64 = listed.iter().map(|(_, s)| s).sum();
                let mut any = false;
                for (id, threshold) in &rules.control {
                    if held >= threshold - SHARE_TOLERANCE {
                        fired.push(id.clone());
                        any = true;
                    }
                }
                if any {
                    via.extend(
                        listed.into_iter().map(|(h, s)| Via { entity: h, kind: ViaKind::Control { share_pct: s } }),
                    );
                }
            }
            if fired.is_empty() {
                continue;
            }
            fired.sort();
            fired.dedup();
            via.sort_by_key(|v| (v.entity, matches!(v.kind, ViaKind::Control { .. })));
            let mut roots: Vec<u32> =
                via.iter().flat_map(|v| members[slot[v.entity as usize] as usize].roots.iter().copied()).collect();
            roots.sort_unstable();
            roots.dedup();
            joined.push(Member { entity: x, depth: round, rules: fired, via, roots });
        }
        frontier = joined.iter().map(|m| m.entity).collect();
        for m in joined {
            slot[m.entity as usize] = members.len() as u32;
            members.push(m);
        }
    }
    members.sort_by_key(|m| m.entity);
    members
}

#[cfg(test)]
mod tests {
    use super::*;

    // Entities of the worked examples.
    const X: u32 = 0;
    const Y: u32 = 1;
    const A: u32 = 2;
    const B: u32 = 3;

    fn rules(max_rounds: Option<u32>) -> ListRules {
        ListRules { branch: vec!["JS_BRANCH".into()], control: vec![("JS_CONTROL".into(), 50.0)], max_rounds }
    }

    /// Runs the example with X and Y as candidates; returns (entity, depth).
    fn run(holdings: &[(u32, u32, f64)], branches: &[(u32, u32)], exempt: &[u32]) -> Vec<(u32, u32)> {
        run_full(holdings, branches, exempt, &rules(None)).iter().map(|m| (m.entity, m.depth)).collect()
    }

    fn run_full(
        holdings: &[(u32, u32, f64)],
        branches: &[(u32, u32)],
        exempt: &[u32],
        rules: &ListRules,
    ) -> Vec<Member> {
        let mut parent = vec![u32::MAX; 6];
        for (b, p) in branches {
            parent[*b as usize] = *p;
        }
        let g = EntityGraph::build(parent, holdings.to_vec());
        let candidates: Vec<u32> = [X, Y].into_iter().filter(|c| !exempt.contains(c)).collect();
        extend(&g, &candidates, rules, &|e| !exempt.contains(&e))
    }

    #[test]
    fn x_owns_50_of_a() {
        assert_eq!(run(&[(X, A, 50.0)], &[], &[]), [(X, 0), (Y, 0), (A, 1)]);
    }

    #[test]
    fn aggregate_control_of_two_listed_holders() {
        assert_eq!(run(&[(X, A, 25.0), (Y, A, 25.0)], &[], &[]), [(X, 0), (Y, 0), (A, 1)]);
    }

    #[test]
    fn just_under_the_threshold_stays_out() {
        assert_eq!(run(&[(X, A, 49.99)], &[], &[]), [(X, 0), (Y, 0)]);
    }

    #[test]
    fn the_tolerance_absorbs_float_noise() {
        // 0.1 + 0.2 shares summing to 0.30000000000000004 against a 0.3 threshold, and 50 - 1e-10.
        let r = ListRules { branch: vec![], control: vec![("JS_C".into(), 0.3)], max_rounds: None };
        let m = run_full(&[(X, A, 0.1), (Y, A, 0.2)], &[], &[], &r);
        assert_eq!(m.len(), 3);
        assert_eq!(run(&[(X, A, 50.0 - 1e-10)], &[], &[]), [(X, 0), (Y, 0), (A, 1)]);
        // The tolerance's own edge is in, and twice it out.
        assert_eq!(run(&[(X, A, 50.0 - SHARE_TOLERANCE)], &[], &[]), [(X, 0), (Y, 0), (A, 1)]);
        assert_eq!(run(&[(X, A, 50.0 - 2.0 * SHARE_TOLERANCE)], &[], &[]), [(X, 0), (Y, 0)]);
    }

    #[test]
    fn a_chain_joins_round_by_round() {
        assert_eq!(run(&[(X, A, 50.0), (A, B, 50.0)], &[], &[]), [(X, 0), (Y, 0), (A, 1), (B, 2)]);
    }

    #[test]
    fn a_share_counts_once_its_holder_is_in() {
        let m = run_full(&[(X, A, 50.0), (A, B, 25.0), (X, B, 25.0)], &[], &[], &rules(None));
        let b = m.iter().find(|m| m.entity == B).unwrap();
        assert_eq!(b.depth, 2);
        assert_eq!(
            b.via,
            [
                Via { entity: X, kind: ViaKind::Control { share_pct: 25.0 } },
                Via { entity: A, kind: ViaKind::Control { share_pct: 25.0 } }
            ]
        );
        assert_eq!(b.roots, [X]);
    }

    #[test]
    fn shares_are_never_multiplied_along_a_chain() {
        assert_eq!(run(&[(X, A, 40.0), (A, B, 100.0)], &[], &[]), [(X, 0), (Y, 0)]);
    }

    #[test]
    fn a_cycle_nobody_listed_owns_stays_out() {
        assert_eq!(run(&[(A, B, 60.0), (B, A, 60.0)], &[], &[]), [(X, 0), (Y, 0)]);
    }

    #[test]
    fn a_cycle_with_a_listed_holder_joins_once() {
        let m = run(&[(X, A, 60.0), (A, B, 60.0), (B, A, 40.0)], &[], &[]);
        assert_eq!(m, [(X, 0), (Y, 0), (A, 1), (B, 2)]);
    }

    #[test]
    fn a_branch_joins_by_branch() {
        let m = run_full(&[], &[(B, X)], &[], &rules(None));
        let b = m.iter().find(|m| m.entity == B).unwrap();
        assert_eq!((b.depth, b.rules.clone()), (1, vec!["JS_BRANCH".to_string()]));
        assert_eq!(b.via, [Via { entity: X, kind: ViaKind::Branch }]);
    }

    #[test]
    fn a_branch_of_a_controlled_entity_joins_next_round() {
        assert_eq!(run(&[(X, A, 50.0)], &[(B, A)], &[]), [(X, 0), (Y, 0), (A, 1), (B, 2)]);
    }

    #[test]
    fn an_exempt_entity_neither_joins_nor_holds() {
        assert_eq!(run(&[(X, A, 50.0), (A, B, 100.0)], &[], &[A]), [(X, 0), (Y, 0)]);
    }

    #[test]
    fn a_parent_that_also_holds_shares_appears_twice_in_via() {
        let m = run_full(&[(X, B, 60.0)], &[(B, X)], &[], &rules(None));
        let b = m.iter().find(|m| m.entity == B).unwrap();
        assert_eq!(b.rules, ["JS_BRANCH", "JS_CONTROL"]);
        assert_eq!(
            b.via,
            [Via { entity: X, kind: ViaKind::Branch }, Via { entity: X, kind: ViaKind::Control { share_pct: 60.0 } }]
        );
    }

    #[test]
    fn max_rounds_limits_the_extension() {
        let chain = [(X, A, 50.0), (A, B, 50.0)];
        let depths = |r| run_full(&chain, &[], &[], &rules(r)).iter().map(|m| (m.entity, m.depth)).collect::<Vec<_>>();
        assert_eq!(depths(Some(0)), [(X, 0), (Y, 0)], "max_rounds 0 means no extension");
        assert_eq!(depths(Some(1)), [(X, 0), (Y, 0), (A, 1)]);
        assert_eq!(depths(Some(2)), [(X, 0), (Y, 0), (A, 1), (B, 2)]);
    }

    #[test]
    fn several_control_rules_fire_on_their_own_terms() {
        let r = ListRules {
            branch: vec![],
            control: vec![("JS_C50".into(), 50.0), ("JS_C30".into(), 30.0)],
            max_rounds: None,
        };
        let m = run_full(&[(X, A, 35.0), (X, B, 55.0)], &[], &[], &r);
        let rules_of = |e: u32| m.iter().find(|m| m.entity == e).unwrap().rules.clone();
        assert_eq!(rules_of(A), ["JS_C30"]);
        assert_eq!(rules_of(B), ["JS_C30", "JS_C50"]);
    }

    #[test]
    fn roots_follow_via_to_round_zero() {
        let m = run_full(&[(X, A, 30.0), (Y, A, 30.0), (A, B, 100.0)], &[], &[], &rules(None));
        assert_eq!(m.iter().find(|m| m.entity == B).unwrap().roots, [X, Y]);
        assert_eq!(m.iter().find(|m| m.entity == X).unwrap().roots, [X]);
    }

    /// joint-sanctions.md step 4: `via` holds the links of the rules that
    /// fired, no others: no parent without a branch rule, no holder whose
    /// shares fired no control rule.
    #[test]
    fn via_holds_only_the_links_of_rules_that_fired() {
        let control_only = ListRules { branch: vec![], control: vec![("JS_CONTROL".into(), 50.0)], max_rounds: None };
        let m = run_full(&[(X, B, 60.0)], &[(B, X)], &[], &control_only);
        let b = m.iter().find(|m| m.entity == B).unwrap();
        assert_eq!(b.rules, ["JS_CONTROL"]);
        assert_eq!(
            b.via,
            [Via { entity: X, kind: ViaKind::Control { share_pct: 60.0 } }],
            "no branch rule, no branch link"
        );
        let m = run_full(&[(Y, B, 10.0)], &[(B, X)], &[], &rules(None));
        let b = m.iter().find(|m| m.entity == B).unwrap();
        assert_eq!(b.rules, ["JS_BRANCH"]);
        assert_eq!(b.via, [Via { entity: X, kind: ViaKind::Branch }], "Y's 10% fired no control rule");
        assert_eq!(b.roots, [X]);
    }

    #[test]
    fn without_rules_nothing_extends() {
        let r = ListRules::default();
        assert_eq!(run_full(&[(X, A, 100.0)], &[(B, X)], &[], &r).len(), 2);
    }
}
