//! The predicate dialect: what it refuses, and what it means when run by
//! DataFusion on a few hand-made rows.

use std::sync::Arc;

use arrow::array::{Array, AsArray};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use super::*;
use crate::base::contract::{Contract, Dataset};
use crate::tools::fixture;

fn violations() -> Contract {
    Contract::load(Dataset::Violations).unwrap()
}

fn error(text: &str) -> String {
    Predicate::compile(text, &violations()).unwrap_err().0
}

#[test]
fn the_example_policy_predicates_compile() {
    for text in [
        "severity = 'grave' AND status = 'effective'",
        "severity IN ('general', 'minor') AND status = 'effective'",
        "category IN ('price_fraud', 'counterfeit') AND severity IN ('serious', 'grave') AND status = 'effective'",
    ] {
        Predicate::compile(text, &violations()).unwrap_or_else(|e| panic!("{text}: {e}"));
    }
    let c = Contract::load(Dataset::Complaints).unwrap();
    let p = Predicate::compile("verified AND outcome = 'unresolved'", &c).unwrap();
    assert_eq!(p.columns().into_iter().collect::<Vec<_>>(), ["outcome", "verified"]);
}

#[test]
fn refusals_name_the_problem() {
    let c = Contract::load(Dataset::Complaints).unwrap();
    assert_eq!(
        Predicate::compile("outcome = 1", &c).unwrap_err().0,
        "cannot compare a string with a decimal number in '='"
    );
    assert!(error("severty = 'grave'").starts_with("column severty does not exist in violations"));
    assert_eq!(error("fine_cny = 1 = 1"), "comparisons do not chain (position 14); use AND or parentheses");
    assert_eq!(error("lower(severity) = 'grave'"), "function calls are not part of the dialect (lower at position 1)");
    assert!(error("severity || 'x' = 'y'").starts_with("'||' is not part of the dialect"));
    assert!(error("\"severity\" = 'grave'").starts_with("quoted identifiers are not part of the dialect"));
    assert_eq!(error("fine_cny + 1"), "the expression is a decimal number, not boolean");
    assert_eq!(error("(severity = 'grave'"), "expected ')', found the end of the expression");
    assert_eq!(error("severity = 'grave')"), "unexpected ')' at position 19");
    assert_eq!(error("fine_cny = NULL"), "NULL is allowed only in IS [NOT] NULL (position 12)");
    assert_eq!(error("decided_on > '2026-02-30'"), "'2026-02-30' is not a valid date YYYY-MM-DD");
    assert!(error("-fine_cny > 1").starts_with("expected a number after unary minus"));
    assert_eq!(error("severity AND status = 'x'"), "AND needs boolean operands, found a string");
    assert_eq!(error("severity LIKE 1"), "LIKE needs string operands, found a decimal number");
    assert_eq!(error("decided_on + 1 > '2026-01-01'"), "'+' needs numbers, found a date");
    assert!(error("severity = 'grave").starts_with("unterminated string"));
    assert!(error("severity = 'grave'; DROP").starts_with("unexpected character ';'"));
    assert_eq!(error("fine_cny BETWEEN 1 OR 2"), "expected AND in BETWEEN at position 20, found OR");
}

/// Runs `predicate` over violations given as JSON lines and returns the
/// case ids it keeps, sorted.
fn keeps(predicate: &str, rows: &[&str]) -> Vec<String> {
    let contract = violations();
    let p = Predicate::compile(predicate, &contract).unwrap_or_else(|e| panic!("{predicate}: {e}"));
    let batch = fixture::batch(contract.arrow_schema(), rows);
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let ctx = SessionContext::new();
        let table = MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap();
        ctx.register_table("violations", Arc::new(table)).unwrap();
        let df = ctx.table("violations").await.unwrap().filter(p.to_expr()).unwrap();
        let mut out: Vec<String> = df
            .collect()
            .await
            .unwrap()
            .iter()
            .flat_map(|b| {
                let c = b.column(0).as_string::<i32>();
                (0..c.len()).map(|i| c.value(i).to_string()).collect::<Vec<_>>()
            })
            .collect();
        out.sort();
        out
    })
}

