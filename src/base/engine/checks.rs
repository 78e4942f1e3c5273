//! The row rules' value tests and message pieces as UDFs
//! ([`crate::base::row_checks`]), for validation's DataFusion plans: the
//! same functions the native checks call, so that a fault's code and text
//! do not depend on the engine that found it.

use std::sync::Arc;

use arrow::array::{new_null_array, Array, ArrayRef, AsArray, BooleanArray, StringArray, StringBuilder};
use arrow::datatypes::{DataType, Date32Type, Decimal128Type, Float64Type};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{create_udf, ColumnarValue, ScalarUDF, Volatility};

use crate::base::ids::{is_entity_id, is_person_id, is_six_digits};
use crate::base::printable::rows_to_check;
use crate::base::row_checks::{
    blank, date_in_range, entity_hint, money, money_too_large, quote, show_date, unsafe_char_found,
};

/// The UDFs of the row rules.
pub(super) fn udfs() -> Vec<ScalarUDF> {
    vec![
        text_test("is_entity_id", is_entity_id),
        text_test("is_person_id", is_person_id),
        text_test("is_six_digits", is_six_digits),
        text_test("is_blank", blank),
        text_piece("quoted", |v| Some(quote(v))),
        text_piece("entity_id_hint", |v| Some(entity_hint(v))),
        // The rows of a batch without a byte an unsafe character begins
        // with are passed by one scan of its bytes, as the native checks do.
        unary("unsafe_char_found", DataType::Utf8, DataType::Utf8, |a| {
            let text = a.as_string::<i32>();
            let mut flagged = rows_to_check(text).into_iter().peekable();
            if flagged.peek().is_none() {
                return new_null_array(&DataType::Utf8, text.len());
            }
            let mut found = StringBuilder::with_capacity(text.len(), 0);
            for row in 0..text.len() {
                match flagged.next_if_eq(&row) {
                    Some(_) if text.is_valid(row) => found.append_option(unsafe_char_found(text.value(row))),
                    _ => found.append_null(),
                }
            }
            Arc::new(found.finish())
        }),
        unary("money_too_large", DataType::Decimal128(18, 2), DataType::Boolean, |a| {
            let d = a.as_primitive::<Decimal128Type>();
            Arc::new(d.iter().map(|v| v.map(money_too_large)).collect::<BooleanArray>())
        }),
        unary("money_text", DataType::Decimal128(18, 2), DataType::Utf8, |a| {
            let d = a.as_primitive::<Decimal128Type>();
            Arc::new(d.iter().map(|v| v.map(money)).collect::<StringArray>())
        }),
        unary("is_calendar_date", DataType::Date32, DataType::Boolean, |a| {
            let d = a.as_primitive::<Date32Type>();
            Arc::new(d.iter().map(|v| v.map(date_in_range)).collect::<BooleanArray>())
        }),
        unary("date_text", DataType::Date32, DataType::Utf8, |a| {
            let d = a.as_primitive::<Date32Type>();
            Arc::new(d.iter().map(|v| v.map(show_date)).collect::<StringArray>())
        }),
        // A float as Rust prints it (`150`, `NaN`), as the native messages do.
        unary("float_text", DataType::Float64, DataType::Utf8, |a| {
            let f = a.as_primitive::<Float64Type>();
            Arc::new(f.iter().map(|v| v.map(|v| v.to_string())).collect::<StringArray>())
        }),
    ]
}

/// `name(text) -> boolean`; null for null.
fn text_test(name: &str, test: fn(&str) -> bool) -> ScalarUDF {
    unary(name, DataType::Utf8, DataType::Boolean, move |a| {
        Arc::new(a.as_string::<i32>().iter().map(|v| v.map(test)).collect::<BooleanArray>())
    })
}

/// `name(text) -> text`; null for null.
fn text_piece(name: &str, piece: fn(&str) -> Option<String>) -> ScalarUDF {
    unary(name, DataType::Utf8, DataType::Utf8, move |a| {
        Arc::new(a.as_string::<i32>().iter().map(|v| v.and_then(piece)).collect::<StringArray>())
    })
}

fn unary(
    name: &str,
    input: DataType,
    output: DataType,
    f: impl Fn(&ArrayRef) -> ArrayRef + Send + Sync + 'static,
) -> ScalarUDF {
    create_udf(
        name,
        vec![input],
        output,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| -> DfResult<ColumnarValue> {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            Ok(ColumnarValue::Array(f(&arrays[0])))
        }),
    )
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;

    use super::*;

    #[tokio::test]
    async fn the_checks_answer_in_sql_as_in_rust() {
        let ctx = SessionContext::new();
        for f in udfs() {
            ctx.register_udf(f);
        }
        let sql = "SELECT is_entity_id('91350100M000100Y43'), is_entity_id('91350100M000100Y44'), \
                   is_person_id('P0a1b2c3d4e5f6a7b'), is_blank(' \u{200B}'), quoted('a''b'), \
                   entity_id_hint('91350100M000100Y44'), unsafe_char_found('x\u{202E}'), unsafe_char_found('clean'), \
                   money_text(CAST(-0.05 AS DECIMAL(18,2))), date_text(CAST('2026-11-27' AS DATE)), \
                   float_text(CAST(150 AS DOUBLE)), is_six_digits(NULL)";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let row: Vec<String> =
            batches[0].columns().iter().map(|c| arrow::util::display::array_value_to_string(c, 0).unwrap()).collect();
        assert_eq!(
            row,
            [
                "true",
                "false",
                "true",
                "true",
                "'a'b'",
                " (check character 3 expected)",
                "U+202E at character 2 of 'x\\u{202E}'",
                "",
                "-0.05",
                "2026-11-27",
                "150",
                ""
            ]
        );
    }
}
