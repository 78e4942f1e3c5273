//! The message catalogue of the officer pages: every user-facing text by
//! key, from `messages/en.yaml` (embedded) or a translation file.

use std::collections::HashMap;
use std::fmt::Display;

use crate::base::error::{Classify, ErrorKind};

/// English, embedded.
pub const ENGLISH: &str = include_str!("messages/en.yaml");

/// A translation file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct MessagesError {
    pub file: String,
    pub problem: String,
}

impl Classify for MessagesError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Input
    }
}

/// Texts by key, with `{name}` placeholders.
#[derive(Clone, Debug)]
pub struct Messages {
    texts: HashMap<String, String>,
}

impl Messages {
    pub fn english() -> Messages {
        Messages::parse(ENGLISH).expect("the embedded catalogue is valid")
    }

    /// A translation file: every key of the English catalogue must be there.
    pub fn load(path: &std::path::Path) -> Result<Messages, MessagesError> {
        let file = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| MessagesError { file: file.clone(), problem: e.to_string() })?;
        let m = Messages::parse(&text).map_err(|e| MessagesError { file: file.clone(), problem: e.to_string() })?;
        let english = Messages::english();
        let mut missing: Vec<&String> = english.texts.keys().filter(|k| !m.texts.contains_key(*k)).collect();
        missing.sort();
        if !missing.is_empty() {
            return Err(MessagesError { file, problem: format!("missing keys: {missing:?}") });
        }
        Ok(m)
    }

    fn parse(text: &str) -> Result<Messages, serde_yaml::Error> {
        let texts: HashMap<String, String> = serde_yaml::from_str(text)?;
        Ok(Messages { texts })
    }

    /// The text of `key` (the key itself if missing, which a test forbids).
    pub fn t<'a>(&'a self, key: &'a str) -> &'a str {
        self.texts.get(key).map(String::as_str).unwrap_or(key)
    }

    /// The text of `key` with its `{name}` placeholders filled.
    pub fn f(&self, key: &str, args: &[(&str, &dyn Display)]) -> String {
        let mut out = self.t(key).to_string();
        for (name, value) in args {
            out = out.replace(&format!("{{{name}}}"), &value.to_string());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_the_pages_use_is_in_the_catalogue() {
        let m = Messages::english();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/serve/officer_ui");
        let mut source = String::new();
        for sub in [dir.clone(), dir.join("pages")] {
            for e in std::fs::read_dir(sub).unwrap().flatten() {
                if e.path().extension().is_some_and(|x| x == "rs") {
                    source.push_str(&std::fs::read_to_string(e.path()).unwrap());
                }
            }
        }
        let mut used = Vec::new();
        for pat in [".t(\"", ".f(\""] {
            for (i, _) in source.match_indices(pat) {
                let rest = &source[i + pat.len()..];
                used.push(rest[..rest.find('"').unwrap()].to_string());
            }
        }
        assert!(used.len() > 50, "the pages use the catalogue");
        let missing: Vec<&String> = used.iter().filter(|k| !m.texts.contains_key(*k)).collect();
        assert!(missing.is_empty(), "keys missing from messages/en.yaml: {missing:?}");
    }

    #[test]
    fn placeholders_are_filled() {
        let m = Messages::english();
        assert_eq!(m.f("results", &[("count", &3)]), "3 result(s)");
    }
}
