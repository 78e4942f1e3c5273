//! The row rules of datasets.md as SQL: for each rule of a contract, the
//! condition under which a landing row breaks it and the message it then
//! gets, in the order a row is judged (as the native checks,
//! `rows::check_batch`). The plans ([`super`]) make one `CASE` of them.

use crate::base::contract::{Check, ColumnType, Contract, FaultCode};
use crate::base::row_checks::{FIRST_DATE, LAST_DATE};
use crate::stages::validate::rows::ROW_CODES;

/// A row rule: the code it gives, when a row breaks it, and the message.
pub(super) struct RowRule {
    pub(super) code: FaultCode,
    pub(super) when: String,
    pub(super) message: String,
}

/// A column name in SQL.
pub(super) fn col(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The key's columns of `contract`, quoted, in key order.
pub(super) fn key_columns(contract: &Contract) -> Vec<String> {
    contract.key.iter().map(|k| col(&contract.columns[*k].name)).collect()
}

/// A text literal in SQL.
pub(super) fn text(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// The SQL of a message: literal pieces and SQL expressions, concatenated.
pub(super) fn concat(pieces: &[&str]) -> String {
    format!("concat({})", pieces.join(", "))
}

/// The row rules of `contract` in the order a row is judged: by code in
/// the spec's order, then by column in contract order, then in the order
/// of the column's rules (as `rows::check_batch`).
pub(super) fn row_rules(contract: &Contract) -> Vec<RowRule> {
    let mut rules = Vec::new();
    let mut rule = |code, when: String, message: String| rules.push(RowRule { code, when, message });
    for code in ROW_CODES {
        for c in &contract.columns {
            let (name, v) = (&c.name, col(&c.name));
            let lead = |what: &str| text(&format!("column {name}: {what}"));
            let condition = c.required_when.as_ref().map(|w| {
                let other = &contract.columns[w.column].name;
                (other, format!("{} = {}", col(other), text(&w.equals)), &w.equals)
            });
            match code {
                FaultCode::MissingRequired => {
                    if c.required {
                        rule(code, format!("{v} IS NULL"), lead("required, found null"));
                    }
                    if c.non_empty {
                        let found = format!(
                            "CASE WHEN {v} = '' THEN '''''' ELSE concat(quoted({v}), ' (white space only)') END"
                        );
                        rule(
                            code,
                            format!("{v} IS NOT NULL AND is_blank({v})"),
                            concat(&[&lead("required non-empty, found "), &found]),
                        );
                    }
                    if let Some((other, holds, equals)) = &condition {
                        rule(
                            code,
                            format!("{v} IS NULL AND {holds}"),
                            lead(&format!("required when {other} = '{equals}', found null")),
                        );
                    }
                }
                FaultCode::BadEntityId | FaultCode::BadPersonId => {
                    let entity = code == FaultCode::BadEntityId;
                    let of_kind = match (c.check, entity) {
                        (Some(Check::EntityId), true) | (Some(Check::PersonId), false) => String::new(),
                        (Some(Check::HolderId), _) => {
                            format!(" AND \"holder_kind\" = {}", text(if entity { "entity" } else { "person" }))
                        }
                        _ => continue,
                    };
                    if entity {
                        let message = concat(&[
                            &lead("expected a valid entity id"),
                            &format!("entity_id_hint({v})"),
                            "', found '",
                            &format!("quoted({v})"),
                        ]);
                        rule(code, format!("{v} IS NOT NULL{of_kind} AND NOT is_entity_id({v})"), message);
                    } else {
                        let message = concat(&[
                            &lead("expected a person id (P and 16 lowercase hex digits), found "),
                            &format!("quoted({v})"),
                        ]);
                        rule(code, format!("{v} IS NOT NULL{of_kind} AND NOT is_person_id({v})"), message);
                    }
                }
                FaultCode::BadEnum => {
                    if let Some(values) = &c.one_of {
                        let list: Vec<String> = values.iter().map(|x| text(x)).collect();
                        let message = concat(&[
                            &lead(&format!("expected one of {}; found ", values.join(", "))),
                            &format!("quoted({v})"),
                        ]);
                        rule(code, format!("{v} IS NOT NULL AND {v} NOT IN ({})", list.join(", ")), message);
                    }
                }
                FaultCode::BadRange => {
                    let set = format!("{v} IS NOT NULL AND ");
                    match c.ty {
                        ColumnType::Utf8 => rule(
                            code,
                            format!("{set}unsafe_char_found({v}) IS NOT NULL"),
                            concat(&[
                                &lead("expected text without control characters or bidirectional overrides, found "),
                                &format!("unsafe_char_found({v})"),
                            ]),
                        ),
                        ColumnType::Decimal18_2 => rule(
                            code,
                            format!("{set}money_too_large({v})"),
                            concat(&[
                                &lead("expected an amount below 10^16 yuan, found "),
                                &format!("money_text({v})"),
                            ]),
                        ),
                        ColumnType::Date => rule(
                            code,
                            format!("{set}NOT is_calendar_date({v})"),
                            concat(&[
                                &lead(&format!("expected a date from {FIRST_DATE} to {LAST_DATE}, found ")),
                                &format!("date_text({v})"),
                            ]),
                        ),
                        _ => {}
                    }
                    match (c.check, c.ty) {
                        (Some(Check::SixDigits), _) => rule(
                            code,
                            format!("{set}NOT is_six_digits({v})"),
                            concat(&[&lead("expected six digits, found "), &format!("quoted({v})")]),
                        ),
                        (Some(Check::NonNegative), ColumnType::Decimal18_2) => rule(
                            code,
                            format!("{set}{v} < 0"),
                            concat(&[&lead("expected >= 0, found "), &format!("money_text({v})")]),
                        ),
                        // NaN is outside the range.
                        (Some(Check::SharePct), ColumnType::Float64) => rule(
                            code,
                            format!("{set}NOT ({v} > 0 AND {v} <= 100 AND NOT isnan({v}))"),
                            concat(&[
                                &lead(&format!("expected 0 < {name} <= 100, found ")),
                                &format!("float_text({v})"),
                            ]),
                        ),
                        _ => {}
                    }
                    if c.null_otherwise {
                        let (other, holds, equals) = condition.as_ref().expect("null_otherwise needs required_when");
                        let message = concat(&[
                            &lead(&format!("expected null unless {other} = '{equals}', found ")),
                            &format!("quoted({v})"),
                        ]);
                        rule(code, format!("{set}NOT coalesce({holds}, false)"), message);
                    }
                }
                FaultCode::FutureDate => {
                    if c.check == Some(Check::NotAfterIngestDate) {
                        let message = concat(&[
                            &lead("expected a date not after the partition's ingest_date "),
                            "CAST(_ingest_date AS VARCHAR)",
                            "', found '",
                            &format!("date_text({v})"),
                        ]);
                        rule(code, format!("{v} IS NOT NULL AND {v} > _ingest_date"), message);
                    }
                }
                _ => unreachable!("not a row code"),
            }
        }
    }
    rules
}
