//! Dataset contracts: the columns, types, keys and row rules of each landing
//! dataset, read from the YAML files of `schemas/` (embedded in the binary)
//! and checked against the Arrow schemas the jobs are written for.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde::Deserialize;

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
    fn parse(s: &str) -> Option<ColumnType> {
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

impl Contract {
    /// The contract of `dataset` as embedded from `schemas/`.
    pub fn load(dataset: Dataset) -> Result<Contract, ContractError> {
        Contract::parse(dataset, dataset.embedded_contract())
    }

    /// Parses and checks a contract file's text for `dataset`.
    pub fn parse(dataset: Dataset, text: &str) -> Result<Contract, ContractError> {
        let file = format!("schemas/{}.yaml", dataset.name());
        let err = |message: String| ContractError { file: file.clone(), message };
        let raw: RawContract = serde_yaml::from_str(text).map_err(|e| err(e.to_string()))?;
        if raw.dataset != dataset.name() {
            return Err(err(format!("names dataset '{}', expected '{}'", raw.dataset, dataset.name())));
        }
        let kind = match raw.kind.as_str() {
            "snapshot" => DatasetKind::Snapshot,
            "event" => DatasetKind::Event,
            other => return Err(err(format!("kind '{other}' is neither snapshot nor event"))),
        };
        let names: Vec<&str> = raw.columns.iter().map(|c| c.name.as_str()).collect();
        let index = |name: &str, what: &str| {
            names.iter().position(|n| *n == name).ok_or_else(|| err(format!("{what} names unknown column '{name}'")))
        };
        let mut columns = Vec::with_capacity(raw.columns.len());
        for c in &raw.columns {
            let ty =
                ColumnType::parse(&c.ty).ok_or_else(|| err(format!("column {}: unknown type '{}'", c.name, c.ty)))?;
            let check = match &c.check {
                Some(s) => Some(Check::parse(s).ok_or_else(|| err(format!("column {}: unknown check '{s}'", c.name)))?),
                None => None,
            };
            let required_when = match &c.required_when {
                Some(w) => Some(RequiredWhen {
                    column: index(&w.column, &format!("column {} required_when", c.name))?,
                    equals: w.equals.clone(),
                }),
                None => None,
            };
            columns.push(Column {
                name: c.name.clone(),
                ty,
                required: c.required,
                must_be_present: c.must_be_present,
                non_empty: c.non_empty,
                one_of: c.one_of.clone(),
                required_when,
                null_otherwise: c.null_otherwise,
                check,
            });
        }
        let key = raw.key.iter().map(|k| index(k, "key")).collect::<Result<Vec<_>, _>>()?;
        let event_date = raw.event_date.as_deref().map(|c| index(c, "event_date")).transpose()?;
        if (kind == DatasetKind::Event) != event_date.is_some() {
            return Err(err("an event dataset needs event_date, a snapshot has none".into()));
        }
        let shares_over_100 = match &raw.shares_over_100 {
            Some(s) => Some(SharesRule {
                group_by: index(&s.group_by, "shares_over_100.group_by")?,
                column: index(&s.column, "shares_over_100.column")?,
                max_sum: s.max_sum,
            }),
            None => None,
        };
        let contract = Contract {
            dataset,
            kind,
            key,
            event_date,
            columns,
            shares_over_100,
            unknown_entity: raw.unknown_entity.as_deref().map(|c| index(c, "unknown_entity")).transpose()?,
            unknown_case: raw.unknown_case.as_deref().map(|c| index(c, "unknown_case")).transpose()?,
        };
        contract.check_against_jobs_schema().map_err(err)?;
        Ok(contract)
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
#[error("contract {file}: {message}")]
pub struct ContractError {
    pub file: String,
    pub message: String,
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContract {
    dataset: String,
    kind: String,
    key: Vec<String>,
    #[serde(default)]
    event_date: Option<String>,
    columns: Vec<RawColumn>,
    #[serde(default)]
    shares_over_100: Option<RawShares>,
    #[serde(default)]
    unknown_entity: Option<String>,
    #[serde(default)]
    unknown_case: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumn {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    must_be_present: bool,
    #[serde(default)]
    non_empty: bool,
    #[serde(default)]
    one_of: Option<Vec<String>>,
    #[serde(default)]
    required_when: Option<RawRequiredWhen>,
    #[serde(default)]
    null_otherwise: bool,
    #[serde(default)]
    check: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequiredWhen {
    column: String,
    equals: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShares {
    group_by: String,
    column: String,
    max_sum: f64,
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
