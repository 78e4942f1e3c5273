//! Conventions of the house, kept as tests (as rust-analyzer keeps its
//! architecture rules): the layers of `src/` import only downwards, stages
//! never import each other, every file says what it is in its first line,
//! and no public function returns a bare `String` as its error.

use std::path::{Path, PathBuf};

/// The layers of the library, lowest first. A module may import its own
/// layer and the layers before it.
const LAYERS: [&str; 7] = ["base", "config", "stages", "run", "officer", "serve", "tools"];

fn rank(layer: &str) -> Option<usize> {
    LAYERS.iter().position(|l| *l == layer)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<(PathBuf, String)> {
    let src = crate::repo_root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("source is UTF-8");
            (p.strip_prefix(&src).expect("under src").to_path_buf(), text)
        })
        .collect()
}

/// Test modules (`tests.rs`, `<module>_tests.rs`, `tests/`) are not rooms
/// of the house: they may use any layer to build their fixtures.
fn is_test_file(rel: &Path) -> bool {
    rel.components().any(|c| c.as_os_str() == "tests" || c.as_os_str().to_string_lossy().ends_with("tests.rs"))
}

/// The code of `text` outside `#[cfg(test)]` modules at the end of a file
/// (inline, or a `#[path]` file of its own).
fn production_part(text: &str) -> &str {
    match text.find("#[cfg(test)]\nmod tests").or_else(|| text.find("#[cfg(test)]\n#[path")) {
        Some(i) => &text[..i],
        None => text,
    }
}

/// Every `crate::<layer>[::<module>]` path a file names, with its line.
fn crate_paths(text: &str) -> Vec<(usize, String, Option<String>)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
            let layer = ident(after);
            let module = after[layer.len()..].strip_prefix("::").map(ident).filter(|m| !m.is_empty());
            out.push((n + 1, layer, module));
            rest = &after[1..];
        }
    }
    out
}

/// The violations of the layer rules in one file (path relative to `src/`).
/// A test file may use any layer (fixtures live in `tools`), but a stage's
/// tests still never import another stage.
fn layer_violations(rel: &Path, text: &str) -> Vec<String> {
    let test_file = is_test_file(rel);
    let mut parts = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned());
    let Some(layer) = parts.next() else { return vec![] };
    let Some(own) = rank(&layer) else { return vec![] };
    let own_stage = if layer == "stages" { parts.next().map(|m| m.trim_end_matches(".rs").to_string()) } else { None };
    let mut out = Vec::new();
    for (line, used, module) in crate_paths(production_part(text)) {
        let Some(r) = rank(&used) else { continue };
        if r > own && !test_file {
            out.push(format!("src/{}:{line}: {layer} imports crate::{used}, a layer above it", rel.display()));
        } else if layer == "stages" && used == "stages" && module.is_some() && module != own_stage {
            out.push(format!(
                "src/{}:{line}: stage {} imports crate::stages::{}: stages never import each other",
                rel.display(),
                own_stage.as_deref().unwrap_or("?"),
                module.unwrap_or_default()
            ));
        }
    }
    out
}

#[test]
fn layers_import_only_downwards_and_stages_never_import_each_other() {
    let mut problems = Vec::new();
    for (rel, text) in sources() {
        problems.extend(layer_violations(&rel, &text));
    }
    assert!(problems.is_empty(), "layer rules broken:\n{}", problems.join("\n"));
}

