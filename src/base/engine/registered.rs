//! `entity_index(file, id) -> UInt32`: an entity id's index among a run's
//! registered entities, null for text that is no registered entity's id.
//! `file` names the registered ids the run wrote for its plans
//! ([`RegisteredIds::write`]: sorted, 16 bytes each); a process reads it
//! once and keeps the index of the file it was last asked about, so that
//! a cluster's executors look ids up where they judge the rows, with
//! neither a join nor a shuffle of the rows by their entity, and with the
//! lookups the native validation makes (`EntityIndex::lookup_all`). The
//! process that wrote the file (the run's, whose local engine runs the
//! plans) looks ids up in the index it wrote them from instead of holding
//! a second one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, AsArray, UInt32Array};
use arrow::datatypes::DataType;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

use super::last_read::{call, file_named, nameable, read_rising, LastRead};
use crate::base::entities::EntityIndex;
use crate::base::ids::EntityId;

/// The UDF's name.
const NAME: &str = "entity_index";

/// The bytes of one registered id in the file.
const ID_BYTES: usize = 16;

/// The registered ids a run wrote for its plans, and how many there are.
#[derive(Clone, Debug)]
pub struct RegisteredIds {
    path: PathBuf,
    count: usize,
}

impl RegisteredIds {
    /// Writes `entities`' ids, in their (sorted) order, to `path`, which
    /// the plans' SQL names as text: a path that is not UTF-8 is refused.
    /// This process's lookups of that file use `entities` itself, until
    /// [`forget`] or another file's.
    pub fn write(entities: &Arc<EntityIndex>, path: &Path) -> std::io::Result<RegisteredIds> {
        nameable(path)?;
        let mut bytes = Vec::with_capacity(entities.len() * ID_BYTES);
        for i in 0..entities.len() {
            bytes.extend_from_slice(&entities.id(i as u32).bits().to_le_bytes());
        }
        std::fs::write(path, bytes)?;
        LOADED.set(path, entities.clone());
        Ok(RegisteredIds { path: path.to_path_buf(), count: entities.len() })
    }

    /// Ids said to be in `path` (the plans' SQL in a golden file).
    #[cfg(test)]
    pub(crate) fn at(path: &str, count: usize) -> RegisteredIds {
        RegisteredIds { path: path.into(), count }
    }

    pub fn count(&self) -> usize {
        self.count
    }

    /// The SQL that gives the index of the entity whose id is `column`'s
    /// text (an SQL expression), or null.
    pub fn index_of(&self, column: &str) -> String {
        call(NAME, &self.path, column)
    }
}

/// The index this process read last, and the file it read it from.
static LOADED: LastRead<EntityIndex> = LastRead::new();

/// Reads a file [`RegisteredIds::write`] wrote, refusing one that is not
/// whole ids in strictly rising order.
fn read(path: &Path) -> DfResult<EntityIndex> {
    let ids = read_rising::<ID_BYTES, _>(NAME, "ids", path, |b| EntityId::from_bits(u128::from_le_bytes(b)))?;
    Ok(EntityIndex::from_sorted(ids))
}

/// Lets the index read or written last go (the run's process, once its plans are done).
pub fn forget() {
    LOADED.forget();
}

/// Calls [`forget`] when dropped: the run's process lets the index go
/// however its plans end, a failed run's too.
pub struct ForgetWhenDropped;

impl Drop for ForgetWhenDropped {
    fn drop(&mut self) {
        forget();
    }
}

/// The UDF.
pub(super) fn udf() -> ScalarUDF {
    ScalarUDF::from(EntityIndexUdf {
        signature: Signature::exact(vec![DataType::Utf8, DataType::Utf8], Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct EntityIndexUdf {
    signature: Signature,
}

impl ScalarUDFImpl for EntityIndexUdf {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::UInt32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let path = file_named(NAME, &args.args[0])?;
        let index = LOADED.get(&path, read)?;
        let column = args.args[1].to_array(args.number_rows)?;
        let mut found = Vec::with_capacity(column.len());
        index.lookup_all(column.as_string::<i32>().iter(), &mut found);
        let found: UInt32Array = found.into_iter().map(|i| (i != u32::MAX).then_some(i)).collect();
        Ok(ColumnarValue::Array(Arc::new(found)))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;

    use super::*;

    #[tokio::test]
    async fn an_id_gives_its_registered_index_and_anything_else_null() {
        let dir = tempfile::tempdir().unwrap();
        let mut ids: Vec<EntityId> =
            ["91350100M000100Y4", "11000000000000000"].iter().map(|p| EntityId::with_check_char(p).unwrap()).collect();
        ids.sort();
        let written = Arc::new(EntityIndex::from_sorted(ids.clone()));
        let path = dir.path().join("ids");
        let registered = RegisteredIds::write(&written, &path).unwrap();
        assert_eq!(registered.count(), 2);
        // The writer's lookups use the index it wrote (tests in this
        // process may have written another file since).
        if let Some(index) = LOADED.held(&path) {
            assert!(Arc::ptr_eq(&index, &written), "{} is looked up in the index written", path.display());
        }
        let ctx = SessionContext::new();
        ctx.register_udf(udf());
        let sql = format!(
            "SELECT {}, {}, {}, {}",
            registered.index_of(&format!("'{}'", ids[0])),
            registered.index_of(&format!("'{}'", ids[1])),
            registered.index_of("'91350100M000100Y4X'"),
            registered.index_of("CAST(NULL AS VARCHAR)")
        );
        let got = || async {
            let b = &ctx.sql(&sql).await.unwrap().collect().await.unwrap()[0];
            b.columns()
                .iter()
                .map(|c| c.as_primitive::<arrow::datatypes::UInt32Type>().iter().next().unwrap())
                .collect::<Vec<Option<u32>>>()
        };
        assert_eq!(got().await, [Some(0), Some(1), None, None]);
        // Another process (an executor) reads the file.
        forget();
        assert_eq!(got().await, [Some(0), Some(1), None, None]);
        assert_eq!(Arc::strong_count(&written), 1, "the written index is let go");
        // A file that is not whole ids in rising order is refused.
        std::fs::write(dir.path().join("torn"), [0u8; 17]).unwrap();
        assert!(read(&dir.path().join("torn")).err().unwrap().to_string().contains("not whole ids"));
        let mut backwards = Vec::new();
        for id in ids.iter().rev() {
            backwards.extend_from_slice(&id.bits().to_le_bytes());
        }
        std::fs::write(dir.path().join("backwards"), backwards).unwrap();
        assert!(read(&dir.path().join("backwards")).err().unwrap().to_string().contains("rising order"));
    }
}
