//! `key_hash_in(file, hash) -> Boolean`: whether a key's hash (`key_hash`)
//! is among the hashes more than one landing row holds, which the run
//! wrote to `file` ([`AlikeHashes::write`]: sorted, 8 bytes each). False
//! for a null hash (a key with a null value has none).
//!
//! Validation's plans set an event row aside when other landing rows hold
//! its key's hash (its key may have copies or other versions). A join of
//! every landing row with those hashes copied each row's columns out of
//! the join (1.6 s of compute for 15.4M violations at 10M entities); this
//! test adds one column instead. A process reads the file once and keeps
//! the hashes of the file it was last asked about, as `entity_index` does.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray};
use arrow::buffer::BooleanBuffer;
use arrow::datatypes::DataType;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

use super::last_read::{call, file_named, nameable, read_rising, LastRead};

/// The UDF's name.
const NAME: &str = "key_hash_in";

/// The bytes of one hash in the file.
const HASH_BYTES: usize = 8;

/// The key hashes held by more than one landing row, as a run wrote them
/// for its plans.
#[derive(Clone, Debug)]
pub struct AlikeHashes {
    path: PathBuf,
    count: usize,
}

impl AlikeHashes {
    /// Writes `hashes` (strictly rising) to `path`, which the plans' SQL
    /// names as text: a path that is not UTF-8 is refused.
    pub fn write(hashes: &[u64], path: &Path) -> std::io::Result<AlikeHashes> {
        nameable(path)?;
        if !hashes.windows(2).all(|w| w[0] < w[1]) {
            let why = "the key hashes held twice are not in rising order".to_string();
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, why));
        }
        let bytes: Vec<u8> = hashes.iter().flat_map(|h| h.to_le_bytes()).collect();
        std::fs::write(path, bytes)?;
        Ok(AlikeHashes { path: path.to_path_buf(), count: hashes.len() })
    }

    /// Hashes said to be in `path` (the plans' SQL in a golden file).
    #[cfg(test)]
    pub(crate) fn at(path: &str, count: usize) -> AlikeHashes {
        AlikeHashes { path: path.into(), count }
    }

    pub fn count(&self) -> usize {
        self.count
    }

    /// The SQL that says whether `hash` (an SQL expression) is one of
    /// these hashes.
    pub fn hold(&self, hash: &str) -> String {
        call(NAME, &self.path, hash)
    }
}

/// Sorted hashes with a directory by their top bits: the hashes are
/// uniform, so each of the directory's ranges holds about two, and a
/// lookup reads the directory once and a few neighbouring hashes. Most
/// hashes looked up are no key's held twice (15 in 16 of the violations'
/// at 10M entities), so a bit set by a few middle bits of each hash, small
/// enough to stay in a core's cache, turns most of them away before the
/// directory's two reads from memory.
#[derive(Debug)]
struct Lookup {
    hashes: Vec<u64>,
    /// `starts[b]`: the first hash whose top `bits` bits are `b` or more.
    starts: Vec<u32>,
    bits: u32,
    /// Bit `m` is set when some hash's `marks` bits from bit [`MARK_SHIFT`] are `m`.
    marked: Vec<u64>,
    marks: u32,
}

/// Where the bits that mark a hash in [`Lookup::marked`] start: below the
/// directory's top bits, so that the two tests are independent.
const MARK_SHIFT: u32 = 16;

/// The most bits that mark a hash: 2^22 bits are 512 KiB, half a core's
/// second-level cache here.
const MOST_MARKS: u32 = 22;

impl Lookup {
    fn new(hashes: Vec<u64>) -> Lookup {
        let bits = (usize::BITS - hashes.len().max(2).leading_zeros() - 1).clamp(1, 24);
        let shift = 64 - bits;
        let mut starts = Vec::with_capacity((1 << bits) + 1);
        let mut at = 0usize;
        for b in 0..=(1u64 << bits) {
            while at < hashes.len() && (hashes[at] >> shift) < b {
                at += 1;
            }
            starts.push(at as u32);
        }
        // One bit in sixteen to one in eight set (more from 2^19 hashes on).
        let marks = (bits + 4).clamp(6, MOST_MARKS);
        let mut marked = vec![0u64; 1 << (marks - 6)];
        for &h in &hashes {
            let m = Lookup::mark(h, marks);
            marked[m >> 6] |= 1 << (m & 63);
        }
        Lookup { hashes, starts, bits, marked, marks }
    }

