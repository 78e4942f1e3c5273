//! The regulator that issues notices (`ops/regulator.yaml`): its name,
//! address and contact in each notice language, checked like every other
//! file from outside.

use std::path::Path;

use crate::base::diagnostics::{Problems, Walker};
use crate::base::printable::is_unsafe_char;

/// The example of `ops/regulator.yaml`, embedded as the default.
pub const DEFAULT_REGULATOR_FILE: &str = "ops/regulator.yaml";
pub const DEFAULT_REGULATOR: &str = include_str!("../../ops/regulator.yaml");

/// Longest text of a field, in characters.
const MAX_CHARS: usize = 300;

/// The languages a notice ships in.
pub const LANGUAGES: [&str; 2] = ["zh-CN", "en"];

/// One text in every notice language.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Texts {
    #[serde(rename = "zh-CN")]
    pub zh_cn: String,
    pub en: String,
}

impl Texts {
    pub fn get(&self, lang: &str) -> &str {
        if lang == "en" {
            &self.en
        } else {
            &self.zh_cn
        }
    }
}

/// The regulator as notices name it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Regulator {
    pub name: Texts,
    pub address: Texts,
    pub contact: Texts,
}

const WHAT: &str = "the regulator file";

/// Loads `path`, or the embedded example when `None`.
pub fn load_or_default(path: Option<&Path>) -> Result<Regulator, Problems> {
    match path {
        None => parse(DEFAULT_REGULATOR_FILE, DEFAULT_REGULATOR),
        Some(p) => match std::fs::read_to_string(p) {
            Ok(text) => parse(&p.display().to_string(), &text),
            Err(e) => {
                let mut w = Walker::new(p.display().to_string());
                w.problem("", format!("cannot read: {e}"));
                w.finish(WHAT, None)
            }
        },
    }
}

/// Checks a regulator file's text: every problem at once.
pub fn parse(file: &str, text: &str) -> Result<Regulator, Problems> {
    let mut w = Walker::new(file);
    let Some(root) = w.root(text, "a regulator file") else { return w.finish(WHAT, None) };
    w.known_fields(&root, "", &["name", "address", "contact"]);
    let texts = |w: &mut Walker, key: &str| -> Texts {
        let mut out = Texts { zh_cn: String::new(), en: String::new() };
        let Some(section) = w.section(&root, key) else {
            w.problem(key, format!("required: one text for each of {}", LANGUAGES.join(", ")));
            return out;
        };
        w.known_fields(section, key, &LANGUAGES);
        for lang in LANGUAGES {
            let at = format!("{key}.{lang}");
            let value = w.string(section, lang, key, true).unwrap_or_default();
            if value.trim().is_empty() {
                w.problem(&at, "must not be empty");
            } else if value.chars().count() > MAX_CHARS {
                w.problem(&at, format!("at most {MAX_CHARS} characters, found {}", value.chars().count()));
            } else if value.chars().any(is_unsafe_char) {
                w.problem(&at, "control or bidirectional characters are not allowed");
            }
            match lang {
                "en" => out.en = value,
                _ => out.zh_cn = value,
            }
        }
        out
    };
    let name = texts(&mut w, "name");
    let address = texts(&mut w, "address");
    let contact = texts(&mut w, "contact");
    w.finish(WHAT, Some(Regulator { name, address, contact }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_loads() {
        let r = load_or_default(None).unwrap();
        assert!(r.name.get("zh-CN").contains("市场监督管理局"));
        assert!(r.name.get("en").contains("Market Regulation"));
    }

    #[test]
    fn problems_name_the_field() {
        let text = "name: { zh-CN: '', en: x }\naddress: { en: \"a\\u202eb\" }\nextra: 1\n";
        let all = parse("r.yaml", text).unwrap_err().to_string();
        for expected in [
            "name.zh-CN: must not be empty",
            "address.en: control or bidirectional characters are not allowed",
            "contact: required: one text for each of zh-CN, en",
            "extra",
        ] {
            assert!(all.contains(expected), "{expected} in {all}");
        }
        let long = "x".repeat(MAX_CHARS + 1);
        let text = format!(
            "name: {{ zh-CN: 局, en: {long} }}\naddress: {{ zh-CN: 址, en: a }}\ncontact: {{ zh-CN: 电, en: c }}\n"
        );
        let all = parse("r.yaml", &text).unwrap_err().to_string();
        assert!(all.contains(&format!("name.en: at most {MAX_CHARS} characters, found {}", MAX_CHARS + 1)), "{all}");
        let fits = text.replace(&long, &"x".repeat(MAX_CHARS));
        assert_eq!(parse("r.yaml", &fits).unwrap().name.get("en").chars().count(), MAX_CHARS);
    }
}
