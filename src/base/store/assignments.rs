//! Who works on which queue item: an officer takes an item ("assign to
//! me", "take the next unassigned") and releases it. An assignment is a
//! working arrangement, not a decision: it can be released and taken
//! again, and the audit log of the pages records each change.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension};

use super::{now, Result, Store};

/// Who holds an item and since when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub officer: String,
    pub since: String,
}

impl Store {
    /// Assigns the item to `officer` unless another officer holds it;
    /// returns the holder after the call.
    pub fn assign(&self, list: &str, entity: &str, officer: &str) -> Result<Assignment> {
        let conn = self.connection();
        conn.execute(
            "INSERT INTO assignments (list_id, entity_id, officer, assigned_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (list_id, entity_id) DO NOTHING",
            params![list, entity, officer, now()],
        )
        .map_err(self.err("assign"))?;
        conn.query_row(
            "SELECT officer, assigned_at FROM assignments WHERE list_id = ?1 AND entity_id = ?2",
            params![list, entity],
            |r| Ok(Assignment { officer: r.get(0)?, since: r.get(1)? }),
        )
        .map_err(self.err("assign"))
    }

    /// Releases the item if `officer` holds it; false otherwise.
    pub fn release(&self, list: &str, entity: &str, officer: &str) -> Result<bool> {
        let n = self
            .connection()
            .execute(
                "DELETE FROM assignments WHERE list_id = ?1 AND entity_id = ?2 AND officer = ?3",
                params![list, entity, officer],
            )
            .map_err(self.err("release"))?;
        Ok(n > 0)
    }

    /// The holder of an item, if any.
    pub fn assignment(&self, list: &str, entity: &str) -> Result<Option<Assignment>> {
        self.connection()
            .query_row(
                "SELECT officer, assigned_at FROM assignments WHERE list_id = ?1 AND entity_id = ?2",
                params![list, entity],
                |r| Ok(Assignment { officer: r.get(0)?, since: r.get(1)? }),
            )
            .optional()
            .map_err(self.err("read assignment"))
    }

    /// Every assignment of a list, by entity.
    pub fn assignments(&self, list: &str) -> Result<HashMap<String, Assignment>> {
        let conn = self.connection();
        let mut stmt = conn
            .prepare("SELECT entity_id, officer, assigned_at FROM assignments WHERE list_id = ?1")
            .map_err(self.err("read assignments"))?;
        let rows = stmt
            .query_map(params![list], |r| {
                Ok((r.get::<_, String>(0)?, Assignment { officer: r.get(1)?, since: r.get(2)? }))
            })
            .map_err(self.err("read assignments"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err("read assignments"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_has_one_holder_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("credence.db")).unwrap();
        assert_eq!(store.assign("L", "E1", "olga").unwrap().officer, "olga");
        assert_eq!(store.assign("L", "E1", "sam").unwrap().officer, "olga", "taken: sam does not get it");
        assert!(!store.release("L", "E1", "sam").unwrap(), "only the holder releases");
        assert!(store.release("L", "E1", "olga").unwrap());
        assert_eq!(store.assign("L", "E1", "sam").unwrap().officer, "sam");
        assert_eq!(store.assign("M", "E1", "olga").unwrap().officer, "olga", "per list");
        assert_eq!(store.assignments("L").unwrap().len(), 1);
        assert_eq!(store.assignment("L", "E2").unwrap(), None);
    }
}