    fn mark(hash: u64, marks: u32) -> usize {
        ((hash >> MARK_SHIFT) & ((1 << marks) - 1)) as usize
    }

    fn holds(&self, hash: u64) -> bool {
        let m = Lookup::mark(hash, self.marks);
        if self.marked[m >> 6] & (1 << (m & 63)) == 0 {
            return false;
        }
        let b = (hash >> (64 - self.bits)) as usize;
        self.hashes[self.starts[b] as usize..self.starts[b + 1] as usize].contains(&hash)
    }
}

/// The hashes this process read last, and the file it read them from.
static LOADED: LastRead<Lookup> = LastRead::new();

/// Reads a file [`AlikeHashes::write`] wrote, refusing one that is not
/// whole hashes in strictly rising order.
fn read(path: &Path) -> DfResult<Vec<u64>> {
    read_rising::<HASH_BYTES, _>(NAME, "hashes", path, u64::from_le_bytes)
}

/// Lets the hashes read last go (the run's process, once its plans are done).
pub fn forget() {
    LOADED.forget();
}

/// The UDF.
pub(super) fn udf() -> ScalarUDF {
    ScalarUDF::from(KeyHashIn {
        signature: Signature::exact(vec![DataType::Utf8, DataType::UInt64], Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct KeyHashIn {
    signature: Signature,
}

impl ScalarUDFImpl for KeyHashIn {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let path = file_named(NAME, &args.args[0])?;
        let lookup = LOADED.get(&path, |path| read(path).map(Lookup::new))?;
        let hashes = args.args[1].to_array(args.number_rows)?;
        let hashes = hashes.as_primitive::<arrow::datatypes::UInt64Type>();
        let (values, nulls) = (hashes.values(), hashes.nulls());
        let held = BooleanBuffer::collect_bool(values.len(), |i| {
            nulls.is_none_or(|n| n.is_valid(i)) && lookup.holds(values[i])
        });
        Ok(ColumnarValue::Array(Arc::new(BooleanArray::new(held, None))))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;

    use super::*;

    #[tokio::test]
    async fn a_hash_is_held_exactly_when_it_is_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alike");
        let alike = AlikeHashes::write(&[0, 7, 1 << 40, u64::MAX], &path).unwrap();
        assert_eq!(alike.count(), 4);
        let ctx = SessionContext::new();
        ctx.register_udf(udf());
        let held = |hash: &str| alike.hold(&format!("arrow_cast({hash}, 'UInt64')"));
        let sql = format!(
            "SELECT {}, {}, {}, {}, {}, {}",
            held("7"),
            held("0"),
            held(&u64::MAX.to_string()),
            held("8"),
            held(&(1u64 << 41).to_string()),
            held("NULL")
        );
        let b = &ctx.sql(&sql).await.unwrap().collect().await.unwrap()[0];
        let got: Vec<Option<bool>> = b.columns().iter().map(|c| c.as_boolean().iter().next().unwrap()).collect();
        assert_eq!(got, [Some(true), Some(true), Some(true), Some(false), Some(false), Some(false)]);
        // Every hash of a larger set is found, and no number that is not one.
        let many: Vec<u64> = (1..5000u64).map(|n| n.wrapping_mul(0x9E37_79B9_7F4A_7C15)).collect();
        let mut sorted = many.clone();
        sorted.sort_unstable();
        let lookup = Lookup::new(sorted.clone());
        assert!(many.iter().all(|h| lookup.holds(*h)));
        assert!(many.iter().map(|h| h ^ 1).all(|h| lookup.holds(h) == sorted.binary_search(&h).is_ok()));
        assert!(!Lookup::new(Vec::new()).holds(42));
        // A file that is not whole hashes in rising order is refused, and so is writing one.
        std::fs::write(dir.path().join("torn"), [0u8; 9]).unwrap();
        assert!(read(&dir.path().join("torn")).unwrap_err().to_string().contains("not whole hashes"));
        std::fs::write(dir.path().join("backwards"), [2u64.to_le_bytes(), 1u64.to_le_bytes()].concat()).unwrap();
        assert!(read(&dir.path().join("backwards")).unwrap_err().to_string().contains("rising order"));
        assert!(AlikeHashes::write(&[3, 3], &dir.path().join("twice")).is_err());
        forget();
    }
}