#[test]
fn the_layer_rules_catch_a_stage_importing_another_stage_and_base_importing_upwards() {
    let stage = "use crate::base::ids::AsOf;\nuse crate::stages::score::Scored;\n";
    let found = layer_violations(Path::new("stages/publish/mod.rs"), stage);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("stages never import each other"));
    assert!(layer_violations(Path::new("stages/publish/entries.rs"), "use crate::stages::publish::files;\n").is_empty());
    let test = "use crate::tools::fixture::land;\nuse crate::stages::landing::select_all;\n";
    let found = layer_violations(Path::new("stages/validate/tests.rs"), test);
    assert_eq!(found.len(), 1, "a test may use fixtures, not another stage: {found:?}");
    let up = layer_violations(Path::new("base/marts/mod.rs"), "use crate::stages::landing;\n");
    assert_eq!(up.len(), 1, "{up:?}");
    assert!(layer_violations(Path::new("serve/partner_api.rs"), "use crate::officer::queue;\n").is_empty());
    let test_only = "use crate::base::ids::AsOf;\n#[cfg(test)]\nmod tests {\n    use crate::tools::fixture;\n}\n";
    assert!(layer_violations(Path::new("config/job.rs"), test_only).is_empty(), "tests may use any layer");
}

#[test]
fn every_source_file_says_what_it_is_in_its_first_line() {
    let missing: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| !text.starts_with("//!"))
        .map(|(rel, _)| format!("src/{}", rel.display()))
        .collect();
    assert!(missing.is_empty(), "files without a `//!` first line: {missing:?}");
}

/// Whether a signature line's `Result` has `String` (or `Vec<String>`) as
/// its error: the last type argument before `{`, `where` or the line's end.
fn returns_string_error(line: &str) -> bool {
    let head = line.split('{').next().unwrap_or(line).trim_end();
    let head = head.strip_suffix("where").unwrap_or(head).trim_end();
    line.contains("Result<") && (head.ends_with(", String>") || head.ends_with(", Vec<String>>"))
}

#[test]
fn the_string_error_check_reads_the_error_position_only() {
    assert!(returns_string_error("pub fn f(x: u8) -> Result<(), String> {"));
    assert!(returns_string_error("pub fn f() -> Result<Policy, Vec<String>>"));
    assert!(returns_string_error("pub fn f<T>() -> Result<T, String> where"));
    assert!(!returns_string_error("pub fn f() -> Result<HashMap<String, Vec<String>>, RunError> {"));
    assert!(!returns_string_error("pub fn f() -> Result<BTreeMap<u8, String>, E> {"));
}

#[test]
fn no_public_function_returns_a_bare_string_error() {
    let mut found = Vec::new();
    for (rel, text) in sources() {
        for (n, line) in production_part(&text).lines().enumerate() {
            let t = line.trim_start();
            let public = t.starts_with("pub fn") || t.starts_with("pub(crate) fn") || t.starts_with("pub async fn");
            if public && returns_string_error(line) {
                found.push(format!("src/{}:{}: {}", rel.display(), n + 1, t));
            }
        }
    }
    assert!(found.is_empty(), "errors across module boundaries are typed:\n{}", found.join("\n"));
}

#[test]
fn only_validation_reads_the_landing_zone() {
    // The faces and every stage after validation read marts; only these
    // modules may name the landing reader.
    let allowed = [
        "base/mod.rs",
        "base/warehouse.rs",
        "base/landing_file.rs",
        // Validation's plans read the landing files through this table.
        "base/engine/landing_scan.rs",
        "base/tables.rs",
        "base/marts/records.rs",
        "stages/landing.rs",
        "run/mod.rs",
        // A dry run and an impact run validate as a run does, then seal the landing files.
        "run/dry_run.rs",
        "run/impact.rs",
        "tidy.rs",
    ];
    let mut found = Vec::new();
    for (rel, text) in sources() {
        let shown = rel.display().to_string();
        let validation = shown.starts_with("stages/validate/") || shown.starts_with("stages/quarantine");
        let tools = shown.starts_with("tools/") || shown.starts_with("bin/");
        if validation || tools || is_test_file(&rel) || allowed.contains(&shown.as_str()) {
            continue;
        }
        let code = production_part(&text);
        for needle in ["landing_file", "stages::landing", ".landing(", ".landing_partition("] {
            if code.contains(needle) {
                found.push(format!("src/{shown} names {needle}"));
            }
        }
    }
    assert!(found.is_empty(), "only validation reads landing files:\n{}", found.join("\n"));
}
