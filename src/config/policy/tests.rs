//! Policy loading: every check of policy.md and joint-sanctions.md, asserted
//! by message, and every problem reported at once.

use super::*;

fn parse(text: &str) -> Result<Policy, PolicyErrors> {
    Policy::parse("p.yaml", text, &Contracts::load().unwrap())
}

fn problems(text: &str) -> Vec<String> {
    parse(text).expect_err("policy should be refused").problems.iter().map(|p| p.to_string()).collect()
}

const MINIMAL: &str = r#"
id: tiny
version: "1"
title: Tiny
score: { base: 100, floor: 0 }
grades: [{ grade: A, min: 0 }]
"#;

#[test]
fn the_embedded_policy_loads() {
    let p = Policy::default_policy(&Contracts::load().unwrap());
    assert_eq!((p.id.as_str(), p.version.as_str()), ("online-market", "2026.1"));
    assert_eq!(p.rules.len(), 4);
    assert_eq!(p.rules[2].decay, Decay::HalfLife(180.0));
    assert_eq!(p.rules[0].decay, Decay::Linear);
    assert_eq!(p.rules[3].decay, Decay::None);
    assert_eq!(p.direct_grades[0].grade, 3);
    assert_eq!(p.lists[0].review, Review::Additions);
    assert_eq!(p.joint.max_rounds, Some(10));
    assert_eq!(p.joint.rules[1].relation, Relation::Control { threshold_pct: 50.0 });
    assert_eq!(p.sha256.len(), 64);
}

#[test]
fn a_minimal_policy_loads_and_empty_lists_are_absent_ones() {
    let p = parse(MINIMAL).unwrap();
    assert!(p.rules.is_empty() && p.lists.is_empty() && p.joint.rules.is_empty() && p.scope.is_none());
    let p = parse(&format!("{MINIMAL}direct_grades: []\nlists: []\njoint_sanctions: {{ rules: [] }}\n")).unwrap();
    assert!(p.direct_grades.is_empty());
}

#[test]
fn every_problem_is_reported_at_once_with_file_and_rule_id() {
    let text = r#"
id: Bad_Id
version: 2026.1
title: Broken
colour: blue
scope: "status = 1"
score:
  base: 100
  floor: 0.125
  rules:
    - { id: V_X, dataset: violations, where: "severty = 'grave'", points: 5, window_days: 10 }
    - { id: V_X, dataset: violations, where: "severity = 'grave'", points: 0, window_days: 10.5 }
    - { id: v_lower, dataset: complaints, where: "outcome = 1", points: 1, window_days: 10, decay: quadratic }
    - { id: C_NUM, dataset: complaints, where: "amount_cny + 1", points: 1, window_days: 10, cap: 0 }
grades:
  - { grade: A, min: 50 }
  - { grade: B, min: 60 }
direct_grades:
  - { id: DG, title: T, dataset: registry, where: "x", window_days: 10, grade: Z }
lists:
  - { id: L, title: T, grades: [], measures: [] }
joint_sanctions:
  rules:
    - { id: JS_A, list: nowhere, relation: control }
    - { id: JS_B, list: L, relation: branch, threshold_pct: 50 }
    - { id: JS_C, list: L, relation: legal_rep }
    - { id: JS_D, list: L, relation: control, threshold_pct: 150 }
"#;
    let got = problems(text);
    let expected = [
        "p.yaml: unknown field 'colour' (expected one of: id, version, title, scope, score, grades, direct_grades, lists, joint_sanctions)",
        "p.yaml: id: policy id must match [a-z0-9-]+",
        "p.yaml: version: version must be a YAML string (quote it), found a number",
        "p.yaml: scope: scope: cannot compare a string with a decimal number in '='",
        "p.yaml: score: floor has more than two decimals: 0.125",
        "p.yaml: V_X: where: column severty does not exist in violations",
        "p.yaml: V_X: duplicate rule id (score rules, direct grades and joint rules share one namespace)",
        "p.yaml: V_X: points must be > 0, found 0",
        "p.yaml: V_X: 'window_days' must be an integer, found a number",
        "p.yaml: v_lower: rule id must match [A-Z][A-Z0-9_]*",
        "p.yaml: v_lower: where: cannot compare a string with a decimal number in '='",
        "p.yaml: v_lower: decay must be none, linear or { half_life_days: H }, found 'quadratic'",
        "p.yaml: C_NUM: where: the expression is a decimal number, not boolean",
        "p.yaml: C_NUM: cap must be > 0, found 0",
        "p.yaml: grades[1]: bands out of order: min 60 is not below the previous band's 50",
        "p.yaml: grades: the last band's min must equal score.floor (0.125), found 60",
        "p.yaml: DG: dataset must be violations or complaints, found 'registry'",
        "p.yaml: DG: grade 'Z' is not a band (bands: A, B)",
        "p.yaml: L: list id must match [a-z0-9-]+",
        "p.yaml: L: grades must have at least one element",
        "p.yaml: L: measures must have at least one element",
        "p.yaml: JS_A: list 'nowhere' is not a list of this policy",
        "p.yaml: JS_A: threshold_pct is required for relation control",
        "p.yaml: JS_B: threshold_pct is allowed only for relation control",
        "p.yaml: JS_C: 'measures' is required",
        "p.yaml: JS_D: threshold_pct must be in (0, 100], found 150",
    ];
    for e in expected {
        assert!(got.iter().any(|g| g.starts_with(e)), "missing «{e}» in:\n{}", got.join("\n"));
    }
    assert_eq!(got.len(), expected.len(), "unexpected extra problems:\n{}", got.join("\n"));
}

#[test]
fn rule_ids_share_one_namespace_across_sections() {
    let text = format!(
        "{MINIMAL}score:\n  base: 100\n  floor: 0\n  rules:\n    - {{ id: R1, dataset: violations, where: \"severity = 'grave'\", points: 1, window_days: 5 }}\n"
    )
    .replace("score: { base: 100, floor: 0 }\n", "");
    let text = format!(
        "{text}lists: [{{ id: l, title: T, grades: [A], measures: [m] }}]\njoint_sanctions: {{ rules: [{{ id: R1, list: l, relation: branch }}] }}\n"
    );
    let got = problems(&text);
    assert_eq!(got, ["p.yaml: R1: duplicate rule id (score rules, direct grades and joint rules share one namespace)"]);
}

#[test]
fn unknown_fields_inside_rules_are_refused() {
    let text = MINIMAL.replace(
        "score: { base: 100, floor: 0 }",
        "score:\n  base: 100\n  floor: 0\n  rules:\n    - { id: R1, dataset: violations, where: \"severity = 'grave'\", points: 1, window_days: 5, weight: 2 }",
    );
    let got = problems(&text);
    assert_eq!(got.len(), 1);
    assert!(got[0].starts_with("p.yaml: R1: unknown field 'weight'"), "{got:?}");
}

#[test]
fn review_defaults_to_additions_and_floor_may_not_reach_base() {
    let p = parse(&format!("{MINIMAL}lists: [{{ id: l, title: T, grades: [A], measures: [m] }}]\n")).unwrap();
    assert_eq!(p.lists[0].review, Review::Additions);
    let got = problems(&MINIMAL.replace("floor: 0 }", "floor: 100 }").replace("min: 0", "min: 100"));
    assert_eq!(got, ["p.yaml: score: floor must be >= 0 and < base, found 100"]);
}