fn row(case: &str, fine: Option<&str>, category: &str, decided: &str) -> String {
    let fine = fine.map(|f| format!(r#","fine_cny":"{f}""#)).unwrap_or_default();
    format!(
        r#"{{"case_id":"{case}","entity_id":"E","decided_on":"{decided}","category":"{category}","severity":"grave","status":"effective","authority":"350100"{fine}}}"#
    )
}

#[test]
fn money_arithmetic_is_exact_and_division_is_float() {
    let rows = [
        row("a", Some("0.10"), "other", "2026-01-01"),
        row("b", Some("0.00"), "other", "2026-01-01"),
        row("c", None, "other", "2026-01-01"),
    ];
    let rows: Vec<&str> = rows.iter().map(|s| s.as_str()).collect();
    assert_eq!(keeps("fine_cny * 3 = 0.30", &rows), ["a"], "0.1 * 3 is exactly 0.30 in decimal");
    assert_eq!(keeps("fine_cny + 0.2 = 0.3", &rows), ["a"]);
    assert_eq!(keeps("fine_cny / 3 > 0.0333", &rows), ["a"]);
    assert_eq!(keeps("1 / fine_cny > 1", &rows), ["a"], "division by zero is NULL, not infinity");
    assert!(keeps("NOT (1 / fine_cny > 1)", &rows).is_empty(), "NULL stays NULL under NOT");
    assert_eq!(keeps("3 % fine_cny IS NULL", &rows), ["b", "c"], "remainder by zero is NULL");
    assert_eq!(keeps("3 % fine_cny = 0", &rows), ["a"]);
    assert_eq!(keeps("fine_cny >= 1e-1", &rows), ["a"]);
    assert_eq!(keeps("fine_cny > -1", &rows), ["a", "b"]);
    assert_eq!(keeps("fine_cny - 1 * 2 < 0", &rows), ["a", "b"], "* binds tighter than -");
}

#[test]
fn null_handling() {
    let rows = [row("a", Some("1.00"), "other", "2026-01-01"), row("c", None, "other", "2026-01-01")];
    let rows: Vec<&str> = rows.iter().map(|s| s.as_str()).collect();
    assert_eq!(keeps("fine_cny IS NULL", &rows), ["c"]);
    assert_eq!(keeps("fine_cny is not null", &rows), ["a"]);
    assert!(keeps("fine_cny NOT IN (2)", &rows) == ["a"], "NULL NOT IN (...) is not satisfied");
    assert_eq!(keeps("NOT fine_cny BETWEEN 2 AND 3", &rows), ["a"]);
}

#[test]
fn keywords_precedence_and_between() {
    let rows = [
        row("a", Some("1.00"), "other", "2026-01-01"),
        row("b", Some("3.00"), "counterfeit", "2026-02-01"),
        row("c", Some("5.00"), "other", "2026-03-01"),
    ];
    let rows: Vec<&str> = rows.iter().map(|s| s.as_str()).collect();
    assert_eq!(keeps("fine_cny between 1 and 3", &rows), ["a", "b"], "BETWEEN is inclusive");
    assert_eq!(keeps("fine_cny NOT BETWEEN 1 AND 3", &rows), ["c"]);
    assert_eq!(
        keeps("category = 'other' OR category = 'counterfeit' AND fine_cny > 4", &rows),
        ["a", "c"],
        "AND binds tighter than OR"
    );
    assert_eq!(keeps("NOT category = 'other' AND fine_cny > 0", &rows), ["b"], "NOT binds tighter than AND");
    assert_eq!(keeps("decided_on >= '2026-02-01'", &rows), ["b", "c"]);
    assert_eq!(keeps("decided_on IN ('2026-01-01', '2026-03-01')", &rows), ["a", "c"]);
    assert_eq!(keeps("decided_on BETWEEN '2026-01-15' AND '2026-02-15'", &rows), ["b"]);
    assert_eq!(keeps("category NOT IN ('other')", &rows), ["b"]);
}

#[test]
fn strings_compare_by_bytes_and_like_has_no_escape() {
    let rows = [
        row("a", None, "Zebra", "2026-01-01"),
        row("b", None, "apple", "2026-01-01"),
        row("c", None, "a\\\\b", "2026-01-01"),
        row("d", None, "a_b", "2026-01-01"),
        row("e", None, "中b", "2026-01-01"),
        row("f", None, "it's", "2026-01-01"),
    ];
    let rows: Vec<&str> = rows.iter().map(|s| s.as_str()).collect();
    assert_eq!(keeps("category < 'a'", &rows), ["a"], "'Z' sorts before 'a' by bytes");
    assert_eq!(keeps("category LIKE 'a%'", &rows), ["b", "c", "d"]);
    assert_eq!(keeps("category LIKE 'A%'", &rows), Vec::<String>::new(), "LIKE is case-sensitive");
    assert_eq!(keeps("category LIKE '_b'", &rows), ["e"], "_ matches one character, not one byte");
    assert_eq!(keeps("category LIKE 'a\\b'", &rows), ["c"], "a backslash is an ordinary character");
    assert_eq!(keeps("category LIKE 'a\\%'", &rows), ["c"], "'a\\%' is a, a backslash, then anything");
    assert_eq!(keeps("category = 'it''s'", &rows), ["f"]);
    assert_eq!(keeps("category NOT LIKE '%b%'", &rows), ["b", "f"]);
}

/// policy.md "Precedence": each comparison operator, `<>` and `!=` the
/// same; a NOT of a NOT; keywords in any case.
#[test]
fn every_comparison_operator_means_what_sql_says() {
    let rows = [
        row("a", Some("1.00"), "other", "2026-01-01"),
        row("b", Some("2.00"), "other", "2026-01-01"),
        row("c", Some("3.00"), "other", "2026-01-01"),
    ];
    let rows: Vec<&str> = rows.iter().map(|s| s.as_str()).collect();
    for (op, kept) in [
        ("=", &["b"][..]),
        ("<>", &["a", "c"][..]),
        ("!=", &["a", "c"][..]),
        ("<", &["a"][..]),
        ("<=", &["a", "b"][..]),
        (">", &["c"][..]),
        (">=", &["b", "c"][..]),
    ] {
        assert_eq!(keeps(&format!("fine_cny {op} 2"), &rows), kept, "{op}");
    }
    assert_eq!(keeps("NOT NOT fine_cny = 2", &rows), ["b"]);
    assert_eq!(keeps("not (fine_cny = 2) Or fine_cny iN (2)", &rows), ["a", "b", "c"]);
}
