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
        "p.yaml: version: version must be a YAML string (quote it), found a number (2026.1)",
        "p.yaml: scope: scope: cannot compare a string with a decimal number in '='",
        "p.yaml: score: floor has more than two decimals: 0.125",
        "p.yaml: V_X: where: column severty does not exist in violations",
        "p.yaml: V_X: duplicate rule id (score rules, direct grades and joint rules share one namespace)",
        "p.yaml: V_X: points must be > 0, found 0",
        "p.yaml: V_X: 'window_days' must be an integer, found a number (10.5)",
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

/// Regression: `.nan` and `.inf` passed the check and graded the worst
/// offenders A; huge windows passed too. policy.md "Fields": every number
/// finite, windows and half-lives at most 36500 days.
#[test]
fn non_finite_numbers_and_huge_windows_are_refused_with_the_rule_id() {
    let text = r#"
id: hostile
version: "1"
title: Hostile
score:
  base: .inf
  floor: 0
  rules:
    - { id: V_NAN, dataset: violations, where: "severity = 'grave'", points: .nan, window_days: 100 }
    - { id: V_CAP, dataset: violations, where: "severity = 'grave'", points: 1, window_days: 100, cap: .inf }
    - { id: V_HALF, dataset: violations, where: "severity = 'grave'", points: 1, window_days: 100, decay: { half_life_days: .nan } }
    - { id: V_LONG, dataset: violations, where: "severity = 'grave'", points: 1, window_days: 9223372036854775807 }
    - { id: V_LIFE, dataset: violations, where: "severity = 'grave'", points: 1, window_days: 100, decay: { half_life_days: 40000 } }
    - { id: V_HUGE, dataset: violations, where: "severity = 'grave'", points: 1e400, window_days: 100 }
grades: [{ grade: A, min: -.inf }]
lists:
  - { id: l, title: L, grades: [A], measures: [m] }
joint_sanctions:
  max_rounds: 4294967296
  rules: [{ id: JS_C, list: l, relation: control, threshold_pct: .nan }]
"#;
    let p = problems(text);
    for expected in [
        "p.yaml: score: 'base' must be a finite number, found .inf",
        "p.yaml: V_NAN: 'points' must be a finite number, found .nan",
        "p.yaml: V_CAP: 'cap' must be a finite number, found .inf",
        "p.yaml: V_HALF: 'half_life_days' must be a finite number, found .nan",
        "p.yaml: V_LONG: window_days must be an integer from 1 to 36500, found 9223372036854775807",
        "p.yaml: V_LIFE: half_life_days must be > 0 and at most 36500, found 40000",
        "p.yaml: grades[0]: 'min' must be a finite number, found -.inf",
        "p.yaml: JS_C: 'threshold_pct' must be a finite number, found .nan",
        "p.yaml: V_HUGE: 'points' must be a number, found a string ('1e400')",
        "p.yaml: joint_sanctions: max_rounds must be an integer from 0 to 4294967295, found 4294967296",
    ] {
        assert!(p.iter().any(|x| x.starts_with(expected)), "missing {expected} in {p:#?}");
    }
}

/// Regression: a 1000-term OR and deep nesting overflowed the stack
/// (SIGABRT) in `policy check`, and a 700-term one aborted the run.
/// policy.md "Fields": at most 1,000 terms and 64 levels, refused with the
/// rule id, never a crash; a long chain is a balanced tree for the engine.
#[test]
fn huge_and_deeply_nested_predicates_are_refused_never_a_crash() {
    let rule = |predicate: &str| {
        format!(
            "{MINIMAL}score:\n  base: 100\n  floor: 0\n  rules:\n    - {{ id: V_BIG, dataset: violations, where: \"{predicate}\", points: 1, window_days: 10 }}\n"
        )
        .replacen("score: { base: 100, floor: 0 }\n", "", 1)
    };
    let or = |n: usize| (0..n).map(|i| format!("case_id = 'C{i}'")).collect::<Vec<_>>().join(" OR ");
    // 500 comparisons are 1,000 terms: accepted, and planned by DataFusion on a small stack.
    let accepted = parse(&rule(&or(500))).unwrap();
    let expr = accepted.rules[0].predicate.to_expr();
    let planned = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || format!("{expr}").len())
        .unwrap()
        .join()
        .unwrap();
    assert!(planned > 10_000);
    let p = problems(&rule(&or(501)));
    assert!(p.iter().any(|x| x.contains("V_BIG: where: the predicate has 1002 terms, at most 1000")), "{p:#?}");
    let deep = format!("{}severity = 'grave'{}", "(".repeat(65), ")".repeat(65));
    let p = problems(&rule(&deep));
    assert!(p.iter().any(|x| x.contains("V_BIG: where: the predicate is nested more than 64 levels deep")), "{p:#?}");
    let nots = format!("{}severity = 'grave'", "NOT ".repeat(10_000));
    let p = problems(&rule(&nots));
    assert!(p.iter().any(|x| x.contains("nested more than 64 levels")), "{p:#?}");
    let huge = format!("{}severity = 'grave'{}", "(".repeat(200_000), ")".repeat(200_000));
    let p = problems(&rule(&huge));
    assert!(p.iter().any(|x| x.contains("bytes, at most 65536")), "{p:#?}");
    let arithmetic = (0..80).map(|_| "fine_cny").collect::<Vec<_>>().join(" + ") + " > 1";
    let p = problems(&rule(&arithmetic));
    assert!(p.iter().any(|x| x.contains("levels deep, at most 64")), "{p:#?}");
}

