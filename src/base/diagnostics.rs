//! Checking a YAML file written by people (policies, job files, partner
//! entitlements, dataset contracts): the file is walked as a YAML tree, not
//! deserialised in one go, so that every problem is found and reported at
//! once, each with the file, the path in the file and a message.

use std::fmt;

use serde_yaml::{Mapping, Value};

use crate::base::error::{Classify, ErrorKind};

/// One problem of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    /// The rule, list or partner id, or the field path, the problem is about
    /// (empty: the whole file).
    pub at: String,
    pub message: String,
}

/// Shown with controls and bidirectional overrides escaped: an id or value
/// taken from the file (`id: "a\nb"`) cannot forge a line of the report.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::base::printable::escaped;
        if self.at.is_empty() {
            write!(f, "{}: {}", escaped(&self.file), escaped(&self.message))
        } else {
            write!(f, "{}: {}: {}", escaped(&self.file), escaped(&self.at), escaped(&self.message))
        }
    }
}

/// Every problem found in a file (or a folder of files).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Problems {
    /// What was checked: "the policy", "job files", "partner entitlements".
    pub what: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} problem(s)", self.what, self.problems.len())?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl Classify for Problems {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Input
    }
}

/// What a YAML value is, for messages: its kind, and a scalar's value
/// (a string's escaped and cut at 60 bytes), so that a problem names what
/// was found (`1e400`, out of a float's range, is read as a string).
pub fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) if n.is_i64() || n.is_u64() => format!("an integer ({n})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) => format!("a string ('{}')", crate::base::printable::printable(s, 60)),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(_) => "a tagged value".into(),
    }
}

/// A number for messages: as written when short, else in exponent form
/// (`1e300`, not three hundred digits).
pub fn number_text(v: f64) -> String {
    let plain = v.to_string();
    if plain.len() <= 24 {
        plain
    } else {
        format!("{v:e}")
    }
}

/// Walks one file and collects its problems.
pub struct Walker {
    file: String,
    problems: Vec<Problem>,
}

impl Walker {
    pub fn new(file: impl Into<String>) -> Walker {
        Walker { file: file.into(), problems: Vec::new() }
    }

    pub fn file(&self) -> &str {
        &self.file
    }

    pub fn problem(&mut self, at: &str, message: impl Into<String>) {
        self.problems.push(Problem { file: self.file.clone(), at: at.to_string(), message: message.into() });
    }

    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// The problems found so far, taking them out of the walker.
    pub fn take(&mut self) -> Vec<Problem> {
        std::mem::take(&mut self.problems)
    }

    /// `value` when no problem was found, else every problem.
    pub fn finish<T>(self, what: &str, value: Option<T>) -> Result<T, Problems> {
        match value {
            Some(v) if self.problems.is_empty() => Ok(v),
            _ => {
                let mut problems = self.problems;
                if problems.is_empty() {
                    problems.push(Problem { file: self.file, at: String::new(), message: "not valid".into() });
                }
                Err(Problems { what: what.to_string(), problems })
            }
        }
    }

    /// The file's root mapping; a problem when the text is not YAML or not a mapping.
    pub fn root(&mut self, text: &str, what: &str) -> Option<Mapping> {
        match serde_yaml::from_str::<Value>(text) {
            Ok(Value::Mapping(m)) => Some(m),
            Ok(other) => {
                self.problem("", format!("{what} must be a YAML mapping, found {}", describe(&other)));
                None
            }
            Err(e) => {
                self.problem("", format!("not valid YAML: {e}"));
                None
            }
        }
    }

    /// Reports keys of `map` outside `allowed`.
    pub fn known_fields(&mut self, map: &Mapping, at: &str, allowed: &[&str]) {
        for k in map.keys() {
            let name = k.as_str().map(str::to_string).unwrap_or_else(|| format!("{k:?}"));
            if !allowed.contains(&name.as_str()) {
                self.problem(at, format!("unknown field '{name}' (expected one of: {})", allowed.join(", ")));
            }
        }
    }

    fn absent(&mut self, key: &str, at: &str, required: bool) {
        if required {
            self.problem(at, format!("'{key}' is required"));
        }
    }

    pub fn string(&mut self, map: &Mapping, key: &str, at: &str, required: bool) -> Option<String> {
        match map.get(key) {
            None | Some(Value::Null) => {
                self.absent(key, at, required);
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.problem(at, format!("'{key}' must be a string, found {}", describe(other)));
                None
            }
        }
    }

