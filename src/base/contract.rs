//! Dataset contracts: the columns, types, keys and row rules of each landing
//! dataset, read from the YAML files of `schemas/` (embedded in the binary)
//! and checked against the Arrow schemas the jobs are written for.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde_yaml::Mapping;

use crate::base::diagnostics::{Problems, Walker};
use crate::base::error::{Classify, ErrorKind};

/// The five landing datasets, in the order a run validates them (the
/// registry first: every other dataset is checked against it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dataset {
    Registry,
    Holdings,
    Violations,
    Complaints,
    Repairs,
}

impl Dataset {
    pub const ALL: [Dataset; 5] =
        [Dataset::Registry, Dataset::Holdings, Dataset::Violations, Dataset::Complaints, Dataset::Repairs];

    pub fn name(self) -> &'static str {
        match self {
            Dataset::Registry => "registry",
            Dataset::Holdings => "holdings",
            Dataset::Violations => "violations",
            Dataset::Complaints => "complaints",
            Dataset::Repairs => "repairs",
        }
    }

    pub fn from_name(name: &str) -> Option<Dataset> {
        Dataset::ALL.into_iter().find(|d| d.name() == name)
    }

    fn embedded_contract(self) -> &'static str {
        match self {
            Dataset::Registry => include_str!("../../schemas/registry.yaml"),
            Dataset::Holdings => include_str!("../../schemas/holdings.yaml"),
            Dataset::Violations => include_str!("../../schemas/violations.yaml"),
            Dataset::Complaints => include_str!("../../schemas/complaints.yaml"),
            Dataset::Repairs => include_str!("../../schemas/repairs.yaml"),
        }
    }
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Snapshot datasets are read from their newest partition only; event
/// datasets from the union of all partitions, newest version per key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatasetKind {
    Snapshot,
    Event,
}

/// A contract column type. Strings may arrive as Utf8 or LargeUtf8; every
/// other type must match exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    Utf8,
    Date,
    Decimal18_2,
    Float64,
    Boolean,
}

impl ColumnType {
    /// The type a contract names (`utf8`, `decimal(18,2)`, ...): the
    /// inverse of its `Display`.
    pub fn parse(s: &str) -> Option<ColumnType> {
        Some(match s {
            "utf8" => ColumnType::Utf8,
            "date" => ColumnType::Date,
            "decimal(18,2)" => ColumnType::Decimal18_2,
            "float64" => ColumnType::Float64,
            "boolean" => ColumnType::Boolean,
            _ => return None,
        })
    }

    /// The Arrow type the jobs work with (strings normalised to Utf8).
    pub fn arrow(self) -> DataType {
        match self {
            ColumnType::Utf8 => DataType::Utf8,
            ColumnType::Date => DataType::Date32,
            ColumnType::Decimal18_2 => DataType::Decimal128(18, 2),
            ColumnType::Float64 => DataType::Float64,
            ColumnType::Boolean => DataType::Boolean,
        }
    }

    /// Whether a file column of type `found` satisfies this contract type.
    pub fn accepts(self, found: &DataType) -> bool {
        match self {
            ColumnType::Utf8 => matches!(found, DataType::Utf8 | DataType::LargeUtf8),
            _ => *found == self.arrow(),
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ColumnType::Utf8 => "utf8",
            ColumnType::Date => "date",
            ColumnType::Decimal18_2 => "decimal(18,2)",
            ColumnType::Float64 => "float64",
            ColumnType::Boolean => "boolean",
        })
    }
}

/// The row-level fault codes of datasets.md, in their priority order: a row
/// that breaks several rules gets the first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultCode {
    MissingRequired,
    BadEntityId,
    BadPersonId,
    BadEnum,
    BadRange,
    FutureDate,
    DuplicateKey,
    SharesOver100,
    UnknownEntity,
    UnknownCase,
}

