//! Scoring and listing policies (policy.md, joint-sanctions.md "Policy
//! section"): loading a YAML file, checking everything the spec lists, and
//! the validated [`Policy`] the stages execute.
//!
//! The file is walked as a YAML tree rather than deserialised in one go, so
//! that every problem is found and reported at once, each with the file,
//! the rule id (or field path) and a message.

pub mod predicate;

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use serde_yaml::{Mapping, Value};
use sha2::{Digest, Sha256};

use crate::base::contract::{Contracts, Dataset};
pub use crate::base::decay::Decay;
use crate::base::error::{Classify, ErrorKind};
pub use predicate::Predicate;

/// The example policy of policy.md with the joint sanctions of
/// joint-sanctions.md, embedded as the default.
pub const DEFAULT_POLICY_FILE: &str = "policies/online-market.yaml";
pub const DEFAULT_POLICY: &str = include_str!("../../../policies/online-market.yaml");

/// A validated policy.
#[derive(Clone, Debug)]
pub struct Policy {
    pub id: String,
    pub version: String,
    pub title: String,
    pub scope: Option<Predicate>,
    pub base: f64,
    pub floor: f64,
    pub rules: Vec<ScoreRule>,
    /// Best first.
    pub grades: Vec<Band>,
    pub direct_grades: Vec<DirectGrade>,
    pub lists: Vec<ListSpec>,
    pub joint: JointSanctions,
    /// SHA-256 of the policy file's bytes, hex.
    pub sha256: String,
    pub file: String,
}

/// The event datasets a rule may read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventDataset {
    Violations,
    Complaints,
}

impl EventDataset {
    pub fn dataset(self) -> Dataset {
        match self {
            EventDataset::Violations => Dataset::Violations,
            EventDataset::Complaints => Dataset::Complaints,
        }
    }

    /// The column that dates a record (its age is `D - date`).
    pub fn date_column(self) -> &'static str {
        match self {
            EventDataset::Violations => "decided_on",
            EventDataset::Complaints => "received_on",
        }
    }

    /// The column whose values are a reason's record ids.
    pub fn record_column(self) -> &'static str {
        match self {
            EventDataset::Violations => "case_id",
            EventDataset::Complaints => "complaint_id",
        }
    }
}

#[derive(Clone, Debug)]
pub struct ScoreRule {
    pub id: String,
    pub title: Option<String>,
    pub dataset: EventDataset,
    pub predicate: Predicate,
    pub points: f64,
    pub window_days: i64,
    pub decay: Decay,
    pub cap: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Band {
    pub grade: String,
    pub min: f64,
}

#[derive(Clone, Debug)]
pub struct DirectGrade {
    pub id: String,
    pub title: String,
    pub dataset: EventDataset,
    pub predicate: Predicate,
    pub window_days: i64,
    /// Index of the forced grade in `grades` (larger is worse).
    pub grade: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Review {
    None,
    Additions,
}

#[derive(Clone, Debug)]
pub struct ListSpec {
    pub id: String,
    pub title: String,
    /// Indexes into `grades`.
    pub grades: Vec<usize>,
    pub review: Review,
    pub measures: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Relation {
    Branch,
    Control { threshold_pct: f64 },
    LegalRep,
}

#[derive(Clone, Debug)]
pub struct JointRule {
    pub id: String,
    pub list: String,
    pub relation: Relation,
    /// The rule's own measures; branch and control rules without them take
    /// the list's.
    pub measures: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default)]
pub struct JointSanctions {
    /// `None`: no limit.
    pub max_rounds: Option<u32>,
    pub rules: Vec<JointRule>,
}

impl Policy {
    pub fn list(&self, id: &str) -> Option<&ListSpec> {
        self.lists.iter().find(|l| l.id == id)
    }

    /// The grade name of a band index.
    pub fn grade_name(&self, index: usize) -> &str {
        &self.grades[index].grade
    }

    /// The band index of the first band whose `min <= score`.
    pub fn band_of(&self, score: f64) -> usize {
        self.grades.iter().position(|b| b.min <= score).unwrap_or(self.grades.len() - 1)
    }

