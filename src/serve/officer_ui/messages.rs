//! The message catalogue of the officer pages: every user-facing text by
//! key, from `messages/en.yaml` (embedded) or a translation file.

use std::collections::HashMap;
use std::fmt::Display;

use crate::base::error::{Classify, ErrorKind};

/// Chinese (the default) and English, embedded.
pub const CHINESE: &str = include_str!("messages/zh-CN.yaml");
pub const ENGLISH: &str = include_str!("messages/en.yaml");

tokio::task_local! {
    /// The language of the request being answered (set by the sessions
    /// middleware from the officer's choice).
    static LANGUAGE: String;
}

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

/// Texts by key with `{name}` placeholders, one catalogue per language; a
/// request reads the catalogue of its language, outside a request the
/// default one.
#[derive(Clone, Debug)]
pub struct Messages {
    /// (language tag, texts), the default first.
    catalogues: Vec<(String, HashMap<String, String>)>,
}

impl Messages {
    /// Chinese first, English second (the officer pages' default).
    pub fn builtin() -> Messages {
        Messages {
            catalogues: vec![
                ("zh-CN".into(), parse(CHINESE).expect("the embedded Chinese catalogue is valid")),
                ("en".into(), parse(ENGLISH).expect("the embedded English catalogue is valid")),
            ],
        }
    }

    /// English first, Chinese second.
    pub fn english() -> Messages {
        let mut m = Messages::builtin();
        m.catalogues.reverse();
        m
    }

    /// Makes `lang` the default language (one of [`Messages::languages`]).
    pub fn with_default(mut self, lang: &str) -> Option<Messages> {
        let i = self.catalogues.iter().position(|(l, _)| l == lang)?;
        let c = self.catalogues.remove(i);
        self.catalogues.insert(0, c);
        Some(self)
    }

    /// Adds (or replaces) a translation from a file: its `lang` key names
    /// the language, and every key of the English catalogue must be there.
    pub fn with_translation(mut self, path: &std::path::Path) -> Result<Messages, MessagesError> {
        let file = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| MessagesError { file: file.clone(), problem: e.to_string() })?;
        let texts = parse(&text).map_err(|e| MessagesError { file: file.clone(), problem: e.to_string() })?;
        let english = parse(ENGLISH).expect("the embedded catalogue is valid");
        let mut missing: Vec<&String> = english.keys().filter(|k| !texts.contains_key(*k)).collect();
        missing.sort();
        if !missing.is_empty() {
            return Err(MessagesError { file, problem: format!("missing keys: {missing:?}") });
        }
        let lang = texts.get("lang").cloned().unwrap_or_default();
        if lang.is_empty() || !lang.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(MessagesError { file, problem: format!("'lang' must be a language tag, found '{lang}'") });
        }
        self.catalogues.retain(|(l, _)| *l != lang);
        self.catalogues.push((lang, texts));
        Ok(self)
    }

    /// The languages, the default first.
    pub fn languages(&self) -> Vec<&str> {
        self.catalogues.iter().map(|(l, _)| l.as_str()).collect()
    }

    /// Answers `f` in language `lang` (the default when it is not one of ours).
    pub async fn scope<F: std::future::Future>(&self, lang: &str, f: F) -> F::Output {
        let lang = if self.languages().contains(&lang) { lang } else { self.languages()[0] };
        LANGUAGE.scope(lang.to_string(), f).await
    }

    fn texts(&self) -> &HashMap<String, String> {
        let current = LANGUAGE.try_with(|l| self.catalogues.iter().position(|(c, _)| c == l)).ok().flatten();
        &self.catalogues[current.unwrap_or(0)].1
    }

    /// The text of `key` (the key itself if missing, which a test forbids).
    pub fn t<'a>(&'a self, key: &'a str) -> &'a str {
        self.texts().get(key).map(String::as_str).unwrap_or(key)
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

fn parse(text: &str) -> Result<HashMap<String, String>, serde_yaml::Error> {
    serde_yaml::from_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_catalogues_have_the_same_keys_and_placeholders() {
        let (zh, en) = (parse(CHINESE).unwrap(), parse(ENGLISH).unwrap());
        let mut keys: Vec<&String> = en.keys().chain(zh.keys()).collect();
        keys.sort();
        keys.dedup();
        let holes = |t: &str| {
            let mut v: Vec<String> =
                t.split('{').skip(1).filter_map(|p| p.split_once('}')).map(|(n, _)| n.to_string()).collect();
            v.sort();
            v
        };
        for k in keys {
            let (Some(a), Some(b)) = (en.get(k), zh.get(k)) else { panic!("{k} is in one catalogue only") };
            assert_eq!(holes(a), holes(b), "{k}: the same placeholders in both");
        }
    }

    #[test]
    fn every_key_the_pages_use_is_in_the_catalogue() {
        let m = Messages::english();
        let dir = crate::repo_root().join("src/serve/officer_ui");
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
        let missing: Vec<&String> = used.iter().filter(|k| !m.texts().contains_key(*k)).collect();
        assert!(missing.is_empty(), "keys missing from messages/en.yaml: {missing:?}");
    }

    /// A translation (`--ui-messages`) must have every key of the English
    /// catalogue and a language tag; it then answers in its language, and
    /// one of a language already there replaces it.
    #[test]
    fn a_translation_needs_every_key_and_a_language_tag() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let french = ENGLISH
            .replace("lang: en", "lang: fr")
            .replace("dashboard_title: Dashboard", "dashboard_title: Tableau de bord");
        let m = Messages::english().with_translation(&write("fr.yaml", &french)).unwrap();
        assert_eq!(m.languages(), ["en", "zh-CN", "fr"]);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        assert_eq!(rt.block_on(m.scope("fr", async { m.t("dashboard_title").to_string() })), "Tableau de bord");
        let again = m.with_translation(&write("fr2.yaml", &french.replace("Tableau de bord", "Accueil"))).unwrap();
        assert_eq!(again.languages(), ["en", "zh-CN", "fr"], "replaced, not added twice");

        let short = french.replace("dashboard_title: Tableau de bord\n", "");
        let e = Messages::english().with_translation(&write("short.yaml", &short)).err().unwrap().to_string();
        assert!(e.contains("missing keys: [\"dashboard_title\"]"), "{e}");
        for tag in ["", "f r", "fr/../x"] {
            let odd = french.replace("lang: fr", &format!("lang: '{tag}'"));
            let e = Messages::english().with_translation(&write("odd.yaml", &odd)).err().unwrap().to_string();
            assert!(e.contains(&format!("'lang' must be a language tag, found '{tag}'")), "{e}");
        }
    }

    #[test]
    fn placeholders_are_filled() {
        let m = Messages::english();
        assert_eq!(m.f("results", &[("count", &3)]), "3 result(s)");
    }
}
