//! The message catalogue of the officer pages: every user-facing text by
//! key, from `messages/en.yaml` (embedded) or a translation file.

use std::collections::HashMap;
use std::fmt::Display;

/// English, embedded.
pub const ENGLISH: &str = include_str!("messages/en.yaml");

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
    pub fn load(path: &std::path::Path) -> Result<Messages, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let m = Messages::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let english = Messages::english();
        let missing: Vec<&String> = english.texts.keys().filter(|k| !m.texts.contains_key(*k)).collect();
        if !missing.is_empty() {
            return Err(format!("{}: missing keys: {missing:?}", path.display()));
        }
        Ok(m)
    }

    fn parse(text: &str) -> Result<Messages, String> {
        let texts: HashMap<String, String> = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
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
        let source = include_str!("mod.rs");
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