    /// Loads and checks a policy file.
    pub fn load(path: &Path, contracts: &Contracts) -> Result<Policy, PolicyErrors> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| PolicyErrors {
            problems: vec![Problem { file: file.clone(), at: String::new(), message: format!("cannot read: {e}") }],
        })?;
        let text = String::from_utf8_lossy(&bytes);
        Policy::parse(&file, &text, contracts)
    }

    /// The embedded default policy.
    pub fn default_policy(contracts: &Contracts) -> Policy {
        Policy::parse(DEFAULT_POLICY_FILE, DEFAULT_POLICY, contracts).expect("the embedded policy is valid")
    }

    /// Checks a policy text; `file` names it in problems.
    pub fn parse(file: &str, text: &str, contracts: &Contracts) -> Result<Policy, PolicyErrors> {
        let mut c = Checker { file: file.to_string(), problems: Vec::new(), contracts };
        let policy = c.policy(text);
        match policy {
            Some(mut p) if c.problems.is_empty() => {
                p.sha256 = hex::encode(Sha256::digest(text.as_bytes()));
                p.file = file.to_string();
                Ok(p)
            }
            _ => Err(PolicyErrors { problems: c.problems }),
        }
    }
}

/// One problem of a policy file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    /// The rule or list id, or the field path, the problem is about.
    pub at: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.at.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.at, self.message)
        }
    }
}

/// Every problem found in a policy file.
#[derive(Debug, thiserror::Error)]
pub struct PolicyErrors {
    pub problems: Vec<Problem>,
}

impl Classify for PolicyErrors {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Input
    }
}

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the policy has {} problem(s)", self.problems.len())?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

struct Checker<'a> {
    file: String,
    problems: Vec<Problem>,
    contracts: &'a Contracts,
}

fn is_list_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'-'))
}

fn is_rule_id(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_uppercase()
        && b[1..].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
}

fn is_grade_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && b[0].is_ascii_uppercase() && b[1..].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

