//! Building one dataset's rows for one night of one chunk, and writing
//! them as a landing file in the contract's column layout.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, RecordBatch, StringBuilder,
};

use crate::base::contract::{jobs_schema, Dataset};
use crate::base::parquet_io::write_parquet;
use crate::base::warehouse::Warehouse;

use super::GenError;

/// One dataset's columns for one night of one chunk, built row by row.
pub(super) struct Table {
    pub(super) dataset: Dataset,
    pub(super) columns: Vec<Col>,
    pub(super) rows: u64,
}

pub(super) enum Col {
    Str(StringBuilder),
    Date(Date32Builder),
    Money(Decimal128Builder),
    F64(Float64Builder),
    Bool(BooleanBuilder),
}

/// A value of one row, in contract column order.
#[derive(Clone, Debug)]
pub(super) enum V {
    S(Option<String>),
    D(Option<i32>),
    M(Option<i128>),
    F(Option<f64>),
    B(Option<bool>),
}

pub(super) fn s(v: impl Into<String>) -> V {
    V::S(Some(v.into()))
}

impl Table {
    pub(super) fn new(dataset: Dataset) -> Table {
        use arrow::datatypes::DataType::*;
        let columns = jobs_schema(dataset)
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                Utf8 => Col::Str(StringBuilder::new()),
                Date32 => Col::Date(Date32Builder::new()),
                Decimal128(18, 2) => {
                    Col::Money(Decimal128Builder::new().with_precision_and_scale(18, 2).expect("valid"))
                }
                Float64 => Col::F64(Float64Builder::new()),
                Boolean => Col::Bool(BooleanBuilder::new()),
                other => unreachable!("contract type {other}"),
            })
            .collect();
        Table { dataset, columns, rows: 0 }
    }

    pub(super) fn push(&mut self, row: &[V]) {
        for (c, v) in self.columns.iter_mut().zip(row) {
            match (c, v) {
                (Col::Str(b), V::S(x)) => b.append_option(x.as_deref()),
                (Col::Date(b), V::D(x)) => b.append_option(*x),
                (Col::Money(b), V::M(x)) => b.append_option(*x),
                (Col::F64(b), V::F(x)) => b.append_option(*x),
                (Col::Bool(b), V::B(x)) => b.append_option(*x),
                _ => unreachable!("row matches the contract"),
            }
        }
        self.rows += 1;
    }

    pub(super) fn write(mut self, path: &Path, wh: &Warehouse) -> Result<u64, GenError> {
        let columns: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .map(|c| -> ArrayRef {
                match c {
                    Col::Str(b) => Arc::new(b.finish()),
                    Col::Date(b) => Arc::new(b.finish()),
                    Col::Money(b) => Arc::new(b.finish()),
                    Col::F64(b) => Arc::new(b.finish()),
                    Col::Bool(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        let schema = crate::base::landing_file::nullable(&jobs_schema(self.dataset));
        let batch = RecordBatch::try_new(schema.clone(), columns).expect("generated rows match the contract");
        write_parquet(path, schema, &[batch]).map_err(|source| GenError::Write { path: wh.relative(path), source })?;
        Ok(self.rows)
    }
}

/// Night tables of one dataset for a chunk.
pub(super) struct Nights {
    pub(super) tables: Vec<Table>,
}

impl Nights {
    pub(super) fn new(dataset: Dataset, days: u32) -> Nights {
        Nights { tables: (0..days).map(|_| Table::new(dataset)).collect() }
    }
}
