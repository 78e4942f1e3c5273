//! Reason codes of a scored entity (policy.md, step 8): every direct-grade
//! rule that fired (by rule id), then every score rule with a deduction
//! above zero (largest rounded deduction first, ties by rule id); the first
//! four are kept. Ids compare byte by byte.

use crate::base::marts::scores::ReasonRef;
use crate::base::rounding::round_score;

/// Reasons kept per entity.
pub(super) const MAX_REASONS: usize = 4;

/// What one rule found for one entity (borrowing the engine's buffers).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct RuleHit<'a> {
    pub rule_id: &'a str,
    /// A direct-grade rule (it deducts nothing).
    pub direct: bool,
    /// The deduction, capped, unrounded (0 for a direct-grade rule).
    pub ded: f64,
    /// Ids of every record in the window that satisfies the rule.
    pub records: Vec<&'a str>,
}

/// Orders an entity's rule hits into its reasons.
pub(super) fn reasons(mut hits: Vec<RuleHit<'_>>) -> Vec<ReasonRef<'_>> {
    hits.retain(|h| h.direct || h.ded > 0.0);
    let mut keyed: Vec<(bool, f64, RuleHit<'_>)> =
        hits.into_iter().map(|h| (!h.direct, if h.direct { 0.0 } else { round_score(h.ded) }, h)).collect();
    keyed.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(b.1.partial_cmp(&a.1).expect("finite deductions"))
            .then(a.2.rule_id.as_bytes().cmp(b.2.rule_id.as_bytes()))
    });
    keyed
        .into_iter()
        .take(MAX_REASONS)
        .map(|(_, points, mut h)| {
            h.records.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            ReasonRef { rule_id: h.rule_id, points, records: h.records }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit<'a>(id: &'a str, direct: bool, ded: f64, records: &[&'a str]) -> RuleHit<'a> {
        RuleHit { rule_id: id, direct, ded, records: records.to_vec() }
    }

    fn ids<'a>(r: &[ReasonRef<'a>]) -> Vec<&'a str> {
        r.iter().map(|x| x.rule_id).collect()
    }

    #[test]
    fn direct_rules_first_then_largest_rounded_deduction_then_id() {
        let r = reasons(vec![
            hit("V_SMALL", false, 1.0, &["c"]),
            hit("V_BIG", false, 30.0, &["b"]),
            hit("DG_Z", true, 0.0, &["z"]),
            hit("DG_A", true, 0.0, &["a"]),
        ]);
        assert_eq!(ids(&r), ["DG_A", "DG_Z", "V_BIG", "V_SMALL"]);
        assert_eq!(r[0].points, 0.0);
    }

    #[test]
    fn ties_on_the_rounded_deduction_go_by_rule_id_bytes() {
        // 10.004 and 10.001 both show 10.00: the id decides, byte by byte ('Z' < '_' < 'a').
        let r =
            reasons(vec![hit("V_a", false, 10.004, &[]), hit("V_Z", false, 10.001, &[]), hit("V__", false, 10.0, &[])]);
        assert_eq!(ids(&r), ["V_Z", "V__", "V_a"]);
    }

    #[test]
    fn only_four_are_kept() {
        let names: Vec<String> = (0..6).map(|i| format!("R{i}")).collect();
        let r = reasons(names.iter().enumerate().map(|(i, n)| hit(n, false, 10.0 - i as f64, &[])).collect());
        assert_eq!(ids(&r), ["R0", "R1", "R2", "R3"]);
        let dg: Vec<String> = (0..5).map(|i| format!("DG{i}")).collect();
        let r = reasons(dg.iter().map(|n| hit(n, true, 0.0, &[])).chain([hit("V", false, 50.0, &[])]).collect());
        assert_eq!(ids(&r), ["DG0", "DG1", "DG2", "DG3"], "direct rules come first even past four");
    }

    #[test]
    fn a_tiny_deduction_shows_zero_points_but_stays_a_reason() {
        let r = reasons(vec![hit("V", false, 0.001, &["x"]), hit("W", false, 0.0, &["y"])]);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].rule_id, r[0].points), ("V", 0.0));
    }

    #[test]
    fn records_are_sorted_by_bytes() {
        let r = reasons(vec![hit("V", false, 1.0, &["b", "B", "a10", "a9"])]);
        assert_eq!(r[0].records, ["B", "a10", "a9", "b"]);
    }
}