/// policy.md "Fields", a list's due process (publication.md v2):
/// `notice_days` an integer >= 0 (default 0), `approval` single or
/// two_officers (default single), `max_exemption_days` an integer > 0
/// (default 365), `review` none or additions (default additions).
#[test]
fn a_lists_due_process_fields_have_their_defaults_and_ranges() {
    let with =
        |fields: &str| format!("{MINIMAL}lists:\n  - {{ id: l, title: L, grades: [A], measures: [m]{fields} }}\n");
    let p = parse(&with("")).unwrap();
    let l = &p.lists[0];
    assert_eq!(
        (l.notice_days, l.approval, l.max_exemption_days, l.review),
        (0, Approval::Single, 365, Review::Additions)
    );
    assert_eq!(l.legal_basis, None);
    let p = parse(&with(
        ", notice_days: 0, approval: two_officers, max_exemption_days: 1, review: none, legal_basis: \"Order 44\"",
    ))
    .unwrap();
    let l = &p.lists[0];
    assert_eq!(
        (l.notice_days, l.approval, l.max_exemption_days, l.review),
        (0, Approval::TwoOfficers, 1, Review::None)
    );
    assert_eq!(l.legal_basis.as_deref(), Some("Order 44"));
    let p = parse(&with(", notice_days: 36500, max_exemption_days: 36500")).unwrap();
    assert_eq!((p.lists[0].notice_days, p.lists[0].max_exemption_days), (36500, 36500));
    for (fields, expected) in [
        (", notice_days: -1", "p.yaml: l: notice_days must be an integer from 0 to 36500, found -1"),
        (", notice_days: 36501", "p.yaml: l: notice_days must be an integer from 0 to 36500, found 36501"),
        (", notice_days: 2.5", "p.yaml: l: 'notice_days' must be an integer, found a number (2.5)"),
        (", max_exemption_days: 0", "p.yaml: l: max_exemption_days must be an integer from 1 to 36500, found 0"),
        (", approval: two", "p.yaml: l: approval must be single or two_officers, found 'two'"),
        (", review: all", "p.yaml: l: review must be none or additions, found 'all'"),
    ] {
        assert_eq!(problems(&with(fields)), [expected], "{fields}");
    }
}

/// The edges of policy.md's number fields, each side: a window from 1 to
/// 36,500 days, a base above 0, bands strictly descending, the last band
/// at the floor, a half-life up to 36,500 days, notice days from 0 and
/// exemption days from 1 (mutants that moved the window's, the base's and
/// the bands' edges survived every test).
#[test]
fn number_fields_are_checked_at_their_edges() {
    let rule = |id: &str, window: i64, decay: &str| {
        format!("    - {{ id: {id}, dataset: violations, where: \"severity = 'grave'\", points: 1, window_days: {window}{decay} }}\n")
    };
    let policy = |base: &str, bands: &str, rules: &[String], list: &str| {
        format!(
            "id: edges\nversion: \"1\"\ntitle: Edges\nscore:\n  base: {base}\n  floor: 0\n  rules:\n{}grades: {bands}\nlists:\n  - {{ id: l, title: L, grades: [B], measures: [m]{list} }}\n",
            rules.concat()
        )
    };
    let inside = policy(
        "0.01",
        "[{ grade: A, min: 0.01 }, { grade: B, min: 0 }]",
        &[rule("V_ONE", 1, ""), rule("V_MAX", 36_500, ", decay: { half_life_days: 36500 }")],
        ", notice_days: 0, max_exemption_days: 1",
    );
    parse(&inside).unwrap();
    let outside = policy(
        "0",
        "[{ grade: A, min: 0 }, { grade: B, min: 0 }, { grade: C, min: 0 }]",
        &[rule("V_ZERO", 0, ""), rule("V_OVER", 36_501, ", decay: { half_life_days: 36500.01 }")],
        ", notice_days: -1, max_exemption_days: 0",
    );
    let p = problems(&outside);
    for expected in [
        "p.yaml: score: base must be > 0, found 0",
        "p.yaml: V_ZERO: window_days must be an integer from 1 to 36500, found 0",
        "p.yaml: V_OVER: window_days must be an integer from 1 to 36500, found 36501",
        "p.yaml: V_OVER: half_life_days must be > 0 and at most 36500, found 36500.01",
        "p.yaml: grades[1]: bands out of order: min 0 is not below the previous band's 0",
        "p.yaml: l: notice_days must be an integer from 0 to 36500, found -1",
        "p.yaml: l: max_exemption_days must be an integer from 1 to 36500, found 0",
    ] {
        assert!(p.iter().any(|x| x.starts_with(expected)), "missing {expected} in {p:#?}");
    }
    let no_floor_band = policy("100", "[{ grade: A, min: 50 }, { grade: B, min: 10 }]", &[], "");
    let p = problems(&no_floor_band);
    assert!(p.iter().any(|x| x.contains("the last band's min must equal score.floor (0), found 10")), "{p:#?}");
}

/// A grade name names one band (a mutant that let a name appear twice
/// survived every test).
#[test]
fn a_grade_name_appears_once() {
    let text =
        MINIMAL.replace("grades: [{ grade: A, min: 0 }]", "grades: [{ grade: A, min: 50 }, { grade: A, min: 0 }]");
    let p = problems(&text);
    assert!(p.iter().any(|x| x.starts_with("p.yaml: grades[1]: grade 'A' appears twice")), "{p:#?}");
}
