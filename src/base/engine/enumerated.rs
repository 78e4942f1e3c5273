//! `enumerated(text, 'v0', 'v1', ...)`: an enumerated column as the
//! native validation keeps it in a run's tables, a dictionary over the
//! contract's values in the contract's order (`Int8` keys; a value outside
//! the list is null). The plans that make the events' tables
//! (`--plans-make-tables`) write their enumerated columns so, and scoring
//! reads the same table whichever validation made it: a byte per row
//! instead of the text.
//!
//! Every batch of one list shares one dictionary array (kept per process),
//! as an Arrow IPC file must: its writer refuses a dictionary replaced
//! between batches.

use std::sync::{Arc, Mutex};

use arrow::array::{Array, ArrayRef, AsArray, BooleanBufferBuilder, DictionaryArray, Int8Array, StringArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Int8Type};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

/// The type of an enumerated column in a run's tables.
pub fn enumerated_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::Utf8))
}

pub(super) fn udf() -> ScalarUDF {
    ScalarUDF::from(Enumerated { signature: Signature::variadic_any(Volatility::Immutable) })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Enumerated {
    signature: Signature,
}

/// The dictionaries made so far, one per list of values.
static DICTIONARIES: Mutex<Vec<(Vec<String>, ArrayRef)>> = Mutex::new(Vec::new());

/// The one dictionary array of `values` in this process.
fn dictionary(values: &[String]) -> ArrayRef {
    let mut made = DICTIONARIES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, d)) = made.iter().find(|(v, _)| v.as_slice() == values) {
        return d.clone();
    }
    let d: ArrayRef = Arc::new(StringArray::from_iter_values(values));
    made.push((values.to_vec(), d.clone()));
    d
}

impl ScalarUDFImpl for Enumerated {
    fn name(&self) -> &str {
        "enumerated"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(enumerated_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let refused = || DataFusionError::Plan("enumerated(text, 'value', ...): up to 127 text values".into());
        let (column, listed) = args.args.split_first().ok_or_else(refused)?;
        let values: Vec<String> = listed
            .iter()
            .map(|v| match v {
                ColumnarValue::Scalar(ScalarValue::Utf8(Some(s))) => Ok(s.clone()),
                _ => Err(refused()),
            })
            .collect::<DfResult<_>>()?;
        if values.len() > i8::MAX as usize {
            return Err(refused());
        }
        let text = arrow::compute::cast(&column.to_array(args.number_rows)?, &DataType::Utf8)?;
        let keys = places(&values, text.as_string::<i32>());
        Ok(ColumnarValue::Array(Arc::new(DictionaryArray::<Int8Type>::try_new(keys, dictionary(&values))?)))
    }
}

/// Each text's place among `values` (the first, were one listed twice),
/// null where it is none: the values of a text's length are the only
/// ones compared with it (a column of 15M rows is encoded per row).
fn places(values: &[String], text: &StringArray) -> Int8Array {
    let longest = values.iter().map(|v| v.len()).max().unwrap_or(0);
    let mut by_length: Vec<Vec<(&[u8], i8)>> = vec![Vec::new(); longest + 1];
    for (place, v) in values.iter().enumerate() {
        by_length[v.len()].push((v.as_bytes(), place as i8));
    }
    let (offsets, bytes) = (text.value_offsets(), text.value_data());
    let mut keys = Vec::with_capacity(text.len());
    let mut found = BooleanBufferBuilder::new(text.len());
    for row in 0..text.len() {
        let value = &bytes[offsets[row] as usize..offsets[row + 1] as usize];
        let place = match text.is_valid(row) {
            true => by_length.get(value.len()).and_then(|c| c.iter().find(|(v, _)| *v == value)).map(|(_, p)| *p),
            false => None,
        };
        keys.push(place.unwrap_or(0));
        found.append(place.is_some());
    }
    Int8Array::new(keys.into(), Some(NullBuffer::new(found.finish())))
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;

    use super::*;

    /// A listed value is its place in the list, any other null; every
    /// batch of a list shares one dictionary, as an IPC file's writer needs.
    #[tokio::test]
    async fn a_value_is_its_place_among_the_listed_values() {
        let ctx = SessionContext::new();
        ctx.register_udf(udf());
        let sql = "SELECT enumerated(v, 'minor', 'general', 'serious') AS e FROM \
                   (VALUES ('serious'), ('minor'), ('grave'), (NULL), ('minors'), ('')) AS t(v)";
        let first = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let column = first[0].column(0);
        assert_eq!(column.data_type(), &enumerated_type());
        let dict = column.as_dictionary::<Int8Type>();
        let keys: Vec<Option<i8>> = dict.keys().iter().collect();
        assert_eq!(keys, [Some(2), Some(0), None, None, None, None]);
        let values: Vec<&str> = dict.values().as_string::<i32>().iter().flatten().collect();
        assert_eq!(values, ["minor", "general", "serious"]);
        let again = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let again = again[0].column(0).as_dictionary::<Int8Type>();
        assert!(again.values().to_data().ptr_eq(&dict.values().to_data()), "one dictionary per list");
    }
}