fn is_measure(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// At most two decimals (tolerant of binary representation).
fn two_decimals(x: f64) -> bool {
    ((x * 100.0).round() - x * 100.0).abs() < 1e-6
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

impl Checker<'_> {
    fn problem(&mut self, at: &str, message: impl Into<String>) {
        self.problems.push(Problem { file: self.file.clone(), at: at.to_string(), message: message.into() });
    }

    /// Reports keys of `map` outside `allowed`.
    fn known_fields(&mut self, map: &Mapping, at: &str, allowed: &[&str]) {
        for k in map.keys() {
            let name = k.as_str().map(str::to_string).unwrap_or_else(|| format!("{k:?}"));
            if !allowed.contains(&name.as_str()) {
                self.problem(at, format!("unknown field '{name}' (expected one of: {})", allowed.join(", ")));
            }
        }
    }

    fn string(&mut self, map: &Mapping, key: &str, at: &str, required: bool) -> Option<String> {
        match map.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.problem(at, format!("'{key}' is required"));
                }
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.problem(at, format!("'{key}' must be a string, found {}", describe(other)));
                None
            }
        }
    }

    fn number(&mut self, map: &Mapping, key: &str, at: &str, required: bool) -> Option<f64> {
        match map.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.problem(at, format!("'{key}' is required"));
                }
                None
            }
            Some(Value::Number(n)) => n.as_f64(),
            Some(other) => {
                self.problem(at, format!("'{key}' must be a number, found {}", describe(other)));
                None
            }
        }
    }

    fn integer(&mut self, map: &Mapping, key: &str, at: &str, required: bool) -> Option<i64> {
        match map.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.problem(at, format!("'{key}' is required"));
                }
                None
            }
            Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64(),
            Some(other) => {
                self.problem(at, format!("'{key}' must be an integer, found {}", describe(other)));
                None
            }
        }
    }

    /// A list of strings; `None` when absent.
    fn strings(&mut self, map: &Mapping, key: &str, at: &str) -> Option<Vec<String>> {
        match map.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Sequence(items)) => {
                let mut out = Vec::new();
                for item in items {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        other => self.problem(at, format!("'{key}' must hold strings, found {}", describe(other))),
                    }
                }
                Some(out)
            }
            Some(other) => {
                self.problem(at, format!("'{key}' must be a list, found {}", describe(other)));
                None
            }
        }
    }

    /// A list of mappings; absent or empty is the same.
    fn mappings<'v>(&mut self, map: &'v Mapping, key: &str, at: &str) -> Vec<&'v Mapping> {
        match map.get(key) {
            None | Some(Value::Null) => vec![],
            Some(Value::Sequence(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| match item {
                    Value::Mapping(m) => Some(m),
                    other => {
                        self.problem(&format!("{key}[{i}]"), format!("must be a mapping, found {}", describe(other)));
                        None
                    }
                })
                .collect(),
            Some(other) => {
                self.problem(at, format!("'{key}' must be a list, found {}", describe(other)));
                vec![]
            }
        }
    }

    fn rule_id(&mut self, map: &Mapping, fallback: &str, seen: &mut HashSet<String>) -> (String, Option<String>) {
        let id = self.string(map, "id", fallback, true);
        let at = id.clone().unwrap_or_else(|| fallback.to_string());
        if let Some(id) = &id {
            if !is_rule_id(id) {
                self.problem(&at, "rule id must match [A-Z][A-Z0-9_]*");
            }
            if !seen.insert(id.clone()) {
                self.problem(&at, "duplicate rule id (score rules, direct grades and joint rules share one namespace)");
            }
        }
        (at, id)
    }

    fn dataset(&mut self, map: &Mapping, at: &str) -> Option<EventDataset> {
        match self.string(map, "dataset", at, true)?.as_str() {
            "violations" => Some(EventDataset::Violations),
            "complaints" => Some(EventDataset::Complaints),
            other => {
                self.problem(at, format!("dataset must be violations or complaints, found '{other}'"));
                None
            }
        }
    }

    fn predicate(&mut self, map: &Mapping, key: &str, at: &str, dataset: Dataset, required: bool) -> Option<Predicate> {
        let text = self.string(map, key, at, required)?;
        match Predicate::compile(&text, self.contracts.get(dataset)) {
            Ok(p) => Some(p),
            Err(e) => {
                self.problem(at, format!("{key}: {e}"));
                None
            }
        }
    }

    fn window(&mut self, map: &Mapping, at: &str) -> Option<i64> {
        let w = self.integer(map, "window_days", at, true)?;
        if w <= 0 {
            self.problem(at, format!("window_days must be > 0, found {w}"));
            return None;
        }
        Some(w)
    }

    fn policy(&mut self, text: &str) -> Option<Policy> {
        let root: Value = match serde_yaml::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                self.problem("", format!("not valid YAML: {e}"));
                return None;
            }
        };
        let Value::Mapping(root) = root else {
            self.problem("", "the policy must be a YAML mapping");
            return None;
        };
        self.known_fields(
            &root,
            "",
            &["id", "version", "title", "scope", "score", "grades", "direct_grades", "lists", "joint_sanctions"],
        );
        let id = self.string(&root, "id", "id", true);
        if let Some(id) = &id {
            if !is_list_id(id) {
                self.problem("id", "policy id must match [a-z0-9-]+");
            }
        }
        let version = match root.get("version") {
            Some(Value::String(s)) => Some(s.clone()),
            None | Some(Value::Null) => {
                self.problem("version", "'version' is required");
                None
            }
            Some(other) => {
                self.problem("version", format!("version must be a YAML string (quote it), found {}", describe(other)));
                None
            }
        };
        let title = self.string(&root, "title", "title", true);
        let scope = self.predicate(&root, "scope", "scope", Dataset::Registry, false);

        let mut seen = HashSet::new();
        let (base, floor, rules) = self.score(&root, &mut seen);
        let grades = self.grades(&root, floor);
        let direct_grades = self.direct_grades(&root, &grades, &mut seen);
        let lists = self.lists(&root, &grades);
        // Joint rules are checked against every declared list id, so that a
        // list with a problem of its own does not make each rule naming it fail too.
        let declared: Vec<String> = match root.get("lists") {
            Some(Value::Sequence(items)) => {
                items.iter().filter_map(|i| i.get("id").and_then(Value::as_str).map(str::to_string)).collect()
            }
            _ => vec![],
        };
        let joint = self.joint(&root, &declared, &mut seen);

        Some(Policy {
            id: id?,
            version: version?,
            title: title?,
            scope,
            base: base?,
            floor: floor?,
            rules,
            grades,
            direct_grades,
            lists,
            joint,
            sha256: String::new(),
            file: String::new(),
        })
    }

    fn score(&mut self, root: &Mapping, seen: &mut HashSet<String>) -> (Option<f64>, Option<f64>, Vec<ScoreRule>) {
        let Some(score) = root.get("score") else {
            self.problem("score", "'score' is required (base and floor)");
            return (None, None, vec![]);
        };
        let Value::Mapping(score) = score else {
            self.problem("score", format!("'score' must be a mapping, found {}", describe(score)));
            return (None, None, vec![]);
        };
        self.known_fields(score, "score", &["base", "floor", "rules"]);
        let base = self.number(score, "base", "score", true);
        let floor = self.number(score, "floor", "score", true);
        if let Some(b) = base {
            if b <= 0.0 {
                self.problem("score", format!("base must be > 0, found {b}"));
            }
        }
        if let Some(f) = floor {
            if f < 0.0 || base.is_some_and(|b| f >= b) {
                self.problem("score", format!("floor must be >= 0 and < base, found {f}"));
            }
            if !two_decimals(f) {
                self.problem("score", format!("floor has more than two decimals: {f}"));
            }
        }
        let mut rules = Vec::new();
        for (i, m) in self.mappings(score, "rules", "score").into_iter().enumerate() {
            let (at, id) = self.rule_id(m, &format!("score.rules[{i}]"), seen);
            self.known_fields(m, &at, &["id", "title", "dataset", "where", "points", "window_days", "decay", "cap"]);
            let title = self.string(m, "title", &at, false);
            let dataset = self.dataset(m, &at);
            let predicate = dataset.and_then(|d| self.predicate(m, "where", &at, d.dataset(), true));
            let points = self.number(m, "points", &at, true);
            if let Some(p) = points {
                if p <= 0.0 {
                    self.problem(&at, format!("points must be > 0, found {p}"));
                }
            }
            let window = self.window(m, &at);
            let decay = self.decay(m, &at);
            let cap = self.number(m, "cap", &at, false);
            if let Some(c) = cap {
                if c <= 0.0 {
                    self.problem(&at, format!("cap must be > 0, found {c}"));
                }
            }
            if let (Some(id), Some(dataset), Some(predicate), Some(points), Some(window_days), Some(decay)) =
                (id, dataset, predicate, points, window, decay)
            {
                rules.push(ScoreRule { id, title, dataset, predicate, points, window_days, decay, cap });
            }
        }
        (base, floor, rules)
    }

    fn decay(&mut self, m: &Mapping, at: &str) -> Option<Decay> {
        match m.get("decay") {
            None | Some(Value::Null) => Some(Decay::None),
            Some(Value::String(s)) if s == "none" => Some(Decay::None),
            Some(Value::String(s)) if s == "linear" => Some(Decay::Linear),
            Some(Value::Mapping(d)) => {
                self.known_fields(d, at, &["half_life_days"]);
                let h = self.number(d, "half_life_days", at, true)?;
                if h <= 0.0 {
                    self.problem(at, format!("half_life_days must be > 0, found {h}"));
                    return None;
                }
                Some(Decay::HalfLife(h))
            }
            Some(other) => {
                let found = match other {
                    Value::String(s) => format!("'{s}'"),
                    v => describe(v).to_string(),
                };
                self.problem(at, format!("decay must be none, linear or {{ half_life_days: H }}, found {found}"));
                None
            }
        }
    }

    fn grades(&mut self, root: &Mapping, floor: Option<f64>) -> Vec<Band> {
        let mut bands: Vec<Band> = Vec::new();
        let maps = self.mappings(root, "grades", "grades");
        if maps.is_empty() {
            self.problem("grades", "at least one band is required");
        }
        for (i, m) in maps.into_iter().enumerate() {
            let at = format!("grades[{i}]");
            self.known_fields(m, &at, &["grade", "min"]);
            let grade = self.string(m, "grade", &at, true);
            let min = self.number(m, "min", &at, true);
            if let Some(g) = &grade {
                if !is_grade_name(g) {
                    self.problem(&at, format!("grade name '{g}' must match [A-Z][A-Z0-9]*"));
                }
                if bands.iter().any(|b| &b.grade == g) {
                    self.problem(&at, format!("grade '{g}' appears twice"));
                }
            }
            if let Some(m) = min {
                if !two_decimals(m) {
                    self.problem(&at, format!("min has more than two decimals: {m}"));
                }
                if let Some(prev) = bands.last() {
                    if m >= prev.min {
                        self.problem(
                            &at,
                            format!("bands out of order: min {m} is not below the previous band's {}", prev.min),
                        );
                    }
                }
            }
            if let (Some(grade), Some(min)) = (grade, min) {
                bands.push(Band { grade, min });
            }
        }
        if let (Some(last), Some(floor)) = (bands.last(), floor) {
            if last.min != floor {
                self.problem(
                    "grades",
                    format!("the last band's min must equal score.floor ({floor}), found {}", last.min),
                );
            }
        }
        bands
    }

    fn grade_index(&mut self, grades: &[Band], name: &str, at: &str) -> Option<usize> {
        let i = grades.iter().position(|b| b.grade == name);
        if i.is_none() {
            let names: Vec<&str> = grades.iter().map(|b| b.grade.as_str()).collect();
            self.problem(at, format!("grade '{name}' is not a band (bands: {})", names.join(", ")));
        }
        i
    }

    fn direct_grades(&mut self, root: &Mapping, grades: &[Band], seen: &mut HashSet<String>) -> Vec<DirectGrade> {
        let mut out = Vec::new();
        for (i, m) in self.mappings(root, "direct_grades", "direct_grades").into_iter().enumerate() {
            let (at, id) = self.rule_id(m, &format!("direct_grades[{i}]"), seen);
            self.known_fields(m, &at, &["id", "title", "dataset", "where", "window_days", "grade"]);
            let title = self.string(m, "title", &at, true);
            let dataset = self.dataset(m, &at);
            let predicate = dataset.and_then(|d| self.predicate(m, "where", &at, d.dataset(), true));
            let window = self.window(m, &at);
            let grade = self.string(m, "grade", &at, true).and_then(|g| self.grade_index(grades, &g, &at));
            if let (Some(id), Some(title), Some(dataset), Some(predicate), Some(window_days), Some(grade)) =
                (id, title, dataset, predicate, window, grade)
            {
                out.push(DirectGrade { id, title, dataset, predicate, window_days, grade });
            }
        }
        out
    }

    fn measures(&mut self, m: &Mapping, at: &str, required: bool) -> Option<Vec<String>> {
        let measures = self.strings(m, "measures", at);
        match &measures {
            None if required => self.problem(at, "'measures' is required"),
            Some(v) if v.is_empty() => self.problem(at, "measures must have at least one element"),
            Some(v) => {
                for x in v {
                    if !is_measure(x) {
                        self.problem(at, format!("measure '{x}' is not an identifier"));
                    }
                }
            }
            None => {}
        }
        measures
    }

    fn lists(&mut self, root: &Mapping, grades: &[Band]) -> Vec<ListSpec> {
        let mut out: Vec<ListSpec> = Vec::new();
        for (i, m) in self.mappings(root, "lists", "lists").into_iter().enumerate() {
            let id = self.string(m, "id", &format!("lists[{i}]"), true);
            let at = id.clone().unwrap_or_else(|| format!("lists[{i}]"));
            self.known_fields(m, &at, &["id", "title", "grades", "review", "measures"]);
            if let Some(id) = &id {
                if !is_list_id(id) {
                    self.problem(&at, "list id must match [a-z0-9-]+");
                }
                if out.iter().any(|l| &l.id == id) {
                    self.problem(&at, "duplicate list id");
                }
            }
            let title = self.string(m, "title", &at, true);
            let names = self.strings(m, "grades", &at);
            let list_grades: Option<Vec<usize>> = match names {
                None => {
                    self.problem(&at, "'grades' is required");
                    None
                }
                Some(v) if v.is_empty() => {
                    self.problem(&at, "grades must have at least one element");
                    None
                }
                Some(v) => v.iter().map(|g| self.grade_index(grades, g, &at)).collect(),
            };
            let review = match self.string(m, "review", &at, false).as_deref() {
                None | Some("additions") => Some(Review::Additions),
                Some("none") => Some(Review::None),
                Some(other) => {
                    self.problem(&at, format!("review must be none or additions, found '{other}'"));
                    None
                }
            };
            let measures = self.measures(m, &at, true);
            if let (Some(id), Some(title), Some(grades), Some(review), Some(measures)) =
                (id, title, list_grades, review, measures)
            {
                out.push(ListSpec { id, title, grades, review, measures });
            }
        }
        out
    }

    fn joint(&mut self, root: &Mapping, lists: &[String], seen: &mut HashSet<String>) -> JointSanctions {
        let js = match root.get("joint_sanctions") {
            None | Some(Value::Null) => return JointSanctions::default(),
            Some(Value::Mapping(m)) => m,
            Some(other) => {
                self.problem("joint_sanctions", format!("must be a mapping, found {}", describe(other)));
                return JointSanctions::default();
            }
        };
        self.known_fields(js, "joint_sanctions", &["max_rounds", "rules"]);
        let max_rounds = self.integer(js, "max_rounds", "joint_sanctions", false).and_then(|r| {
            if r < 0 || r > u32::MAX as i64 {
                self.problem("joint_sanctions", format!("max_rounds must be an integer >= 0, found {r}"));
                None
            } else {
                Some(r as u32)
            }
        });
        let mut rules = Vec::new();
        for (i, m) in self.mappings(js, "rules", "joint_sanctions").into_iter().enumerate() {
            let (at, id) = self.rule_id(m, &format!("joint_sanctions.rules[{i}]"), seen);
            self.known_fields(m, &at, &["id", "list", "relation", "threshold_pct", "measures"]);
            let list = self.string(m, "list", &at, true);
            if let Some(l) = &list {
                if !lists.contains(l) {
                    self.problem(&at, format!("list '{l}' is not a list of this policy"));
                }
            }
            let threshold = self.number(m, "threshold_pct", &at, false);
            let relation = match self.string(m, "relation", &at, true).as_deref() {
                Some("branch") => Some(Relation::Branch),
                Some("legal_rep") => Some(Relation::LegalRep),
                Some("control") => match threshold {
                    None => {
                        self.problem(&at, "threshold_pct is required for relation control");
                        None
                    }
                    Some(t) if !(t > 0.0 && t <= 100.0) => {
                        self.problem(&at, format!("threshold_pct must be in (0, 100], found {t}"));
                        None
                    }
                    Some(t) => Some(Relation::Control { threshold_pct: t }),
                },
                Some(other) => {
                    self.problem(&at, format!("relation must be branch, control or legal_rep, found '{other}'"));
                    None
                }
                None => None,
            };
            if threshold.is_some() && matches!(relation, Some(Relation::Branch | Relation::LegalRep)) {
                self.problem(&at, "threshold_pct is allowed only for relation control");
            }
            let measures = self.measures(m, &at, relation == Some(Relation::LegalRep));
            if let (Some(id), Some(list), Some(relation)) = (id, list, relation) {
                rules.push(JointRule { id, list, relation, measures });
            }
        }
        JointSanctions { max_rounds, rules }
    }
}

#[cfg(test)]
mod tests;