    /// A number; `.nan`, `.inf` and `-.inf` are refused.
    pub fn number(&mut self, map: &Mapping, key: &str, at: &str, required: bool) -> Option<f64> {
        match map.get(key) {
            None | Some(Value::Null) => {
                self.absent(key, at, required);
                None
            }
            Some(Value::Number(n)) => match n.as_f64() {
                Some(v) if v.is_finite() => Some(v),
                _ => {
                    self.problem(at, format!("'{key}' must be a finite number, found {n}"));
                    None
                }
            },
            Some(other) => {
                self.problem(at, format!("'{key}' must be a number, found {}", describe(other)));
                None
            }
        }
    }

    pub fn integer(&mut self, map: &Mapping, key: &str, at: &str, required: bool) -> Option<i64> {
        match map.get(key) {
            None | Some(Value::Null) => {
                self.absent(key, at, required);
                None
            }
            Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64(),
            Some(other) => {
                self.problem(at, format!("'{key}' must be an integer, found {}", describe(other)));
                None
            }
        }
    }

    pub fn boolean(&mut self, map: &Mapping, key: &str, at: &str, required: bool) -> Option<bool> {
        match map.get(key) {
            None | Some(Value::Null) => {
                self.absent(key, at, required);
                None
            }
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                self.problem(at, format!("'{key}' must be true or false, found {}", describe(other)));
                None
            }
        }
    }

    /// A list of strings; `None` when absent.
    pub fn strings(&mut self, map: &Mapping, key: &str, at: &str) -> Option<Vec<String>> {
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
    pub fn mappings<'v>(&mut self, map: &'v Mapping, key: &str, at: &str) -> Vec<&'v Mapping> {
        match map.get(key) {
            None | Some(Value::Null) => vec![],
            Some(Value::Sequence(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| match item {
                    Value::Mapping(m) => Some(m),
                    other => {
                        let path = if at.is_empty() { format!("{key}[{i}]") } else { format!("{at}.{key}[{i}]") };
                        self.problem(&path, format!("must be a mapping, found {}", describe(other)));
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

    /// A nested mapping; `None` when absent.
    pub fn section<'v>(&mut self, map: &'v Mapping, key: &str) -> Option<&'v Mapping> {
        match map.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Mapping(m)) => Some(m),
            Some(other) => {
                self.problem(key, format!("must be a mapping, found {}", describe(other)));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_from_the_file_cannot_forge_a_line() {
        let mut w = Walker::new("f.yaml");
        let root = w.root("id: \"a\\nb\\u202Ec\"\n", "the file").unwrap();
        let id = w.string(&root, "id", "", true).unwrap();
        w.problem(&format!("partner '{id}'"), format!("'{id}' is wrong"));
        let text = w.finish::<()>("the file", None).unwrap_err().to_string();
        assert_eq!(
            text,
            "the file: 1 problem(s)\n  - f.yaml: partner 'a\\u{000A}b\\u{202E}c': 'a\\u{000A}b\\u{202E}c' is wrong"
        );
    }

    #[test]
    fn long_numbers_are_shown_in_exponent_form() {
        assert_eq!(number_text(2.5), "2.5");
        assert_eq!(number_text(1e300), "1e300");
        assert_eq!(number_text(-1.5e-30), "-1.5e-30");
    }

    #[test]
    fn every_problem_is_collected_with_file_and_path() {
        let mut w = Walker::new("f.yaml");
        let root = w.root("a: 1\nb: .nan\nc: [x, 2]\nzz: 0\n", "the file").unwrap();
        w.known_fields(&root, "", &["a", "b", "c"]);
        assert_eq!(w.string(&root, "a", "", true), None);
        assert_eq!(w.number(&root, "b", "sec", true), None);
        assert_eq!(w.strings(&root, "c", "sec"), Some(vec!["x".to_string()]));
        assert_eq!(w.integer(&root, "missing", "", true), None);
        let e = w.finish::<()>("the file", None).unwrap_err();
        let text = e.to_string();
        for expected in [
            "f.yaml: unknown field 'zz'",
            "f.yaml: 'a' must be a string, found an integer (1)",
            "f.yaml: sec: 'b' must be a finite number, found .nan",
            "f.yaml: sec: 'c' must hold strings, found an integer (2)",
            "f.yaml: 'missing' is required",
        ] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
        assert_eq!(e.problems.len(), 5);
    }
}