impl FaultCode {
    pub const ALL: [FaultCode; 10] = [
        FaultCode::MissingRequired,
        FaultCode::BadEntityId,
        FaultCode::BadPersonId,
        FaultCode::BadEnum,
        FaultCode::BadRange,
        FaultCode::FutureDate,
        FaultCode::DuplicateKey,
        FaultCode::SharesOver100,
        FaultCode::UnknownEntity,
        FaultCode::UnknownCase,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FaultCode::MissingRequired => "missing_required",
            FaultCode::BadEntityId => "bad_entity_id",
            FaultCode::BadPersonId => "bad_person_id",
            FaultCode::BadEnum => "bad_enum",
            FaultCode::BadRange => "bad_range",
            FaultCode::FutureDate => "future_date",
            FaultCode::DuplicateKey => "duplicate_key",
            FaultCode::SharesOver100 => "shares_over_100",
            FaultCode::UnknownEntity => "unknown_entity",
            FaultCode::UnknownCase => "unknown_case",
        }
    }
}

impl fmt::Display for FaultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value check of the contract vocabulary. The contract says which column
/// gets which check; the code says what each check means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// A valid entity id (`bad_entity_id`).
    EntityId,
    /// A valid person id (`bad_person_id`).
    PersonId,
    /// An entity id or a person id, by the row's `holder_kind`.
    HolderId,
    /// Exactly six digits (`bad_range`).
    SixDigits,
    /// `>= 0` (`bad_range`).
    NonNegative,
    /// `0 < x <= 100`, not NaN (`bad_range`).
    SharePct,
    /// Not after the partition's ingest_date (`future_date`).
    NotAfterIngestDate,
}

impl Check {
    fn parse(s: &str) -> Option<Check> {
        Some(match s {
            "entity_id" => Check::EntityId,
            "person_id" => Check::PersonId,
            "holder_id" => Check::HolderId,
            "six_digits" => Check::SixDigits,
            "non_negative" => Check::NonNegative,
            "share_pct" => Check::SharePct,
            "not_after_ingest_date" => Check::NotAfterIngestDate,
            _ => return None,
        })
    }
}

/// "Required when another column equals a value" (a branch's parent_id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequiredWhen {
    pub column: usize,
    pub equals: String,
}

/// One column of a contract, with its row rules.
#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
    pub required: bool,
    /// The column must exist in every file even though it may be null.
    pub must_be_present: bool,
    pub non_empty: bool,
    pub one_of: Option<Vec<String>>,
    pub required_when: Option<RequiredWhen>,
    /// Must be null unless `required_when` holds (`bad_range`).
    pub null_otherwise: bool,
    pub check: Option<Check>,
}

impl Column {
    /// Whether a file must carry this column.
    pub fn must_exist_in_file(&self) -> bool {
        self.required || self.must_be_present
    }
}

/// `shares_over_100`: rows grouped by an owned entity whose shares may sum to
/// at most `max_sum`.
#[derive(Clone, Debug)]
pub struct SharesRule {
    pub group_by: usize,
    pub column: usize,
    pub max_sum: f64,
}

/// A checked dataset contract.
#[derive(Clone, Debug)]
pub struct Contract {
    pub dataset: Dataset,
    pub kind: DatasetKind,
    pub key: Vec<usize>,
    pub event_date: Option<usize>,
    pub columns: Vec<Column>,
    pub shares_over_100: Option<SharesRule>,
    /// The column checked against the registry snapshot (`unknown_entity`).
    pub unknown_entity: Option<usize>,
    /// The column checked against the known violations (`unknown_case`).
    pub unknown_case: Option<usize>,
}

/// The names of a contract's columns, by which its other fields name them.
struct ColumnNames(Vec<String>);

impl ColumnNames {
    /// The index of column `name`; an unknown name is a problem at `at`.
    fn index(&self, w: &mut Walker, name: &str, at: &str) -> Option<usize> {
        let i = self.0.iter().position(|n| n == name);
        if i.is_none() {
            w.problem(at, format!("names unknown column '{name}'"));
        }
        i
    }
}

