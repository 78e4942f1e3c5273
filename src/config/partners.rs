//! Partner agencies and their entitlements (`ops/partners.yaml`): the
//! lists, columns and formats each may download, and optionally the region
//! code prefixes it may see.

use std::path::Path;

use crate::base::diagnostics::{Problems, Walker};

/// Columns of a publication's entries a partner may be given.
pub const ENTRY_COLUMNS: [&str; 11] = [
    "entity_id",
    "name",
    "region",
    "online_store",
    "list_id",
    "basis",
    "depth",
    "rules",
    "roots",
    "listed_since",
    "measures",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum Format {
    Parquet,
    Csv,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
        }
    }
}

/// A partner agency.
#[derive(Clone, Debug, PartialEq)]
pub struct Partner {
    pub id: String,
    pub name: String,
    pub lists: Vec<String>,
    /// Entry columns, in publication order.
    pub columns: Vec<String>,
    pub formats: Vec<Format>,
    /// Region code prefixes; empty means every region.
    pub regions: Vec<String>,
}

impl Partner {
    pub fn may_read(&self, list: &str) -> bool {
        self.lists.iter().any(|l| l == list)
    }
}

/// The example partners of `ops/partners.yaml`, embedded as the default.
pub const DEFAULT_PARTNERS_FILE: &str = "ops/partners.yaml";
pub const DEFAULT_PARTNERS: &str = include_str!("../../ops/partners.yaml");

/// Loads `path`, or the embedded example when `None`.
pub fn load_or_default(path: Option<&Path>, lists: &[&str]) -> Result<Vec<Partner>, PartnersError> {
    match path {
        Some(p) => load(p, lists),
        None => parse(DEFAULT_PARTNERS_FILE, DEFAULT_PARTNERS, lists),
    }
}

/// Every problem of a partners file, each naming the partner.
pub type PartnersError = Problems;

const WHAT: &str = "the partners file";

/// Loads and checks a partners file. `lists` are the policy's list ids.
pub fn load(path: &Path, lists: &[&str]) -> Result<Vec<Partner>, PartnersError> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&file, &text, lists),
        Err(e) => {
            let mut w = Walker::new(file);
            w.problem("", format!("cannot read: {e}"));
            w.finish(WHAT, None)
        }
    }
}

/// Checks a partners file's text: every problem at once.
pub fn parse(file: &str, text: &str, lists: &[&str]) -> Result<Vec<Partner>, PartnersError> {
    let mut w = Walker::new(file);
    let Some(root) = w.root(text, "a partners file") else { return w.finish(WHAT, None) };
    w.known_fields(&root, "", &["partners"]);
    let mut out: Vec<Partner> = Vec::new();
    for (i, p) in w.mappings(&root, "partners", "").into_iter().enumerate() {
        let id = w.string(p, "id", &format!("partners[{i}]"), true).unwrap_or_default();
        let at = format!("partner '{id}'");
        w.known_fields(p, &at, &["id", "name", "lists", "columns", "formats", "regions"]);
        if id.is_empty() || !id.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-') {
            w.problem(&at, "id must match [a-z0-9-]+");
        }
        if out.iter().any(|o| o.id == id) {
            w.problem(&at, "duplicate id");
        }
        let name = w.string(p, "name", &at, true).unwrap_or_default();
        let partner_lists = w.strings(p, "lists", &at).unwrap_or_default();
        for l in &partner_lists {
            if !lists.contains(&l.as_str()) {
                w.problem(&at, format!("list '{l}' is not a list of the policy"));
            }
        }
        let wanted = w.strings(p, "columns", &at).unwrap_or_default();
        for c in &wanted {
            if !ENTRY_COLUMNS.contains(&c.as_str()) {
                w.problem(&at, format!("column '{c}' is not an entries column ({})", ENTRY_COLUMNS.join(", ")));
            }
        }
        if !wanted.iter().any(|c| c == "entity_id") {
            w.problem(&at, "columns must include entity_id");
        }
        let mut formats = Vec::new();
        for f in w.strings(p, "formats", &at).unwrap_or_default() {
            match f.as_str() {
                "parquet" => formats.push(Format::Parquet),
                "csv" => formats.push(Format::Csv),
                other => w.problem(&at, format!("format '{other}' is neither parquet nor csv")),
            }
        }
        if formats.is_empty() {
            w.problem(&at, "at least one format is required");
        }
        let regions = w.strings(p, "regions", &at).unwrap_or_default();
        for r in &regions {
            if r.is_empty() || r.len() > 6 || !r.bytes().all(|c| c.is_ascii_digit()) {
                w.problem(&at, format!("region prefix '{r}' must be 1 to 6 digits"));
            }
        }
        formats.sort();
        formats.dedup();
        // Columns in publication order, whatever order the file lists them in.
        let columns = ENTRY_COLUMNS.iter().filter(|c| wanted.iter().any(|x| x == *c)).map(|c| c.to_string()).collect();
        out.push(Partner { id, name, lists: partner_lists, columns, formats, regions });
    }
    w.finish(WHAT, Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_loads() {
        let p = load(&crate::repo_root().join("ops/partners.yaml"), &["serious-dishonesty"]).unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p[1].regions, ["65"]);
        assert!(p[0].regions.is_empty(), "every region");
        assert_eq!(p[2].formats, [Format::Parquet]);
    }

    /// A view's columns are in the entries' order and each format is
    /// written once, whatever order and repeats the file lists.
    #[test]
    fn columns_come_in_publication_order_and_formats_once() {
        let text = "partners:\n  - { id: p, name: P, lists: [l], columns: [listed_since, name, entity_id], formats: [csv, parquet, csv] }\n";
        let p = parse("p.yaml", text, &["l"]).unwrap();
        assert_eq!(p[0].columns, ["entity_id", "name", "listed_since"]);
        assert_eq!(p[0].formats, [Format::Parquet, Format::Csv]);
    }

    #[test]
    fn problems_name_the_partner() {
        let text = "partners:\n  - { id: Bad, name: B, lists: [nope], columns: [name, secret], formats: [xml], regions: [abc] }\n  \
                    - { id: ok, name: O, lists: [l], columns: [entity_id], formats: [csv], regions: [\"6501001\"] }\n  \
                    - { id: ok, name: P, lists: [l], columns: [entity_id], formats: [] }\n  \
                    - { id: blank, name: Q, lists: [l], columns: [entity_id], formats: [csv], regions: [\"\"] }\n";
        let e = parse("p.yaml", text, &["l"]).unwrap_err();
        let all = e.to_string();
        for expected in [
            "partner 'Bad': id must match",
            "list 'nope' is not a list of the policy",
            "column 'secret' is not an entries column",
            "columns must include entity_id",
            "format 'xml' is neither parquet nor csv",
            "region prefix 'abc' must be 1 to 6 digits",
            "partner 'ok': region prefix '6501001' must be 1 to 6 digits",
            "partner 'ok': duplicate id",
            "partner 'ok': at least one format is required",
            "partner 'blank': region prefix '' must be 1 to 6 digits",
        ] {
            assert!(all.contains(expected), "{expected} in {all}");
        }
    }
}
