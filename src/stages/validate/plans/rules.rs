//! The row rules of datasets.md as SQL: for each rule of a contract, the
//! condition under which a landing row breaks it and the message it then
//! gets, in the order a row is judged (as the native checks,
//! `rows::check_batch`). The plans ([`super`]) make one `CASE` of them.

use crate::base::contract::{Check, Column, ColumnType, Contract, FaultCode};
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
    for code in ROW_CODES {
        for c in &contract.columns {
            let column = RuledColumn::new(contract, c);
            let mut rule = |when: String, message: String| rules.push(RowRule { code, when, message });
            match code {
                FaultCode::MissingRequired => column.missing_required(&mut rule),
                FaultCode::BadEntityId => column.bad_id(true, &mut rule),
                FaultCode::BadPersonId => column.bad_id(false, &mut rule),
                FaultCode::BadEnum => column.bad_enum(&mut rule),
                FaultCode::BadRange => column.bad_range(&mut rule),
                FaultCode::FutureDate => column.future_date(&mut rule),
                _ => unreachable!("not a row code"),
            }
        }
    }
    rules
}

/// A column's rules as SQL: its name, quoted, and the condition on
/// another column (`required_when`) under which it is required.
struct RuledColumn<'c> {
    c: &'c Column,
    /// The column, quoted.
    v: String,
    /// The other column, the condition that it holds the value, the value.
    condition: Option<(&'c str, String, &'c str)>,
}

impl<'c> RuledColumn<'c> {
    fn new(contract: &'c Contract, c: &'c Column) -> RuledColumn<'c> {
        let condition = c.required_when.as_ref().map(|w| {
            let other = contract.columns[w.column].name.as_str();
            (other, format!("{} = {}", col(other), text(&w.equals)), w.equals.as_str())
        });
        RuledColumn { c, v: col(&c.name), condition }
    }

    /// A message's first piece: the column, and what was expected.
    fn lead(&self, what: &str) -> String {
        text(&format!("column {}: {what}", self.c.name))
    }

    /// `missing_required`: null, empty or white space, or null when the
    /// other column holds the value that requires it.
    fn missing_required(&self, rule: &mut impl FnMut(String, String)) {
        let (c, v) = (self.c, &self.v);
        if c.required {
            rule(format!("{v} IS NULL"), self.lead("required, found null"));
        }
        if c.non_empty {
            let found = format!("CASE WHEN {v} = '' THEN '''''' ELSE concat(quoted({v}), ' (white space only)') END");
            rule(
                format!("{v} IS NOT NULL AND is_blank({v})"),
                concat(&[&self.lead("required non-empty, found "), &found]),
            );
        }
        if let Some((other, holds, equals)) = &self.condition {
            rule(
                format!("{v} IS NULL AND {holds}"),
                self.lead(&format!("required when {other} = '{equals}', found null")),
            );
        }
    }

    /// `bad_entity_id` (`entity`) or `bad_person_id`: a column checked as
    /// such an id, or a holder of that kind, that is not one.
    fn bad_id(&self, entity: bool, rule: &mut impl FnMut(String, String)) {
        let v = &self.v;
        let of_kind = match (self.c.check, entity) {
            (Some(Check::EntityId), true) | (Some(Check::PersonId), false) => String::new(),
            (Some(Check::HolderId), _) => {
                format!(" AND \"holder_kind\" = {}", text(if entity { "entity" } else { "person" }))
            }
            _ => return,
        };
        if entity {
            let message = concat(&[
                &self.lead("expected a valid entity id"),
                &format!("entity_id_hint({v})"),
                "', found '",
                &format!("quoted({v})"),
            ]);
            rule(format!("{v} IS NOT NULL{of_kind} AND NOT is_entity_id({v})"), message);
        } else {
            let message = concat(&[
                &self.lead("expected a person id (P and 16 lowercase hex digits), found "),
                &format!("quoted({v})"),
            ]);
            rule(format!("{v} IS NOT NULL{of_kind} AND NOT is_person_id({v})"), message);
        }
    }

    /// `bad_enum`: a value outside the column's `one_of`.
    fn bad_enum(&self, rule: &mut impl FnMut(String, String)) {
        let v = &self.v;
        if let Some(values) = &self.c.one_of {
            let list: Vec<String> = values.iter().map(|x| text(x)).collect();
            let message = concat(&[
                &self.lead(&format!("expected one of {}; found ", values.join(", "))),
                &format!("quoted({v})"),
            ]);
            rule(format!("{v} IS NOT NULL AND {v} NOT IN ({})", list.join(", ")), message);
        }
    }

    /// `bad_range`: by the column's type (unsafe text, too large an
    /// amount, a date out of the calendar), then by its check (six
    /// digits, non-negative, a share), then a value where the other
    /// column says there must be none.
    fn bad_range(&self, rule: &mut impl FnMut(String, String)) {
        let (c, v) = (self.c, &self.v);
        let set = format!("{v} IS NOT NULL AND ");
        match c.ty {
            ColumnType::Utf8 => rule(
                format!("{set}unsafe_char_found({v}) IS NOT NULL"),
                concat(&[
                    &self.lead("expected text without control characters or bidirectional overrides, found "),
                    &format!("unsafe_char_found({v})"),
                ]),
            ),
            ColumnType::Decimal18_2 => rule(
                format!("{set}money_too_large({v})"),
                concat(&[&self.lead("expected an amount below 10^16 yuan, found "), &format!("money_text({v})")]),
            ),
            ColumnType::Date => rule(
                format!("{set}NOT is_calendar_date({v})"),
                concat(&[
                    &self.lead(&format!("expected a date from {FIRST_DATE} to {LAST_DATE}, found ")),
                    &format!("date_text({v})"),
                ]),
            ),
            _ => {}
        }
        match (c.check, c.ty) {
            (Some(Check::SixDigits), _) => rule(
                format!("{set}NOT is_six_digits({v})"),
                concat(&[&self.lead("expected six digits, found "), &format!("quoted({v})")]),
            ),
            (Some(Check::NonNegative), ColumnType::Decimal18_2) => rule(
                format!("{set}{v} < 0"),
                concat(&[&self.lead("expected >= 0, found "), &format!("money_text({v})")]),
            ),
            // NaN is outside the range.
            (Some(Check::SharePct), ColumnType::Float64) => rule(
                format!("{set}NOT ({v} > 0 AND {v} <= 100 AND NOT isnan({v}))"),
                concat(&[&self.lead(&format!("expected 0 < {} <= 100, found ", c.name)), &format!("float_text({v})")]),
            ),
            _ => {}
        }
        if c.null_otherwise {
            let (other, holds, equals) = self.condition.as_ref().expect("null_otherwise needs required_when");
            let message = concat(&[
                &self.lead(&format!("expected null unless {other} = '{equals}', found ")),
                &format!("quoted({v})"),
            ]);
            rule(format!("{set}NOT coalesce({holds}, false)"), message);
        }
    }

    /// `future_date`: a date after the partition's ingest date.
    fn future_date(&self, rule: &mut impl FnMut(String, String)) {
        let v = &self.v;
        if self.c.check == Some(Check::NotAfterIngestDate) {
            let message = concat(&[
                &self.lead("expected a date not after the partition's ingest_date "),
                "CAST(_ingest_date AS VARCHAR)",
                "', found '",
                &format!("date_text({v})"),
            ]);
            rule(format!("{v} IS NOT NULL AND {v} > _ingest_date"), message);
        }
    }
}