impl Contract {
    /// The contract of `dataset` as embedded from `schemas/`.
    pub fn load(dataset: Dataset) -> Result<Contract, ContractError> {
        Contract::parse(dataset, dataset.embedded_contract())
    }

    /// Parses and checks a contract file's text for `dataset`, reporting
    /// every problem at once.
    pub fn parse(dataset: Dataset, text: &str) -> Result<Contract, ContractError> {
        let mut w = Walker::new(format!("schemas/{}.yaml", dataset.name()));
        let contract = Contract::walk(&mut w, dataset, text);
        w.finish("a dataset contract", contract).map_err(ContractError)
    }

    fn walk(w: &mut Walker, dataset: Dataset, text: &str) -> Option<Contract> {
        let root = w.root(text, "a contract")?;
        w.known_fields(
            &root,
            "",
            &["dataset", "kind", "key", "event_date", "columns", "shares_over_100", "unknown_entity", "unknown_case"],
        );
        let name = w.string(&root, "dataset", "", true)?;
        if name != dataset.name() {
            w.problem("dataset", format!("names dataset '{name}', expected '{}'", dataset.name()));
        }
        let kind = match w.string(&root, "kind", "", true)?.as_str() {
            "snapshot" => DatasetKind::Snapshot,
            "event" => DatasetKind::Event,
            other => {
                w.problem("kind", format!("'{other}' is neither snapshot nor event"));
                return None;
            }
        };
        let maps = w.mappings(&root, "columns", "");
        let names =
            ColumnNames(maps.iter().filter_map(|m| m.get("name").and_then(|v| v.as_str())).map(String::from).collect());
        let index = |w: &mut Walker, name: &str, at: &str| names.index(w, name, at);
        let columns: Vec<Column> =
            maps.iter().enumerate().filter_map(|(i, c)| Contract::walk_column(w, c, i, &names)).collect();
        let key: Vec<usize> =
            w.strings(&root, "key", "").unwrap_or_default().iter().filter_map(|k| index(w, k, "key")).collect();
        let event_date = w.string(&root, "event_date", "", false).and_then(|c| index(w, &c, "event_date"));
        if (kind == DatasetKind::Event) != event_date.is_some() {
            w.problem("event_date", "an event dataset needs event_date, a snapshot has none");
        }
        let shares_over_100 = w.section(&root, "shares_over_100").and_then(|sh| Contract::walk_shares(w, sh, &names));
        let unknown_entity = w.string(&root, "unknown_entity", "", false).and_then(|c| index(w, &c, "unknown_entity"));
        let unknown_case = w.string(&root, "unknown_case", "", false).and_then(|c| index(w, &c, "unknown_case"));
        if key.is_empty() {
            w.problem("key", "a contract needs a key");
        }
        if !w.is_clean() {
            return None;
        }
        let contract =
            Contract { dataset, kind, key, event_date, columns, shares_over_100, unknown_entity, unknown_case };
        if let Err(message) = contract.check_against_jobs_schema() {
            w.problem("columns", message);
            return None;
        }
        Some(contract)
    }

