//! The registry's sorted copies hold its checked text columns as numbers:
//! entity ids as their packed bits, person ids and six-digit codes as the
//! numbers they spell, listed values as their position in the contract's
//! list. Each row is gathered twice on its way to the mart (sorted into
//! its copy, then merged), and gathering a number costs a fraction of
//! gathering text; the merged rows are turned back into the same text.
//!
//! Packing is exact for every value its contract check accepts. A value
//! that does not pack (a row the checks reject) leaves its row without a
//! key ([`NO_KEY`]), and the merge refuses such a row if it was accepted.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanBufferBuilder, Decimal128Array, RecordBatch, StringArray, UInt32Array, UInt64Array,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType, Decimal128Type, Field, Int8Type, Schema, SchemaRef, UInt32Type, UInt64Type};
use arrow::error::ArrowError;

use super::rows::list_positions;
use crate::base::contract::{Check, ColumnType, Contract};
use crate::base::ids::{is_six_digits, EntityId, PersonId};
use crate::base::landing_file::nullable;

/// The sort key of a row whose id is null or does not pack, or one of
/// whose values does not: it sorts last, and such a row is never accepted.
pub(super) const NO_KEY: u128 = u128::MAX;

/// How one copied column is held.
#[derive(Clone, Debug)]
enum Form {
    /// As read (free text, dates, amounts).
    AsRead,
    /// An entity id's packed bits, as a Decimal128 of scale 0 (90 bits
    /// fit in its 38 digits).
    EntityId,
    /// A person id's 64-bit number.
    PersonId,
    /// Six digits as their number.
    SixDigits,
    /// A listed value's position in the list (the contract's values, and
    /// the same as an array to unpack from).
    OneOf(Vec<String>, Arc<StringArray>),
}

impl Form {
    fn of(contract: &Contract, column: usize) -> Form {
        let c = &contract.columns[column];
        if c.ty != ColumnType::Utf8 {
            return Form::AsRead;
        }
        if column == contract.key[0] {
            return Form::EntityId;
        }
        match (&c.check, &c.one_of) {
            (Some(Check::EntityId), _) => Form::EntityId,
            (Some(Check::PersonId), _) => Form::PersonId,
            (Some(Check::SixDigits), _) => Form::SixDigits,
            (None, Some(values)) if values.len() <= i8::MAX as usize => {
                Form::OneOf(values.clone(), Arc::new(StringArray::from_iter_values(values)))
            }
            _ => Form::AsRead,
        }
    }

    fn packed_type(&self, read: &DataType) -> DataType {
        match self {
            Form::AsRead => read.clone(),
            Form::EntityId => DataType::Decimal128(38, 0),
            Form::PersonId => DataType::UInt64,
            Form::SixDigits => DataType::UInt32,
            Form::OneOf(..) => DataType::Int8,
        }
    }
}

/// How a dataset's copied columns (contract positions, the key among
/// them) are packed into a sorted copy and turned back into text.
#[derive(Debug)]
pub(super) struct Compact {
    columns: Vec<usize>,
    forms: Vec<Form>,
    /// The key's position among the copied columns.
    key: usize,
    /// The copied columns as they are read and come back out (text).
    text: SchemaRef,
    /// The copied columns as a copy holds them.
    packed: SchemaRef,
}

impl Compact {
    /// The packing of `columns` of `contract`'s rows; the contract's key
    /// (an entity id) must be among them.
    pub(super) fn new(contract: &Contract, columns: &[usize]) -> Compact {
        let key = columns.iter().position(|c| *c == contract.key[0]).expect("the key is copied");
        let forms: Vec<Form> = columns.iter().map(|c| Form::of(contract, *c)).collect();
        assert!(matches!(forms[key], Form::EntityId), "the key is an entity id as text");
        let text = nullable(&contract.arrow_schema().project(columns).expect("contract columns"));
        let packed = Schema::new(
            text.fields()
                .iter()
                .zip(&forms)
                .map(|(f, form)| Field::new(f.name(), form.packed_type(f.data_type()), true))
                .collect::<Vec<_>>(),
        );
        Compact { columns: columns.to_vec(), forms, key, text, packed: Arc::new(packed) }
    }

    /// The copied columns as a copy holds them.
    pub(super) fn packed_schema(&self) -> &SchemaRef {
        &self.packed
    }

    /// The copied columns as text, in the order of [`Compact::new`]'s.
    pub(super) fn text_schema(&self) -> &SchemaRef {
        &self.text
    }

