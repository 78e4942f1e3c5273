//! Compact forms of the text keys validation's plans group and join on
//! (`base::engine` registers them): grouping millions of rows by a number
//! costs a fraction of grouping them by text, and spills a fraction of the
//! bytes when the memory pool is full.
//!
//! - `key_hash(a, b, ...)`: a 64-bit hash of the values, null when any is
//!   null. Two rows with the same values have the same hash; two with the
//!   same hash need not have the same values, so a plan uses it only to
//!   find candidates, and decides on the values themselves.
//! - `entity_bits(id)`: an entity id's 90 packed bits ([`EntityId`]), null
//!   for text that is not 18 characters of the id alphabet. Exact: two
//!   texts have the same bits only if they are the same text.

use std::sync::Arc;

use arrow::array::{Array, AsArray, Decimal128Array, UInt64Array};
use arrow::buffer::NullBuffer;
use arrow::datatypes::DataType;
use datafusion::common::hash_utils::{create_hashes, RandomState};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    create_udf, ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::base::ids::EntityId;

/// The seed of `key_hash`: every node of a cluster hashes alike.
const SEED: u64 = 0x6372_6564_656e_6365;

/// The UDFs of the key forms.
pub(super) fn udfs() -> Vec<ScalarUDF> {
    vec![ScalarUDF::from(KeyHash::new()), entity_bits()]
}

/// A `key_hash` under which every key hashes alike (nulls stay null):
/// plans run with it must give the same verdicts, deciding on the values.
#[cfg(test)]
pub(crate) fn key_hash_all_alike() -> ScalarUDF {
    ScalarUDF::from(KeyHash { all_alike: true, ..KeyHash::new() })
}

/// `key_hash(value, ...) -> UInt64`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct KeyHash {
    signature: Signature,
    all_alike: bool,
}

impl KeyHash {
    fn new() -> KeyHash {
        KeyHash { signature: Signature::variadic_any(Volatility::Immutable), all_alike: false }
    }
}

impl ScalarUDFImpl for KeyHash {
    fn name(&self) -> &str {
        "key_hash"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::UInt64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        if args.args.is_empty() {
            return Err(DataFusionError::Plan("key_hash needs one value at least".into()));
        }
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let mut hashes = vec![0u64; args.number_rows];
        if !self.all_alike {
            create_hashes(&arrays, &RandomState::with_seed(SEED), &mut hashes)?;
        }
        let nulls = arrays
            .iter()
            .fold(None, |acc: Option<NullBuffer>, a| NullBuffer::union(acc.as_ref(), a.logical_nulls().as_ref()));
        Ok(ColumnarValue::Array(Arc::new(UInt64Array::new(hashes.into(), nulls))))
    }
}

/// `entity_bits(text) -> Decimal128(38, 0)`.
fn entity_bits() -> ScalarUDF {
    create_udf(
        "entity_bits",
        vec![DataType::Utf8],
        DataType::Decimal128(38, 0),
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| -> DfResult<ColumnarValue> {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let text = arrays[0].as_string::<i32>();
            let bits: Decimal128Array =
                text.iter().map(|v| v.and_then(EntityId::pack_unchecked).map(|id| id.bits() as i128)).collect();
            Ok(ColumnarValue::Array(Arc::new(bits.with_precision_and_scale(38, 0)?)))
        }),
    )
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;

    use super::*;

    async fn row(sql: &str) -> Vec<String> {
        let ctx = SessionContext::new();
        for f in udfs() {
            ctx.register_udf(f);
        }
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        batches[0].columns().iter().map(|c| arrow::util::display::array_value_to_string(c, 0).unwrap()).collect()
    }

    #[tokio::test]
    async fn equal_values_hash_alike_and_a_null_has_no_hash() {
        let r =
            row("SELECT key_hash(CAST(1 AS INT UNSIGNED), 'a', 'b') = key_hash(CAST(1 AS INT UNSIGNED), 'a', 'b'), \
                     key_hash(CAST(1 AS INT UNSIGNED), 'a', 'b') = key_hash(CAST(2 AS INT UNSIGNED), 'a', 'b'), \
                     key_hash('ab', 'c') = key_hash('a', 'bc'), key_hash('a', NULL) IS NULL")
            .await;
        assert_eq!(r, ["true", "false", "false", "true"]);
    }

    /// A fixed seed, not one drawn per process: a scheduler and its
    /// executors group by the same numbers.
    #[tokio::test]
    async fn the_hash_has_a_fixed_seed() {
        let h: u64 = row("SELECT key_hash('91350100M000100Y43')").await[0].parse().unwrap();
        let mut expected = [0u64];
        let text: arrow::array::ArrayRef = Arc::new(arrow::array::StringArray::from(vec!["91350100M000100Y43"]));
        create_hashes([&text], &RandomState::with_seed(SEED), &mut expected).unwrap();
        assert_eq!(h, expected[0]);
    }

    #[tokio::test]
    async fn entity_bits_are_the_ids_packed_bits() {
        let id = "91350100M000100Y43";
        let r = row(&format!(
            "SELECT entity_bits('{id}'), entity_bits('91350100M000100Y4'), entity_bits(NULL), \
             entity_bits('{id}') = entity_bits('91350100M000100Y44')"
        ))
        .await;
        assert_eq!(r, [EntityId::parse(id).unwrap().bits().to_string(), String::new(), String::new(), "false".into()]);
    }
}
