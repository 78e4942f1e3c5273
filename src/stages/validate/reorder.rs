//! Rows of many batches (one per landing file) put into a new order, a
//! chunk at a time. Arrow's `interleave` merges the batches' dictionaries
//! again on every call, scanning the chunk once per batch: putting the
//! registry in entity order chunk by chunk was quadratic in its files
//! (21 s of 10M entities' validation). Here each dictionary column is
//! concatenated once, and its rows are taken by position in the whole.

use arrow::array::{Array, ArrayRef, RecordBatch, RecordBatchOptions, UInt32Array};
use arrow::compute::{concat, interleave, take};
use arrow::datatypes::DataType;

/// The rows of `batches`, ready to be taken in any order.
pub(super) struct Reorder<'a> {
    batches: &'a [RecordBatch],
    /// The position in the whole of each batch's first row.
    starts: Vec<usize>,
    /// Dictionary columns, each concatenated once (one dictionary); `None`
    /// for the columns interleaved from the batches themselves.
    whole: Vec<Option<ArrayRef>>,
}

impl<'a> Reorder<'a> {
    /// `batches` must share one schema.
    pub(super) fn new(batches: &'a [RecordBatch]) -> Reorder<'a> {
        let starts = batches
            .iter()
            .scan(0usize, |at, b| {
                let s = *at;
                *at += b.num_rows();
                Some(s)
            })
            .collect();
        let whole = match batches.first() {
            None => Vec::new(),
            Some(first) => (0..first.num_columns())
                .map(|c| {
                    matches!(first.column(c).data_type(), DataType::Dictionary(..)).then(|| {
                        let parts: Vec<&dyn Array> = batches.iter().map(|b| b.column(c).as_ref()).collect();
                        concat(&parts).expect("batches share one schema")
                    })
                })
                .collect(),
        };
        Reorder { batches, starts, whole }
    }

    /// The rows at `order` (positions in the whole: the batches' rows one
    /// after the other), in that order.
    pub(super) fn rows(&self, order: &[u32]) -> RecordBatch {
        let schema = self.batches[0].schema();
        let positions = UInt32Array::from_iter_values(order.iter().copied());
        let pairs: Vec<(usize, usize)> = order
            .iter()
            .map(|p| {
                let p = *p as usize;
                let b = self.starts.partition_point(|s| *s <= p) - 1;
                (b, p - self.starts[b])
            })
            .collect();
        let columns: Vec<ArrayRef> = (0..schema.fields().len())
            .map(|c| match &self.whole[c] {
                Some(whole) => take(whole.as_ref(), &positions, None).expect("positions in range"),
                None => {
                    let parts: Vec<&dyn Array> = self.batches.iter().map(|b| b.column(c).as_ref()).collect();
                    interleave(&parts, &pairs).expect("batches share one schema")
                }
            })
            .collect();
        // A table of no columns (nothing asked for) still has its rows.
        let rows = RecordBatchOptions::new().with_row_count(Some(order.len()));
        RecordBatch::try_new_with_options(schema, columns, &rows).expect("same schema")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{AsArray, DictionaryArray, StringArray};
    use arrow::datatypes::{Field, Int8Type, Schema};

    use super::*;

    fn batch(ids: &[&str], kinds: &[&str]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("kind", DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::Utf8)), false),
        ]));
        let kinds: DictionaryArray<Int8Type> = kinds.iter().copied().collect();
        RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(ids.to_vec())), Arc::new(kinds)]).unwrap()
    }

    fn texts(b: &RecordBatch) -> Vec<(String, String)> {
        let kinds = arrow::compute::cast(b.column(1), &DataType::Utf8).unwrap();
        let ids = b.column(0).as_string::<i32>();
        (0..b.num_rows()).map(|r| (ids.value(r).to_string(), kinds.as_string::<i32>().value(r).to_string())).collect()
    }

    #[test]
    fn rows_come_out_in_the_order_asked_with_their_dictionary_values() {
        let batches = [batch(&["c", "a"], &["shop", "firm"]), batch(&["b", "d"], &["branch", "shop"])];
        let reorder = Reorder::new(&batches);
        let order = [1, 2, 0, 3];
        let expected = [("a", "firm"), ("b", "branch"), ("c", "shop"), ("d", "shop")];
        let got = texts(&reorder.rows(&order));
        assert_eq!(got, expected.map(|(i, k)| (i.to_string(), k.to_string())));
        let first_two = texts(&reorder.rows(&order[..2]));
        assert_eq!(first_two, got[..2]);
    }
}