    /// Packs the copied columns of `batch` (a landing batch with all the
    /// contract's columns, enumerated ones possibly as dictionaries).
    pub(super) fn pack(&self, batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
        let rows = batch.num_rows();
        let mut keyless = vec![false; rows];
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
        for (at, (c, form)) in self.columns.iter().zip(&self.forms).enumerate() {
            let read = batch.column(*c);
            let column: ArrayRef = match form {
                Form::AsRead => match read.data_type() {
                    DataType::Dictionary(..) => arrow::compute::cast(read, self.text.field(at).data_type())?,
                    _ => read.clone(),
                },
                // Filled in last.
                Form::EntityId if at == self.key => read.clone(),
                Form::EntityId => Arc::new(packed_entity_ids(read, &mut keyless)?),
                Form::PersonId => {
                    let texts = read.as_string::<i32>();
                    let packed: UInt64Array = texts
                        .iter()
                        .zip(keyless.iter_mut())
                        .map(|(t, k)| packed_or_keyless(t, k, |t| PersonId::parse(t).map(PersonId::bits)))
                        .collect();
                    Arc::new(packed)
                }
                Form::SixDigits => {
                    let texts = read.as_string::<i32>();
                    let six = |t: &str| is_six_digits(t).then(|| t.parse::<u32>().expect("six digits"));
                    let packed: UInt32Array =
                        texts.iter().zip(keyless.iter_mut()).map(|(t, k)| packed_or_keyless(t, k, six)).collect();
                    Arc::new(packed)
                }
                Form::OneOf(values, _) => {
                    let at = list_positions(values, read);
                    // A value outside the list is null among the positions.
                    let read_nulls = read.logical_nulls();
                    for (r, lost) in keyless.iter_mut().enumerate() {
                        *lost |= at.is_null(r) && read_nulls.as_ref().is_none_or(|n| n.is_valid(r));
                    }
                    Arc::new(at)
                }
            };
            columns.push(column);
        }
        // The key last: a value of any column that did not pack takes it.
        columns[self.key] = Arc::new(keys_of(batch.column(self.columns[self.key]), &keyless)?);
        RecordBatch::try_new(self.packed.clone(), columns)
    }

    /// The sort keys of a packed batch's rows.
    pub(super) fn keys(&self, packed: &RecordBatch) -> Vec<u128> {
        packed.column(self.key).as_primitive::<Decimal128Type>().values().iter().map(|k| *k as u128).collect()
    }

    /// A packed batch as text again: the columns as they were read, the
    /// enumerated ones as text.
    pub(super) fn unpack(&self, packed: &RecordBatch) -> RecordBatch {
        let columns: Vec<ArrayRef> = packed
            .columns()
            .iter()
            .zip(&self.forms)
            .map(|(c, form)| -> ArrayRef {
                match form {
                    Form::AsRead => c.clone(),
                    Form::EntityId => {
                        let bits = c.as_primitive::<Decimal128Type>();
                        Arc::new(texts(bits.iter().map(|b| b.map(|b| EntityId::from_bits(b as u128).to_bytes()))))
                    }
                    Form::PersonId => {
                        let bits = c.as_primitive::<UInt64Type>();
                        Arc::new(texts(bits.iter().map(|b| b.map(|b| PersonId::from_bits(b).to_bytes()))))
                    }
                    Form::SixDigits => {
                        let numbers = c.as_primitive::<UInt32Type>();
                        Arc::new(texts(numbers.iter().map(|n| n.map(six_digits))))
                    }
                    Form::OneOf(_, values) => {
                        let at = c.as_primitive::<Int8Type>();
                        arrow::compute::take(values.as_ref(), at, None).expect("positions in the list")
                    }
                }
            })
            .collect();
        RecordBatch::try_new(self.text.clone(), columns).expect("the copied columns as text")
    }
}

/// `text` packed by `pack`; a text that does not pack is null and marks
/// its row `keyless`.
fn packed_or_keyless<T>(text: Option<&str>, keyless: &mut bool, pack: impl Fn(&str) -> Option<T>) -> Option<T> {
    let packed = text.and_then(&pack);
    *keyless |= text.is_some() && packed.is_none();
    packed
}

/// The key column: each row's packed id, [`NO_KEY`] (as -1) where the id
/// does not pack or the row is `keyless`.
fn keys_of(read: &ArrayRef, keyless: &[bool]) -> Result<Decimal128Array, ArrowError> {
    let texts = read.as_string::<i32>();
    let keys = texts.iter().zip(keyless).map(|(t, lost)| match (t.and_then(EntityId::pack_unchecked), lost) {
        (Some(id), false) => id.bits() as i128,
        _ => NO_KEY as i128,
    });
    Decimal128Array::from_iter_values(keys).with_precision_and_scale(38, 0)
}

fn packed_entity_ids(read: &ArrayRef, keyless: &mut [bool]) -> Result<Decimal128Array, ArrowError> {
    let texts = read.as_string::<i32>();
    let packed: Decimal128Array = texts
        .iter()
        .zip(keyless.iter_mut())
        .map(|(t, k)| packed_or_keyless(t, k, |t| EntityId::pack_unchecked(t).map(|id| id.bits() as i128)))
        .collect();
    packed.with_precision_and_scale(38, 0)
}

fn six_digits(n: u32) -> [u8; 6] {
    let mut out = [b'0'; 6];
    let mut n = n;
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out
}

/// A text column of ASCII values of `N` bytes each.
fn texts<const N: usize>(values: impl ExactSizeIterator<Item = Option<[u8; N]>>) -> StringArray {
    let mut offsets: Vec<i32> = Vec::with_capacity(values.len() + 1);
    let mut bytes: Vec<u8> = Vec::with_capacity(values.len() * N);
    let mut valid = BooleanBufferBuilder::new(values.len());
    offsets.push(0);
    for v in values {
        valid.append(v.is_some());
        if let Some(v) = v {
            bytes.extend_from_slice(&v);
        }
        offsets.push(bytes.len() as i32);
    }
    let nulls = NullBuffer::new(valid.finish());
    let nulls = (nulls.null_count() > 0).then_some(nulls);
    StringArray::try_new(OffsetBuffer::new(offsets.into()), bytes.into(), nulls).expect("ASCII values")
}
