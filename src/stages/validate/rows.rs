//! Row rules that look at one row alone (datasets.md, "Bad input"): the
//! codes `missing_required` to `future_date`. A row gets the first code in
//! the spec's order, checking columns in contract order within a code.

use crate::base::contract::{Check, Column, ColumnType, Contract, FaultCode};
use crate::base::ids::{is_entity_id, is_person_id, is_six_digits, AsOf};
use crate::base::printable::rows_to_check;
use crate::base::row_checks::{
    blank, date_in_range, entity_hint, money, money_too_large, quote, show_date, unsafe_char_found, FIRST_DATE,
    LAST_DATE,
};
use arrow::array::{Array, ArrayRef, AsArray, Int32Array, Int8Array, RecordBatch, StringArray};
use arrow::datatypes::{Date32Type, Decimal128Type, Float64Type, Int32Type};

/// The first rule a row breaks: its code and a message naming the column,
/// the rule, the expected and the found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct RowFault {
    pub code: FaultCode,
    pub message: String,
}

/// The codes decided by looking at one row, in priority order.
pub(super) const ROW_CODES: [FaultCode; 6] = [
    FaultCode::MissingRequired,
    FaultCode::BadEntityId,
    FaultCode::BadPersonId,
    FaultCode::BadEnum,
    FaultCode::BadRange,
    FaultCode::FutureDate,
];

/// Checks every row of `batch` (in the contract's column layout) and returns
/// the first fault of each row that breaks a rule, as (row, fault).
pub(super) fn check_batch(contract: &Contract, batch: &RecordBatch, ingest_date: AsOf) -> Vec<(usize, RowFault)> {
    let n = batch.num_rows();
    let mut decided = vec![false; n];
    let mut out = Vec::new();
    for code in ROW_CODES {
        for (ci, column) in contract.columns.iter().enumerate() {
            let rule = ColumnRule { contract, column, ci, batch, ingest_date };
            let mut failed = Vec::new();
            rule.check(code, &mut |row, message| failed.push((row, message)), &decided);
            for (row, message) in failed {
                if !decided[row] {
                    decided[row] = true;
                    out.push((row, RowFault { code, message }));
                }
            }
        }
    }
    out.sort_by_key(|(row, _)| *row);
    out
}

struct ColumnRule<'a> {
    contract: &'a Contract,
    column: &'a Column,
    ci: usize,
    batch: &'a RecordBatch,
    ingest_date: AsOf,
}

/// A text column as the landing reader hands it on: each row's text, or
/// (an enumerated column) keys into the values the file holds.
#[derive(Clone, Copy)]
enum Text<'a> {
    Plain(&'a StringArray),
    Keys { keys: &'a Int32Array, values: &'a StringArray },
}

impl<'a> Text<'a> {
    fn of(array: &'a ArrayRef) -> Text<'a> {
        match array.as_dictionary_opt::<Int32Type>() {
            Some(d) => Text::Keys { keys: d.keys(), values: d.values().as_string::<i32>() },
            None => Text::Plain(array.as_string::<i32>()),
        }
    }

    fn len(&self) -> usize {
        match self {
            Text::Plain(s) => s.len(),
            Text::Keys { keys, .. } => keys.len(),
        }
    }

    fn is_valid(&self, row: usize) -> bool {
        match self {
            Text::Plain(s) => s.is_valid(row),
            Text::Keys { keys, .. } => keys.is_valid(row),
        }
    }

    fn value(&self, row: usize) -> &'a str {
        match self {
            Text::Plain(s) => s.value(row),
            Text::Keys { keys, values } => values.value(keys.value(row) as usize),
        }
    }

    /// The non-null rows whose text `bad` says is bad, in row order; `bad`
    /// is asked once per value of a dictionary.
    fn rows_where(&self, bad: &dyn Fn(&str) -> bool) -> Vec<usize> {
        match self {
            Text::Plain(s) => (0..s.len()).filter(|r| s.is_valid(*r) && bad(s.value(*r))).collect(),
            Text::Keys { keys, values } => {
                let verdicts: Vec<bool> = (0..values.len()).map(|v| bad(values.value(v))).collect();
                (0..keys.len()).filter(|r| keys.is_valid(*r) && verdicts[keys.value(*r) as usize]).collect()
            }
        }
    }

