//! Property tests that feed the predicate parser and the policy loader
//! hostile input (random token soups, arbitrary text, mutated policies):
//! whatever comes in, the answer is a policy or a list of problems, never
//! a panic or a stack overflow. CI runs them with a fixed number of cases
//! (`PROPTEST_CASES` raises it for a longer hunt).

use proptest::prelude::*;
use serde_yaml::Value;

use super::predicate::Predicate;
use super::{Policy, DEFAULT_POLICY};
use crate::base::contract::{Contracts, Dataset};

/// Pieces of the dialect and of what is outside it.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("severity".to_string()),
        Just("fine_cny".to_string()),
        Just("decided_on".to_string()),
        Just("status".to_string()),
        Just("nosuchcolumn".to_string()),
        Just("AND".to_string()),
        Just("OR".to_string()),
        Just("NOT".to_string()),
        Just("IN".to_string()),
        Just("BETWEEN".to_string()),
        Just("IS".to_string()),
        Just("NULL".to_string()),
        Just("LIKE".to_string()),
        Just("TRUE".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just(",".to_string()),
        Just("=".to_string()),
        Just("<>".to_string()),
        Just("<=".to_string()),
        Just("+".to_string()),
        Just("-".to_string()),
        Just("*".to_string()),
        Just("/".to_string()),
        Just("%".to_string()),
        Just("||".to_string()),
        Just("'grave'".to_string()),
        Just("'2026-11-27'".to_string()),
        Just("'it''s".to_string()),
        Just("1e308".to_string()),
        Just("99999999999999999999999999999999999999".to_string()),
        Just("0.5".to_string()),
        Just("count(".to_string()),
        "[a-z_]{1,8}",
        "[0-9]{1,25}(\\.[0-9]{0,5})?",
    ]
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_parser_answers_every_token_soup(tokens in prop::collection::vec(token(), 0..120)) {
        let contracts = Contracts::load().unwrap();
        let text = tokens.join(" ");
        if let Ok(p) = Predicate::compile(&text, contracts.get(Dataset::Violations)) {
            let _ = format!("{}", p.to_expr());
        }
    }

    #[test]
    fn the_parser_answers_arbitrary_text(text in "\\PC{0,300}") {
        let contracts = Contracts::load().unwrap();
        let _ = Predicate::compile(&text, contracts.get(Dataset::Complaints));
    }

    #[test]
    fn the_parser_answers_deep_nesting(depth in 0usize..5000, open in any::<bool>()) {
        let contracts = Contracts::load().unwrap();
        let text = if open {
            format!("{}severity = 'grave'{}", "(".repeat(depth), ")".repeat(depth))
        } else {
            format!("{}severity = 'grave'", "NOT ".repeat(depth))
        };
        let _ = Predicate::compile(&text, contracts.get(Dataset::Violations));
    }

    #[test]
    fn the_loader_answers_every_mutated_policy(path in prop::collection::vec(0usize..8, 1..5), replacement in scalar()) {
        let mut root: Value = serde_yaml::from_str(DEFAULT_POLICY).unwrap();
        mutate(&mut root, &path, replacement);
        let text = serde_yaml::to_string(&root).unwrap();
        let _ = Policy::parse("fuzz.yaml", &text, &Contracts::load().unwrap());
    }
}

/// A YAML value a careless or hostile author might put anywhere.
fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY), any::<f64>()]
            .prop_map(|f| Value::Number(f.into())),
        "\\PC{0,40}".prop_map(Value::String),
        Just(Value::Sequence(vec![])),
        Just(Value::Mapping(Default::default())),
    ]
}

/// Replaces the value reached by following `path` (indexes into mappings
/// and sequences, wrapping around) with `replacement`.
fn mutate(v: &mut Value, path: &[usize], replacement: Value) {
    let Some((first, rest)) = path.split_first() else {
        *v = replacement;
        return;
    };
    match v {
        Value::Mapping(m) if !m.is_empty() => {
            let i = first % m.len();
            let key = m.keys().nth(i).cloned().expect("index in range");
            if let Some(child) = m.get_mut(&key) {
                mutate(child, rest, replacement);
            }
        }
        Value::Sequence(s) if !s.is_empty() => {
            let i = first % s.len();
            mutate(&mut s[i], rest, replacement);
        }
        _ => *v = replacement,
    }
}
