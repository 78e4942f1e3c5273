//! Checking a policy file against policy.md "Fields" and joint-sanctions.md
//! "Policy section": every problem at once, each with the file, the rule
//! id (or field path) and a message.

use std::collections::HashSet;
use std::ops::{Deref, DerefMut};

use serde_yaml::{Mapping, Value};

use super::{
    Approval, Band, Decay, DirectGrade, EventDataset, JointRule, JointSanctions, ListSpec, Policy, PolicyErrors,
    Predicate, Relation, Review, ScoreRule, WHAT,
};
use crate::base::contract::{Contracts, Dataset};
use crate::base::diagnostics::{describe, number_text, Walker};

/// The longest window and half-life a rule may have (100 years).
const MAX_DAYS: i64 = 36_500;

/// Checks a policy text: every problem, or the policy (its `sha256` and
/// `file` are filled by the caller).
pub(super) fn check(file: &str, text: &str, contracts: &Contracts) -> Result<Policy, PolicyErrors> {
    let mut c = Checker { w: Walker::new(file), contracts };
    let policy = c.policy(text);
    c.w.finish(WHAT, policy)
}

/// The walker of one policy file, with the contracts predicates are checked against.
struct Checker<'a> {
    w: Walker,
    contracts: &'a Contracts,
}

impl Deref for Checker<'_> {
    type Target = Walker;
    fn deref(&self) -> &Walker {
        &self.w
    }
}

impl DerefMut for Checker<'_> {
    fn deref_mut(&mut self) -> &mut Walker {
        &mut self.w
    }
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

impl Checker<'_> {
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
        if !(1..=MAX_DAYS).contains(&w) {
            self.problem(at, format!("window_days must be an integer from 1 to {MAX_DAYS}, found {w}"));
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
                self.problem("score", format!("base must be > 0, found {}", number_text(b)));
            }
        }
        if let Some(f) = floor {
            if f < 0.0 || base.is_some_and(|b| f >= b) {
                self.problem("score", format!("floor must be >= 0 and < base, found {}", number_text(f)));
            }
            if !two_decimals(f) {
                self.problem("score", format!("floor has more than two decimals: {}", number_text(f)));
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
                    self.problem(&at, format!("points must be > 0, found {}", number_text(p)));
                }
            }
            let window = self.window(m, &at);
            let decay = self.decay(m, &at);
            let cap = self.number(m, "cap", &at, false);
            if let Some(c) = cap {
                if c <= 0.0 {
                    self.problem(&at, format!("cap must be > 0, found {}", number_text(c)));
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
                if !(h > 0.0 && h <= MAX_DAYS as f64) {
                    self.problem(
                        at,
                        format!("half_life_days must be > 0 and at most {MAX_DAYS}, found {}", number_text(h)),
                    );
                    return None;
                }
                Some(Decay::HalfLife(h))
            }
            Some(other) => {
                let found = match other {
                    Value::String(s) => format!("'{}'", crate::base::printable::printable(s, 60)),
                    v => describe(v),
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
                            format!(
                                "bands out of order: min {} is not below the previous band's {}",
                                number_text(m),
                                number_text(prev.min)
                            ),
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
                    format!(
                        "the last band's min must equal score.floor ({}), found {}",
                        number_text(floor),
                        number_text(last.min)
                    ),
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
            if let Some(list) = self.list(m, i, grades, &out) {
                out.push(list);
            }
        }
        out
    }

    /// List `i` of the policy (`m`), given the bands and the lists before it.
    fn list(&mut self, m: &Mapping, i: usize, grades: &[Band], before: &[ListSpec]) -> Option<ListSpec> {
        let id = self.string(m, "id", &format!("lists[{i}]"), true);
        let at = id.clone().unwrap_or_else(|| format!("lists[{i}]"));
        self.known_fields(
            m,
            &at,
            &[
                "id",
                "title",
                "grades",
                "review",
                "measures",
                "notice_days",
                "approval",
                "max_exemption_days",
                "legal_basis",
            ],
        );
        if let Some(id) = &id {
            if !is_list_id(id) {
                self.problem(&at, "list id must match [a-z0-9-]+");
            }
            if before.iter().any(|l| &l.id == id) {
                self.problem(&at, "duplicate list id");
            }
        }
        let title = self.string(m, "title", &at, true);
        let list_grades = self.list_grades(m, grades, &at);
        let review = match self.string(m, "review", &at, false).as_deref() {
            None | Some("additions") => Some(Review::Additions),
            Some("none") => Some(Review::None),
            Some(other) => {
                self.problem(&at, format!("review must be none or additions, found '{other}'"));
                None
            }
        };
        let measures = self.measures(m, &at, true);
        // Due process (publication.md v2).
        let notice_days = self.days(m, "notice_days", &at, 0, 0);
        let approval = match self.string(m, "approval", &at, false).as_deref() {
            None | Some("single") => Some(Approval::Single),
            Some("two_officers") => Some(Approval::TwoOfficers),
            Some(other) => {
                self.problem(&at, format!("approval must be single or two_officers, found '{other}'"));
                None
            }
        };
        let max_exemption_days = self.days(m, "max_exemption_days", &at, 365, 1);
        let legal_basis = self.string(m, "legal_basis", &at, false);
        Some(ListSpec {
            id: id?,
            title: title?,
            grades: list_grades?,
            review: review?,
            measures: measures?,
            notice_days: notice_days?,
            approval: approval?,
            max_exemption_days: max_exemption_days?,
            legal_basis,
        })
    }

    /// A list's `grades`: at least one, each a band of the policy.
    fn list_grades(&mut self, m: &Mapping, grades: &[Band], at: &str) -> Option<Vec<usize>> {
        match self.strings(m, "grades", at) {
            None => {
                self.problem(at, "'grades' is required");
                None
            }
            Some(v) if v.is_empty() => {
                self.problem(at, "grades must have at least one element");
                None
            }
            Some(v) => v.iter().map(|g| self.grade_index(grades, g, at)).collect(),
        }
    }

    /// A number of days from `least` to `MAX_DAYS`, `default` when absent.
    fn days(&mut self, m: &Mapping, key: &str, at: &str, default: i64, least: i64) -> Option<i64> {
        match self.integer(m, key, at, false) {
            None => Some(default),
            Some(d) if (least..=MAX_DAYS).contains(&d) => Some(d),
            Some(d) => {
                self.problem(at, format!("{key} must be an integer from {least} to {MAX_DAYS}, found {d}"));
                None
            }
        }
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
                self.problem(
                    "joint_sanctions",
                    format!("max_rounds must be an integer from 0 to {}, found {r}", u32::MAX),
                );
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
                        self.problem(&at, format!("threshold_pct must be in (0, 100], found {}", number_text(t)));
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