    /// Column `i` of a contract (`c`), its problems told to `w`.
    fn walk_column(w: &mut Walker, c: &Mapping, i: usize, names: &ColumnNames) -> Option<Column> {
        let at = format!("columns[{i}]");
        w.known_fields(
            c,
            &at,
            &[
                "name",
                "type",
                "required",
                "must_be_present",
                "non_empty",
                "one_of",
                "required_when",
                "null_otherwise",
                "check",
            ],
        );
        let name = w.string(c, "name", &at, true);
        let at = name.as_ref().map(|n| format!("column {n}")).unwrap_or(at);
        let ty = w.string(c, "type", &at, true).and_then(|t| {
            let ty = ColumnType::parse(&t);
            if ty.is_none() {
                w.problem(&at, format!("unknown type '{t}'"));
            }
            ty
        });
        let check = w.string(c, "check", &at, false).and_then(|t| {
            let check = Check::parse(&t);
            if check.is_none() {
                w.problem(&at, format!("unknown check '{t}'"));
            }
            check
        });
        let required_when = match w.section(c, "required_when") {
            Some(rw) => {
                w.known_fields(rw, &at, &["column", "equals"]);
                let column = w.string(rw, "column", &at, true).and_then(|n| names.index(w, &n, &at));
                let equals = w.string(rw, "equals", &at, true);
                column.zip(equals).map(|(column, equals)| RequiredWhen { column, equals })
            }
            None => None,
        };
        let flag = |w: &mut Walker, key: &str| w.boolean(c, key, &at, false).unwrap_or(false);
        let (required, must_be_present, non_empty, null_otherwise) =
            (flag(w, "required"), flag(w, "must_be_present"), flag(w, "non_empty"), flag(w, "null_otherwise"));
        let one_of = w.strings(c, "one_of", &at);
        let (name, ty) = (name?, ty?);
        Some(Column { name, ty, required, must_be_present, non_empty, one_of, required_when, null_otherwise, check })
    }

    /// The `shares_over_100` section of a contract (`sh`), its problems told to `w`.
    fn walk_shares(w: &mut Walker, sh: &Mapping, names: &ColumnNames) -> Option<SharesRule> {
        let at = "shares_over_100";
        w.known_fields(sh, at, &["group_by", "column", "max_sum"]);
        let group_by = w.string(sh, "group_by", at, true).and_then(|n| names.index(w, &n, at));
        let column = w.string(sh, "column", at, true).and_then(|n| names.index(w, &n, at));
        let max_sum = w.number(sh, "max_sum", at, true);
        Some(SharesRule { group_by: group_by?, column: column?, max_sum: max_sum? })
    }

    /// Fails when the contract's columns differ from the Arrow schema the
    /// jobs are compiled for: an edited contract must never silently change
    /// what the code reads.
    fn check_against_jobs_schema(&self) -> Result<(), String> {
        let jobs = jobs_schema(self.dataset);
        let ours = self.arrow_schema();
        if jobs.fields().len() != ours.fields().len() {
            return Err(format!("has {} columns, the jobs expect {}", ours.fields().len(), jobs.fields().len()));
        }
        for (j, o) in jobs.fields().iter().zip(ours.fields()) {
            if j.name() != o.name() || j.data_type() != o.data_type() || j.is_nullable() != o.is_nullable() {
                return Err(format!(
                    "column {} {} (nullable {}) disagrees with the jobs' {} {} (nullable {})",
                    o.name(),
                    o.data_type(),
                    o.is_nullable(),
                    j.name(),
                    j.data_type(),
                    j.is_nullable()
                ));
            }
        }
        Ok(())
    }

    /// The contract's columns as an Arrow schema (strings as Utf8). A
    /// required column is non-nullable.
    pub fn arrow_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns.iter().map(|c| Field::new(&c.name, c.ty.arrow(), !c.required)).collect::<Vec<_>>(),
        ))
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// The five contracts of a run, loaded once.
#[derive(Clone, Debug)]
pub struct Contracts {
    contracts: Vec<Contract>,
}

impl Contracts {
    pub fn load() -> Result<Contracts, ContractError> {
        Ok(Contracts { contracts: Dataset::ALL.into_iter().map(Contract::load).collect::<Result<_, _>>()? })
    }

    pub fn get(&self, dataset: Dataset) -> &Contract {
        &self.contracts[dataset as usize]
    }
}

/// A contract file that does not parse or disagrees with the code.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ContractError(pub Problems);

impl Classify for ContractError {
    /// Contracts are embedded: a bad one is a bug of the build.
    fn kind(&self) -> ErrorKind {
        ErrorKind::Bug
    }
}