    /// The rows that may hold an unsafe character ([`rows_to_check`]).
    fn rows_to_check(&self) -> Vec<usize> {
        match self {
            Text::Plain(s) => rows_to_check(s),
            Text::Keys { keys, values } => {
                let mut suspect = vec![false; values.len()];
                rows_to_check(values).into_iter().for_each(|v| suspect[v] = true);
                (0..keys.len()).filter(|r| keys.is_valid(*r) && suspect[keys.value(*r) as usize]).collect()
            }
        }
    }
}

impl ColumnRule<'_> {
    fn strings(&self, ci: usize) -> Text<'_> {
        Text::of(self.batch.column(ci))
    }

    /// Whether the row's `required_when` condition holds.
    fn condition_holds(&self, row: usize) -> bool {
        let w = self.column.required_when.as_ref().expect("required_when");
        let other = self.strings(w.column);
        other.is_valid(row) && other.value(row) == w.equals
    }

    fn check(&self, code: FaultCode, fail: &mut dyn FnMut(usize, String), decided: &[bool]) {
        let c = self.column;
        let array = self.batch.column(self.ci);
        let name = &c.name;
        let open = |row: usize| !decided[row];
        match code {
            FaultCode::MissingRequired => {
                if c.required && array.null_count() > 0 {
                    for row in (0..array.len()).filter(|r| open(*r) && array.is_null(*r)) {
                        fail(row, format!("column {name}: required, found null"));
                    }
                }
                if c.non_empty {
                    let s = self.strings(self.ci);
                    for row in (0..s.len()).filter(|r| open(*r) && s.is_valid(*r) && blank(s.value(*r))) {
                        let found = match s.value(row) {
                            "" => "''".to_string(),
                            v => format!("{} (white space only)", quote(v)),
                        };
                        fail(row, format!("column {name}: required non-empty, found {found}"));
                    }
                }
                if let Some(w) = c.required_when.as_ref().filter(|_| array.null_count() > 0) {
                    let other = &self.contract.columns[w.column].name;
                    for row in (0..array.len()).filter(|r| open(*r) && array.is_null(*r) && self.condition_holds(*r)) {
                        fail(row, format!("column {name}: required when {other} = '{}', found null", w.equals));
                    }
                }
            }
            FaultCode::BadEntityId | FaultCode::BadPersonId => self.check_ids(code, fail, decided),
            FaultCode::BadEnum => {
                if let Some(allowed) = &c.one_of {
                    let s = self.strings(self.ci);
                    for row in s.rows_where(&|v| position_in(allowed, v).is_none()).into_iter().filter(|r| open(*r)) {
                        let found = quote(s.value(row));
                        fail(row, format!("column {name}: expected one of {}; found {found}", allowed.join(", ")));
                    }
                }
            }
            FaultCode::BadRange => {
                self.check_range(fail, decided);
                if c.null_otherwise {
                    let w = c.required_when.as_ref().expect("null_otherwise needs required_when");
                    let other = &self.contract.columns[w.column].name;
                    let s = self.strings(self.ci);
                    for row in (0..s.len()).filter(|r| open(*r) && s.is_valid(*r) && !self.condition_holds(*r)) {
                        fail(
                            row,
                            format!(
                                "column {name}: expected null unless {other} = '{}', found {}",
                                w.equals,
                                quote(s.value(row))
                            ),
                        );
                    }
                }
            }
            FaultCode::FutureDate => {
                if c.check == Some(Check::NotAfterIngestDate) {
                    let d = array.as_primitive::<Date32Type>();
                    let limit = self.ingest_date.days_since_epoch();
                    for row in (0..d.len()).filter(|r| open(*r) && d.is_valid(*r) && d.value(*r) > limit) {
                        fail(
                            row,
                            format!(
                                "column {name}: expected a date not after the partition's ingest_date {}, found {}",
                                self.ingest_date,
                                show_date(d.value(row))
                            ),
                        );
                    }
                }
            }
            _ => unreachable!("not a row code"),
        }
    }

    fn check_ids(&self, code: FaultCode, fail: &mut dyn FnMut(usize, String), decided: &[bool]) {
        let name = &self.column.name;
        let wants_entity = code == FaultCode::BadEntityId;
        let kind_column = match self.column.check {
            Some(Check::EntityId) if wants_entity => None,
            Some(Check::PersonId) if !wants_entity => None,
            Some(Check::HolderId) => {
                Some(self.contract.column_index("holder_kind").expect("holder_id needs holder_kind"))
            }
            _ => return,
        };
        let s = self.strings(self.ci);
        for row in (0..s.len()).filter(|r| !decided[*r] && s.is_valid(*r)) {
            if let Some(k) = kind_column {
                let kinds = self.strings(k);
                let expected = if wants_entity { "entity" } else { "person" };
                if !(kinds.is_valid(row) && kinds.value(row) == expected) {
                    continue;
                }
            }
            let v = s.value(row);
            if wants_entity && !is_entity_id(v) {
                fail(row, format!("column {name}: expected a valid entity id{}, found {}", entity_hint(v), quote(v)));
            } else if !wants_entity && !is_person_id(v) {
                fail(
                    row,
                    format!("column {name}: expected a person id (P and 16 lowercase hex digits), found {}", quote(v)),
                );
            }
        }
    }

    fn check_range(&self, fail: &mut dyn FnMut(usize, String), decided: &[bool]) {
        let name = &self.column.name;
        let array = self.batch.column(self.ci);
        let open = |row: usize| !decided[row] && array.is_valid(row);
        if self.column.ty == ColumnType::Utf8 {
            let s = self.strings(self.ci);
            for row in s.rows_to_check().into_iter().filter(|r| open(*r)) {
                if let Some(found) = unsafe_char_found(s.value(row)) {
                    fail(
                        row,
                        format!(
                            "column {name}: expected text without control characters or bidirectional overrides, found {found}"
                        ),
                    );
                }
            }
        }
        if self.column.ty == ColumnType::Decimal18_2 {
            let d = array.as_primitive::<Decimal128Type>();
            for row in (0..d.len()).filter(|r| open(*r) && money_too_large(d.value(*r))) {
                fail(row, format!("column {name}: expected an amount below 10^16 yuan, found {}", money(d.value(row))));
            }
        }
        if self.column.ty == ColumnType::Date {
            let d = array.as_primitive::<Date32Type>();
            for row in (0..d.len()).filter(|r| open(*r) && !date_in_range(d.value(*r))) {
                fail(
                    row,
                    format!(
                        "column {name}: expected a date from {} to {}, found {}",
                        FIRST_DATE,
                        LAST_DATE,
                        show_date(d.value(row))
                    ),
                );
            }
        }
        match (self.column.check, self.column.ty) {
            (Some(Check::SixDigits), _) => {
                let s = self.strings(self.ci);
                for row in (0..s.len()).filter(|r| open(*r) && !is_six_digits(s.value(*r))) {
                    fail(row, format!("column {name}: expected six digits, found {}", quote(s.value(row))));
                }
            }
            (Some(Check::NonNegative), ColumnType::Decimal18_2) => {
                let d = array.as_primitive::<Decimal128Type>();
                for row in (0..d.len()).filter(|r| open(*r) && d.value(*r) < 0) {
                    fail(row, format!("column {name}: expected >= 0, found {}", d.value_as_string(row)));
                }
            }
            (Some(Check::SharePct), ColumnType::Float64) => {
                let f = array.as_primitive::<Float64Type>();
                for row in (0..f.len()).filter(|r| open(*r)) {
                    let v = f.value(row);
                    if !(v > 0.0 && v <= 100.0) {
                        fail(row, format!("column {name}: expected 0 < {name} <= 100, found {v}"));
                    }
                }
            }
            _ => {}
        }
    }
}

/// Where `v` is in an enumeration's `values`. Length and first byte tell
/// the values apart before one full comparison (this runs for every
/// enumerated cell of every landing row).
pub(super) fn position_in(values: &[String], v: &str) -> Option<usize> {
    let b = v.as_bytes();
    values.iter().position(|x| x.len() == b.len() && x.as_bytes().first() == b.first() && x.as_bytes() == b)
}

/// Each value of a text `column` (or of one read as a dictionary, whose
/// values are then looked up once each) as its position in `values`
/// (at most 127 of them); null for a null value and for one outside the list.
pub(super) fn list_positions(values: &[String], column: &ArrayRef) -> Int8Array {
    let position = |v: &str| position_in(values, v).map(|p| p as i8);
    match column.as_dictionary_opt::<Int32Type>() {
        Some(read) => {
            let ours: Vec<Option<i8>> = read.values().as_string::<i32>().iter().map(|v| v.and_then(position)).collect();
            read.keys().iter().map(|k| k.and_then(|k| ours[k as usize])).collect()
        }
        None => column.as_string::<i32>().iter().map(|v| v.and_then(position)).collect(),
    }
}