/// The Arrow schema each job is written for. The contract files must agree
/// with it (checked when a contract is loaded, and by a test).
pub fn jobs_schema(dataset: Dataset) -> SchemaRef {
    use DataType::*;
    let f = |name: &str, ty: DataType, nullable: bool| Field::new(name, ty, nullable);
    let money = Decimal128(18, 2);
    Arc::new(Schema::new(match dataset {
        Dataset::Registry => vec![
            f("entity_id", Utf8, false),
            f("name", Utf8, false),
            f("entity_type", Utf8, false),
            f("legal_rep_id", Utf8, true),
            f("parent_id", Utf8, true),
            f("region", Utf8, false),
            f("industry", Utf8, true),
            f("online_store", Utf8, true),
            f("established_on", Date32, false),
            f("status", Utf8, false),
            f("registered_capital", money, true),
        ],
        Dataset::Holdings => vec![
            f("holder_id", Utf8, false),
            f("holder_kind", Utf8, false),
            f("entity_id", Utf8, false),
            f("share_pct", Float64, false),
        ],
        Dataset::Violations => vec![
            f("case_id", Utf8, false),
            f("entity_id", Utf8, false),
            f("decided_on", Date32, false),
            f("category", Utf8, false),
            f("severity", Utf8, false),
            f("fine_cny", money, true),
            f("status", Utf8, false),
            f("authority", Utf8, false),
        ],
        Dataset::Complaints => vec![
            f("complaint_id", Utf8, false),
            f("entity_id", Utf8, false),
            f("received_on", Date32, false),
            f("channel", Utf8, false),
            f("category", Utf8, true),
            f("verified", Boolean, false),
            f("outcome", Utf8, false),
            f("amount_cny", money, true),
        ],
        Dataset::Repairs => vec![
            f("repair_id", Utf8, false),
            f("entity_id", Utf8, false),
            f("case_id", Utf8, false),
            f("approved_on", Date32, false),
        ],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_contract_file_matches_the_jobs_arrow_schema() {
        for d in Dataset::ALL {
            let c = Contract::load(d).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(c.arrow_schema(), jobs_schema(d), "{d}");
        }
    }

    #[test]
    fn a_contract_that_changes_a_type_is_refused() {
        let text = include_str!("../../schemas/holdings.yaml").replace("type: float64", "type: \"decimal(18,2)\"");
        let e = Contract::parse(Dataset::Holdings, &text).unwrap_err();
        assert!(e.to_string().contains("share_pct"), "{e}");
    }

    #[test]
    fn a_contract_names_each_problem_where_it_is() {
        let text = include_str!("../../schemas/holdings.yaml")
            .replace("type: float64, required: true, check: share_pct", "type: float32, required: true, check: percent")
            .replace("key: [holder_id, entity_id]", "key: [holder_id, entity]")
            .replace("group_by: entity_id, column: share_pct", "group_by: owner, column: share_pct, sum: 100")
            .replace("one_of: [entity, person] }", "one_of: [entity, person], unique: true }");
        let e = Contract::parse(Dataset::Holdings, &text).unwrap_err().to_string();
        let wanted = [
            "columns[1]: unknown field 'unique'",
            "column share_pct: unknown type 'float32'",
            "column share_pct: unknown check 'percent'",
            "key: names unknown column 'entity'",
            "shares_over_100: unknown field 'sum'",
            "shares_over_100: names unknown column 'owner'",
        ];
        let mut from = 0;
        for w in wanted {
            let at = e[from..].find(w).unwrap_or_else(|| panic!("{w:?} not after byte {from} of:\n{e}"));
            from += at + w.len();
        }
    }

    #[test]
    fn fault_codes_keep_the_spec_order() {
        let names: Vec<&str> = FaultCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            names,
            [
                "missing_required",
                "bad_entity_id",
                "bad_person_id",
                "bad_enum",
                "bad_range",
                "future_date",
                "duplicate_key",
                "shares_over_100",
                "unknown_entity",
                "unknown_case"
            ]
        );
        assert!(FaultCode::ALL.windows(2).all(|w| w[0] < w[1]));
    }
}
